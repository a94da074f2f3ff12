/**
 * A batch's records as the sink sends them: for each target, each record's values in the
 * table's column order, grouped by the columns they have; then in COPY's text format, or as one
 * array literal per column for the bulk statements.
 *
 * This runs for every record of every batch and was most of the sink's own time, so it keeps
 * one values array per record and target (no object per row), and writes the text itself.
 *
 * @module
 */
import { BatchError, type Message, PipelineError } from "../../mod.ts";
import type { Column, Target } from "./catalog.ts";

/** What a record's values hold for a column it does not have: the column gets its default. */
const MISSING: unique symbol = Symbol("missing");

/** One record ready for one target. */
export interface Row {
  /** Which of the target's columns the record lacks: rows of one shape go in one statement. */
  shape: number | string;
  /** The value for each of the target's columns, in the target's order. */
  values: unknown[];
}

/** What a target's rows are laid out by: the same for every batch. */
interface Layout {
  /** The target. */
  target: Target;
  /** Its columns' names, in table order: what a row's values line up with. */
  names: string[];
  /** Its columns, in the same order. */
  columns: Column[];
  /**
   * The columns whose values an earlier insert target of the batch converts to the same type,
   * when superseded records may be left out of this target's statement (see
   * {@linkcode newestPerKey}); else undefined.
   */
  checkedEarlier: Set<string> | undefined;
}

/** A target with the batch's records as its rows, by index in the batch. */
export interface EncodedTarget extends Layout {
  /** The row of each record, by index in the batch. */
  rows: Row[];
}

/** The layouts of a sink's targets, worked out at its first batch rather than at every one. */
const layouts = new WeakMap<Target[], Layout[]>();

function layoutsOf(targets: Target[]): Layout[] {
  let found = layouts.get(targets);
  if (found === undefined) {
    found = targets.map((target, position) => ({
      target,
      names: [...target.columns.keys()],
      columns: [...target.columns.values()],
      checkedEarlier: checkedEarlier(target, targets.slice(0, position)),
    }));
    layouts.set(targets, found);
  }
  return found;
}

/** Rows of one shape: the indexes of the target's columns they have, and the rows. */
export interface Group {
  /** Indexes into the target's `names` and `columns`. */
  columns: number[];
  /** The rows. */
  rows: Row[];
}

/**
 * A terminal error for one record, with the hint every refused record gets.
 *
 * @example
 * ```ts
 * import { recordError } from "./encode.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(recordError("Bad.").transient, false);
 * ```
 */
export function recordError(message: string, cause?: unknown): PipelineError {
  return new PipelineError(message, {
    hint: "Fix the record, or the table, and replay it from pipeline.dead_letters.",
    cause,
  });
}

/**
 * A field's value as a bulk write sends it. JSON columns get JSON text; a list or object for any
 * other column goes as JSON text too, so that PostgreSQL refuses it by name rather than reading
 * it as something else.
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
 *
 * @example
 * ```ts
 * import { encodeRecords } from "./encode.ts";
 * import assert from "node:assert/strict";
 *
 * const column = { type: "integer", base: "integer", json: false };
 * const target = {
 *   write: { table: "raw.t", mode: "insert" as const, key: ["id"] },
 *   columns: new Map([["id", column], ["n", column]]),
 * };
 * const encoded = encodeRecords([{ value: { id: 1, other: 2 } }], [target]);
 * assert.ok(Array.isArray(encoded));
 * assert.equal(encoded[0].rows[0].values[0], 1);
 * ```
 */
export function encodeRecords(
  messages: Message[],
  targets: Target[],
): EncodedTarget[] | BatchError {
  const failures = new BatchError("Some records cannot be written to PostgreSQL.");
  const encoded = layoutsOf(targets).map((layout) => ({ ...layout, rows: [] as Row[] }));
  for (let index = 0; index < messages.length; index++) {
    const value = messages[index].value;
    for (const { target, names, columns, rows } of encoded) {
      const row = encodeRow(value, target.write.table, names, columns);
      if (row instanceof PipelineError) {
        failures.failed(index, row);
        break;
      }
      rows[index] = row;
    }
  }
  return failures.failures.size > 0 ? failures : encoded;
}

function encodeRow(
  value: unknown,
  table: string,
  names: string[],
  columns: Column[],
): Row | PipelineError {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return recordError(`A record for ${table} must be an object of columns.`);
  }
  const record = value as Record<string, unknown>;
  const values = new Array<unknown>(names.length);
  // The columns the record lacks: a bit each while they fit in one number, else their indexes.
  let missing: number | string = 0;
  let count = 0;
  for (let c = 0; c < names.length; c++) {
    const name = names[c];
    if (!Object.hasOwn(record, name)) {
      values[c] = MISSING;
      missing = c < 31 ? (missing as number) | (1 << c) : `${missing},${c}`;
      continue;
    }
    const field = record[name];
    const column = columns[c];
    if (typeof field === "string") {
      // The driver would send a lone surrogate as U+FFFD: stored altered, with no error.
      if (!column.json && !field.isWellFormed()) {
        return recordError(
          `Column ${name} of ${table}: the text has a lone surrogate, not valid Unicode; ` +
            "PostgreSQL would store it altered.",
        );
      }
    }
    try {
      values[c] = parameterValue(field, column);
    } catch (error) {
      return recordError(`The record cannot be encoded as JSON: ${error}`);
    }
    count++;
  }
  if (count === 0) return recordError(`The record has none of the columns of ${table}.`);
  return { shape: missing, values };
}

/**
 * The rows at `indices`, grouped by shape; records usually share their columns, and then this is
 * one group for the whole batch.
 *
 * @example
 * ```ts ignore
 * import { groupByShape } from "./encode.ts";
 *
 * for (const group of groupByShape(encoded, [0, 1, 2])) console.log(group.columns);
 * ```
 */
export function groupByShape(encoded: EncodedTarget, indices: number[]): Group[] {
  const shapes = Map.groupBy(indices.map((index) => encoded.rows[index]), (row) => row.shape);
  return [...shapes.values()].map((rows) => ({
    columns: encoded.names.flatMap((_, c) => rows[0].values[c] === MISSING ? [] : [c]),
    rows,
  }));
}

/**
 * The record at `index` as a target's columns and values, for a message about one of them.
 *
 * @example
 * ```ts ignore
 * import { fieldsOf } from "./encode.ts";
 *
 * for (const [column, value] of fieldsOf(encoded, 3)) console.log(column, value);
 * ```
 */
export function fieldsOf(encoded: EncodedTarget, index: number): Array<[string, unknown]> {
  const { values } = encoded.rows[index];
  return encoded.names.flatMap((name, c) => values[c] === MISSING ? [] : [[name, values[c]]]);
}

/**
 * The rows in COPY's text format: a line per row, tab-separated fields, `\N` for NULL. Text
 * reaches here well-formed: `encodeRecords` refuses a lone surrogate, and JSON text escapes it.
 *
 * @example
 * ```ts
 * import { copyText } from "./encode.ts";
 * import assert from "node:assert/strict";
 *
 * const rows = [{ shape: 0, values: ["a\tb", null, true, 4] }];
 * assert.equal(copyText(rows, [0, 1, 2, 3]), "a\\tb\t\\N\tt\t4\n");
 * ```
 */
export function copyText(rows: Row[], columns: number[]): string {
  let text = "";
  for (const { values } of rows) {
    for (let i = 0; i < columns.length; i++) {
      if (i > 0) text += "\t";
      text += copyField(values[columns[i]]);
    }
    text += "\n";
  }
  return text;
}

const COPY_SPECIAL = /[\\\n\r\t]/;
const COPY_SPECIALS = /[\\\n\r\t]/g;
const COPY_ESCAPES: Record<string, string> = {
  "\\": "\\\\",
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
};

function copyField(value: unknown): string {
  if (typeof value === "number") return String(value);
  if (value === null || value === undefined) return "\\N";
  if (typeof value === "boolean") return value ? "t" : "f";
  if (value instanceof Date) return value.toISOString();
  const text = String(value);
  return COPY_SPECIAL.test(text)
    ? text.replace(COPY_SPECIALS, (special) => COPY_ESCAPES[special])
    : text;
}

/**
 * One array literal per column of `columns`, for `unnest($n::type[])`: every element quoted, as
 * node-postgres writes them, and NULL for a null.
 *
 * @example
 * ```ts
 * import { arrayLiterals } from "./encode.ts";
 * import assert from "node:assert/strict";
 *
 * const rows = [{ shape: 0, values: ['say "hi"', 1] }, { shape: 0, values: [null, 2] }];
 * assert.deepEqual(arrayLiterals(rows, [0, 1]), ['{"say \\"hi\\"",NULL}', '{"1","2"}']);
 * ```
 */
export function arrayLiterals(rows: Row[], columns: number[]): string[] {
  return columns.map((c) => {
    let text = "{";
    for (let r = 0; r < rows.length; r++) {
      if (r > 0) text += ",";
      text += arrayElement(rows[r].values[c]);
    }
    return text + "}";
  });
}

const ARRAY_SPECIAL = /["\\]/;
const ARRAY_SPECIALS = /["\\]/g;

function arrayElement(value: unknown): string {
  if (value === null || value === undefined) return "NULL";
  if (typeof value === "number") return `"${value}"`;
  const text = value instanceof Date ? value.toISOString() : String(value);
  return ARRAY_SPECIAL.test(text) ? `"${text.replace(ARRAY_SPECIALS, "\\$&")}"` : `"${text}"`;
}

/** Base types whose values compare in PostgreSQL as their JavaScript strings do. */
const TEXT_TYPES = new Set(["text", "character varying", "character"]);
/** Base types whose values compare in PostgreSQL as JavaScript numbers do. */
const INTEGER_TYPES = new Set(["smallint", "integer", "bigint"]);
const TIMESTAMP_TYPES = new Set(["timestamp with time zone", "timestamp without time zone"]);
/** `Date.prototype.toISOString()`'s form: ordered as text the way the instants are. */
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/**
 * The columns of an upsert target that an earlier insert target of the batch sends as the same
 * type, when the target may be sent only the newest record of each key, as its statement keeps
 * anyway: its key compares here as in PostgreSQL, and `newerThan` is a timestamp. Else
 * undefined.
 */
function checkedEarlier(target: Target, earlier: Target[]): Set<string> | undefined {
  const { mode, key, newerThan } = target.write;
  if (mode !== "upsert" || newerThan === undefined) return undefined;
  const typeOf = (name: string) => target.columns.get(name)!.base;
  if (!TIMESTAMP_TYPES.has(typeOf(newerThan))) return undefined;
  if (!key.every((name) => TEXT_TYPES.has(typeOf(name)) || INTEGER_TYPES.has(typeOf(name)))) {
    return undefined;
  }
  const inserts = earlier.filter((other) => other.write.mode === "insert");
  const names = [...target.columns].filter(([name, column]) =>
    inserts.some((insert) => {
      const same = insert.columns.get(name);
      return same !== undefined && same.base === column.base && same.json === column.json;
    })
  ).map(([name]) => name);
  return new Set(names);
}

/**
 * The rows of `group` the upsert's statement would keep: for each key, the one with the newest
 * `newerThan` (a NULL is oldest), the last on a tie. That statement also converts the records it
 * then drops, and refuses the batch if one of their values does not convert; leaving them out
 * keeps that only when an earlier insert target converts each of the group's columns, so the rows
 * are returned as they are unless it does, and when any key or `newerThan` value is not one this
 * can compare exactly (the statement then picks).
 *
 * @example
 * ```ts ignore
 * import { newestPerKey } from "./encode.ts";
 *
 * const rows = newestPerKey(encoded, group); // at most one row per station
 * ```
 */
export function newestPerKey(encoded: EncodedTarget, group: Group): Row[] {
  const { target, names, checkedEarlier: checked } = encoded;
  if (checked === undefined || !group.columns.every((c) => checked.has(names[c]))) {
    return group.rows;
  }
  const keyColumns = target.write.key.map((name) => names.indexOf(name));
  const newerColumn = names.indexOf(target.write.newerThan!);
  if (![...keyColumns, newerColumn].every((c) => group.columns.includes(c))) return group.rows;
  const newest = new Map<string, Row>();
  for (const row of group.rows) {
    let id = "";
    for (const c of keyColumns) {
      const part = row.values[c];
      if (typeof part === "string") id += `${part.length}:${part}`;
      else if (Number.isSafeInteger(part)) id += `#${part};`;
      else return group.rows;
    }
    const newer = row.values[newerColumn];
    if (newer !== null && (typeof newer !== "string" || !ISO_INSTANT.test(newer))) {
      return group.rows;
    }
    const kept = newest.get(id);
    const keptNewer = kept?.values[newerColumn] as string | null | undefined;
    if (kept === undefined || keptNewer === null || (newer !== null && newer >= keptNewer!)) {
      newest.set(id, row);
    }
  }
  return [...newest.values()];
}
