/**
 * What the report shows, read from a PostgreSQL warehouse with the rights of `velib_analyst`:
 * the analysts' queries of `sql/analysis/` as they are, and the report's own in `sql/`.
 *
 * @module
 */
import { BadRequest, type QueryRunner } from "../mod.ts";

/** A row as the warehouse returns it through `pipeline.as_analyst`: JSON values by column. */
export type Row = Record<string, unknown>;

/** Everything one page is drawn from, for the Vélib' system. */
export interface ReportData {
  /** When the data was read (ISO-8601). */
  readAt: string;
  /** The network now, or `undefined` when the warehouse holds no snapshot. */
  overview: Row | undefined;
  /** Each station's latest snapshot, with its position. */
  stations: Row[];
  /** The network hour by hour over the last 24 hours of data. */
  hourly: Row[];
  /** The top 10 saturated stations of the latest ranking. */
  topSaturated: Row[];
  /** The top 10 empty stations of the latest ranking. */
  topEmpty: Row[];
  /** Occupancy by ISO weekday and hour of the day. */
  heatmap: Row[];
  /** The problem stations over 7 days. */
  problems: Row[];
  /** The data-quality results of the last run that recorded any. */
  checks: Row[];
  /** The dead letters of the last hour, by reason. */
  deadLetters: Row[];
}

/** The system the page is about; the analysts' queries return every system's rows. */
const SYSTEM = "velib";

const ANALYSIS = new URL("../sql/analysis/", import.meta.url);
const OWN = new URL("./sql/", import.meta.url);

/** Runs `query` as `velib_analyst`; see `sql/migrations/0015_as_analyst.sql`. */
const AS_ANALYST = "SELECT * FROM pipeline.as_analyst($1) AS row";

/**
 * Refuses a warehouse that does not speak PostgreSQL's SQL, before anything connects to it.
 *
 * @example
 * ```ts
 * import { requirePostgres } from "./data.ts";
 * import assert from "node:assert/strict";
 *
 * const clickhouse = { dialect: "clickhouse", query: () => Promise.resolve([]) };
 * assert.throws(() => requirePostgres(clickhouse), /speaks clickhouse/);
 * ```
 */
export function requirePostgres(warehouse: QueryRunner): void {
  if (warehouse.dialect === "postgres") return;
  throw new BadRequest(
    `The report reads a PostgreSQL warehouse; this pipeline's speaks ${warehouse.dialect}.`,
    { hint: "Name a pipeline whose warehouse is PostgreSQL or the embedded one, e.g. local." },
  );
}

/**
 * Reads the page's data from `warehouse`, one query at a time, each with the analyst's
 * read-only rights. Refuses a warehouse that does not speak PostgreSQL's SQL.
 *
 * @example
 * ```ts ignore
 * const data = await readReportData(pipeline.warehouse!.component, signal);
 * console.log(data.stations.length);
 * ```
 */
export async function readReportData(
  warehouse: QueryRunner,
  signal: AbortSignal,
): Promise<ReportData> {
  requirePostgres(warehouse);
  const run = async (folder: URL, file: string) => {
    const text = (await Deno.readTextFile(new URL(file, folder))).trim().replace(/;$/, "");
    const rows = await warehouse.query<{ row: Row }>(AS_ANALYST, [text], signal);
    return rows.map(({ row }) => row);
  };
  const velib = async (file: string) =>
    (await run(ANALYSIS, file)).filter((row) => row.system_id === SYSTEM);
  const readAt = new Date().toISOString();
  return {
    readAt,
    overview: (await velib("network_overview.sql"))[0],
    stations: await run(OWN, "stations.sql"),
    hourly: await velib("last_24h_by_hour.sql"),
    topSaturated: await velib("top_saturated.sql"),
    topEmpty: await velib("top_empty.sql"),
    heatmap: await velib("weekday_hour_heatmap.sql"),
    problems: await velib("problem_stations_7d.sql"),
    checks: await run(OWN, "check_results.sql"),
    deadLetters: await run(OWN, "dead_letters.sql"),
  };
}
