-- Replays of dead letters. Applied in a transaction by migrate(); edit nothing here once
-- released: add a new numbered file instead.

-- When a replay wrote a letter's record, and which run did: set in the same transaction as the
-- rows, so a letter is marked exactly when its record is stored. NULL while it waits.
ALTER TABLE pipeline.dead_letters
  ADD COLUMN replayed_at timestamptz NULL,
  ADD COLUMN replay_run_id text NULL;

-- A replay reads a pipeline's waiting letters in id order, page after page: once most letters
-- are replayed, this keeps each page from scanning the ones that are done.
CREATE INDEX dead_letters_waiting
  ON pipeline.dead_letters (pipeline, id)
  WHERE replayed_at IS NULL;
