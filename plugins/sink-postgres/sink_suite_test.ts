import { letterAsReject, sinkSuite } from "../../testing.ts";
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
        (await sink.listDeadLetters({}, new AbortController().signal)).map(letterAsReject),
      [Symbol.asyncDispose]: () => db[Symbol.asyncDispose](),
    };
  },
  record: (n) => ({ id: n, label: `synthetic item ${n}` }),
  poison: (n) => ({ id: n, label: null }),
  idempotent: true,
});
