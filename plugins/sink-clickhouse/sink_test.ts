import assert from "node:assert/strict";
import { ConnectionError, PipelineError } from "../../mod.ts";
import { testContext } from "../../testing.ts";
import { classify } from "./client.ts";
import { configSchema } from "./config.ts";
import { ClickhouseSink } from "./sink.ts";
import { clickhouseUrl, scratch } from "./testing.ts";

const signal = () => AbortSignal.timeout(10_000);

/** The test server's URL with another password. */
const withPassword = (password: string) => {
  const url = new URL(clickhouseUrl());
  url.password = password;
  return url.toString().replace(/\/$/, "");
};

Deno.test("health answers with the server's version, and with a wrong password fails without printing it", async () => {
  const ok = new ClickhouseSink(configSchema.parse({
    url: clickhouseUrl(),
    writes: [{ table: "raw.station_snapshots" }],
  }));
  assert.match(await ok.health(signal()), /^ClickHouse \d+\.\d+/);

  const secret = "wrong-secret-0123";
  const bad = new ClickhouseSink(configSchema.parse({
    url: withPassword(secret),
    writes: [{ table: "raw.station_snapshots" }],
  }));
  const error = await bad.health(signal()).catch((e) => e);
  assert.ok(error instanceof PipelineError);
  assert.equal(error.transient, false);
  assert.match(error.hint ?? "", /CLICKHOUSE_URL/);
  assert.doesNotMatch(`${error.message} ${error.hint} ${error.stack}`, new RegExp(secret));
});

Deno.test("a server that cannot be reached is a transient error", async () => {
  const sink = new ClickhouseSink(configSchema.parse({
    url: "http://pipeline:pw@127.0.0.1:1",
    writes: [{ table: "raw.station_snapshots" }],
  }));
  const error = await sink.health(signal()).catch((e) => e);
  assert.ok(error instanceof ConnectionError);
  assert.equal(error.transient, true);
});

Deno.test("server errors are transient for an overloaded server and terminal for a bad statement", () => {
  const at = (code: number) =>
    classify(new Error(`Code: ${code}, e.displayText() = DB::Exception: x`), "An insert", "ch");
  assert.equal(at(252).transient, true, "too many parts");
  assert.equal(at(159).transient, true, "timeout");
  assert.equal(at(62).transient, false, "syntax");
  assert.equal(at(53).transient, false, "type mismatch");
  assert.equal(at(516).transient, false, "authentication");
});

Deno.test("connecting to a table that does not exist fails with a hint to create it", async () => {
  await using db = await scratch();
  const sink = new ClickhouseSink(configSchema.parse({
    url: db.url,
    writes: [{ table: `${db.database}.missing` }],
  }));
  const error = await sink.connect(testContext(db.pipeline)).catch((e) => e);
  assert.ok(error instanceof PipelineError);
  assert.match(error.message, /does not exist/);
  assert.match(error.hint ?? "", /migration/);
  await sink.close();
});

Deno.test("positions only move forward, whatever order batches are written in", async () => {
  await using db = await scratch();
  const table = `${db.database}.items`;
  await db.query(`CREATE TABLE ${table} (id UInt32) ENGINE = ReplacingMergeTree ORDER BY id`);
  const sink = await db.sink({ writes: [{ table }] });
  const batch = (offset: string) => ({
    messages: [{ value: { id: Number(offset) } }],
    rejects: [],
    cursors: [{ stream: "s", partition: 0, offset }],
  });
  await sink.write(batch("20"), signal());
  await sink.write(batch("10"), signal());
  assert.deepEqual(await sink.loadCursors(), [{ stream: "s", partition: 0, offset: "20" }]);
});
