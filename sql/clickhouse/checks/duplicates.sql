-- (system_id, station_code, collected_at) keys of the last hour of data stored with different
-- values. Replayed rows are stored again and collapse (ReplacingMergeTree, read with FINAL), so
-- a key stored twice is expected until a merge; what must never happen is a key whose copies
-- disagree: FINAL would keep one of them and hide the other. The same code in two systems is
-- two stations, not a duplicate.
SELECT toFloat64(count()) AS observed,
  arrayStringConcat(groupArray(concat(system_id, '/', station_code, ' at ',
    toString(collected_at))), ', ') AS details
FROM (
  SELECT system_id, station_code, collected_at
  FROM raw.station_snapshots
  WHERE collected_at > (SELECT max(collected_at) FROM raw.station_snapshots) - 3600
  GROUP BY system_id, station_code, collected_at
  HAVING uniqExact(station_name, bikes_available, mechanical_bikes, electric_bikes,
    docks_available, capacity, is_installed, is_renting, is_returning, latitude, longitude,
    station_status) > 1
)
