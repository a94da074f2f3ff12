/**
 * Writing one batch: the records to every target table, the dead letters and the source
 * positions, in one transaction. When a record's data makes a statement fail, the batch is
 * bisected to name exactly the records at fault.
 *
 * @module
 */
import { BatchError, type Cursor, PipelineError, type Reject, type SinkBatch } from "../../mod.ts";
import type { Target } from "./catalog.ts";
import { isBrokenConnection, isRecordError, sqlState, statementFailure } from "./classify.ts";
import type { Database, Session } from "./database.ts";
import { letterUpdates } from "./dead_letters.ts";
import {
  arrayLiterals,
  copyText,
  type EncodedTarget,
  encodeRecords,
  fieldsOf,
  type Group,
  groupByShape,
  newestPerKey,
  recordError,
} from "./encode.ts";
import {
  BEGIN,
  COMMIT,
  convertRecord,
  copyInto,
  INSERT_DEAD_LETTERS,
  MARK_DEAD_LETTERS_REPLAYED,
  RELEASE_SAVEPOINT,
  RELEASE_SAVEPOINT_COPY,
  ROLLBACK,
  ROLLBACK_TO_SAVEPOINT,
  ROLLBACK_TO_SAVEPOINT_COPY,
  SAVEPOINT,
  SAVEPOINT_COPY,
  UPDATE_DEAD_LETTER_REASONS,
  UPSERT_POSITIONS,
  writeRecords,
} from "./statements.ts";

/** Where and for whom a batch is written. */
export interface WritePlan {
  /** The database. */
  db: Database;
  /** The pipeline's name: dead letters are kept per pipeline. */
  pipeline: string;
  /** The name the run's positions are kept under (see `ComponentContext.positions`). */
  positions: string;
  /** The tables every record goes to, in order. */
  targets: Target[];
  /** Identifies the run: letters a replay writes are marked with it. */
  runId: string;
  /**
   * Whether this sink's letters are being replayed: then records and rejects whose origin is a
   * letter (`DEAD_LETTER_STREAM`) update that letter. Only the sink that keeps the letters may,
   * since ids mean nothing in another database.
   */
  replays: boolean;
}

/**
 * Writes `batch` in one transaction, or nothing at all. When the plan `replays`, the letters
 * whose records it writes are marked replayed, and those rejected again get the new reason
 * instead of a new letter, in the same transaction.
 *
 * Throws a `BatchError` naming the records whose data PostgreSQL refused (having written
 * nothing), the signal's reason if it aborted before the commit, and otherwise a
 * `PipelineError` that says whether a retry can help.
 *
 * @example
 * ```ts ignore
 * import { writeBatch } from "./write.ts";
 *
 * await writeBatch({ db, pipeline: "load", positions: "load", targets, runId, replays: false }, {
 *   messages: [{ value: { station_code: "16107", bikes: 3 } }],
 *   rejects: [],
 *   cursors: [{ stream: "velib", partition: 0, offset: "42" }],
 * }, AbortSignal.timeout(30_000));
 * ```
 */
export async function writeBatch(
  plan: WritePlan,
  batch: SinkBatch,
  signal: AbortSignal,
): Promise<void> {
  signal.throwIfAborted();
  const encoded = encodeRecords(batch.messages, plan.targets);
  if (encoded instanceof BatchError) throw encoded;
  if (batch.messages.length + batch.rejects.length + batch.cursors.length === 0) return;
  const client: Session = await plan.db.session();
  let broken: unknown;
  const records = new RecordWriter(client, encoded, signal);
  const letters = plan.replays
    ? letterUpdates(batch)
    : { written: [], failed: [], rejects: batch.rejects };
  try {
    await client.query(BEGIN.text);
    await records.write(batch.messages.map((_, index) => index));
    if (letters.written.length > 0) {
      signal.throwIfAborted();
      await client.query(MARK_DEAD_LETTERS_REPLAYED.text, [
        plan.pipeline,
        letters.written,
        plan.runId,
      ]);
    }
    // After the marks: a letter both written and rejected again in one batch still waits.
    if (letters.failed.length > 0) {
      signal.throwIfAborted();
      await client.query(UPDATE_DEAD_LETTER_REASONS.text, [
        plan.pipeline,
        encodeReasons(letters.failed),
      ]);
    }
    if (letters.rejects.length > 0) {
      signal.throwIfAborted();
      await client.query(INSERT_DEAD_LETTERS.text, [plan.pipeline, encodeRejects(letters.rejects)]);
    }
    if (batch.cursors.length > 0) {
      signal.throwIfAborted();
      await client.query(UPSERT_POSITIONS.text, [plan.positions, encodeCursors(batch.cursors)]);
    }
    signal.throwIfAborted();
    await client.query(COMMIT.text);
  } catch (error) {
    try {
      await client.query(ROLLBACK.text);
    } catch (rollbackFailure) {
      broken ??= rollbackFailure;
    }
    if (signal.aborted) throw signal.reason;
    const cause = unwrap(error);
    if (broken !== undefined || !(error instanceof RecordsFailed) || !isRecordError(cause)) {
      if (isBrokenConnection(cause)) broken ??= cause;
      throw statementFailure(cause, "Writing a batch", plan.db.server);
    }
    let poison: BatchError | undefined;
    try {
      poison = await records.findPoison();
    } catch (bisecting) {
      if (signal.aborted) throw signal.reason;
      if (isBrokenConnection(unwrap(bisecting))) broken ??= bisecting;
      throw statementFailure(unwrap(bisecting), "Finding the records at fault", plan.db.server);
    }
    // No record fails on its own: the batch clashed with a concurrent write, which may be gone.
    throw poison ?? new PipelineError(
      `Writing a batch failed on PostgreSQL at ${plan.db.server}: ${
        (cause as Error).message
      }; no single record fails on its own.`,
      {
        hint: "Another writer changed the same rows meanwhile; the write is retried.",
        transient: true,
        cause,
      },
    );
  } finally {
    // A connection that failed is destroyed rather than handed to the next batch.
    client.release(broken !== undefined);
  }
}

/** A statement writing records failed; says on which table. */
class RecordsFailed extends Error {
  constructor(readonly target: Target, override readonly cause: unknown) {
    super(`Writing to ${target.write.table} failed.`, { cause });
  }
}

const unwrap = (error: unknown): unknown => error instanceof RecordsFailed ? error.cause : error;

/** PostgreSQL's code for a unique violation: a key that is stored already. */
const UNIQUE_VIOLATION = "23505";

/** Writes a batch's records, or some of them, inside the transaction of `client`. */
class RecordWriter {
  readonly #client: Session;
  readonly #encoded: EncodedTarget[];
  readonly #signal: AbortSignal;

  constructor(client: Session, encoded: EncodedTarget[], signal: AbortSignal) {
    this.#client = client;
    this.#encoded = encoded;
    this.#signal = signal;
  }

  /** Writes the records at `indices` to every target: one statement per set of columns. */
  async write(indices: number[]): Promise<void> {
    for (const encoded of this.#encoded) {
      const { target, names, columns } = encoded;
      for (const group of groupByShape(encoded, indices)) {
        this.#signal.throwIfAborted();
        try {
          if (target.write.mode === "insert" && await this.#copy(encoded, group)) continue;
          const statement = writeRecords(
            target.write,
            group.columns.map((c) => ({ name: names[c], base: columns[c].base })),
          );
          const rows = target.write.mode === "upsert" ? newestPerKey(encoded, group) : group.rows;
          await this.#client.query(statement.text, arrayLiterals(rows, group.columns));
        } catch (error) {
          throw new RecordsFailed(target, error);
        }
      }
    }
  }

  /**
   * Inserts `rows` with COPY, which PostgreSQL takes at about twice the rate of the bulk INSERT
   * (it parses no arrays and has no conflict clause to plan). COPY cannot skip a key that is
   * stored already, so a replayed record rolls it back, and false sends the rows through the
   * INSERT … ON CONFLICT DO NOTHING instead.
   */
  async #copy({ target, names }: EncodedTarget, group: Group): Promise<boolean> {
    const text = copyText(group.rows, group.columns);
    const into = copyInto(target.write.table, group.columns.map((c) => names[c]));
    await this.#client.query(SAVEPOINT_COPY.text);
    try {
      await this.#client.copyFrom(into.text, text);
    } catch (error) {
      await this.#client.query(ROLLBACK_TO_SAVEPOINT_COPY.text);
      await this.#client.query(RELEASE_SAVEPOINT_COPY.text);
      if (sqlState(error) === UNIQUE_VIOLATION) return false;
      throw error;
    }
    await this.#client.query(RELEASE_SAVEPOINT_COPY.text);
    return true;
  }

  /**
   * Finds the records whose data PostgreSQL refuses, by bisection: a set that fails is split in
   * halves, each tried under a savepoint, down to single records. A set that succeeds is kept
   * for the rest of the search, so of two records that clash, the later one is named. At most
   * 2n - 1 tries for n records. Everything is rolled back at the end: the runner writes the
   * remaining records again. Returns `undefined` when no single record fails on its own.
   */
  async findPoison(): Promise<BatchError | undefined> {
    const found = new BatchError("PostgreSQL refused the data of some records.");
    const attempt = async (indices: number[]): Promise<void> => {
      this.#signal.throwIfAborted();
      await this.#client.query(SAVEPOINT.text);
      try {
        await this.write(indices);
        await this.#client.query(RELEASE_SAVEPOINT.text);
        return;
      } catch (error) {
        if (!(error instanceof RecordsFailed) || !isRecordError(error.cause)) throw error;
        await this.#client.query(ROLLBACK_TO_SAVEPOINT.text);
        await this.#client.query(RELEASE_SAVEPOINT.text);
        if (indices.length === 1) {
          found.failed(indices[0], await this.#explain(error, indices[0]));
          return;
        }
      }
      const middle = Math.ceil(indices.length / 2);
      await attempt(indices.slice(0, middle));
      await attempt(indices.slice(middle));
    };
    await this.#client.query(BEGIN.text);
    try {
      await attempt(this.#encoded[0].rows.map((_, index) => index));
    } finally {
      await this.#client.query(ROLLBACK.text);
    }
    return found.failures.size > 0 ? found : undefined;
  }

  /**
   * The terminal error for one record, naming the column or constraint. A conversion error
   * (class 22) does not say which column it is about: each field is then converted on its
   * own, under a savepoint, until one fails.
   */
  async #explain(failure: RecordsFailed, index: number): Promise<PipelineError> {
    const { target, cause } = failure;
    const details = cause as { message: string; column?: string; constraint?: string };
    const table = target.write.table;
    let column = details.column;
    if (column === undefined && details.constraint === undefined) {
      const encoded = this.#encoded.find((entry) => entry.target === target)!;
      column = await this.#failingColumn(table, fieldsOf(encoded, index));
    }
    const where = column !== undefined
      ? `column ${column} (${target.columns.get(column)?.type}) of ${table}`
      : details.constraint !== undefined
      ? `constraint ${details.constraint} of ${table}`
      : table;
    return recordError(`Rejected by ${where}: ${details.message}.`, cause);
  }

  async #failingColumn(
    table: string,
    fields: Array<[string, unknown]>,
  ): Promise<string | undefined> {
    for (const [column, value] of fields) {
      await this.#client.query(SAVEPOINT.text);
      try {
        await this.#client.query(convertRecord(table).text, [
          JSON.stringify({ [column]: value }),
        ]);
        await this.#client.query(RELEASE_SAVEPOINT.text);
      } catch (error) {
        if (!isRecordError(error)) throw error;
        await this.#client.query(ROLLBACK_TO_SAVEPOINT.text);
        await this.#client.query(RELEASE_SAVEPOINT.text);
        return column;
      }
    }
    return undefined;
  }
}

/** PostgreSQL text cannot hold NUL, nor JSON unpaired surrogates: replace them. */
const storable = (text: string): string => text.toWellFormed().replaceAll("\0", "\uFFFD");

/** The payload as text: as it is if it is text, decoded if bytes, JSON otherwise. */
function payloadText(payload: unknown): string | null {
  if (payload === undefined) return null;
  if (typeof payload === "string") return storable(payload);
  if (payload instanceof Uint8Array) return storable(new TextDecoder().decode(payload));
  try {
    return storable(JSON.stringify(payload) ?? String(payload));
  } catch {
    return storable(String(payload)); // a BigInt or a cycle: a readable form beats none
  }
}

function encodeRejects(rejects: Reject[]): string {
  return JSON.stringify(rejects.map((reject) => ({
    stage: storable(reject.stage),
    reason: storable(reject.reason),
    payload: payloadText(reject.payload),
    source_stream: reject.origin?.stream ?? null,
    source_partition: reject.origin?.partition ?? null,
    source_offset: reject.origin?.offset ?? null,
  })));
}

function encodeReasons(failed: Array<{ id: string; reject: Reject }>): string {
  return JSON.stringify(failed.map(({ id, reject }) => ({
    id,
    stage: storable(reject.stage),
    reason: storable(reject.reason),
  })));
}

function encodeCursors(cursors: Cursor[]): string {
  return JSON.stringify(cursors.map((cursor) => ({
    stream: cursor.stream,
    partition: cursor.partition,
    next_offset: cursor.offset,
  })));
}
