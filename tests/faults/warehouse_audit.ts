/**
 * What the crash and warehouse-outage drills share: a topic and a warehouse database of the
 * drill's own, the `load` pipeline run on them through the CLI, and an audit of the warehouse
 * against what was published (every message counted).
 *
 * @module
 */
import assert from "node:assert/strict";
import pg from "pg";
import { requiredEnv, uniqueName } from "../../core/testing.ts";
import { committedOffsets, withTestAdmin } from "../../plugins/kafka/test_support.ts";
import type { StationSnapshot } from "../../contracts/mod.ts";
import { type Backlog, CAPTURE_MOMENT, publishBacklog } from "../support/backlog.ts";
import { startCli } from "../support/cli.ts";

/** The drills' config: the real `load` pipeline on `LOAD_TOPIC`, without steps or checks. */
const DRILL_CONFIG = ["--config", "tests/faults/drill.config.ts"];

/** Offsets by partition. */
export type Offsets = Record<number, number>;

/**
 * Everything published to a drill's topic so far: what the warehouse must end up holding.
 *
 * @example
 * ```ts
 * import { Published } from "./warehouse_audit.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(new Published().messages, 0);
 * ```
 */
export class Published {
  /** Messages published. */
  messages = 0;
  /** The station codes of every cycle. */
  codes: string[] = [];
  /** The `collected_at` of every cycle, oldest first (ISO-8601). */
  collectedAts: string[] = [];
  /** The newest cycle: what `mart.station_latest` must hold. */
  newestCycle: StationSnapshot[] = [];

  /**
   * Publishes `cycles` more synthetic cycles after those already published, their counts drawn
   * from `seed`.
   *
   * @example
   * ```ts ignore
   * const published = new Published();
   * await published.add(drill, 10, 42); // 14,710 messages
   * ```
   */
  async add(
    drill: Pick<Drill, "brokers" | "topic" | "partitions">,
    cycles: number,
    seed: number,
  ): Promise<Backlog> {
    const startAt = new Date(CAPTURE_MOMENT.getTime() + this.collectedAts.length * CYCLE_MS);
    const backlog = await publishBacklog({
      brokers: drill.brokers,
      topic: drill.topic,
      partitions: drill.partitions,
      cycles,
      seed,
      startAt,
      intervalMs: CYCLE_MS,
    });
    for (let k = 0; k < cycles; k++) {
      this.collectedAts.push(new Date(startAt.getTime() + k * CYCLE_MS).toISOString());
    }
    this.messages += backlog.messages;
    this.codes = backlog.newestCycle.map((station) => station.station_code);
    this.newestCycle = backlog.newestCycle;
    return backlog;
  }
}

const CYCLE_MS = 60_000;

/** A drill's topic and warehouse, and the means to run `load` on them and look inside. */
export interface Drill extends AsyncDisposable {
  /** The drill's topic. */
  readonly topic: string;
  /** Its partitions. */
  readonly partitions: number;
  /** The consumer group `load` reads it as. */
  readonly groupId: string;
  /** `KAFKA_BROKERS`. */
  readonly brokers: string;
  /** The warehouse database's URL. */
  readonly databaseUrl: string;
  /** Starts `pipeline <mode> load` on the drill's topic and warehouse, as a child process. */
  start(mode: "batch" | "stream"): ReturnType<typeof startCli>;
  /** Runs a statement on the drill's own connection, reopened when the server restarted. */
  query<R>(text: string, params?: unknown[]): Promise<R[]>;
}

/**
 * A fresh topic of `partitions` partitions named after `prefix`, loaded into the database at
 * `databaseUrl`; disposing of it closes nothing but what it opened itself.
 *
 * @example
 * ```ts ignore
 * await using drill = drillOn(databaseUrl, "crash", 3);
 * const run = drill.start("batch");
 * ```
 */
export function drillOn(databaseUrl: string, prefix: string, partitions: number): Drill {
  const brokers = requiredEnv("KAFKA_BROKERS", "a Kafka broker");
  const topic = uniqueName(prefix);
  const env = { KAFKA_BROKERS: brokers, DATABASE_URL: databaseUrl, LOAD_TOPIC: topic };
  let client: pg.Client | undefined;
  return {
    topic,
    partitions,
    groupId: `${topic}-warehouse`,
    brokers,
    databaseUrl,
    start: (mode) => startCli([mode, "load", ...DRILL_CONFIG], { env }),
    async query<R>(text: string, params?: unknown[]) {
      if (client === undefined) {
        const fresh = new pg.Client({ connectionString: databaseUrl });
        // A server stopped under it only ends this client; the next query opens another.
        fresh.on("error", () => {
          if (client === fresh) client = undefined;
        });
        await fresh.connect();
        client = fresh;
      }
      try {
        return (await client.query(text, params)).rows as R[];
      } catch (error) {
        await client.end().catch(() => {});
        client = undefined;
        throw error;
      }
    },
    async [Symbol.asyncDispose]() {
      await client?.end().catch(() => {});
    },
  };
}

/**
 * The positions `load` stored with its rows for the drill's topic, by partition (a partition
 * with none is absent).
 *
 * @example
 * ```ts ignore
 * const stored = await storedPositions(drill); // { 0: 66_200, 1: 67_000, 2: 66_856 }
 * ```
 */
export async function storedPositions(drill: Drill): Promise<Offsets> {
  const exists = await drill.query<{ t: boolean }>(
    "SELECT to_regclass('pipeline.source_positions') IS NOT NULL AS t",
  );
  if (!exists[0].t) return {};
  const rows = await drill.query<{ partition: number; position: number }>(
    "SELECT partition, next_offset::int AS position FROM pipeline.source_positions " +
      "WHERE pipeline = 'load' AND stream = $1",
    [drill.topic],
  );
  return Object.fromEntries(rows.map((row) => [row.partition, row.position]));
}

/**
 * All stored positions added up: with one message per row, the rows a consistent load holds.
 *
 * @example
 * ```ts
 * import { total } from "./warehouse_audit.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(total({ 0: 5_000, 1: 2_000 }), 7_000);
 * ```
 */
export function total(offsets: Offsets): number {
  return Object.values(offsets).reduce((sum, offset) => sum + offset, 0);
}

/**
 * The drill topic's high watermarks, by partition: where a complete load stands.
 *
 * @example
 * ```ts ignore
 * const ends = await highWatermarks(drill); // { 0: 66_200, 1: 67_000, 2: 66_856 }
 * ```
 */
export function highWatermarks(drill: Pick<Drill, "topic">): Promise<Offsets> {
  return withTestAdmin(async (admin) => {
    const offsets = await admin.fetchTopicOffsets(drill.topic);
    return Object.fromEntries(offsets.map((p) => [p.partition, Number(p.high)]));
  });
}

/**
 * The offsets the `load` group committed, by partition; -1 for none.
 *
 * @example
 * ```ts ignore
 * const committed = await groupOffsets(drill); // { 0: 66_200, … }
 * ```
 */
export function groupOffsets(drill: Drill): Promise<Offsets> {
  return committedOffsets(drill.topic, drill.groupId);
}

/** The raw table measured against what was published. */
export interface RawAudit {
  /** Rows in `raw.station_snapshots`. */
  rows: number;
  /** Published (station_code, collected_at) pairs with no row. */
  lost: number;
  /** Rows beyond the first of their (station_code, collected_at) pair. */
  duplicated: number;
  /** Distinct pairs stored that were never published. */
  unexpected: number;
  /** Records set aside in `pipeline.dead_letters`. */
  deadLetters: number;
  /** Rows per `collected_at` (ISO-8601), oldest first. */
  perCycle: Array<[collectedAt: string, rows: number]>;
}

/**
 * Counts every published pair in the raw table: present once, missing, stored twice, or
 * stored without being published.
 *
 * @example
 * ```ts ignore
 * const audit = await auditRaw(drill, published);
 * assert.equal(audit.lost, 0);
 * ```
 */
export async function auditRaw(drill: Drill, published: Published): Promise<RawAudit> {
  const [counts] = await drill.query<{ rows: number; pairs: number; expected: number }>(
    `SELECT count(*)::int AS rows,
            count(DISTINCT (station_code, collected_at))::int AS pairs,
            count(DISTINCT (station_code, collected_at)) FILTER (
              WHERE station_code = ANY($1::text[]) AND collected_at = ANY($2::timestamptz[])
            )::int AS expected
       FROM raw.station_snapshots`,
    [published.codes, published.collectedAts],
  );
  const perCycle = await drill.query<{ at: Date; rows: number }>(
    "SELECT collected_at AS at, count(*)::int AS rows FROM raw.station_snapshots " +
      "GROUP BY collected_at ORDER BY collected_at",
  );
  const [dead] = await drill.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM pipeline.dead_letters",
  );
  return {
    rows: counts.rows,
    deadLetters: dead.n,
    lost: published.codes.length * published.collectedAts.length - counts.expected,
    duplicated: counts.rows - counts.pairs,
    unexpected: counts.pairs - counts.expected,
    perCycle: perCycle.map((row) => [row.at.toISOString(), row.rows]),
  };
}

/**
 * Asserts that `mart.station_latest` holds exactly `published.newestCycle`, value for value.
 *
 * @example
 * ```ts ignore
 * await assertMartIsNewestCycle(drill, published);
 * ```
 */
export async function assertMartIsNewestCycle(drill: Drill, published: Published): Promise<void> {
  const fields = Object.keys(published.newestCycle[0]) as Array<keyof StationSnapshot>;
  const columns = fields.map((field) => `"${field}"`).join(", ");
  const rows = await drill.query<Record<string, unknown>>(
    `SELECT ${columns} FROM mart.station_latest ORDER BY station_code`,
  );
  const asStored = (snapshot: Record<string, unknown>) =>
    Object.fromEntries(fields.map((field) => {
      const value = snapshot[field];
      const isTime = field === "collected_at" || field === "last_reported";
      return [field, isTime && value !== null ? new Date(value as string).toISOString() : value];
    }));
  const expected = [...published.newestCycle]
    .sort((a, b) => a.station_code < b.station_code ? -1 : 1)
    .map(asStored);
  assert.equal(rows.length, expected.length, "one mart row per station");
  assert.deepEqual(rows.map(asStored), expected);
}

/**
 * Polls `condition` every `everyMs` until it holds. Fails if `run` exits meanwhile, or after
 * `giveUpMs`: a guard against a hang, not a measure of speed.
 *
 * @example
 * ```ts ignore
 * await waitUntil("a position is stored", async () => total(await storedPositions(drill)) > 0, run);
 * ```
 */
export async function waitUntil(
  what: string,
  condition: () => Promise<boolean>,
  run?: ReturnType<typeof startCli>,
  { everyMs = 25, giveUpMs = 120_000 } = {},
): Promise<void> {
  const giveUpAt = Date.now() + giveUpMs;
  let exited: Deno.CommandStatus | undefined;
  run?.child.status.then((status) => exited = status);
  while (!await condition()) {
    if (exited) {
      throw new Error(`The run exited (code ${exited.code}) before ${what}.\n${run?.stderr()}`);
    }
    if (Date.now() > giveUpAt) throw new Error(`Gave up waiting until ${what}.`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** After a stored position, a kill waits up to this long, so that it lands inside a batch. */
const MAX_KILL_DELAY_MS = 250;
/**
 * Kills aim at the first 80 % of the backlog: a run overshoots its target by a few batches
 * before the kill lands, and the last one must still find work to do.
 */
const KILLED_SHARE = 0.8;

/** What {@linkcode killLoadsWhileWriting} needs: how to start a load, and how far it got. */
export interface KillPlan {
  /** Starts a `batch` load of the drill's backlog. */
  start(): ReturnType<typeof startCli>;
  /** The stored positions added up: how many messages the warehouse has taken. */
  stored(): Promise<number>;
  /** The messages published. */
  messages: number;
  /** How many loads to kill. */
  kills: number;
  /** The drill's seeded random numbers in [0, 1). */
  random(): number;
}

/**
 * Starts and SIGKILLs `kills` batch loads, one in each share of the first 80 % of the backlog at
 * a seeded point within it: each once it is past its point and past a stored position of its
 * own (writing, not starting), after a seeded delay. Fails if a run ended before its kill.
 *
 * @example
 * ```ts ignore
 * await killLoadsWhileWriting({
 *   start: () => drill.start("batch"),
 *   stored: async () => total(await storedPositions(drill)),
 *   messages: published.messages,
 *   kills: 10,
 *   random,
 * });
 * ```
 */
export async function killLoadsWhileWriting(plan: KillPlan): Promise<void> {
  const targets = Array.from(
    { length: plan.kills },
    (_, i) => Math.floor(plan.messages * KILLED_SHARE * (i + plan.random()) / plan.kills),
  );
  for (const [i, target] of targets.entries()) {
    const before = await plan.stored();
    const run = plan.start();
    let exited = false;
    run.child.status.then(() => exited = true);
    await waitUntil(
      `kill ${i + 1} found the load past ${target} messages`,
      async () => {
        const stored = await plan.stored();
        return stored > before && stored >= target;
      },
      run,
    );
    await new Promise((resolve) => setTimeout(resolve, plan.random() * MAX_KILL_DELAY_MS));
    assert.equal(exited, false, `kill ${i + 1} came after the run ended:\n${run.stderr()}`);
    run.child.kill("SIGKILL");
    assert.equal((await run.child.status).signal, "SIGKILL");
    await run.finished.catch(() => {}); // killed: there is no summary line
  }
}

/**
 * Asserts that an audit found every published snapshot once: none lost, none duplicated, none
 * unexpected, no dead letter.
 *
 * @example
 * ```ts ignore
 * assertAuditClean(await auditRaw(drill, published));
 * ```
 */
export function assertAuditClean(audit: RawAudit): void {
  assert.deepEqual(
    {
      lost: audit.lost,
      duplicated: audit.duplicated,
      unexpected: audit.unexpected,
      deadLetters: audit.deadLetters,
    },
    { lost: 0, duplicated: 0, unexpected: 0, deadLetters: 0 },
  );
}

/**
 * Asserts that on each of `partitions`, the group committed no further than the position the
 * warehouse stored: nothing was acknowledged that the warehouse does not hold.
 *
 * @example
 * ```ts
 * import { assertGroupNotAhead } from "./warehouse_audit.ts";
 *
 * assertGroupNotAhead({ 0: 100, 1: -1 }, { 0: 120 }, 2);
 * ```
 */
export function assertGroupNotAhead(committed: Offsets, stored: Offsets, partitions: number): void {
  for (let partition = 0; partition < partitions; partition++) {
    assert.ok(
      committed[partition] <= (stored[partition] ?? 0),
      `partition ${partition}: the group committed ${committed[partition]}, ` +
        `past the stored position ${stored[partition]}`,
    );
  }
}
