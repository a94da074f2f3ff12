-- Stations of the newest cycle of each system reporting a capacity of 0 (about twenty in real
-- Vélib' captures: stations being built or removed), or none. Information only; their occupancy
-- rate is null. Systems are those loaded in the last hour of data, each at its own newest
-- collected_at.
SELECT toFloat64(count()) AS observed,
  arrayStringConcat(arraySort(groupArray(concat(system_id, '/', station_code))), ', ') AS details
FROM raw.station_snapshots FINAL
WHERE (system_id, collected_at) IN (
    SELECT system_id, max(collected_at) FROM raw.station_snapshots
    WHERE collected_at > (SELECT max(collected_at) FROM raw.station_snapshots) - 3600
    GROUP BY system_id)
  AND capacity = 0
