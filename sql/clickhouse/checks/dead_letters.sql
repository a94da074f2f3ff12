-- Records set aside in the last hour, by any pipeline: each one is data that did not arrive.
SELECT toFloat64(count()) AS observed,
  arrayStringConcat(groupUniqArray(substring(reason, 1, 80)), '; ') AS details
FROM pipeline.dead_letters FINAL
WHERE failed_at > now() - 3600
