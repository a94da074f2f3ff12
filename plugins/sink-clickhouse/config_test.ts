import assert from "node:assert/strict";
import { configSchema, example } from "./config.ts";
import { clickhouseSink } from "./plugin.ts";

Deno.test("the example validates, with the defaults filled in", () => {
  const config = configSchema.parse(example);
  assert.equal(config.databasePrefix, "");
  assert.equal(config.requestTimeoutMs, 60_000);
});

Deno.test("CLICKHOUSE_URL and CLICKHOUSE_DATABASE_PREFIX override the config", () => {
  const sink = clickhouseSink(example);
  assert.deepEqual(
    sink.validate({ CLICKHOUSE_URL: "http://x:y@ch:8123", CLICKHOUSE_DATABASE_PREFIX: "t_1_" }),
    [],
  );
  const issues = sink.validate({ CLICKHOUSE_DATABASE_PREFIX: "Bad-Prefix" });
  assert.equal(issues.length, 1);
  assert.match(JSON.stringify(issues), /ending in _/);
});

Deno.test("a URL that is not ClickHouse's HTTP interface is refused without echoing its password", () => {
  for (
    const url of ["postgres://app:s3cret@db/velib", "http://app:s3cret@ch:8123/raw", "ch:8123"]
  ) {
    const result = configSchema.safeParse({ ...example, url });
    assert.equal(result.success, false, url);
    assert.doesNotMatch(JSON.stringify(result.error), /s3cret/);
  }
});

Deno.test("a table must be named with its database", () => {
  const result = configSchema.safeParse({ ...example, writes: [{ table: "station_snapshots" }] });
  assert.equal(result.success, false);
});
