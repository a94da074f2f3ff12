import type { DeadLetter, Reject } from "../../mod.ts";
import { sinkSuite } from "../../testing.ts";
import { scratch } from "./testing.ts";

interface Item {
  id: number;
  label: string | null;
}

sinkSuite<Item>({
  name: "postgres sink",
  make: async () => {
    const db = await scratch();
    const table = db.table("items");
    await db.query(`CREATE TABLE ${table} (id int PRIMARY KEY, label text NOT NULL)`);
    const sink = await db.sink({ writes: [{ table, mode: "insert", key: ["id"] }] });
    return {
      sink,
      stored: () => db.query<Item>(`SELECT id, label FROM ${table}`),
      storedRejects: async () =>
        (await sink.listDeadLetters({}, new AbortController().signal)).map(asReject),
      [Symbol.asyncDispose]: () => db[Symbol.asyncDispose](),
    };
  },
  record: (n) => ({ id: n, label: `synthetic item ${n}` }),
  poison: (n) => ({ id: n, label: null }),
  idempotent: true,
});

/** A dead letter as the reject it was: its payload parsed back when it was stored as JSON. */
function asReject(letter: DeadLetter): Reject {
  let payload: unknown = letter.payload;
  try {
    payload = letter.payload === null ? null : JSON.parse(letter.payload);
  } catch {
    // Stored as the text it was.
  }
  return { payload, reason: letter.reason, stage: letter.stage, origin: letter.origin };
}
