/**
 * Failure drill 7, hostile strings: station names and other text fields with quotes,
 * semicolons, backslashes, SQL injection attempts, control characters (NUL included), emoji,
 * right-to-left text and 10 KB of text, published to real Kafka and loaded by `pipeline batch`
 * into the real PostgreSQL, through the CLI. Each one is stored verbatim or set aside in
 * `pipeline.dead_letters` with a reason; none runs as SQL. Then the analyst role's writes.
 *
 * Every snapshot here is synthetic; none pretends to be a real station.
 *
 * @module
 */
import assert from "node:assert/strict";
import pg from "pg";
import { requiredEnv } from "../../core/testing.ts";
import { createTestTopic, produce } from "../../plugins/kafka/test_support.ts";
import { scratchDatabase } from "../../plugins/sink-postgres/testing.ts";
import { runCli } from "../support/cli.ts";
import { hostileSnapshots, INJECTION, judgeHostile } from "./hostile.ts";
import { sqlState, warehouse } from "../warehouse/support.ts";
import { drillSeed, recordDrill } from "./report.ts";

const CONFIG = ["--config", "tests/support/load.config.ts"];

/**
 * Why PostgreSQL text cannot hold a hostile string as sent, for the two that it cannot: these
 * must come out as dead letters with that reason, and every other one stored verbatim.
 */
const UNSTORABLE: Record<string, RegExp> = {
  "NUL": /0x00/,
  "lone surrogate": /lone surrogate/,
};

/** The tables of the warehouse schemas, with their row counts. */
async function tablesAndCounts(client: pg.Client): Promise<Map<string, number>> {
  const { rows } = await client.query<{ name: string }>(
    `SELECT format('%I.%I', schemaname, tablename) AS name FROM pg_tables
     WHERE schemaname IN ('raw', 'mart', 'pipeline') ORDER BY 1`,
  );
  const counts = new Map<string, number>();
  for (const { name } of rows) {
    // The name comes from the catalog, quoted by format(%I).
    const { rows: [{ n }] } = await client.query(`SELECT count(*)::int AS n FROM ${name}`);
    counts.set(name, n);
  }
  return counts;
}

Deno.test("hostile strings: each is stored verbatim in raw and mart or dead-lettered with a reason, and none runs as SQL", async () => {
  const seed = drillSeed();
  await using database = await scratchDatabase();
  const topic = await createTestTopic("hostile", 1);
  const env = {
    KAFKA_BROKERS: requiredEnv("KAFKA_BROKERS", "a Kafka broker"),
    DATABASE_URL: database.url,
    LOAD_TOPIC: topic,
  };
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    const migrated = await runCli(["migrate", "load", ...CONFIG], { env });
    assert.equal(migrated.code, 0, migrated.stderr);
    const before = await tablesAndCounts(client);

    const hostile = hostileSnapshots(seed);
    const snapshots = hostile.map(({ snapshot }) => snapshot);
    const notJson = `${INJECTION}\u0000 {not json`;
    await produce(topic, [
      ...snapshots.map((s) => ({ key: s.station_code, value: JSON.stringify(s) })),
      { key: INJECTION, value: notJson },
    ]);
    const run = await runCli(["batch", "load", ...CONFIG], { env });
    assert.equal(run.code, 0, run.stderr);
    const counters = run.summary.counters as Record<string, number>;
    assert.equal(counters.read, snapshots.length + 1);

    const raw = await client.query(
      "SELECT station_code, station_name, commune, code_insee FROM raw.station_snapshots",
    );
    const mart = await client.query(
      "SELECT station_code, station_name, commune, code_insee FROM mart.station_latest",
    );
    const hourly = await client.query(
      "SELECT station_code, station_name FROM mart.hourly_station_stats",
    );
    const dead = await client.query(
      "SELECT reason, stage, payload, source_offset::int AS offset FROM pipeline.dead_letters",
    );
    const { stored, deadLettered, deadByOffset, rawByCode } = judgeHostile(hostile, {
      raw: raw.rows,
      mart: mart.rows,
      hourly: hourly.rows,
      dead: dead.rows,
    }, UNSTORABLE);
    const letter = deadByOffset.get(snapshots.length);
    assert.match(String(letter?.reason), /not valid JSON/);
    assert.equal(letter?.payload, notJson.replace("\0", "\uFFFD"), "NUL marked, the rest kept");

    const after = await tablesAndCounts(client);
    assert.deepEqual([...after.keys()], [...before.keys()], "no table created or dropped");
    assert.equal(after.get("raw.station_snapshots"), stored);
    assert.equal(after.get("mart.station_latest"), stored);
    assert.equal(after.get("pipeline.dead_letters"), deadLettered + 1);
    assert.equal(counters.written, stored);
    assert.equal(counters.rejected, deadLettered + 1);

    const again = await runCli(["batch", "load", ...CONFIG], { env });
    assert.equal(again.code, 0, again.stderr);
    assert.equal((again.summary.counters as Record<string, number>).read, 0, "nothing jammed");

    await recordDrill({
      scenario: "hostile strings",
      seed,
      faults: snapshots.length + 1,
      messagesIn: snapshots.length + 1,
      rowsOut: stored + deadLettered + 1,
      lost: snapshots.length + 1 - stored - deadLettered - 1,
      duplicated: raw.rows.length - rawByCode.size,
    });
  } finally {
    await client.end();
  }
});

/** Each way the analyst might try to write, for one table. */
const TABLE_WRITES = (table: string, column: string) => [
  `INSERT INTO ${table} DEFAULT VALUES`,
  `UPDATE ${table} SET ${column} = ${column}`,
  `DELETE FROM ${table}`,
  `TRUNCATE ${table}`,
  `COPY ${table} FROM STDIN`,
  `ALTER TABLE ${table} ADD COLUMN analyst_was_here int`,
  `CREATE INDEX ON ${table} (${column})`,
  `DROP TABLE ${table}`,
];

Deno.test("velib_analyst cannot write, truncate or change any table, sequence or schema of raw, mart and pipeline", async () => {
  const secret = `pw-${crypto.randomUUID()}`;
  await using wh = await warehouse({ "velib.analyst_password": secret });
  const url = new URL(wh.url);
  url.username = "velib_analyst";
  url.password = encodeURIComponent(secret);
  const analyst = await wh.connect(url.href);

  const tables = await wh.query<{ name: string; column: string }>(
    `SELECT format('%I.%I', c.table_schema, c.table_name) AS name,
            format('%I', min(c.column_name)) AS column
     FROM information_schema.columns c JOIN pg_tables t
       ON t.schemaname = c.table_schema AND t.tablename = c.table_name
     WHERE c.table_schema IN ('raw', 'mart', 'pipeline') GROUP BY 1 ORDER BY 1`,
  );
  assert.ok(tables.length >= 10, "the warehouse's tables are there");
  const sequences = await wh.query<{ name: string }>(
    `SELECT format('%I.%I', sequence_schema, sequence_name) AS name
     FROM information_schema.sequences WHERE sequence_schema IN ('raw', 'mart', 'pipeline')`,
  );
  const statements = [
    ...tables.flatMap(({ name, column }) => TABLE_WRITES(name, column)),
    ...sequences.flatMap(({ name }) => [
      { text: "SELECT nextval($1::regclass)", values: [name] },
      { text: "SELECT setval($1::regclass, 1)", values: [name] },
    ]),
    ...["raw", "mart", "pipeline"].flatMap((schema) => [
      `CREATE TABLE ${schema}.analyst_table (id int)`,
      `CREATE VIEW ${schema}.analyst_view AS SELECT 1 AS one`,
      `CREATE FUNCTION ${schema}.analyst_function() RETURNS int LANGUAGE sql AS 'SELECT 1'`,
      `DROP SCHEMA ${schema} CASCADE`,
    ]),
    "CREATE SCHEMA analyst_schema",
    "CREATE TABLE public.analyst_table (id int)",
  ];
  for (const statement of statements) {
    const { text, values } = typeof statement === "string" ? { text: statement } : statement;
    await assert.rejects(
      analyst.query(text, values),
      (error) => sqlState(error) === "42501",
      `${text} ${values ?? ""} must be refused with permission denied`,
    );
  }
  const definers = await wh.query(
    `SELECT p.oid::regprocedure::text AS f FROM pg_proc p JOIN pg_namespace n
     ON n.oid = p.pronamespace WHERE n.nspname IN ('raw', 'mart', 'pipeline') AND p.prosecdef`,
  );
  assert.deepEqual(definers, [], "no function runs with its owner's rights for the analyst");
  const after = await wh.query<{ name: string }>(
    `SELECT format('%I.%I', schemaname, tablename) AS name FROM pg_tables
     WHERE schemaname IN ('raw', 'mart', 'pipeline') ORDER BY 1`,
  );
  assert.deepEqual(after.map((t) => t.name), tables.map((t) => t.name));
});
