/**
 * Helpers for the warehouse tests: a fresh, migrated database per test on the real server, and
 * snapshot rows to insert into it.
 *
 * @module
 */
import pg from "pg";
import { fileURLToPath } from "node:url";
import { migrate } from "../../plugins/sink-postgres/mod.ts";
import { scratchDatabase } from "../../plugins/sink-postgres/testing.ts";
import type { StationSnapshot } from "../../contracts/mod.ts";
import { syntheticSnapshot } from "../support/synthetic.ts";

/** The project's migrations folder. */
export const MIGRATIONS: string = fileURLToPath(new URL("../../sql/migrations", import.meta.url));

/** The analysts' queries folder. */
export const ANALYSIS: string = fileURLToPath(new URL("../../sql/analysis", import.meta.url));

/** A station's service status, as the enrich transform sets it. */
export type StationStatus = "en_service" | "fermée" | "hors_service";

/** A row of `raw.station_snapshots`, as the load pipeline writes it (minus `inserted_at`). */
export interface WarehouseSnapshot extends StationSnapshot {
  /** Numeric with 4 decimals, as text so that the tests' arithmetic stays exact. */
  occupancy_rate: string | null;
  /** The enrichment's service status. */
  station_status: StationStatus;
}

/** The columns a load writes, in table order. */
export const SNAPSHOT_COLUMNS: readonly (keyof WarehouseSnapshot)[] = [
  "schema_version",
  "station_code",
  "station_name",
  "bikes_available",
  "mechanical_bikes",
  "electric_bikes",
  "docks_available",
  "capacity",
  "is_installed",
  "is_renting",
  "is_returning",
  "latitude",
  "longitude",
  "last_reported",
  "commune",
  "code_insee",
  "collected_at",
  "occupancy_rate",
  "station_status",
  "system_id",
];

const COLUMN_LIST = SNAPSHOT_COLUMNS.join(", ");

// Dates and local timestamps come back as their text: pg would otherwise turn them into Dates
// at the test process's local midnight, which depends on the machine's TZ.
const TEXT_TYPES = new Set<number>([pg.types.builtins.DATE, pg.types.builtins.TIMESTAMP]);
const types: pg.CustomTypesConfig = {
  getTypeParser:
    ((oid: number, format?: "text" | "binary") =>
      TEXT_TYPES.has(oid)
        ? (value: string) => value
        : pg.types.getTypeParser(oid, format)) as pg.CustomTypesConfig["getTypeParser"],
};

/** A migrated database of one test, dropped on disposal with every connection opened to it. */
export interface Warehouse extends AsyncDisposable {
  /** The database's URL, as the migrating (owner) role. */
  readonly url: string;
  /** A connection of the test's own, open until disposal. */
  readonly client: pg.Client;
  /** Runs a statement on {@linkcode client} and returns its rows. */
  query<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
  /** Opens another connection (to `url`, or another URL of the same database), closed on disposal. */
  connect(url?: string): Promise<pg.Client>;
}

/**
 * Creates a fresh database and applies the sink's and the project's migrations to it.
 *
 * @example
 * ```ts ignore
 * await using wh = await warehouse();
 * await insertSnapshots(wh.client, rows);
 * ```
 */
export async function warehouse(settings: Record<string, string> = {}): Promise<Warehouse> {
  const db = await scratchDatabase();
  const clients: pg.Client[] = [];
  try {
    await migrate({ url: db.url, migrations: MIGRATIONS, settings });
    const connect = async (url = db.url) => {
      const client = new pg.Client({ connectionString: url, types });
      client.on("error", () => {}); // a dropped database's connections report it here
      await client.connect();
      clients.push(client);
      return client;
    };
    const client = await connect();
    return {
      url: db.url,
      client,
      connect,
      query: async <T>(text: string, params?: unknown[]) =>
        (await client.query(text, params)).rows as T[],
      async [Symbol.asyncDispose]() {
        try {
          await Promise.all(clients.map((c) => c.end().catch(() => {})));
        } finally {
          await db[Symbol.asyncDispose]();
        }
      },
    };
  } catch (error) {
    await db[Symbol.asyncDispose]();
    throw error;
  }
}

/**
 * Inserts snapshots into `raw.station_snapshots` in one statement, as a load does: the refresh
 * queue's trigger fires once. Returns the number of rows inserted.
 */
export async function insertSnapshots(
  client: pg.ClientBase,
  rows: readonly WarehouseSnapshot[],
  onConflict: "error" | "ignore" = "error",
): Promise<number> {
  const result = await client.query(
    `INSERT INTO raw.station_snapshots (${COLUMN_LIST})
     SELECT ${COLUMN_LIST} FROM jsonb_populate_recordset(NULL::raw.station_snapshots, $1::jsonb)
     ${onConflict === "ignore" ? "ON CONFLICT DO NOTHING" : ""}`,
    [JSON.stringify(rows)],
  );
  return result.rowCount ?? 0;
}

/**
 * Fills `mart.station_latest` with each station's newest snapshot in raw, as the sink's upsert
 * leaves it after the loads.
 */
export async function fillStationLatest(client: pg.ClientBase): Promise<void> {
  await client.query(
    `INSERT INTO mart.station_latest (${COLUMN_LIST})
     SELECT DISTINCT ON (system_id, station_code) ${COLUMN_LIST} FROM raw.station_snapshots
     ORDER BY system_id, station_code, collected_at DESC`,
  );
}

/** What the enrich transform adds to a snapshot: its occupancy rate and service status. */
export function enrich(snapshot: StationSnapshot): WarehouseSnapshot {
  // The same rules as plugins/transform-enrich, restated so that these tests do not depend on
  // it: the gold SQL only reads these two columns.
  const status: StationStatus = !snapshot.is_installed
    ? "hors_service"
    : !snapshot.is_renting && !snapshot.is_returning
    ? "fermée"
    : "en_service";
  const rate = snapshot.capacity === 0
    ? null
    : fixed(Math.round(snapshot.bikes_available * 10_000 / snapshot.capacity), 4);
  return { ...snapshot, occupancy_rate: rate, station_status: status };
}

/**
 * A synthetic snapshot (not a real station) at `collected_at`, with 10 docks in all; override
 * any field. `bikes_available` is split into mechanical bikes only, and the enrichment follows
 * the counts.
 */
export function synthetic(
  fields: Partial<StationSnapshot> & { collected_at: string },
): WarehouseSnapshot {
  const bikes = fields.bikes_available ?? 4;
  const capacity = fields.capacity ?? 10;
  return enrich(syntheticSnapshot({
    bikes_available: bikes,
    mechanical_bikes: bikes,
    electric_bikes: 0,
    docks_available: Math.max(0, capacity - bikes),
    capacity,
    ...fields,
  }));
}

/**
 * An integer count of 10^-decimals units as a fixed-point decimal.
 *
 * @example
 * ```ts
 * import { fixed } from "./support.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual([fixed(4286, 4), fixed(5, 2), fixed(1200, 2)], ["0.4286", "0.05", "12.00"]);
 * ```
 */
export function fixed(units: number, decimals: number): string {
  const sign = units < 0 ? "-" : "";
  const digits = String(Math.abs(units)).padStart(decimals + 1, "0");
  return `${sign}${digits.slice(0, -decimals)}.${digits.slice(-decimals)}`;
}

/** Reads one `sql/analysis` query. */
export function analysisQuery(name: string): Promise<string> {
  return Deno.readTextFile(`${ANALYSIS}/${name}`);
}

/** The SQLSTATE of a failed query, or undefined. */
export function sqlState(error: unknown): string | undefined {
  return (error as { code?: string }).code;
}

/**
 * Watches the backend `pid`, from `observer`, until it waits on a lock or `pending` (its query)
 * settles first. Returns the lock's wait event (`advisory`, `transactionid`, …), or undefined
 * when the query finished without waiting. A bounded loop of queries, not a timer.
 */
export async function lockWaitOf(
  observer: pg.ClientBase,
  pid: number,
  pending: Promise<unknown>,
): Promise<string | undefined> {
  let settled = false;
  pending.then(() => settled = true, () => settled = true);
  for (let i = 0; i < 10_000 && !settled; i++) {
    const { rows } = await observer.query(
      "SELECT wait_event_type, wait_event FROM pg_stat_activity WHERE pid = $1",
      [pid],
    );
    if (rows[0]?.wait_event_type === "Lock") return rows[0].wait_event;
  }
  return undefined;
}

/** The backend process id of a connection. */
export async function backendPid(client: pg.ClientBase): Promise<number> {
  return (await client.query("SELECT pg_backend_pid() AS pid")).rows[0].pid;
}
