-- The sink's own tables. Applied in a transaction by migrate(); edit nothing here once
-- released: add a new numbered file instead.

CREATE SCHEMA IF NOT EXISTS pipeline;

-- Where each pipeline resumes each stream partition: the next offset to read. Written in the
-- same transaction as the rows, so rows and position never disagree.
CREATE TABLE pipeline.source_positions (
  pipeline text NOT NULL,
  stream text NOT NULL,
  partition int NOT NULL,
  next_offset bigint NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (pipeline, stream, partition)
);

-- Records that could not be loaded, with why and where they came from.
CREATE TABLE pipeline.dead_letters (
  id bigserial PRIMARY KEY,
  pipeline text NOT NULL,
  stage text NOT NULL,
  reason text NOT NULL,
  -- As it arrived; JSON-encoded when it was not text.
  payload text,
  source_stream text,
  source_partition int,
  source_offset bigint,
  failed_at timestamptz NOT NULL DEFAULT now()
);

-- A replayed batch must not store its rejects twice. Rejects without an origin have NULLs here,
-- which never conflict, so they are always stored.
CREATE UNIQUE INDEX dead_letters_origin_key
  ON pipeline.dead_letters (pipeline, source_stream, source_partition, source_offset);

-- Migrations applied, per scope: "pipeline" for these, "app" for the configured folder.
CREATE TABLE pipeline.schema_migrations (
  scope text NOT NULL,
  version int NOT NULL,
  name text NOT NULL,
  checksum text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (scope, version)
);
