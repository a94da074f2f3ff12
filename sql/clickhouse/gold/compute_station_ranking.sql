-- The ranking over [{at} - {window_seconds} s, {at}], both ends included, {at} being the newest
-- snapshot unless a rerun asks for an instant: the same definition as PostgreSQL's
-- mart.compute_station_ranking. Each snapshot lasts until the station's next one in the window,
-- at most {max_gap_seconds} (the last lasts 0); minutes are rounded to 2 decimals and ranked per
-- system as rank() does, 1 = most minutes. ClickHouse 18 has no window functions: a station's
-- snapshots are an array sorted by time, and a rank counts the stations of its system with more
-- minutes.
INSERT INTO mart.station_ranking (
  computed_at, computed_for, window_start, window_end, system_id, station_code, station_name,
  snapshot_count, avg_occupancy_rate, avg_bikes, minutes_saturated, minutes_empty,
  rank_saturation, rank_empty)
SELECT
  now() AS computed_at,
  {at} AS computed_for,
  window_end - {window_seconds} AS window_start,
  ifNull({at}, (SELECT max(collected_at) FROM raw.station_snapshots)) AS window_end,
  system_id,
  tupleElement(station, 1) AS station_code,
  tupleElement(station, 2) AS station_name,
  tupleElement(station, 3) AS snapshot_count,
  tupleElement(station, 4) AS avg_occupancy_rate,
  tupleElement(station, 5) AS avg_bikes,
  tupleElement(station, 6) AS minutes_saturated,
  tupleElement(station, 7) AS minutes_empty,
  toUInt32(1 + arrayCount(m -> m > minutes_saturated, saturated_of_system)) AS rank_saturation,
  toUInt32(1 + arrayCount(m -> m > minutes_empty, empty_of_system)) AS rank_empty
FROM (
  SELECT
    system_id,
    groupArray(tuple(station_code, station_name, snapshot_count, avg_occupancy_rate, avg_bikes,
      minutes_saturated, minutes_empty)) AS stations,
    groupArray(minutes_saturated) AS saturated_of_system,
    groupArray(minutes_empty) AS empty_of_system
  FROM (
    SELECT
      system_id,
      station_code,
      argMax(station_name, collected_at) AS station_name,
      toUInt32(count()) AS snapshot_count,
      round(avg(occupancy_rate), 4) AS avg_occupancy_rate,
      round(avg(bikes_available), 2) AS avg_bikes,
      -- (time, docks, bikes) of each snapshot, oldest first, and how long each lasted.
      arraySort(s -> tupleElement(s, 1),
        groupArray(tuple(toUInt32(collected_at), docks_available, bikes_available))) AS spaced,
      arrayMap(i -> if(i < length(spaced),
        least(tupleElement(spaced[i + 1], 1) - tupleElement(spaced[i], 1), {max_gap_seconds}), 0),
        arrayEnumerate(spaced)) AS lasted,
      round(arraySum(arrayMap((l, s) -> if(tupleElement(s, 2) = 0, l, 0), lasted, spaced)) / 60,
        2) AS minutes_saturated,
      round(arraySum(arrayMap((l, s) -> if(tupleElement(s, 3) = 0, l, 0), lasted, spaced)) / 60,
        2) AS minutes_empty
    FROM raw.station_snapshots FINAL
    WHERE collected_at <= ifNull({at}, (SELECT max(collected_at) FROM raw.station_snapshots))
      AND collected_at >= ifNull({at}, (SELECT max(collected_at) FROM raw.station_snapshots))
        - {window_seconds}
    GROUP BY system_id, station_code
  )
  GROUP BY system_id
)
ARRAY JOIN stations AS station;

-- The rows this computation wrote.
SELECT count() AS rows FROM mart.station_ranking
WHERE computed_at = (SELECT max(computed_at) FROM mart.station_ranking);
