/**
 * Writing one batch: the records to every target table, the dead letters and the source
 * positions, in one transaction. When a record's data makes a statement fail, the batch is
 * bisected to name exactly the records at fault.
 *
 * @module
 */
import {
  BatchError,
  type Cursor,
  type Message,
  PipelineError,
  type Reject,
  type SinkBatch,
} from "../../mod.ts";
import type { Column, Target } from "./catalog.ts";
import { isBrokenConnection, isRecordError, sqlState, statementFailure } from "./classify.ts";
import type { Database, Session } from "./database.ts";
import { letterUpdates } from "./dead_letters.ts";
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

/** One record ready for one target: the columns it has, and its value for each. */
interface Row {
  columns: string[];
  fields: Record<string, unknown>;
}

/** For each target, the batch's records as rows of its table, by index in the batch. */
type EncodedRecords = Array<{ target: Target; rows: Row[] }>;

/** A statement writing records failed; says on which table. */
class RecordsFailed extends Error {
  constructor(readonly target: Target, override readonly cause: unknown) {
    super(`Writing to ${target.write.table} failed.`, { cause });
  }
}

const unwrap = (error: unknown): unknown => error instanceof RecordsFailed ? error.cause : error;

/**
 * A field's value as a bulk parameter sends it. JSON columns get JSON text; a list or object
 * for any other column goes as JSON text too, so that PostgreSQL refuses it by name rather than
 * the driver mangling it into an array literal.
 */
function parameterValue(value: unknown, column: Column): unknown {
  if (value === null || value === undefined) return null;
  if (column.json) return JSON.stringify(value);
  if (typeof value === "bigint") return String(value);
  if (typeof value === "object" && !(value instanceof Date)) return JSON.stringify(value);
  return value;
}

/**
 * Picks each record's fields that are columns of each target and converts them for sending.
 * Records that cannot be written anywhere are named in a `BatchError` before anything is sent.
 */
function encodeRecords(messages: Message[], targets: Target[]): EncodedRecords | BatchError {
  const failures = new BatchError("Some records cannot be written to PostgreSQL.");
  const encoded = targets.map((target) => ({
    target,
    columns: [...target.columns],
    rows: [] as Row[],
  }));
  // Plain loops: this runs for every record of every batch, and is most of the sink's own time.
  messages.forEach(({ value }, index) => {
    for (const { target, columns: known, rows } of encoded) {
      const table = target.write.table;
      if (typeof value !== "object" || value === null || Array.isArray(value)) {
        failures.failed(index, recordError(`A record for ${table} must be an object of columns.`));
        return;
      }
      const record = value as Record<string, unknown>;
      const columns: string[] = [];
      const fields: Record<string, unknown> = {};
      for (const [column, type] of known) {
        if (!Object.hasOwn(record, column)) continue;
        const field = record[column];
        // The driver would send a lone surrogate as U+FFFD: stored altered, with no error.
        if (!type.json && typeof field === "string" && !field.isWellFormed()) {
          failures.failed(
            index,
            recordError(
              `Column ${column} of ${table}: the text has a lone surrogate, not valid Unicode; ` +
                "PostgreSQL would store it altered.",
            ),
          );
          return;
        }
        try {
          fields[column] = parameterValue(field, type);
        } catch (error) {
          failures.failed(index, recordError(`The record cannot be encoded as JSON: ${error}`));
          return;
        }
        columns.push(column);
      }
      if (columns.length === 0) {
        failures.failed(index, recordError(`The record has none of the columns of ${table}.`));
        return;
      }
      rows[index] = { columns, fields };
    }
  });
  return failures.failures.size > 0 ? failures : encoded;
}

/** PostgreSQL's code for a unique violation: a key that is stored already. */
const UNIQUE_VIOLATION = "23505";

/**
 * A value in COPY's text format. Text reaches here well-formed: `encodeRecords` refuses a lone
 * surrogate, and JSON text escapes it.
 */
function copyField(value: unknown): string {
  if (value === null || value === undefined) return "\\N";
  if (typeof value === "boolean") return value ? "t" : "f";
  if (value instanceof Date) return value.toISOString();
  return String(value).replace(/[\\\n\r\t]/g, (special) => COPY_ESCAPES[special]);
}

const COPY_ESCAPES: Record<string, string> = {
  "\\": "\\\\",
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
};

/** The rows in COPY's text format: a line per row, tab-separated fields. */
function copyRows(rows: Row[], columns: string[]): string {
  return rows.map((row) => columns.map((column) => copyField(row.fields[column])).join("\t"))
    .join("\n") + "\n";
}

/** Writes a batch's records, or some of them, inside the transaction of `client`. */
class RecordWriter {
  readonly #client: Session;
  readonly #encoded: EncodedRecords;
  readonly #signal: AbortSignal;

  constructor(client: Session, encoded: EncodedRecords, signal: AbortSignal) {
    this.#client = client;
    this.#encoded = encoded;
    this.#signal = signal;
  }

  /** Writes the records at `indices` to every target: one statement per set of columns. */
  async write(indices: number[]): Promise<void> {
    for (const { target, rows } of this.#encoded) {
      // Records usually share their columns: then this is one statement for the whole batch.
      const shapes = Map.groupBy(indices.map((index) => rows[index]), (row) => row.columns.join());
      for (const group of shapes.values()) {
        this.#signal.throwIfAborted();
        const { columns } = group[0];
        try {
          if (target.write.mode === "insert" && await this.#copy(target, columns, group)) continue;
          const statement = writeRecords(
            target.write,
            columns.map((name) => ({ name, base: target.columns.get(name)!.base })),
          );
          const values = columns.map((name) => group.map((row) => row.fields[name]));
          await this.#client.query(statement.text, values);
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
  async #copy(target: Target, columns: string[], rows: Row[]): Promise<boolean> {
    const text = copyRows(rows, columns);
    await this.#client.query(SAVEPOINT_COPY.text);
    try {
      await this.#client.copyFrom(copyInto(target.write.table, columns).text, text);
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
      const { rows } = this.#encoded.find((entry) => entry.target === target)!;
      column = await this.#failingColumn(table, rows[index]);
    }
    const where = column !== undefined
      ? `column ${column} (${target.columns.get(column)?.type}) of ${table}`
      : details.constraint !== undefined
      ? `constraint ${details.constraint} of ${table}`
      : table;
    return recordError(`Rejected by ${where}: ${details.message}.`, cause);
  }

  async #failingColumn(table: string, row: Row): Promise<string | undefined> {
    for (const column of row.columns) {
      await this.#client.query(SAVEPOINT.text);
      try {
        await this.#client.query(convertRecord(table).text, [
          JSON.stringify({ [column]: row.fields[column] }),
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

function recordError(message: string, cause?: unknown): PipelineError {
  return new PipelineError(message, {
    hint: "Fix the record, or the table, and replay it from pipeline.dead_letters.",
    cause,
  });
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
