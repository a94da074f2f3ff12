/**
 * The short human summary `deno task pipeline run` prints: the network now, from the
 * analysts' queries that the `local` pipeline runs as its last steps.
 *
 * @module
 */
import type { RunResult } from "../core/types.ts";

/** The row of `sql/analysis/network_overview.sql`. */
interface Overview {
  as_of: Date | string | null;
  stations: number;
  in_service: number;
  closed: number;
  out_of_service: number;
  bikes: number;
  mechanical: number;
  electric: number;
  docks: number;
  empty_stations: number;
  saturated_stations: number;
  avg_occupancy_rate: string | number | null;
}

/** A row of `sql/analysis/top_saturated.sql` or `top_empty.sql`. */
interface Ranked {
  rank: number;
  station_code: string;
  station_name: string;
  minutes_saturated?: string | number;
  minutes_empty?: string | number;
}

const TOP = 5;
const number = new Intl.NumberFormat("en-GB");

/**
 * The summary of a run whose steps include `overview`, `top-saturated` and `top-empty`, or
 * `undefined` when they did not run.
 *
 * @example
 * ```ts
 * import { networkReport } from "./report.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(networkReport({ steps: [] } as never), undefined);
 * ```
 */
export function networkReport(result: Pick<RunResult, "steps">): string | undefined {
  const rowsOf = <T>(name: string): T[] | undefined =>
    result.steps.find((step) => step.name === name)?.details?.rows as T[] | undefined;
  const overview = rowsOf<Overview>("overview")?.[0];
  const saturated = rowsOf<Ranked>("top-saturated");
  const empty = rowsOf<Ranked>("top-empty");
  if (overview === undefined || saturated === undefined || empty === undefined) return undefined;
  const rate = overview.avg_occupancy_rate === null
    ? "n/a"
    : `${(Number(overview.avg_occupancy_rate) * 100).toFixed(1)} %`;
  const asOf = overview.as_of === null ? "no data yet" : `as of ${parisTime(overview.as_of)}`;
  return [
    `Vélib' Métropole, ${asOf}`,
    `  stations   ${number.format(overview.stations)}: ${
      number.format(overview.in_service)
    } in service, ${number.format(overview.closed)} closed, ${
      number.format(overview.out_of_service)
    } out of service`,
    `  bikes      ${number.format(overview.bikes)}: ${
      number.format(overview.mechanical)
    } mechanical, ${number.format(overview.electric)} electric; ${
      number.format(overview.docks)
    } free docks`,
    `  empty      ${number.format(overview.empty_stations)} stations in service have no bike`,
    `  saturated  ${number.format(overview.saturated_stations)} stations in service have no dock`,
    `  occupancy  ${rate} on average`,
    "",
    ...topList(
      "Most often saturated (minutes without a dock, last 24 h)",
      saturated,
      "minutes_saturated",
    ),
    "",
    ...topList("Most often empty (minutes without a bike, last 24 h)", empty, "minutes_empty"),
  ].join("\n");
}

function topList(title: string, rows: Ranked[], minutes: keyof Ranked): string[] {
  if (rows.length === 0) {
    return [
      `${title}:`,
      "  none yet: the minutes come from the spacing of snapshots, so it takes two cycles.",
    ];
  }
  return [
    `${title}:`,
    ...rows.slice(0, TOP).map((row) =>
      `  ${String(row.rank).padStart(2)}. ${row.station_name} (${row.station_code}) ${
        formatMinutes(Number(row[minutes]))
      } min`
    ),
  ];
}

/** `2024-05-28 22:06 (Paris time)`: the network's own clock. */
function parisTime(instant: Date | string): string {
  const parts = new Intl.DateTimeFormat("en-CA", {
    timeZone: "Europe/Paris",
    dateStyle: "short",
    timeStyle: "short",
    hourCycle: "h23",
  }).format(new Date(instant));
  return `${parts.replace(",", "")} (Paris time)`;
}

/** Whole minutes, or tenths below ten, so that two close cycles do not all read "0 min". */
function formatMinutes(minutes: number): string {
  return minutes < 10 ? minutes.toFixed(1) : String(Math.round(minutes));
}
