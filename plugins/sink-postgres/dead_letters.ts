/**
 * The dead letters the sink keeps in `pipeline.dead_letters`: listing them, and replaying the
 * ones that wait as a source of the records they were. A replayed record carries its letter in
 * its origin, so that the sink's write marks the letter replayed in the same transaction as the
 * rows, or, when the record fails again, gives it the new reason instead of adding a letter.
 *
 * @module
 */
import {
  type Batch,
  type DeadLetter,
  type DeadLetterFilter,
  END_OF_INPUT,
  type EndOfInput,
  type Message,
  PipelineError,
  type Reject,
  type SinkBatch,
  type Source,
  type SourceContext,
} from "../../mod.ts";
import { statementFailure } from "./classify.ts";
import type { Database } from "./database.ts";
import {
  SELECT_DEAD_LETTERS,
  SELECT_LAST_WAITING_DEAD_LETTER,
  SELECT_WAITING_DEAD_LETTERS,
} from "./statements.ts";

/**
 * The `origin.stream` of a replayed record: its `origin.offset` is the id of its letter. The
 * runner and the transforms carry a record's origin into the rejects they make, which is how a
 * letter that fails again is found downstream.
 *
 * @example
 * ```ts
 * import { DEAD_LETTER_STREAM } from "./dead_letters.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(DEAD_LETTER_STREAM, "pipeline.dead_letters");
 * ```
 */
export const DEAD_LETTER_STREAM = "pipeline.dead_letters";

/** How many letters a replay reads per batch. */
export const REPLAY_PAGE_SIZE = 1_000;

/** Where a pipeline's letters are: what the sink holds once connected. */
export interface DeadLetterStore {
  /** The database. */
  db: Database;
  /** The pipeline whose letters these are. */
  pipeline: string;
}

/** A row of {@linkcode SELECT_DEAD_LETTERS}. */
interface LetterRow {
  id: string;
  stage: string;
  reason: string;
  payload: string | null;
  source_stream: string | null;
  source_partition: number | null;
  source_offset: string | null;
  failed_at: Date | string;
  replayed_at: Date | string | null;
  replay_run_id: string | null;
}

// Both drivers give a Date for timestamptz; a string is parsed rather than trusted as ISO-8601.
const iso = (value: Date | string): string =>
  (value instanceof Date ? value : new Date(value)).toISOString();

const filterParams = (filter: DeadLetterFilter): [string | null, string | null] => [
  filter.since?.toISOString() ?? null,
  filter.reason ?? null,
];

/**
 * The pipeline's letters, oldest first, replayed ones included, filtered by `filter.since`
 * (set aside at or after) and `filter.reason` (contained, ignoring case).
 *
 * @example
 * ```ts ignore
 * import { listDeadLetters } from "./dead_letters.ts";
 *
 * const letters = await listDeadLetters({ db, pipeline: "load" }, { reason: "capacity" });
 * console.log(letters.filter((letter) => letter.replayed === undefined).length, "wait");
 * ```
 */
export async function listDeadLetters(
  store: DeadLetterStore,
  filter: DeadLetterFilter,
): Promise<DeadLetter[]> {
  let rows: LetterRow[];
  try {
    ({ rows } = await store.db.query<LetterRow>(SELECT_DEAD_LETTERS.text, [
      store.pipeline,
      ...filterParams(filter),
    ]));
  } catch (error) {
    throw statementFailure(error, "Reading the dead letters", store.db.server);
  }
  return rows.map((row) => ({
    id: row.id,
    stage: row.stage,
    reason: row.reason,
    payload: row.payload,
    ...row.source_stream === null ? {} : {
      origin: {
        stream: row.source_stream,
        partition: row.source_partition ?? 0,
        offset: row.source_offset ?? "",
      },
    },
    failedAt: iso(row.failed_at),
    ...row.replayed_at === null
      ? {}
      : { replayed: { at: iso(row.replayed_at), runId: row.replay_run_id ?? "" } },
  }));
}

/**
 * The value a letter's payload stands for: the parsed JSON when it is JSON (a record that was
 * not text was stored JSON-encoded), else the text itself, for the transforms to judge again.
 *
 * @example
 * ```ts
 * import { letterValue } from "./dead_letters.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(letterValue('{"station_code":"16107"}'), { station_code: "16107" });
 * assert.equal(letterValue("{not json"), "{not json");
 * assert.equal(letterValue(null), null);
 * ```
 */
export function letterValue(payload: string | null): unknown {
  if (payload === null) return null;
  try {
    return JSON.parse(payload);
  } catch {
    return payload;
  }
}

/**
 * Reads the letters that wait for a replay (`replayed_at` NULL) and match a filter, in id
 * order, a page per batch, through the connection of the sink that keeps them; then
 * `END_OF_INPUT`. It stops at the newest letter that waited when it connected: letters set aside
 * meanwhile, by the replay itself or a live run, wait for the next replay.
 *
 * Each letter is a message whose value (and `arrived`) is {@linkcode letterValue} of its
 * payload and whose origin is `{ stream: DEAD_LETTER_STREAM, partition: 0, offset: <id> }`.
 * Acknowledging does nothing: the sink marks letters in the transaction that writes their
 * records, so a letter whose batch fails simply keeps waiting.
 *
 * @example
 * ```ts ignore
 * import { DeadLetterReplay } from "./dead_letters.ts";
 *
 * const source = new DeadLetterReplay(() => ({ db, pipeline: "load" }), { reason: "capacity" });
 * await source.connect(ctx);
 * const batch = await source.read(AbortSignal.timeout(30_000));
 * ```
 */
export class DeadLetterReplay implements Source {
  readonly #store: () => DeadLetterStore;
  readonly #filter: DeadLetterFilter;
  readonly #pageSize: number;
  /** The id of the last letter read; ids start at 1. */
  #after = "0";
  /** The newest letter to read; null when none waited. */
  #until: string | null = null;
  #done = true;

  /**
   * Builds the source; `store` gives the sink's connection, and throws while it is not open.
   * `pageSize` is the most letters per batch (@default {REPLAY_PAGE_SIZE}).
   */
  constructor(
    store: () => DeadLetterStore,
    filter: DeadLetterFilter = {},
    pageSize: number = REPLAY_PAGE_SIZE,
  ) {
    if (!Number.isInteger(pageSize) || pageSize < 1) {
      throw new RangeError(`A replay's page size must be a positive integer, got ${pageSize}.`);
    }
    this.#store = store;
    this.#filter = filter;
    this.#pageSize = pageSize;
  }

  /** Checks the sink is connected, and notes where the replay stops. */
  async connect(_ctx: SourceContext): Promise<void> {
    let store: DeadLetterStore;
    try {
      store = this.#store();
    } catch (error) {
      throw new PipelineError(
        "The dead-letter replay reads through its sink's connection, which is not open.",
        { hint: "Connect the sink before the replay source; the runner does.", cause: error },
      );
    }
    try {
      const { rows } = await store.db.query<{ id: string | null }>(
        SELECT_LAST_WAITING_DEAD_LETTER.text,
        [store.pipeline],
      );
      this.#until = rows[0]?.id ?? null;
    } catch (error) {
      throw statementFailure(error, "Reading the dead letters", store.db.server);
    }
    this.#after = "0";
    this.#done = this.#until === null;
  }

  /** The next page of waiting letters as messages, or `END_OF_INPUT` after the last. */
  async read(signal: AbortSignal): Promise<Batch | EndOfInput> {
    signal.throwIfAborted();
    if (this.#done) return END_OF_INPUT;
    const { db, pipeline } = this.#store();
    let rows: Array<{ id: string; payload: string | null }>;
    try {
      ({ rows } = await db.query(SELECT_WAITING_DEAD_LETTERS.text, [
        pipeline,
        this.#after,
        this.#until,
        ...filterParams(this.#filter),
        this.#pageSize,
      ]));
    } catch (error) {
      throw statementFailure(error, "Reading the dead letters", db.server);
    }
    signal.throwIfAborted();
    // A short page is the last: no need for a query that finds nothing.
    if (rows.length < this.#pageSize) this.#done = true;
    if (rows.length === 0) return END_OF_INPUT;
    this.#after = rows[rows.length - 1].id;
    const messages = rows.map((row): Message => {
      const value = letterValue(row.payload);
      return {
        value,
        arrived: value,
        origin: { stream: DEAD_LETTER_STREAM, partition: 0, offset: row.id },
      };
    });
    return { messages, cursors: [], ack: () => Promise.resolve() };
  }
}

/** What writing a batch does to the letters it replays; see {@linkcode letterUpdates}. */
export interface LetterUpdates {
  /** The ids of the letters whose records the batch writes: they are marked replayed. */
  written: string[];
  /** Letters rejected again, each once, with the reject that says why (the last one wins). */
  failed: Array<{ id: string; reject: Reject }>;
  /** The batch's other rejects: they become new letters. */
  rejects: Reject[];
}

/** A letter's id from a record's or a reject's origin, if it points at one. */
function letterId(origin: Message["origin"]): string | undefined {
  // Anything else under that stream name is an ordinary origin, not a letter of this table.
  return origin?.stream === DEAD_LETTER_STREAM && /^[1-9]\d{0,18}$/.test(origin.offset)
    ? origin.offset
    : undefined;
}

/**
 * Sorts a batch's records and rejects by whether they replay a letter of this sink's table.
 *
 * @example
 * ```ts
 * import { DEAD_LETTER_STREAM, letterUpdates } from "./dead_letters.ts";
 * import assert from "node:assert/strict";
 *
 * const letter = (id: string) => ({ stream: DEAD_LETTER_STREAM, partition: 0, offset: id });
 * const updates = letterUpdates({
 *   messages: [{ value: { station_code: "16107" }, origin: letter("7") }],
 *   rejects: [
 *     { payload: "{}", reason: "still too many bikes", stage: "transform strict", origin: letter("8") },
 *     { payload: "{}", reason: "not JSON", stage: "source kafka" },
 *   ],
 *   cursors: [],
 * });
 * assert.deepEqual(updates.written, ["7"]);
 * assert.deepEqual(updates.failed.map((f) => f.id), ["8"]);
 * assert.equal(updates.rejects.length, 1);
 * ```
 */
export function letterUpdates(batch: SinkBatch): LetterUpdates {
  const written = new Set<string>();
  for (const message of batch.messages) {
    const id = letterId(message.origin);
    if (id !== undefined) written.add(id);
  }
  // One entry per letter, the last: given two, UPDATE … FROM would apply either.
  const failed = new Map<string, Reject>();
  const rejects: Reject[] = [];
  for (const reject of batch.rejects) {
    const id = letterId(reject.origin);
    if (id === undefined) rejects.push(reject);
    else failed.set(id, reject);
  }
  return {
    written: [...written],
    failed: [...failed].map(([id, reject]) => ({ id, reject })),
    rejects,
  };
}
