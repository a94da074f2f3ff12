import assert from "node:assert/strict";
import { join } from "node:path";
import pg from "pg";
import { PipelineError } from "../../mod.ts";
import { migrate } from "./connect.ts";
import { contextFor, scratchDatabase } from "./testing.ts";
import { configSchema } from "./config.ts";
import { PostgresSink } from "./sink.ts";

/** A folder of migrations that is removed on disposal. */
async function migrationsFolder(files: Record<string, string>) {
  const path = await Deno.makeTempDir({ prefix: "sink_postgres_migrations_" });
  for (const [name, script] of Object.entries(files)) {
    await Deno.writeTextFile(join(path, name), script);
  }
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

async function queryOnce<T>(url: string, text: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text)).rows;
  } finally {
    await client.end();
  }
}

const STATIONS = "CREATE SCHEMA raw;\nCREATE TABLE raw.stations (code text PRIMARY KEY);\n";

Deno.test("postgres sink migrations are idempotent and refuse an edited migration", async () => {
  await using db = await scratchDatabase();
  await using folder = await migrationsFolder({ "0001_stations.sql": STATIONS });
  const first = await migrate({ url: db.url, migrations: folder.path });
  assert.deepEqual(first.map((m) => `${m.scope}/${m.name}`), [
    "pipeline/0001_pipeline.sql",
    "pipeline/0002_dead_letter_replays.sql",
    "app/0001_stations.sql",
  ]);
  assert.deepEqual(await migrate({ url: db.url, migrations: folder.path }), []);
  await Deno.writeTextFile(join(folder.path, "0001_stations.sql"), STATIONS + "-- edited\n");
  await assert.rejects(
    migrate({ url: db.url, migrations: folder.path }),
    (error: PipelineError) => {
      assert.equal(error.transient, false);
      assert.equal(
        error.message,
        `Migration ${join(folder.path, "0001_stations.sql")} was edited after it was applied ` +
          "(its checksum changed).",
      );
      return true;
    },
  );
});

Deno.test("postgres sink migrations run by instances starting together apply once", async () => {
  await using db = await scratchDatabase();
  await using folder = await migrationsFolder({
    "0001_stations.sql": STATIONS,
    "0002_counts.sql": "CREATE TABLE raw.counts (code text REFERENCES raw.stations);\n",
  });
  const runs = await Promise.all(
    Array.from({ length: 4 }, () => migrate({ url: db.url, migrations: folder.path })),
  );
  assert.equal(runs.flat().length, 4);
  const recorded = await queryOnce<{ scope: string; version: number }>(
    db.url,
    "SELECT scope, version FROM pipeline.schema_migrations ORDER BY scope DESC, version",
  );
  assert.deepEqual(recorded.map((m) => `${m.scope}/${m.version}`), [
    "pipeline/1",
    "pipeline/2",
    "app/1",
    "app/2",
  ]);
});

Deno.test("postgres sink rolls back a failing migration and names its file", async () => {
  await using db = await scratchDatabase();
  await using folder = await migrationsFolder({
    "0001_stations.sql": STATIONS,
    "0002_broken.sql": "CREATE TABLE raw.half (id int);\nSELECT 1 / 0;\n",
  });
  await assert.rejects(
    migrate({ url: db.url, migrations: folder.path }),
    (error: PipelineError) => {
      assert.equal(error.transient, false);
      assert.match(error.message, /0002_broken\.sql failed .*division by zero/);
      return true;
    },
  );
  const [half] = await queryOnce<{ exists: boolean }>(
    db.url,
    "SELECT to_regclass('raw.half') IS NOT NULL AS exists",
  );
  assert.equal(half.exists, false);
  const recorded = await queryOnce(db.url, "SELECT 1 FROM pipeline.schema_migrations");
  assert.equal(recorded.length, 3); // the sink's own two and 0001, not 0002
});

Deno.test("postgres sink refuses a migration file that is not named NNNN_name.sql", async () => {
  await using db = await scratchDatabase();
  await using folder = await migrationsFolder({ "stations.sql": STATIONS });
  await assert.rejects(
    migrate({ url: db.url, migrations: folder.path }),
    /stations\.sql is not named like 0002_add_index\.sql/,
  );
});

Deno.test("postgres sink connect applies the configured migrations before reading its tables", async () => {
  await using db = await scratchDatabase();
  await using folder = await migrationsFolder({ "0001_stations.sql": STATIONS });
  const sink = new PostgresSink(configSchema.parse({
    url: db.url,
    migrations: folder.path,
    writes: [{ table: "raw.stations", mode: "insert", key: ["code"] }],
  }));
  try {
    await sink.connect(contextFor("test"));
    await sink.write(
      { messages: [{ value: { code: "16107" } }], rejects: [], cursors: [] },
      new AbortController().signal,
    );
  } finally {
    await sink.close();
  }
  assert.deepEqual(await queryOnce(db.url, "SELECT code FROM raw.stations"), [{ code: "16107" }]);
});
