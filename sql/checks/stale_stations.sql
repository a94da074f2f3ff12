-- Stations that none of the last cycles of their system reported (mart.stale_stations): the
-- feed dropped them, or they were removed. A warning: the other stations load as usual, and
-- the overview counts these apart.
SELECT count(*)::float8 AS observed,
  string_agg(format('%s/%s (last seen %s)', system_id, station_code, last_seen), ', '
    ORDER BY system_id, station_code) AS details
FROM mart.stale_stations;
