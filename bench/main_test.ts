/**
 * `deno task bench --size small` end to end, on the test run's Kafka, PostgreSQL and ClickHouse: every
 * benchmark runs and reports every figure with its references. No figure is judged here.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { requiredEnv } from "../core/testing.ts";

const MAIN = new URL("./main.ts", import.meta.url).pathname;

Deno.test("deno task bench --size small prints and writes every figure beside its references", async () => {
  requiredEnv("KAFKA_BROKERS", "a Kafka broker");
  requiredEnv("DATABASE_URL", "a PostgreSQL server");
  requiredEnv("CLICKHOUSE_URL", "a ClickHouse server");
  const dir = await Deno.makeTempDir({ prefix: "velib-bench-test-" });
  const out = join(dir, "RESULTS.md");
  try {
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", MAIN, "--size", "small", "--out", out],
      stdin: "null",
    }).output();
    const printed = new TextDecoder().decode(stdout);
    assert.equal(code, 0, new TextDecoder().decode(stderr).split("\n").slice(-20).join("\n"));
    const written = await Deno.readTextFile(out);
    for (
      const figure of [
        /pipeline batch load \([\d,]+ msgs\)\s+msg\/s(\s+[\d,.]+){3}/,
        /ceiling: psql \\copy of the enriched rows\s+msg\/s(\s+[\d,.]+){3}/,
        /pipeline batch load-clickhouse \([\d,]+ msgs\)\s+msg\/s(\s+[\d,.]+){3}/,
        /load-clickhouse ÷ load \(PostgreSQL\)\s+ratio(\s+[\d,.]+){3}/,
        /naive loader \(first [\d,]+ msgs\)\s+msg\/s(\s+[\d,.]+){3}/,
        /seed-style loader, ours \(first [\d,]+ msgs\)\s+msg\/s(\s+[\d,.]+){3}/,
        /pipeline ÷ seed-style loader\s+ratio(\s+[\d,.]+){3}/,
        /kafka connect \(debezium jdbc sink, 44,130 msgs, JSON-with-schema copy\)\s+msg\/s(\s+[\d,.]+){3}/,
        /pipeline ÷ kafka connect\s+ratio(\s+[\d,.]+){3}/,
        /peak RSS, kafka connect, 44,130 msgs\s+MB(\s+[\d,.]+){3}/,
        /peak RSS, naive loader, [\d,]+ msgs\s+MB(\s+[\d,.]+){3}/,
        /peak RSS, seed-style loader, [\d,]+ msgs\s+MB(\s+[\d,.]+){3}/,
        /peak RSS, load-clickhouse, 44,130 msgs\s+MB(\s+[\d,.]+){3}/,
        /^\[(met|missed)\]\s+pipeline ≥ 2 × Kafka Connect/m,
        /peak RSS, [\d,]+ msgs\s+MB(\s+[\d,.]+){3}/,
        /p99 over the cycles of a run\s+ms(\s+[\d,.]+){3}/,
        /refresh hourly/,
        /naive: REFRESH MATERIALIZED VIEW hourly/,
        /kafkajs/,
        /@platformatic\/kafka/,
      ]
    ) {
      assert.match(printed, figure);
    }
    const targets = printed.match(/^\[(met|missed)\]/gm) ?? [];
    assert.ok(targets.length >= 7, `expected every target judged, got:\n${printed}`);
    for (const title of ["Catch-up", "Stream freshness", "Gold", "Kafka client"]) {
      assert.match(written, new RegExp(`^## .*${title}`, "im"));
    }
    assert.match(written, /\| target \| observed \(median\) \| met \|/);
    assert.match(written, /pipeline ÷ kafka connect/);
    assert.match(written, /JSON-with-schema copy/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
