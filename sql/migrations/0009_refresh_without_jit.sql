-- The hourly and daily refreshes without JIT compilation, which made their cost grow with the
-- history (bench/gold_scaling.ts).
--
-- Their buckets come from an array, so the planner cannot know how much of raw a bucket's
-- range holds: it assumes a third of the table per bound, about a ninth of all of raw. That
-- estimate, and with it the plan's cost, grows with the history, and past jit_above_cost and
-- jit_optimize_above_cost PostgreSQL compiles the query with LLVM: on 30 days of history
-- about 120 ms of compilation for an hour whose rows are read and aggregated in about 50 ms.
-- The rows a refresh reads are bounded by its buckets, never many enough for compiled code to
-- pay back its compilation, so JIT is off for these two functions whatever the server's
-- setting.

ALTER FUNCTION mart.refresh_hourly_stats(text) SET jit = off;
ALTER FUNCTION mart.refresh_daily_stats(text) SET jit = off;
