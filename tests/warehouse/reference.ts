/**
 * Migration 0011's daily stats and ranking computed from raw, as the references the gold
 * functions of 0012, which combine parts, must equal row for row: the same SQL as 0011's
 * functions, over every local day of raw, or over the window ending at the newest row (or at
 * `at`). Beside them, the gold tables' rows in the same columns and order.
 *
 * @module
 */
import type { Warehouse } from "./support.ts";

/** 0011's daily stats of every local day in raw. `$1` the time zone. */
const DAILY_FROM_RAW = `
  SELECT
    s.system_id,
    s.station_code,
    d.day,
    d.day_start,
    (array_agg(s.station_name ORDER BY s.collected_at DESC))[1] AS station_name,
    round(avg(s.bikes_available), 2) AS avg_bikes,
    round(avg(s.mechanical_bikes), 2) AS avg_mechanical,
    round(avg(s.electric_bikes), 2) AS avg_electric,
    round(avg(s.docks_available), 2) AS avg_docks,
    round(avg(s.occupancy_rate), 4) AS avg_occupancy_rate,
    min(s.bikes_available) AS min_bikes,
    max(s.bikes_available) AS max_bikes,
    count(*)::int AS snapshot_count,
    (count(*) FILTER (WHERE s.docks_available = 0))::int AS saturated_count,
    (count(*) FILTER (WHERE s.bikes_available = 0))::int AS empty_count,
    (count(*) FILTER (WHERE s.station_status <> 'en_service'))::int AS out_of_service_count,
    (array_agg(s.capacity ORDER BY s.collected_at DESC))[1] AS capacity
  FROM (
    SELECT t.day,
      (t.day::timestamp) AT TIME ZONE $1 AS day_start,
      ((t.day + 1)::timestamp) AT TIME ZONE $1 AS day_end
    FROM (SELECT DISTINCT (collected_at AT TIME ZONE $1)::date AS day
      FROM raw.station_snapshots) AS t
  ) AS d
  JOIN raw.station_snapshots AS s
    ON s.collected_at >= d.day_start AND s.collected_at < d.day_end
  GROUP BY s.system_id, s.station_code, d.day, d.day_start
  ORDER BY s.system_id, s.station_code, d.day`;

const DAILY_STATS = `
  SELECT system_id, station_code, day, day_start, station_name, avg_bikes, avg_mechanical,
    avg_electric, avg_docks, avg_occupancy_rate, min_bikes, max_bikes, snapshot_count,
    saturated_count, empty_count, out_of_service_count, capacity
  FROM mart.daily_station_stats
  ORDER BY system_id, station_code, day`;

/**
 * 0011's ranking from raw. `$1` window_length, `$2` max_gap, `$3` at: NULL for the live window,
 * which ends at the newest row of raw.
 */
const RANKING_FROM_RAW = `
  WITH bounds AS (
    SELECT e AS ends_at, e - extract(epoch FROM $1::interval) * interval '1 second' AS starts_at
    FROM (SELECT coalesce($3::timestamptz, max(collected_at)) AS e FROM raw.station_snapshots)
      AS m
  ), spaced AS (
    SELECT s.*, b.starts_at, b.ends_at,
      least(
        coalesce(
          lead(s.collected_at)
            OVER (PARTITION BY s.system_id, s.station_code ORDER BY s.collected_at)
            - s.collected_at,
          interval '0'),
        $2::interval) AS lasted
    FROM raw.station_snapshots AS s, bounds AS b
    WHERE s.collected_at >= b.starts_at AND s.collected_at <= b.ends_at
  ), per_station AS (
    SELECT system_id, station_code, min(starts_at) AS window_start, min(ends_at) AS window_end,
      (array_agg(station_name ORDER BY collected_at DESC))[1] AS station_name,
      count(*)::int AS snapshot_count,
      round(avg(occupancy_rate), 4) AS avg_occupancy_rate,
      round(avg(bikes_available), 2) AS avg_bikes,
      round(extract(epoch FROM coalesce(sum(lasted) FILTER (WHERE docks_available = 0),
        interval '0')) / 60, 2) AS minutes_saturated,
      round(extract(epoch FROM coalesce(sum(lasted) FILTER (WHERE bikes_available = 0),
        interval '0')) / 60, 2) AS minutes_empty
    FROM spaced
    GROUP BY system_id, station_code
  )
  SELECT window_start, window_end, system_id, station_code, station_name, snapshot_count,
    avg_occupancy_rate, avg_bikes, minutes_saturated, minutes_empty,
    rank() OVER (PARTITION BY system_id ORDER BY minutes_saturated DESC)::int AS rank_saturation,
    rank() OVER (PARTITION BY system_id ORDER BY minutes_empty DESC)::int AS rank_empty
  FROM per_station
  ORDER BY system_id, station_code`;

/** The latest computation for `$1` (NULL: the latest live one), in RANKING_FROM_RAW's columns. */
const RANKING = `
  SELECT window_start, window_end, system_id, station_code, station_name, snapshot_count,
    avg_occupancy_rate, avg_bikes, minutes_saturated, minutes_empty, rank_saturation, rank_empty
  FROM mart.station_ranking
  WHERE computed_for IS NOT DISTINCT FROM $1::timestamptz AND computed_at = (
    SELECT max(computed_at) FROM mart.station_ranking
    WHERE computed_for IS NOT DISTINCT FROM $1::timestamptz)
  ORDER BY system_id, station_code`;

/** What the helpers need of a warehouse: to run a query. */
export type Queries = Pick<Warehouse, "query">;

/** The arguments of a ranking, as the SQL function takes them. */
export interface RankingArgs {
  /** @default {"24 hours"} */
  window_length?: string | null;
  /** @default {"15 minutes"} */
  max_gap?: string | null;
  /** The window's end, or null for the live ranking. @default {null} */
  at?: string | null;
}

/** The rows of `mart.daily_station_stats`, less refreshed_at. */
export function dailyStats(wh: Queries): Promise<Record<string, unknown>[]> {
  return wh.query(DAILY_STATS);
}

/** The rows 0011's daily refresh gives every local day of raw in `timeZone`. */
export function dailyFromRaw(
  wh: Queries,
  timeZone = "Europe/Paris",
): Promise<Record<string, unknown>[]> {
  return wh.query(DAILY_FROM_RAW, [timeZone]);
}

/** Computes the ranking with `args` (the function's defaults for those not given). */
export async function computeRanking(wh: Queries, args: RankingArgs = {}): Promise<number> {
  const [{ written }] = await wh.query<{ written: number }>(
    `SELECT mart.compute_station_ranking(window_length => $1, max_gap => $2, at => $3)
       AS written`,
    parameters(args),
  );
  return written;
}

/** The latest computation of the ranking for `args.at` (the live one when null), less computed_at. */
export function ranking(wh: Queries, args: RankingArgs = {}): Promise<Record<string, unknown>[]> {
  return wh.query(RANKING, [args.at ?? null]);
}

/** The rows 0011's ranking gives with `args` on raw as it is. */
export function rankingFromRaw(
  wh: Queries,
  args: RankingArgs = {},
): Promise<Record<string, unknown>[]> {
  return wh.query(RANKING_FROM_RAW, parameters(args));
}

/** window_length, max_gap and at: null is SQL NULL, and undefined the function's default. */
function parameters(args: RankingArgs): (string | null)[] {
  const { window_length = "24 hours", max_gap = "15 minutes", at = null } = args;
  return [window_length, max_gap, at];
}
