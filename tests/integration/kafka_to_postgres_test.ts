import assert from "node:assert/strict";
import pg from "pg";
import { runCli } from "../support/cli.ts";
import { requiredEnv, uniqueName } from "../../core/testing.ts";

const CONFIG = ["--config", "tests/support/kafka_to_postgres.config.ts"];

/** A fresh topic and table, and a way to count what landed. */
async function smokeSetup() {
  const databaseUrl = requiredEnv("DATABASE_URL", "a PostgreSQL server");
  const env = {
    KAFKA_BROKERS: requiredEnv("KAFKA_BROKERS", "a Kafka broker"),
    DATABASE_URL: databaseUrl,
    SMOKE_TOPIC: uniqueName("smoke"),
    SMOKE_TABLE: `${uniqueName("smoke")}.events`,
  };
  const [schema] = env.SMOKE_TABLE.split(".");
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  await client.query(`CREATE SCHEMA ${schema}`);
  await client.query(
    `CREATE TABLE ${env.SMOKE_TABLE} (id text PRIMARY KEY, n int NOT NULL, label text NOT NULL)`,
  );
  const rows = async () =>
    Number((await client.query(`SELECT count(*) AS n FROM ${env.SMOKE_TABLE}`)).rows[0].n);
  return {
    env,
    rows,
    query: (sql: string, values: unknown[] = []) => client.query(sql, values),
    async cleanup() {
      await client.query(`DROP SCHEMA ${schema} CASCADE`);
      await client.query(`DELETE FROM pipeline.source_positions WHERE stream = $1`, [
        env.SMOKE_TOPIC,
      ]);
      await client.end();
    },
  };
}

Deno.test("kafka to postgres: 1,000 messages load exactly once, and a second run changes nothing", async () => {
  const smoke = await smokeSetup();
  try {
    const produced = await runCli(["batch", "produce", ...CONFIG], { env: smoke.env });
    assert.equal(produced.code, 0, produced.stderr);
    assert.equal((produced.summary.counters as Record<string, number>).written, 1000);

    const first = await runCli(["batch", "load", ...CONFIG], { env: smoke.env });
    assert.equal(first.code, 0, first.stderr);
    assert.equal(await smoke.rows(), 1000);
    const counters = first.summary.counters as Record<string, number>;
    assert.deepEqual([counters.read, counters.written, counters.acknowledged], [1000, 1000, 1000]);

    const positions = await smoke.query(
      "SELECT partition, next_offset FROM pipeline.source_positions WHERE stream = $1 ORDER BY partition",
      [smoke.env.SMOKE_TOPIC],
    );
    assert.equal(positions.rows.length, 3, "one stored position per partition");
    assert.equal(positions.rows.reduce((sum, row) => sum + Number(row.next_offset), 0), 1000);

    const second = await runCli(["batch", "load", ...CONFIG], { env: smoke.env });
    assert.equal(second.code, 0, second.stderr);
    assert.equal((second.summary.counters as Record<string, number>).read, 0);
    assert.equal(await smoke.rows(), 1000);
  } finally {
    await smoke.cleanup();
  }
});

Deno.test("kafka to postgres: a wrong broker address fails with a clear error and exit code 1", async () => {
  const smoke = await smokeSetup();
  try {
    const run = await runCli(["batch", "load", ...CONFIG], {
      env: { ...smoke.env, KAFKA_BROKERS: "127.0.0.1:1" },
    });
    assert.equal(run.code, 1);
    assert.match(
      run.stderr,
      /Error: Could not connect kafka after 3 attempt\(s\): .*127\.0\.0\.1:1/,
    );
    assert.match(run.stderr, /Hint: .*KAFKA_BROKERS/);
    assert.doesNotMatch(run.stderr, /^\s+at /m, "no stack trace");
    assert.equal(run.summary.exitCode, 1);
    assert.equal(run.summary.exitReason, "failed");
    assert.equal(await smoke.rows(), 0);
  } finally {
    await smoke.cleanup();
  }
});
