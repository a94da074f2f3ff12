import assert from "node:assert/strict";
import { memoryPipeline, type MemorySource, memorySource } from "../../testing.ts";
import { type Message, runPipeline } from "../../mod.ts";
import { configSchema } from "./config.ts";
import { PostgresSink } from "./sink.ts";
import { type Scratch, scratch } from "./testing.ts";

const record = (offset: number, code: string): Message => ({
  value: { station_code: code, bikes: offset },
  origin: { stream: "memory", partition: 0, offset: String(offset) },
});

/** A sink for the runner to connect and close, writing to a table of its own. */
async function stationsSink(db: Scratch) {
  const table = db.table("stations");
  await db.query(`CREATE TABLE ${table} (station_code varchar(5) PRIMARY KEY, bikes int)`);
  const config = { url: db.url, writes: [{ table, mode: "insert", key: ["station_code"] }] };
  return { sink: new PostgresSink(configSchema.parse(config)), table };
}

Deno.test("runner dead-letters a poison record named by the postgres sink and loads the rest", async () => {
  await using db = await scratch();
  const { sink, table } = await stationsSink(db);
  const source = memorySource([[
    record(0, "16107"),
    record(1, "much-too-long"),
    record(2, "9020"),
  ]]);
  const pipeline = { ...memoryPipeline({ source, sinks: [sink] }), name: db.pipeline };
  const result = await runPipeline(pipeline, { mode: "batch" });
  assert.equal(result.exitCode, 0, JSON.stringify(result.error));
  assert.deepEqual(source.acked, [0]);
  assert.equal(result.counters.written, 2);
  assert.equal(result.counters.rejected, 1);
  assert.deepEqual(
    await db.query(`SELECT station_code FROM ${table} ORDER BY station_code`),
    [{ station_code: "16107" }, { station_code: "9020" }],
  );
  const [deadLetter] = await db.query<{ payload: string; reason: string; source_offset: string }>(
    "SELECT payload, reason, source_offset FROM pipeline.dead_letters WHERE pipeline = $1",
    [db.pipeline],
  );
  assert.deepEqual(JSON.parse(deadLetter.payload), { station_code: "much-too-long", bikes: 1 });
  assert.match(deadLetter.reason, /column station_code .*value too long/);
  assert.equal(deadLetter.source_offset, "1");
});

Deno.test("runner resumes a source from the cursors the postgres sink stored", async () => {
  await using db = await scratch();
  const { sink } = await stationsSink(db);
  const run = (source: MemorySource<unknown>) =>
    runPipeline({ ...memoryPipeline({ source, sinks: [sink] }), name: db.pipeline }, {
      mode: "batch",
    });
  const first = await run(memorySource([[record(0, "16107")], [record(1, "9020")]]));
  assert.equal(first.exitCode, 0, JSON.stringify(first.error));
  const second = memorySource<unknown>([]);
  await run(second);
  assert.deepEqual(second.resumedFrom, [{ stream: "memory", partition: 0, offset: "2" }]);
});
