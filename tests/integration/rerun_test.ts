/**
 * Reruns end to end through the CLI, on real Kafka and PostgreSQL: a gap in raw and corrupted
 * gold stats repaired by reloading one hour from the topic, without moving the live pipeline;
 * a killed rerun run again; the next live load after a rerun; and the requests refused.
 *
 * The topic holds 3 hours of synthetic cycles (real stations, seeded synthetic counts; see
 * tests/support/backlog.ts), one every 5 minutes, ending before now so that Kafka retains them
 * and none lies in the future.
 *
 * @module
 */
import assert from "node:assert/strict";
import pg from "pg";
import { requiredEnv, uniqueName } from "../../core/testing.ts";
import { committedOffsets } from "../../plugins/kafka/test_support.ts";
import { scratchDatabase } from "../../plugins/sink-postgres/testing.ts";
import { publishBacklog } from "../support/backlog.ts";
import { runCli, startCliUntilHung } from "../support/cli.ts";

const CONFIG = ["--config", "tests/support/load.config.ts"];
const HOUR_MS = 3_600_000;
const CYCLE_MS = 5 * 60_000;
const CYCLES = 36; // 3 hours
const STATIONS = 1471;

/** The first whole UTC hour of the 3 hours, which end at the last whole hour before now. */
function firstHour(): Date {
  return new Date(Math.floor(Date.now() / HOUR_MS) * HOUR_MS - 3 * HOUR_MS);
}

/** 3 hours on a topic of the test's own, loaded once by the live pipeline. */
async function loadedWarehouse() {
  const database = await scratchDatabase();
  const topic = uniqueName("rerun");
  const group = `${topic}-warehouse`;
  const brokers = requiredEnv("KAFKA_BROKERS", "a Kafka broker");
  const start = firstHour();
  await publishBacklog({
    brokers,
    topic,
    cycles: CYCLES,
    partitions: 2,
    startAt: start,
    intervalMs: CYCLE_MS,
    seed: 12,
  });
  const env = {
    KAFKA_BROKERS: brokers,
    DATABASE_URL: database.url,
    LOAD_TOPIC: topic,
    LOAD_GROUP: group,
  };
  const live = await runCli(["batch", "load", ...CONFIG], { env });
  assert.equal(live.code, 0, live.stderr);
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  const hour2 = {
    from: new Date(start.getTime() + HOUR_MS),
    to: new Date(start.getTime() + 2 * HOUR_MS),
  };
  return {
    env,
    topic,
    group,
    start,
    hour2,
    client,
    /** `batch load --from … --to …` over hour 2. */
    rerunArgs: [
      "batch",
      "load",
      "--from",
      hour2.from.toISOString(),
      "--to",
      hour2.to.toISOString(),
      ...CONFIG,
    ],
    async [Symbol.asyncDispose]() {
      await client.end();
      await database[Symbol.asyncDispose]();
    },
  };
}

type Warehouse = Awaited<ReturnType<typeof loadedWarehouse>>;

/** A digest of a query's rows as JSON, in the order given, for comparing whole tables. */
async function digest(client: pg.Client, rows: string, order: string): Promise<string> {
  const { rows: [found] } = await client.query(
    `SELECT count(*)::int AS n, md5(coalesce(string_agg(r::text, E'\\n' ORDER BY ${order}), ''))
       AS md5
     FROM (${rows}) AS r`,
  );
  return `${found.n} rows, md5 ${found.md5}`;
}

/** Everything a rerun must restore, or must leave alone, as digests. */
async function state(w: Warehouse) {
  const between = (column: string) =>
    `${column} >= '${w.hour2.from.toISOString()}' AND ${column} < '${w.hour2.to.toISOString()}'`;
  const { rows: positions } = await w.client.query(
    `SELECT pipeline, stream, partition, next_offset::text AS next_offset
     FROM pipeline.source_positions ORDER BY pipeline, stream, partition`,
  );
  return {
    // inserted_at says when a row was stored: a restored row is stored anew.
    raw: await digest(
      w.client,
      "SELECT to_jsonb(s) - 'inserted_at' AS r FROM raw.station_snapshots AS s",
      "r->>'station_code', r->>'collected_at'",
    ),
    rawHour2: await digest(
      w.client,
      `SELECT to_jsonb(s) - 'inserted_at' AS r FROM raw.station_snapshots AS s
       WHERE ${between("collected_at")}`,
      "r->>'station_code', r->>'collected_at'",
    ),
    hourly: await digest(
      w.client,
      "SELECT to_jsonb(h) - 'refreshed_at' AS r FROM mart.hourly_station_stats AS h",
      "r->>'station_code', r->>'bucket_start'",
    ),
    daily: await digest(
      w.client,
      "SELECT to_jsonb(d) - 'refreshed_at' AS r FROM mart.daily_station_stats AS d",
      "r->>'station_code', r->>'day'",
    ),
    // Whole rows, updated_at included: mart must not even be touched.
    mart: await digest(
      w.client,
      "SELECT to_jsonb(m) AS r FROM mart.station_latest AS m",
      "r->>'station_code'",
    ),
    livePositions: positions.filter((p) => p.pipeline === "load"),
    rerunPositions: positions.filter((p) => p.pipeline === "load:rerun"),
    liveGroup: await committedOffsets(w.topic, w.group),
    deadLetters: (await w.client.query("SELECT count(*)::int AS n FROM pipeline.dead_letters"))
      .rows[0].n as number,
  };
}

/** The incident: hour 2's raw rows are gone, and its hourly and daily stats are wrong. */
async function damageHour2(w: Warehouse): Promise<void> {
  const window = [w.hour2.from, w.hour2.to];
  const { rowCount } = await w.client.query(
    "DELETE FROM raw.station_snapshots WHERE collected_at >= $1 AND collected_at < $2",
    window,
  );
  assert.equal(rowCount, 12 * STATIONS);
  await w.client.query(
    `UPDATE mart.hourly_station_stats SET avg_bikes = -1, snapshot_count = 0
     WHERE bucket_start >= $1 AND bucket_start < $2`,
    window,
  );
  await w.client.query(
    `DELETE FROM mart.hourly_station_stats
     WHERE bucket_start = $1 AND station_code IN (SELECT station_code FROM mart.station_latest LIMIT 100)`,
    [w.hour2.from],
  );
  await w.client.query("UPDATE mart.daily_station_stats SET avg_bikes = -1");
}

Deno.test("a rerun of one hour restores its raw rows and rebuilds its gold stats, and leaves mart, the live group and the live positions as they were", async () => {
  await using w = await loadedWarehouse();
  const before = await state(w);
  assert.equal(before.raw.split(" ")[0], String(CYCLES * STATIONS));
  assert.ok(Object.keys(before.liveGroup).length > 0, "the live group committed offsets");
  await damageHour2(w);
  assert.notEqual((await state(w)).rawHour2, before.rawHour2);

  const rerun = await runCli(w.rerunArgs, { env: w.env });
  assert.equal(rerun.code, 0, rerun.stderr);
  const after = await state(w);
  assert.equal(after.rawHour2, before.rawHour2);
  assert.equal(after.raw, before.raw);
  assert.equal(after.hourly, before.hourly);
  assert.equal(after.daily, before.daily);
  assert.equal(after.mart, before.mart);
  assert.deepEqual(after.liveGroup, before.liveGroup);
  assert.deepEqual(after.livePositions, before.livePositions);
  assert.equal(after.deadLetters, 0);
  assert.equal((rerun.summary.counters as Record<string, number>).written, 12 * STATIONS);
  assert.ok(after.rerunPositions.length > 0, "the rerun keeps its progress apart");
});

Deno.test("the declared rerun reload-retained restores a gap from the earliest retained record and refreshes the gold buckets that received rows", async () => {
  await using w = await loadedWarehouse();
  const before = await state(w);
  await w.client.query(
    "DELETE FROM raw.station_snapshots WHERE collected_at >= $1 AND collected_at < $2",
    [w.hour2.from, w.hour2.to],
  );

  const rerun = await runCli(["rerun", "reload-retained", ...CONFIG], { env: w.env });
  assert.equal(rerun.code, 0, rerun.stderr);
  assert.equal((rerun.summary.counters as Record<string, number>).read, CYCLES * STATIONS);
  const after = await state(w);
  for (const part of ["raw", "hourly", "daily", "mart"] as const) {
    assert.equal(after[part], before[part], part);
  }
  assert.deepEqual(after.liveGroup, before.liveGroup);
  assert.deepEqual(after.livePositions, before.livePositions);
});

Deno.test("running the same rerun again changes nothing", async () => {
  await using w = await loadedWarehouse();
  await damageHour2(w);
  const first = await runCli(w.rerunArgs, { env: w.env });
  assert.equal(first.code, 0, first.stderr);
  const once = await state(w);

  const again = await runCli(w.rerunArgs, { env: w.env });
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(await state(w), once);
});

Deno.test("a rerun killed after a commit, then run again, ends as one that ran through", async () => {
  await using w = await loadedWarehouse();
  const before = await state(w);
  await damageHour2(w);

  const hung = await startCliUntilHung(w.rerunArgs, { env: w.env });
  hung.child.kill("SIGKILL");
  await hung.child.status;
  await hung.finished.catch(() => {}); // killed: there is no summary
  const midway = await state(w);
  assert.notEqual(midway.rawHour2, before.rawHour2, "the killed run stopped midway");

  const rerun = await runCli(w.rerunArgs, { env: w.env });
  assert.equal(rerun.code, 0, rerun.stderr);
  const after = await state(w);
  for (const part of ["raw", "rawHour2", "hourly", "daily", "mart"] as const) {
    assert.equal(after[part], before[part], part);
  }
  assert.deepEqual(after.liveGroup, before.liveGroup);
  assert.deepEqual(after.livePositions, before.livePositions);
});

Deno.test("after a rerun, the next live load reads exactly what was published since the last live run", async () => {
  await using w = await loadedWarehouse();
  const newer = new Date(w.start.getTime() + CYCLES * CYCLE_MS);
  await publishBacklog({
    brokers: w.env.KAFKA_BROKERS,
    topic: w.topic,
    cycles: 2,
    partitions: 2,
    startAt: newer,
    intervalMs: 60_000,
    seed: 13,
  });
  const rerun = await runCli(w.rerunArgs, { env: w.env });
  assert.equal(rerun.code, 0, rerun.stderr);

  const live = await runCli(["batch", "load", ...CONFIG], { env: w.env });
  assert.equal(live.code, 0, live.stderr);
  const counters = live.summary.counters as Record<string, number>;
  assert.equal(counters.read, 2 * STATIONS);
  assert.equal(counters.written, 2 * STATIONS);
  const { rows: [mart] } = await w.client.query(
    "SELECT min(collected_at) AS oldest FROM mart.station_latest",
  );
  assert.equal(mart.oldest.getTime(), newer.getTime() + 60_000);
});

Deno.test("step --from --to rebuilds the hourly and daily stats of a window from raw, whatever the refresh queue holds", async () => {
  await using w = await loadedWarehouse();
  const before = await state(w);
  await w.client.query(
    "UPDATE mart.hourly_station_stats SET avg_bikes = -1 WHERE bucket_start = $1",
    [w.hour2.from],
  );
  await w.client.query("UPDATE mart.daily_station_stats SET avg_bikes = -1");
  const { rows: [queue] } = await w.client.query(
    "SELECT count(*)::int AS n FROM mart.refresh_queue",
  );
  assert.equal(queue.n, 0, "nothing is queued: a queue-based refresh would change nothing");

  const step = await runCli([
    "step",
    "load",
    "refresh-hourly",
    "refresh-daily",
    "--from",
    w.hour2.from.toISOString(),
    "--to",
    w.hour2.to.toISOString(),
    ...CONFIG,
  ], { env: w.env });
  assert.equal(step.code, 0, step.stderr);
  const after = await state(w);
  assert.equal(after.hourly, before.hourly);
  assert.equal(after.daily, before.daily);
});

/** A bad request: exit 2, one line saying what is wrong with a hint, and no stack trace. */
function assertRefused(run: { code: number; stderr: string }, message: RegExp): void {
  assert.equal(run.code, 2, run.stderr);
  assert.match(run.stderr, message);
  assert.match(run.stderr, /Hint: /);
  assert.doesNotMatch(run.stderr, /^\s+at /m, "no stack trace");
}

Deno.test("a rerun whose window is malformed, empty, in the future or for a source that cannot seek exits 2 before connecting anything", async () => {
  await using database = await scratchDatabase();
  const env = {
    KAFKA_BROKERS: requiredEnv("KAFKA_BROKERS", "a Kafka broker"),
    DATABASE_URL: database.url,
    LOAD_TOPIC: uniqueName("rerun-refused"),
  };
  const batch = (...flags: string[]) => runCli(["batch", "load", ...flags, ...CONFIG], { env });
  const hourAgo = new Date(Date.now() - HOUR_MS).toISOString();
  const now = new Date().toISOString();
  assertRefused(
    await batch("--from", "2025-10-18 00:00", "--to", now),
    /--from is not an ISO-8601 time/,
  );
  assertRefused(await batch("--from", now, "--to", hourAgo), /not before --to/);
  assertRefused(await batch("--from", hourAgo, "--to", hourAgo), /not before --to/);
  assertRefused(
    await batch("--from", new Date(Date.now() + HOUR_MS).toISOString()),
    /starts in the future/,
  );
  assertRefused(await batch("--to", now), /--to needs --from/);
  assertRefused(
    await runCli(["batch", "local", "--from", hourAgo], { env, unset: ["DATABASE_URL"] }),
    /cannot seek/,
  );
  // Not even the migrations ran: the database is as it was created.
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    const { rows: [tables] } = await client.query(
      "SELECT to_regclass('raw.station_snapshots') AS raw, to_regclass('pipeline.source_positions') AS positions",
    );
    assert.deepEqual(tables, { raw: null, positions: null });
  } finally {
    await client.end();
  }
});

Deno.test("a step given a window or an instant it does not take exits 2", async () => {
  await using database = await scratchDatabase();
  const env = { DATABASE_URL: database.url, LOAD_TOPIC: uniqueName("rerun-refused") };
  const hourAgo = new Date(Date.now() - HOUR_MS).toISOString();
  assertRefused(
    await runCli(["step", "load", "rank-stations", "--from", hourAgo, ...CONFIG], { env }),
    /Step rank-stations takes no --from\/--to/,
  );
  assertRefused(
    await runCli(["step", "load", "refresh-hourly", "--at", hourAgo, ...CONFIG], { env }),
    /Step refresh-hourly takes no --at/,
  );
  assertRefused(
    await runCli(["check", "load", "--from", hourAgo, ...CONFIG], { env }),
    /--from goes with the batch, rerun and step commands, not check/,
  );
});

Deno.test("a rerun of a window older than anything the topic retains exits 2, says the earliest retained time and writes nothing", async () => {
  await using w = await loadedWarehouse();
  const before = await state(w);
  const run = await runCli(
    ["batch", "load", "--from", "2020-01-01T00:00:00Z", "--to", "2020-01-02T00:00:00Z", ...CONFIG],
    { env: w.env },
  );
  assertRefused(run, new RegExp(`earliest record was collected at ${w.start.toISOString()}`));
  assert.deepEqual(await state(w), before);
});
