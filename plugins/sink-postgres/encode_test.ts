import assert from "node:assert/strict";
import { BatchError } from "../../mod.ts";
import type { Column, Target } from "./catalog.ts";
import {
  arrayLiterals,
  copyText,
  type EncodedTarget,
  encodeRecords,
  groupByShape,
  newestPerKey,
} from "./encode.ts";

const column = (base: string, json = false): Column => ({ type: base, base, json });
const TEXT = column("text");
const INTEGER = column("integer");
const INSTANT = column("timestamp with time zone");

const raw: Target = {
  write: { table: "raw.t", mode: "insert", key: ["code", "at"] },
  columns: new Map([["code", TEXT], ["at", INSTANT], ["bikes", INTEGER], ["inserted_at", INSTANT]]),
};
const latest: Target = {
  write: { table: "mart.t", mode: "upsert", key: ["code"], newerThan: "at" },
  columns: new Map([["code", TEXT], ["at", INSTANT], ["bikes", INTEGER], ["updated_at", INSTANT]]),
};

function encode(values: unknown[], targets: Target[] = [raw, latest]): EncodedTarget[] {
  const encoded = encodeRecords(values.map((value) => ({ value })), targets);
  if (encoded instanceof BatchError) throw encoded;
  return encoded;
}

/** The upsert target's rows as its statement would be sent them, as [code, at, bikes]. */
function sentToLatest(values: unknown[], targets: Target[] = [raw, latest]): unknown[][] {
  const encoded = encode(values, targets).find((entry) => entry.target.write.table === "mart.t")!;
  const [group] = groupByShape(encoded, values.map((_, index) => index));
  return newestPerKey(encoded, group).map((row) => row.values.slice(0, 3));
}

const at = (minute: number) => `2024-05-28T20:${String(minute).padStart(2, "0")}:00.000Z`;

Deno.test("an upsert target is sent the newest record of each key, in batch order", () => {
  const sent = sentToLatest([
    { code: "a", at: at(2), bikes: 1 },
    { code: "b", at: at(1), bikes: 2 },
    { code: "a", at: at(1), bikes: 3 },
    { code: "b", at: at(3), bikes: 4 },
  ]);
  assert.deepEqual(sent, [["a", at(2), 1], ["b", at(3), 4]]);
});

Deno.test("of records with the same key and time, the upsert target is sent the last", () => {
  const sent = sentToLatest([{ code: "a", at: at(1), bikes: 1 }, {
    code: "a",
    at: at(1),
    bikes: 2,
  }]);
  assert.deepEqual(sent, [["a", at(1), 2]]);
});

Deno.test("a record with no time loses to one with a time, as NULLS LAST does", () => {
  assert.deepEqual(
    sentToLatest([{ code: "a", at: at(1), bikes: 1 }, { code: "a", at: null, bikes: 2 }]),
    [["a", at(1), 1]],
  );
  assert.deepEqual(
    sentToLatest([{ code: "a", at: null, bikes: 1 }, { code: "a", at: null, bikes: 2 }]),
    [["a", null, 2]],
  );
});

Deno.test("times not in toISOString's form leave the choice to PostgreSQL", () => {
  const sent = sentToLatest([
    { code: "a", at: "2024-05-28T22:01:00+02:00", bikes: 1 },
    { code: "a", at: at(0), bikes: 2 },
  ]);
  assert.equal(sent.length, 2);
});

Deno.test("without an earlier insert target converting its columns, every record is sent", () => {
  const sent = sentToLatest(
    [{ code: "a", at: at(1), bikes: 1 }, { code: "a", at: at(2), bikes: 2 }],
    [latest],
  );
  assert.equal(sent.length, 2);
});

Deno.test("an earlier insert target converting a column as another type keeps every record", () => {
  const textBikes: Target = {
    ...raw,
    columns: new Map([...raw.columns, ["bikes", TEXT]]),
  };
  const sent = sentToLatest(
    [{ code: "a", at: at(1), bikes: 1 }, { code: "a", at: at(2), bikes: 2 }],
    [textBikes, latest],
  );
  assert.equal(sent.length, 2);
});

Deno.test("records are grouped by the columns they have, absent ones left to their default", () => {
  const [encoded] = encode([{ code: "a", at: at(1) }, { code: "b", at: at(1), bikes: 2 }], [raw]);
  const groups = groupByShape(encoded, [0, 1]);
  assert.deepEqual(groups.map((group) => group.columns), [[0, 1], [0, 1, 2]]);
});

Deno.test("a record that is not an object, or has no column of a target, is named", () => {
  const failed = encodeRecords([{ value: [1] }, { value: { other: 1 } }], [raw]);
  assert.ok(failed instanceof BatchError);
  assert.deepEqual([...failed.failures.keys()], [0, 1]);
});

Deno.test("a lone surrogate is refused before PostgreSQL would store it altered", () => {
  const failed = encodeRecords([{ value: { code: "\ud800" } }], [raw]);
  assert.ok(failed instanceof BatchError);
  assert.match(failed.failures.get(0)!.message, /lone surrogate/);
});

Deno.test("COPY text escapes backslashes and control characters, and writes NULL as \\N", () => {
  const rows = [{ shape: 0, values: ["a\\b\nc\rd\te", null, false, 1.5] }];
  assert.equal(copyText(rows, [0, 1, 2, 3]), "a\\\\b\\nc\\rd\\te\t\\N\tf\t1.5\n");
});

Deno.test("array literals quote every element and escape quotes and backslashes", () => {
  const rows = [{ shape: 0, values: ['a"b\\c', true] }, { shape: 0, values: [undefined, 3] }];
  assert.deepEqual(arrayLiterals(rows, [0, 1]), ['{"a\\"b\\\\c",NULL}', '{"true","3"}']);
});

Deno.test("objects go to a JSON column, and to any other column, as their JSON text", () => {
  const doc: Target = {
    write: { table: "raw.d", mode: "insert", key: ["id"] },
    columns: new Map([["id", TEXT], ["doc", column("jsonb", true)]]),
  };
  const [encoded] = encode([{ id: { x: 1 }, doc: "text" }], [doc]);
  assert.deepEqual(encoded.rows[0].values, ['{"x":1}', '"text"']);
});
