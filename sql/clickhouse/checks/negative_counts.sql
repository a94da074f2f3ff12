-- Snapshots of the last hour of data with a negative count: enrich rejects them, so one here
-- means something wrote around it.
SELECT toFloat64(count()) AS observed,
  arrayStringConcat(groupUniqArray(concat(system_id, '/', station_code)), ', ') AS details
FROM raw.station_snapshots FINAL
WHERE collected_at > (SELECT max(collected_at) FROM raw.station_snapshots) - 3600
  AND least(least(bikes_available, mechanical_bikes), least(electric_bikes,
    least(docks_available, capacity))) < 0
