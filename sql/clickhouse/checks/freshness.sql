-- Seconds since the newest snapshot was collected, of any system. No snapshot at all counts as
-- stale for ever (a billion seconds), so an empty warehouse fails too. (max() of an empty
-- DateTime column is the epoch, not NULL.)
SELECT
  if(count() = 0, 1e9, toFloat64(dateDiff('second', max(collected_at), now()))) AS observed,
  if(count() = 0, 'no snapshot loaded yet',
    concat('newest snapshot collected at ', toString(max(collected_at)), ' UTC')) AS details
FROM raw.station_snapshots
