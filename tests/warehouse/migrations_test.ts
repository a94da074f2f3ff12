import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { migrate } from "../../plugins/sink-postgres/mod.ts";
import { scratchDatabase } from "../../plugins/sink-postgres/testing.ts";
import pg from "pg";
import { MIGRATIONS, synthetic, warehouse } from "./support.ts";

const SINK_MIGRATIONS = fileURLToPath(
  new URL("../../plugins/sink-postgres/migrations", import.meta.url),
);

Deno.test("the warehouse migrations apply on an empty database, and a second migrate applies nothing", async () => {
  await using db = await scratchDatabase();
  const first = await migrate({ url: db.url, migrations: MIGRATIONS });
  const names = async (scope: string, folder: string) => {
    const found = [];
    for await (const entry of Deno.readDir(folder)) found.push(`${scope}/${entry.name}`);
    return found.sort();
  };
  assert.deepEqual(first.map((m) => `${m.scope}/${m.name}`), [
    ...await names("pipeline", SINK_MIGRATIONS),
    ...await names("app", MIGRATIONS),
  ]);
  assert.deepEqual(await migrate({ url: db.url, migrations: MIGRATIONS }), []);
});

Deno.test("raw.station_snapshots has exactly the columns, types and nullability the sink writes", async () => {
  await using wh = await warehouse();
  const columns = await wh.query<{ column: string }>(
    `SELECT a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
       || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE ' NULL' END AS column
     FROM pg_attribute a
     WHERE a.attrelid = 'raw.station_snapshots'::regclass AND a.attnum > 0 AND NOT a.attisdropped
     ORDER BY a.attnum`,
  );
  assert.deepEqual(columns.map((c) => c.column), [
    "schema_version smallint NOT NULL",
    "station_code text NOT NULL",
    "station_name text NOT NULL",
    "bikes_available integer NOT NULL",
    "mechanical_bikes integer NOT NULL",
    "electric_bikes integer NOT NULL",
    "docks_available integer NOT NULL",
    "capacity integer NOT NULL",
    "is_installed boolean NOT NULL",
    "is_renting boolean NOT NULL",
    "is_returning boolean NOT NULL",
    "latitude double precision NOT NULL",
    "longitude double precision NOT NULL",
    "last_reported timestamp with time zone NULL",
    "commune text NULL",
    "code_insee text NULL",
    "collected_at timestamp with time zone NOT NULL",
    "occupancy_rate numeric(10,4) NULL",
    "station_status text NOT NULL",
    "inserted_at timestamp with time zone NOT NULL",
    // Added by 0011: the stored rows read as the default system.
    "system_id text NOT NULL",
  ]);
});

Deno.test("mart.station_latest has raw's columns minus inserted_at, plus updated_at, system_id last in both", async () => {
  await using wh = await warehouse();
  const columnsOf = async (table: string) =>
    (await wh.query<{ column: string }>(
      `SELECT a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || ' ' || a.attnotnull AS column
       FROM pg_attribute a
       WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped
       ORDER BY a.attnum`,
      [table],
    )).map((c) => c.column);
  const raw = await columnsOf("raw.station_snapshots");
  const system = raw.at(-1)!;
  assert.match(system, /^system_id text true$/);
  assert.deepEqual(await columnsOf("mart.station_latest"), [
    ...raw.filter((c) => !c.startsWith("inserted_at ") && c !== system),
    "updated_at timestamp with time zone true",
    system,
  ]);
});

Deno.test("a station is keyed by its system and its code in raw, mart and the gold tables, and 0011 keeps the stored rows as velib's", async () => {
  await using db = await scratchDatabase();
  const folder = await Deno.makeTempDir({ prefix: "migrations_0010_" });
  try {
    // The warehouse as it was before 0011, with a row stored then.
    for await (const entry of Deno.readDir(MIGRATIONS)) {
      if (entry.name < "0011") {
        await Deno.copyFile(`${MIGRATIONS}/${entry.name}`, `${folder}/${entry.name}`);
      }
    }
    await migrate({ url: db.url, migrations: folder });
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const { system_id: _, ...before } = synthetic({ collected_at: "2024-05-28T20:00:00.000Z" });
      const columns = Object.keys(before).join(", ");
      await client.query(
        `INSERT INTO raw.station_snapshots (${columns})
         SELECT ${columns} FROM jsonb_populate_record(NULL::raw.station_snapshots, $1::jsonb)`,
        [JSON.stringify({ ...before, schema_version: 1 })],
      );
      const stored = await client.query("SELECT ctid, xmin FROM raw.station_snapshots");
      await migrate({ url: db.url, migrations: MIGRATIONS });
      const after = await client.query(
        "SELECT ctid, xmin, system_id, station_code FROM raw.station_snapshots",
      );
      // The same tuple, not a rewritten one, now read with the default system.
      assert.deepEqual(after.rows, [{
        ...stored.rows[0],
        system_id: "velib",
        station_code: "99001",
      }]);
      const keys = await client.query<{ table: string; key: string }>(
        `SELECT c.conrelid::regclass::text AS table, pg_get_constraintdef(c.oid) AS key
         FROM pg_constraint c
         WHERE c.contype IN ('p', 'u') AND c.connamespace::regnamespace::text IN ('raw', 'mart')
           AND c.conrelid::regclass::text <> 'mart.refresh_queue'
         ORDER BY 1`,
      );
      assert.deepEqual(keys.rows, [
        { table: "mart.daily_station_stats", key: "PRIMARY KEY (system_id, station_code, day)" },
        {
          table: "mart.hourly_station_stats",
          key: "PRIMARY KEY (system_id, station_code, bucket_start)",
        },
        { table: "mart.station_latest", key: "PRIMARY KEY (system_id, station_code)" },
        {
          table: "mart.station_ranking",
          key: "PRIMARY KEY (computed_at, system_id, station_code)",
        },
        { table: "raw.station_snapshots", key: "UNIQUE (system_id, station_code, collected_at)" },
      ]);
    } finally {
      await client.end();
    }
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
});
