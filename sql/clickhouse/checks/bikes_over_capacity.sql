-- Stations of the newest cycle of each system with more bikes than docks. Real captures have
-- one to six in every Vélib' snapshot (bikes parked beside full stations): a warning that lists
-- them. Systems are those loaded in the last hour of data, each at its own newest collected_at.
SELECT toFloat64(count()) AS observed,
  arrayStringConcat(arraySort(groupArray(concat(system_id, '/', station_code, ' (',
    toString(bikes_available), ' bikes, capacity ', toString(capacity), ')'))), ', ') AS details
FROM raw.station_snapshots FINAL
WHERE (system_id, collected_at) IN (
    SELECT system_id, max(collected_at) FROM raw.station_snapshots
    WHERE collected_at > (SELECT max(collected_at) FROM raw.station_snapshots) - 3600
    GROUP BY system_id)
  AND bikes_available > capacity
