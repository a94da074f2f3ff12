/**
 * The gold tables' values computed in TypeScript, independently of the SQL, for the tests to
 * compare with: local hours and days from `Intl`, exact decimal rounding (half away from zero,
 * as PostgreSQL's numeric `round`) in integer arithmetic.
 *
 * @module
 */
import { fixed, type WarehouseSnapshot } from "./support.ts";

const PARIS = "Europe/Paris";
const HOUR_MS = 3_600_000;
const MINUTE_MS = 60_000;

const formatters = new Map<string, Intl.DateTimeFormat>();

/** The local wall-clock date and time of an instant in `timeZone`. */
export function zonedParts(ms: number, timeZone: string = PARIS) {
  let format = formatters.get(timeZone);
  if (format === undefined) {
    format = new Intl.DateTimeFormat("en-CA", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
    formatters.set(timeZone, format);
  }
  const parts = Object.fromEntries(format.formatToParts(ms).map((p) => [p.type, p.value]));
  return {
    date: `${parts.year}-${parts.month}-${parts.day}`,
    hour: parts.hour,
    minute: Number(parts.minute),
    second: Number(parts.second),
  };
}

/**
 * The instant the local hour of `ms` starts (Paris offsets are whole hours).
 *
 * @example The two 02:00 hours of the fall-back night
 * ```ts
 * import { hourStart } from "./expected.ts";
 * import assert from "node:assert/strict";
 *
 * const start = (iso: string) => new Date(hourStart(Date.parse(iso))).toISOString();
 * assert.equal(start("2024-10-27T00:30:00Z"), "2024-10-27T00:00:00.000Z"); // 02:30 CEST
 * assert.equal(start("2024-10-27T01:30:00Z"), "2024-10-27T01:00:00.000Z"); // 02:30 CET
 * ```
 */
export function hourStart(ms: number): number {
  const { minute, second } = zonedParts(ms);
  return ms - (ms % 1000) - (minute * 60 + second) * 1000;
}

/**
 * The instant local `date` (YYYY-MM-DD) starts in Paris.
 *
 * @example
 * ```ts
 * import { dayStart } from "./expected.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(new Date(dayStart("2024-05-29")).toISOString(), "2024-05-28T22:00:00.000Z");
 * ```
 */
export function dayStart(date: string): number {
  const utcMidnight = Date.parse(`${date}T00:00:00Z`);
  for (let offset = -14; offset <= 14; offset++) {
    const candidate = utcMidnight - offset * HOUR_MS;
    const local = zonedParts(candidate);
    if (local.date === date && local.hour === "00" && local.minute === 0) return candidate;
  }
  throw new Error(`No local midnight found for ${date}.`);
}

/**
 * a / b rounded half away from zero, for integers a ≥ 0 and b > 0.
 *
 * @example
 * ```ts
 * import { roundDiv } from "./expected.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual([roundDiv(5, 2), roundDiv(7, 3)], [3, 2]);
 * ```
 */
export function roundDiv(a: number, b: number): number {
  return Math.floor((2 * a + b) / (2 * b));
}

function sum(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0);
}

/** The mean of integer counts, to 2 decimals. */
function average2(values: readonly number[]): string {
  return fixed(roundDiv(sum(values) * 100, values.length), 2);
}

/** The mean of 4-decimal rates (NULLs left out, as avg() does), to 4 decimals. */
export function averageRate(rates: readonly (string | null)[]): string | null {
  const units = rates.flatMap((rate) => rate === null ? [] : [Number(rate.replace(".", ""))]);
  return units.length === 0 ? null : fixed(roundDiv(sum(units), units.length), 4);
}

function latest(rows: readonly WarehouseSnapshot[]): WarehouseSnapshot {
  return rows.reduce((a, b) => Date.parse(b.collected_at) > Date.parse(a.collected_at) ? b : a);
}

/** The measures shared by the hourly and daily stats, over one station's rows in one bucket. */
export function measures(rows: readonly WarehouseSnapshot[]) {
  const bikes = rows.map((r) => r.bikes_available);
  return {
    station_name: latest(rows).station_name,
    avg_bikes: average2(bikes),
    avg_mechanical: average2(rows.map((r) => r.mechanical_bikes)),
    avg_electric: average2(rows.map((r) => r.electric_bikes)),
    avg_docks: average2(rows.map((r) => r.docks_available)),
    avg_occupancy_rate: averageRate(rows.map((r) => r.occupancy_rate)),
    min_bikes: Math.min(...bikes),
    max_bikes: Math.max(...bikes),
    snapshot_count: rows.length,
    saturated_count: rows.filter((r) => r.docks_available === 0).length,
    empty_count: rows.filter((r) => r.bikes_available === 0).length,
    out_of_service_count: rows.filter((r) => r.station_status !== "en_service").length,
    capacity: latest(rows).capacity,
  };
}

export function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const group = groups.get(k);
    if (group) group.push(item);
    else groups.set(k, [item]);
  }
  return groups;
}

/** Expected `mart.hourly_station_stats` rows (without refreshed_at), keyed `code|bucket_start`. */
export function expectedHourly(rows: readonly WarehouseSnapshot[]) {
  const groups = groupBy(
    rows,
    (r) => `${r.station_code}|${new Date(hourStart(Date.parse(r.collected_at))).toISOString()}`,
  );
  return new Map([...groups].map(([key, group]) => {
    const start = hourStart(Date.parse(group[0].collected_at));
    const local = zonedParts(start);
    return [key, {
      system_id: group[0].system_id,
      station_code: group[0].station_code,
      bucket_start: new Date(start).toISOString(),
      bucket_local: `${local.date} ${local.hour}:00:00`,
      ...measures(group),
    }];
  }));
}

/** Expected `mart.daily_station_stats` rows (without refreshed_at), keyed `code|day`. */
export function expectedDaily(rows: readonly WarehouseSnapshot[]) {
  const groups = groupBy(
    rows,
    (r) => `${r.station_code}|${zonedParts(Date.parse(r.collected_at)).date}`,
  );
  return new Map([...groups].map(([key, group]) => {
    const day = zonedParts(Date.parse(group[0].collected_at)).date;
    return [key, {
      system_id: group[0].system_id,
      station_code: group[0].station_code,
      day,
      day_start: new Date(dayStart(day)).toISOString(),
      ...measures(group),
    }];
  }));
}

/** Options of {@linkcode expectedRanking}; the SQL function's defaults. */
export interface RankingOptions {
  /** @default {24 hours} */
  windowMs?: number;
  /** @default {15 minutes} */
  maxGapMs?: number;
  /**
   * Where the window ends, for a computation as of an instant (computed_for).
   * @default {the newest collected_at}
   */
  atMs?: number;
}

/**
 * Expected `mart.station_ranking` rows (without computed_at) of rows of one system, keyed by
 * station code; the ranks are within the system. A snapshot
 * lasts until the station's next one in the window, at most `maxGapMs`; the last one lasts 0.
 * The window ends at `atMs` when given (computed_for), else at the newest row (a live ranking).
 */
export function expectedRanking(rows: readonly WarehouseSnapshot[], options: RankingOptions = {}) {
  const { windowMs = 24 * HOUR_MS, maxGapMs = 15 * MINUTE_MS, atMs } = options;
  if (new Set(rows.map((r) => r.system_id)).size > 1) {
    throw new Error("expectedRanking ranks the rows of one system; filter them by system_id.");
  }
  const end = atMs ?? Math.max(...rows.map((r) => Date.parse(r.collected_at)));
  const start = end - windowMs;
  const inWindow = rows.filter((r) => {
    const collected = Date.parse(r.collected_at);
    return collected >= start && collected <= end;
  });
  const stations = [...groupBy(inWindow, (r) => r.station_code)].map(([code, group]) => {
    const sorted = group.toSorted((a, b) =>
      Date.parse(a.collected_at) - Date.parse(b.collected_at)
    );
    let saturatedMs = 0;
    let emptyMs = 0;
    sorted.forEach((row, i) => {
      const next = sorted[i + 1];
      const lasted = next === undefined
        ? 0
        : Math.min(Date.parse(next.collected_at) - Date.parse(row.collected_at), maxGapMs);
      if (row.docks_available === 0) saturatedMs += lasted;
      if (row.bikes_available === 0) emptyMs += lasted;
    });
    return {
      system_id: group[0].system_id,
      station_code: code,
      station_name: latest(group).station_name,
      snapshot_count: group.length,
      avg_occupancy_rate: averageRate(group.map((r) => r.occupancy_rate)),
      avg_bikes: average2(group.map((r) => r.bikes_available)),
      // Minutes to 2 decimals: ms / 600 hundredths.
      saturated: roundDiv(saturatedMs, 600),
      empty: roundDiv(emptyMs, 600),
    };
  });
  return new Map(stations.map(({ saturated, empty, ...station }) => [station.station_code, {
    computed_for: atMs === undefined ? null : new Date(atMs).toISOString(),
    window_start: new Date(start).toISOString(),
    window_end: new Date(end).toISOString(),
    ...station,
    minutes_saturated: fixed(saturated, 2),
    minutes_empty: fixed(empty, 2),
    rank_saturation: 1 + stations.filter((other) => other.saturated > saturated).length,
    rank_empty: 1 + stations.filter((other) => other.empty > empty).length,
  }]));
}

/**
 * A row read from the database made comparable with the expected ones: instants as ISO
 * strings, and the columns whose value is a time of the run (refreshed_at, computed_at) left out.
 */
export function comparable(row: Record<string, unknown>): Record<string, unknown> {
  const { refreshed_at: _refreshed, computed_at: _computed, ...rest } = row;
  return Object.fromEntries(
    Object.entries(rest).map(([k, v]) => [k, v instanceof Date ? v.toISOString() : v]),
  );
}
