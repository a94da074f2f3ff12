import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { migrate } from "../../plugins/sink-postgres/mod.ts";
import { scratchDatabase } from "../../plugins/sink-postgres/testing.ts";
import { MIGRATIONS, warehouse } from "./support.ts";

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
  ]);
});

Deno.test("mart.station_latest has raw's columns minus inserted_at, plus updated_at", async () => {
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
  assert.deepEqual(await columnsOf("mart.station_latest"), [
    ...raw.filter((c) => !c.startsWith("inserted_at ")),
    "updated_at timestamp with time zone true",
  ]);
});
