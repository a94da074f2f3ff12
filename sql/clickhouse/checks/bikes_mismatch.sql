-- Stations of the newest cycle of each system whose mechanical and electric bikes do not add up
-- to the bikes available. The operator's feed has it now and then: a warning, not an error.
-- Systems are those loaded in the last hour of data, each at its own newest collected_at.
SELECT toFloat64(count()) AS observed,
  arrayStringConcat(arraySort(groupArray(concat(system_id, '/', station_code, ' (',
    toString(mechanical_bikes), ' + ', toString(electric_bikes), ' ≠ ',
    toString(bikes_available), ')'))), ', ') AS details
FROM raw.station_snapshots FINAL
WHERE (system_id, collected_at) IN (
    SELECT system_id, max(collected_at) FROM raw.station_snapshots
    WHERE collected_at > (SELECT max(collected_at) FROM raw.station_snapshots) - 3600
    GROUP BY system_id)
  AND mechanical_bikes + electric_bikes != bikes_available
