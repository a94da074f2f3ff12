import { letterAsReject, sinkSuite } from "../../testing.ts";
import { scratch } from "./testing.ts";

interface Item {
  id: number;
  label: string;
}

sinkSuite<Item>({
  name: "clickhouse sink",
  make: async () => {
    const db = await scratch();
    const table = `${db.database}.items`;
    await db.query(
      `CREATE TABLE ${table} (id UInt32, label String) ENGINE = ReplacingMergeTree ORDER BY id`,
    );
    const sink = await db.sink({ writes: [{ table }] });
    return {
      sink,
      stored: () => db.query<Item>(`SELECT id, label FROM ${table} FINAL`),
      storedRejects: async () =>
        (await sink.listDeadLetters({}, new AbortController().signal)).map(letterAsReject),
      [Symbol.asyncDispose]: () => db[Symbol.asyncDispose](),
    };
  },
  record: (n) => ({ id: n, label: `synthetic item ${n}` }),
  // Text that is not valid Unicode: ClickHouse would store it altered.
  poison: (n) => ({ id: n, label: `half a pair \uD83D ${n}` }),
  idempotent: true,
});
