-- Records set aside in the last hour, by reason, as the dead_letters check counts them.
SELECT pipeline, stage, left(reason, 200) AS reason, count(*)::int AS letters,
  max(failed_at) AS last_failed_at
FROM pipeline.dead_letters
WHERE failed_at > now() - interval '1 hour'
GROUP BY pipeline, stage, left(reason, 200)
ORDER BY letters DESC, reason
