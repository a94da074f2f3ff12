-- The data-quality results of the last run that recorded any: one row per check.
SELECT check_name, severity, observed, threshold, passed, message, checked_at, run_id
FROM pipeline.check_results
WHERE run_id = (SELECT run_id FROM pipeline.check_results ORDER BY checked_at DESC LIMIT 1)
ORDER BY passed, check_name
