/**
 * Writing one batch: the records into each table, then the rejects, then the positions. There
 * is no transaction around them; what makes a batch written twice (after a crash, or a server
 * lost in the middle) harmless is that every table is a `ReplacingMergeTree` keyed so that the
 * copies collapse on read, and that positions come last, so a position never runs ahead of the
 * rows it stands for.
 *
 * @module
 */
import { BatchError, PipelineError, type Reject, type SinkBatch } from "../../mod.ts";
import type { Database } from "./database.ts";
import { SELECT_COLUMNS } from "./statements.ts";

/** A table the sink writes, with the columns an insert may give. */
export interface Target {
  /** `database.table`. */
  table: string;
  /** Its insertable columns (neither MATERIALIZED nor ALIAS), in order. */
  columns: string[];
}

/** What {@linkcode writeBatch} needs: the server, the tables, and whose positions these are. */
export interface WritePlan {
  db: Database;
  /** The pipeline, which its dead letters are filed under. */
  pipeline: string;
  /** The name its positions are stored under. */
  positions: string;
  targets: Target[];
  /** Every column of the targets, once: what a record's text is checked in. */
  columns: string[];
}

/**
 * The insertable columns of each table, in order; fails with a hint when a table is missing.
 */
export async function describeTargets(
  db: Database,
  tables: readonly string[],
  signal: AbortSignal,
): Promise<Target[]> {
  const targets: Target[] = [];
  for (const table of tables) {
    const [database, name] = table.split(".");
    const rows = await db.run<{ name: string }>(
      SELECT_COLUMNS,
      [db.databaseName(database), name],
      signal,
      `Reading the columns of ${table}`,
    );
    if (rows.length === 0) {
      throw new PipelineError(`The table ${table} does not exist on ClickHouse at ${db.server}.`, {
        hint: "Create it in a migration of the sink's `migrations` folder, or fix `writes`.",
      });
    }
    targets.push({ table, columns: rows.map((row) => row.name) });
  }
  return targets;
}

/**
 * A record's value as JSON for ClickHouse: booleans as 1 and 0 (18.16 reads no `true` into a
 * UInt8), Dates as ISO text, bigints as digits, objects as JSON text.
 */
function columnValue(value: unknown): unknown {
  if (typeof value === "boolean") return value ? 1 : 0;
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Date) return value.toISOString();
  if (value !== null && typeof value === "object") return JSON.stringify(value);
  return value;
}

/** The row of `target` for a record: its fields that are columns. */
function rowOf(record: unknown, columns: readonly string[]): Record<string, unknown> {
  const fields = (record ?? {}) as Record<string, unknown>;
  const row: Record<string, unknown> = {};
  for (const column of columns) row[column] = columnValue(fields[column] ?? null);
  return row;
}

/** The columns of `target` that some record of the batch gives: the others keep their default. */
function givenColumns(target: Target, records: readonly unknown[]): string[] {
  return target.columns.filter((column) =>
    records.some((record) =>
      record !== null && typeof record === "object" && Object.hasOwn(record, column)
    )
  );
}

/** The payload as text: as it is if it is text, decoded if bytes, JSON otherwise. */
function payloadText(payload: unknown): string | null {
  if (payload === undefined || payload === null) return null;
  if (typeof payload === "string") return payload;
  if (payload instanceof Uint8Array) return new TextDecoder().decode(payload);
  try {
    return JSON.stringify(payload) ?? String(payload);
  } catch {
    return String(payload); // a BigInt or a cycle: a readable form beats none
  }
}

/**
 * A reject's row. Its id is its origin, so that the same reject written again replaces itself;
 * one without an origin cannot be recognised again and gets an id of its own.
 */
function letterRow(pipeline: string, reject: Reject): Record<string, unknown> {
  const origin = reject.origin;
  return {
    pipeline,
    id: origin === undefined
      ? crypto.randomUUID()
      : `${origin.stream}/${origin.partition}/${origin.offset}`,
    stage: reject.stage,
    reason: reject.reason,
    payload: payloadText(reject.payload),
    source_stream: origin?.stream ?? null,
    source_partition: origin?.partition ?? null,
    source_offset: origin?.offset ?? null,
  };
}

const LETTER_COLUMNS = [
  "pipeline",
  "id",
  "stage",
  "reason",
  "payload",
  "source_stream",
  "source_partition",
  "source_offset",
];

const POSITION_COLUMNS = ["pipeline", "stream", "partition", "next_offset"];

/**
 * The records that cannot be stored as they are, as a `BatchError` naming each, or undefined:
 * a string that is not valid Unicode (a lone surrogate) would reach ClickHouse altered.
 */
function unstorable(records: readonly unknown[], columns: readonly string[]) {
  let error: BatchError | undefined;
  records.forEach((record, index) => {
    const fields = (record ?? {}) as Record<string, unknown>;
    const field = columns.find((column) =>
      typeof fields[column] === "string" && !(fields[column] as string).isWellFormed()
    );
    if (field === undefined) return;
    error ??= new BatchError("Some records hold text ClickHouse cannot store as sent.");
    error.failed(
      index,
      new PipelineError(`${field} holds a lone surrogate: it is not valid Unicode.`, {
        hint: "Fix the text at its source; the record is kept as a dead letter.",
      }),
    );
  });
  return error;
}

/**
 * Writes the batch: each table's rows (one insert per table), then its rejects, then its
 * positions. A failure stops it where it is; writing the batch again completes it, and what was
 * written twice collapses on read. Records with text that cannot be stored as sent are named in a
 * `BatchError` before anything is written.
 */
export async function writeBatch(
  plan: WritePlan,
  batch: SinkBatch,
  signal: AbortSignal,
): Promise<void> {
  const records = batch.messages.map((message) => message.value);
  const refused = unstorable(records, plan.columns);
  if (refused !== undefined) throw refused;
  if (records.length > 0) {
    for (const target of plan.targets) {
      const columns = givenColumns(target, records);
      const rows = records.map((record) => rowOf(record, columns));
      await plan.db.insert(target.table, columns, rows, signal);
    }
  }
  await plan.db.insert(
    "pipeline.dead_letters",
    LETTER_COLUMNS,
    batch.rejects.map((reject) => letterRow(plan.pipeline, reject)),
    signal,
  );
  await plan.db.insert(
    "pipeline.source_positions",
    POSITION_COLUMNS,
    batch.cursors.map((cursor) => ({
      pipeline: plan.positions,
      stream: cursor.stream,
      partition: cursor.partition,
      next_offset: cursor.offset,
    })),
    signal,
  );
}
