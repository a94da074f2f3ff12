-- The sink's own tables. ClickHouse has no transactions, so a migration that fails half way
-- runs again from its first statement: every statement here must be safe to repeat. Edit
-- nothing once released: add a new numbered file instead.

CREATE DATABASE IF NOT EXISTS pipeline;

-- Where each pipeline resumes each stream partition: the next offset to read. Written after the
-- rows, so a crash in between replays rows the tables already hold, which collapse on read.
-- The version column is the offset itself: a position only ever moves forward.
CREATE TABLE IF NOT EXISTS pipeline.source_positions (
  pipeline String,
  stream String,
  partition Int32,
  next_offset Int64,
  updated_at DateTime('UTC') DEFAULT now()
) ENGINE = ReplacingMergeTree(next_offset)
ORDER BY (pipeline, stream, partition);

-- Records that could not be loaded, with why and where they came from. A letter's id is its
-- origin when it has one, so a replayed batch's rejects collapse into the ones it stored.
CREATE TABLE IF NOT EXISTS pipeline.dead_letters (
  pipeline String,
  id String,
  stage String,
  reason String,
  -- As it arrived; JSON-encoded when it was not text.
  payload Nullable(String),
  source_stream Nullable(String),
  source_partition Nullable(Int32),
  source_offset Nullable(Int64),
  failed_at DateTime('UTC') DEFAULT now()
) ENGINE = ReplacingMergeTree
ORDER BY (pipeline, id);

-- When each gold script of each pipeline last started a run that succeeded: the next run reads
-- the rows loaded since (less a minute of slack, see the step).
CREATE TABLE IF NOT EXISTS pipeline.step_runs (
  pipeline String,
  script String,
  started_at DateTime('UTC')
) ENGINE = ReplacingMergeTree(started_at)
ORDER BY (pipeline, script);
