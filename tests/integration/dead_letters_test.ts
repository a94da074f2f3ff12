/**
 * Dead letters end to end, through the CLI as an engineer or Airflow runs it: real Kafka, real
 * PostgreSQL, the real enrich transform, warehouse sink and gold steps, plus a stricter rule
 * (`tests/support/strict_rule.ts`) that sets records aside until it is relaxed. The station
 * counts are synthetic (seeded) cycles of the real 2024-05-28 stations.
 *
 * @module
 */
import assert from "node:assert/strict";
import pg from "pg";
import { deadLetters } from "../../cli/dead_letters.ts";
import { EXIT_CODE_HELP, OPTIONS_HELP } from "../../cli/shared.ts";
import { requiredEnv } from "../../core/testing.ts";
import { createTestTopic, produce } from "../../plugins/kafka/test_support.ts";
import { scratchDatabase } from "../../plugins/sink-postgres/testing.ts";
import type { StationSnapshot } from "../../contracts/mod.ts";
import { CAPTURE_MOMENT, seededRandom, syntheticCycle } from "../support/backlog.ts";
import { runCli } from "../support/cli.ts";
import { captureSnapshots } from "../support/fixtures.ts";
import { STRICT_RULE_STAGE } from "../support/strict_rule.ts";

const CONFIG = ["--config", "tests/support/strict_rule.config.ts"];
const MAX_BIKES = 30;

/** `count` synthetic cycles of the real stations, a minute apart after the capture. */
async function syntheticCycles(count: number): Promise<StationSnapshot[]> {
  const stations = await captureSnapshots(CAPTURE_MOMENT);
  const random = seededRandom(7);
  return Array.from(
    { length: count },
    (_, k) =>
      syntheticCycle(stations, new Date(CAPTURE_MOMENT.getTime() + (k + 1) * 60_000), random),
  ).flat();
}

const asMessages = (snapshots: StationSnapshot[]) =>
  snapshots.map((s) => ({ key: s.station_code, value: JSON.stringify(s) }));

interface Letter {
  id: string;
  stage: string;
  reason: string;
  payload: string | null;
  source_stream: string | null;
  source_offset: string | null;
  replayed_at: Date | null;
  replay_run_id: string | null;
}

/** A topic and a database of the test's own, and a client on the database. */
async function replaySetup() {
  const database = await scratchDatabase();
  const topic = await createTestTopic("dead_letters", 1);
  const env = {
    KAFKA_BROKERS: requiredEnv("KAFKA_BROKERS", "a Kafka broker"),
    DATABASE_URL: database.url,
    STRICT_TOPIC: topic,
  };
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  const count = async (from: string, params: unknown[] = []) => {
    const { rows } = await client.query(`SELECT count(*)::int AS n FROM ${from}`, params);
    return rows[0].n as number;
  };
  return {
    env,
    topic,
    client,
    count,
    /** Runs the CLI on the test's services; the strict rule is relaxed unless `maxBikes`. */
    cli(args: string[], maxBikes?: number) {
      return runCli([...args, ...CONFIG], {
        env: maxBikes === undefined ? env : { ...env, STRICT_MAX_BIKES: String(maxBikes) },
        unset: ["STRICT_MAX_BIKES"],
      });
    },
    async letters(): Promise<Letter[]> {
      const { rows } = await client.query(
        `SELECT d.id::text AS id, d.stage, d.reason, d.payload, d.source_stream,
           d.source_offset::text AS source_offset, d.replayed_at, d.replay_run_id
         FROM pipeline.dead_letters AS d WHERE d.pipeline = 'strict' ORDER BY d.id`,
      );
      return rows;
    },
    async [Symbol.asyncDispose]() {
      await client.end();
      await database[Symbol.asyncDispose]();
    },
  };
}

const counters = (summary: Record<string, unknown>) => summary.counters as Record<string, number>;

/** The lines `list` printed before its summary. */
const listed = (stdout: string) => stdout.trimEnd().split("\n").slice(0, -1);

Deno.test("dead-letters: what a stricter rule set aside is replayed once each after it is relaxed, a second replay does nothing, and list shows it", async () => {
  await using setup = await replaySetup();
  const snapshots = await syntheticCycles(2);
  const [first] = snapshots;
  await produce(setup.topic, [
    ...asMessages(snapshots),
    { key: "poison", value: "{not json" },
    { key: first.station_code, value: JSON.stringify({ ...first, bikes_available: -3 }) },
  ]);
  const overLimit = snapshots.filter((s) => s.bikes_available > MAX_BIKES);
  assert.ok(overLimit.length > 100, "the synthetic counts put many stations over the limit");

  // (1) With the strict rule, the stations over the limit are set aside with the reason.
  const strict = await setup.cli(["batch", "strict"], MAX_BIKES);
  assert.equal(strict.code, 0, strict.stderr);
  assert.equal(counters(strict.summary).rejected, overLimit.length + 2);
  assert.equal(await setup.count("raw.station_snapshots"), snapshots.length - overLimit.length);
  const setAside = await setup.letters();
  assert.equal(setAside.length, overLimit.length + 2);
  const byRule = setAside.filter((letter) => letter.stage === STRICT_RULE_STAGE);
  assert.equal(byRule.length, overLimit.length);
  for (const letter of byRule) {
    assert.match(letter.reason, /^bikes_available \d+ is over the strict limit of 30$/);
    assert.equal(letter.source_stream, setup.topic);
    assert.equal(letter.replayed_at, null);
  }
  // As it arrived: the published snapshot, not the enriched one.
  assert.deepEqual(
    byRule.map((letter) => JSON.parse(letter.payload!)),
    overLimit,
  );
  const notJson = setAside.find((letter) => letter.payload === "{not json")!;
  assert.equal(notJson.stage, "source kafka");

  // (2) Relaxed: each of them is written to raw once, and its letter marked with the run id.
  const replay = await setup.cli(["dead-letters", "strict", "replay"]);
  assert.equal(replay.code, 0, replay.stderr);
  assert.equal(replay.summary.command, "dead-letters replay");
  assert.equal(replay.summary.replayed, overLimit.length);
  assert.equal(replay.summary.stillFailing, 2);
  assert.equal(counters(replay.summary).read, overLimit.length + 2);
  assert.equal(await setup.count("raw.station_snapshots"), snapshots.length);
  assert.equal(
    await setup.count("raw.station_snapshots WHERE bikes_available > $1", [MAX_BIKES]),
    overLimit.length,
  );
  const runId = replay.summary.runId as string;
  const afterReplay = await setup.letters();
  assert.equal(afterReplay.length, overLimit.length + 2, "no letter was added");
  for (const letter of afterReplay.filter((l) => l.stage === STRICT_RULE_STAGE)) {
    assert.equal(letter.replay_run_id, runId);
    assert.ok(letter.replayed_at instanceof Date);
  }
  // The letter that still fails keeps its payload and origin, with this try's stage and reason.
  const again = afterReplay.find((letter) => letter.id === notJson.id)!;
  assert.equal(again.replayed_at, null);
  assert.equal(again.stage, "transform enrich");
  assert.match(again.reason, /the snapshot must be a JSON object, got string "\{not json"/);
  assert.deepEqual([again.payload, again.source_stream, again.source_offset], [
    notJson.payload,
    notJson.source_stream,
    notJson.source_offset,
  ]);
  // The gold steps ran after it, and counted the replayed rows.
  const steps = replay.summary.steps as Array<{ name: string; rows: number }>;
  assert.deepEqual(steps.map((step) => step.name), [
    "refresh-hourly",
    "refresh-daily",
    "rank-stations",
  ]);
  const { rows: [hourly] } = await setup.client.query(
    "SELECT sum(snapshot_count)::int AS n FROM mart.hourly_station_stats",
  );
  assert.equal(hourly.n, snapshots.length);

  // (3) A second replay finds only the two that still fail, and writes nothing.
  const second = await setup.cli(["dead-letters", "strict", "replay"]);
  assert.equal(second.code, 0, second.stderr);
  assert.equal(second.summary.replayed, 0);
  assert.equal(second.summary.stillFailing, 2);
  assert.equal(await setup.count("raw.station_snapshots"), snapshots.length);
  assert.deepEqual(
    (await setup.letters()).map((l) => l.replay_run_id),
    afterReplay.map((l) => l.replay_run_id),
  );

  const list = await setup.cli(["dead-letters", "strict", "list"]);
  assert.equal(list.code, 0, list.stderr);
  assert.deepEqual(
    [list.summary.letters, list.summary.waiting, list.summary.replayed],
    [overLimit.length + 2, 2, overLimit.length],
  );
  const lines = listed(list.stdout);
  assert.equal(lines.length, overLimit.length + 2);
  const line = lines.find((l) => l.startsWith(`${byRule[0].id}\t`))!;
  const [, failedAt, stage, reason, origin, state, payload] = line.split("\t");
  assert.ok(!Number.isNaN(Date.parse(failedAt)));
  assert.deepEqual([stage, reason], [STRICT_RULE_STAGE, byRule[0].reason]);
  assert.equal(origin, `${setup.topic}/0@${byRule[0].source_offset}`);
  assert.match(state, new RegExp(`^replayed \\S+ by ${runId}$`));
  assert.match(payload, /^\{"schema_version":\d,.{60,}… \(\d+ characters\)$/);
  assert.match(lines.find((l) => l.startsWith(`${notJson.id}\t`))!, /\twaiting\t\{not json$/);

  const byReason = await setup.cli(["dead-letters", "strict", "list", "--reason", "STRICT LIMIT"]);
  assert.equal(byReason.code, 0, byReason.stderr);
  assert.deepEqual([byReason.summary.letters, byReason.summary.waiting], [overLimit.length, 0]);
  assert.equal(byReason.summary.reason, "STRICT LIMIT");
  const future = await setup.cli([
    "dead-letters",
    "strict",
    "list",
    "--since",
    "2100-01-01T00:00:00Z",
  ]);
  assert.equal(future.code, 0, future.stderr);
  assert.equal(future.summary.letters, 0);
});

Deno.test("dead-letters: a record the warehouse refuses is set aside as it arrived, and replays once the table takes it", async () => {
  await using setup = await replaySetup();
  const snapshots = await syntheticCycles(2);
  const refused = [snapshots[0].station_code, snapshots[1].station_code];
  await produce(setup.topic, asMessages(snapshots));
  const migrated = await setup.cli(["migrate", "strict"]);
  assert.equal(migrated.code, 0, migrated.stderr);
  await setup.client.query(
    `ALTER TABLE raw.station_snapshots ADD CONSTRAINT test_refused
       CHECK (station_code <> ALL (ARRAY['${refused[0]}', '${refused[1]}']))`,
  );

  const load = await setup.cli(["batch", "strict"]);
  assert.equal(load.code, 0, load.stderr);
  const letters = await setup.letters();
  const expected = snapshots.filter((s) => refused.includes(s.station_code));
  assert.equal(letters.length, expected.length);
  for (const letter of letters) {
    assert.equal(letter.stage, "sink postgres");
    assert.match(letter.reason, /test_refused/);
  }
  // The value as it arrived from Kafka: no occupancy_rate, no station_status.
  assert.deepEqual(letters.map((letter) => JSON.parse(letter.payload!)), expected);

  // While the table still refuses them, a replay keeps them waiting.
  const early = await setup.cli(["dead-letters", "strict", "replay"]);
  assert.equal(early.code, 0, early.stderr);
  assert.deepEqual([early.summary.replayed, early.summary.stillFailing], [0, expected.length]);
  assert.equal((await setup.letters()).filter((l) => l.replayed_at !== null).length, 0);

  await setup.client.query("ALTER TABLE raw.station_snapshots DROP CONSTRAINT test_refused");
  const replay = await setup.cli(["dead-letters", "strict", "replay"]);
  assert.equal(replay.code, 0, replay.stderr);
  assert.deepEqual([replay.summary.replayed, replay.summary.stillFailing], [expected.length, 0]);
  assert.equal(await setup.count("raw.station_snapshots"), snapshots.length);
  assert.equal(
    await setup.count("mart.station_latest WHERE station_code = ANY($1)", [refused]),
    refused.length,
  );
  assert.ok((await setup.letters()).every((l) => l.replay_run_id === replay.summary.runId));
});

Deno.test("dead-letters exits 2 with a hint for a request it cannot do", async () => {
  const cases: Array<[string[], RegExp, RegExp]> = [
    [["dead-letters", ...CONFIG], /needs a pipeline name/, /Pipelines in .*: strict, strict-apart/],
    [["dead-letters", "strict", ...CONFIG], /needs list or replay/, /Use list to see the letters/],
    [["dead-letters", "strict", "purge", ...CONFIG], /has no subcommand "purge"/, /replay/],
    [
      ["dead-letters", "strict", "list", "--since", "yesterday", ...CONFIG],
      /--since is not an ISO-8601 time with a zone: "yesterday"/,
      /2025-10-18T00:00:00Z/,
    ],
    [
      ["dead-letters", "ingest", "list"],
      /dead-letter sink kafka-2 of pipeline ingest cannot list/,
      /postgresSink/,
    ],
    [["dead-letters", "ingest", "replay"], /cannot replay its letters/, /postgresSink/],
    [
      ["dead-letters", "strict-apart", "replay", ...CONFIG],
      /dead-letter sink postgres-2 of pipeline strict-apart is not one of its sinks/,
      /marks each letter in the transaction that writes its record/,
    ],
  ];
  const runs = await Promise.all(cases.map(([args]) => runCli(args)));
  runs.forEach((run, i) => {
    const [args, message, hint] = cases[i];
    assert.equal(run.code, 2, `${args.join(" ")}: ${run.stderr}`);
    assert.match(run.stderr, message, args.join(" "));
    assert.match(run.stderr, new RegExp(`Hint: .*${hint.source}`), args.join(" "));
    assert.equal(run.stderr.trim().split("\n").length, 2, "one line of message, one of hint");
  });
});

Deno.test("dead-letters --help documents list, replay, the filters, the options and the exit codes", () => {
  const { help } = deadLetters;
  assert.match(help, /^Usage: deno task pipeline dead-letters <pipeline> list\|replay/);
  for (const part of [/--since <ISO>/, /--reason <text>/, /ignoring case/, /no checks/]) {
    assert.match(help, part);
  }
  assert.ok(help.includes(OPTIONS_HELP) && help.includes(EXIT_CODE_HELP));
});
