import assert from "node:assert/strict";
import { PipelineError } from "./errors.ts";
import { memoryPipeline, memorySink, memorySource, rejectingTransform } from "./memory.ts";
import { Registry, RunMetrics } from "./metrics.ts";
import { runPipeline } from "./runner.ts";
import type { Message } from "./types.ts";

const INFO = { version: "1.2.3", configDigest: "00ff" };
const records = (...values: number[]): Message<number>[] => values.map((value) => ({ value }));

/** The value of the sample written exactly as `series`, e.g. `x_total{a="b"}`. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((line) => line.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

Deno.test("registry writes HELP and TYPE before the samples of each metric", () => {
  const registry = new Registry();
  registry.gauge({ name: "queue_depth", help: "Items queued.", labels: [] }).set({}, 3);
  assert.equal(
    registry.expose(),
    "# HELP queue_depth Items queued.\n# TYPE queue_depth gauge\nqueue_depth 3\n",
  );
});

Deno.test("registry escapes backslashes, quotes and newlines in label values, and in help", () => {
  const registry = new Registry();
  const counter = registry.counter({ name: "x_total", help: 'a\\b\nc "d"', labels: ["path"] });
  counter.inc({ path: 'C:\\dir\n"q"' });
  const text = registry.expose();
  assert.match(text, /^# HELP x_total a\\\\b\\nc "d"$/m);
  assert.match(text, /^x_total\{path="C:\\\\dir\\n\\"q\\""\} 1$/m);
});

Deno.test("counter keeps one series per label values and refuses to go down", () => {
  const registry = new Registry();
  const counter = registry.counter({ name: "y_total", help: "Y.", labels: ["a"] });
  counter.inc({ a: "1" });
  counter.inc({ a: "1" }, 2);
  counter.inc({ a: "2" }, 0);
  const text = registry.expose();
  assert.equal(sample(text, 'y_total{a="1"}'), 3);
  assert.equal(sample(text, 'y_total{a="2"}'), 0);
  assert.throws(() => counter.inc({ a: "1" }, -1), RangeError);
});

Deno.test("histogram writes cumulative buckets, +Inf, sum and count", () => {
  const registry = new Registry();
  const histogram = registry.histogram({
    name: "wait_seconds",
    help: "Waits.",
    labels: ["q"],
    buckets: [0.1, 1],
  });
  for (const value of [0.05, 0.5, 0.7, 3]) histogram.observe({ q: "a" }, value);
  const text = registry.expose();
  assert.equal(sample(text, 'wait_seconds_bucket{q="a",le="0.1"}'), 1);
  assert.equal(sample(text, 'wait_seconds_bucket{q="a",le="1"}'), 3);
  assert.equal(sample(text, 'wait_seconds_bucket{q="a",le="+Inf"}'), 4);
  assert.equal(sample(text, 'wait_seconds_sum{q="a"}'), 4.25);
  assert.equal(sample(text, 'wait_seconds_count{q="a"}'), 4);
});

Deno.test("registry refuses a metric declared twice, a bad name, and the reserved label le", () => {
  const registry = new Registry();
  registry.counter({ name: "z_total", help: "Z.", labels: [] });
  assert.throws(() => registry.gauge({ name: "z_total", help: "Z.", labels: [] }), /twice/);
  assert.throws(() => registry.gauge({ name: "1z", help: "Z.", labels: [] }), /Bad metric name/);
  assert.throws(
    () => registry.histogram({ name: "h", help: "H.", labels: ["le"], buckets: [1] }),
    /Bad label name/,
  );
});

Deno.test("registry calls its collectors before writing, so read-off gauges are current", () => {
  const registry = new Registry();
  const gauge = registry.gauge({ name: "now_items", help: "Items.", labels: [] });
  let items = 1;
  registry.onCollect(() => gauge.set({}, items));
  items = 7;
  assert.equal(sample(registry.expose(), "now_items"), 7);
});

Deno.test("run metrics count per stage what the run's counters count in all", async () => {
  const sink = memorySink();
  const pipeline = memoryPipeline({
    source: memorySource([records(1, 2, 3), records(4, 5)]),
    transforms: [rejectingTransform((value: number) => value % 2 === 0, "even")],
    sinks: [sink],
  });
  const metrics = new RunMetrics(INFO, [pipeline.name]);
  const result = await runPipeline(pipeline, { mode: "batch", metrics });
  const text = metrics.registry.expose();
  const on = (stage: string) => `{pipeline="memory",stage="${stage}"}`;
  assert.equal(sample(text, `pipeline_records_read_total${on("source memory-source")}`), 5);
  assert.equal(
    sample(text, `pipeline_records_rejected_total${on("transform memory")}`),
    result.counters.rejected,
  );
  assert.equal(
    sample(text, `pipeline_records_written_total${on("sink sink-0")}`),
    result.counters.written,
  );
  assert.equal(
    sample(text, `pipeline_records_acknowledged_total${on("source memory-source")}`),
    result.counters.acknowledged,
  );
  assert.equal(sample(text, 'pipeline_batches_total{pipeline="memory"}'), 2);
  assert.equal(sample(text, 'pipeline_batch_duration_seconds_count{pipeline="memory"}'), 2);
});

Deno.test("run metrics observe freshness from the event time field of each batch's last record", async () => {
  const now = Date.now();
  const pipeline = memoryPipeline({
    source: memorySource([[{ value: { at: new Date(now - 60_000).toISOString() } }]]),
    sinks: [memorySink()],
    runtime: { metrics: { eventTimeField: "at" } },
  });
  const metrics = new RunMetrics(INFO, [pipeline.name]);
  await runPipeline(pipeline, { mode: "batch", metrics });
  const text = metrics.registry.expose();
  assert.equal(sample(text, 'pipeline_freshness_seconds_count{pipeline="memory"}'), 1);
  const age = sample(text, 'pipeline_freshness_seconds_sum{pipeline="memory"}')!;
  assert.ok(age >= 60 && age < 70, `age ${age}`);
});

Deno.test("run metrics count retries by operation and component, and hand-backs as nacks", async () => {
  let failures = 2;
  const sink = memorySink({
    beforeWrite: () => {
      if (failures-- > 0) throw new PipelineError("Down.", { transient: true });
    },
  });
  const pipeline = memoryPipeline({
    source: memorySource([records(1)]),
    sinks: [sink],
    runtime: { writeRetry: { attempts: 2, initialDelayMs: 1, maxDelayMs: 1 } },
  });
  const metrics = new RunMetrics(INFO, [pipeline.name]);
  const result = await runPipeline(pipeline, { mode: "batch", metrics });
  const text = metrics.registry.expose();
  const retries = 'pipeline_retries_total{pipeline="memory",operation="write",component="sink-0"}';
  assert.equal(sample(text, retries), result.counters.retries);
  assert.equal(sample(text, 'pipeline_nacks_total{pipeline="memory"}'), result.counters.nacked);
  assert.equal(result.counters.nacked, 1);
});

Deno.test("run metrics are unready while a sink's writes fail, and ready again once one succeeds", async () => {
  let down = true;
  const seen: boolean[] = [];
  const metrics = new RunMetrics(INFO, ["memory"]);
  const sink = memorySink({
    beforeWrite: () => {
      seen.push(metrics.readiness().ready);
      if (down) {
        down = false;
        throw new PipelineError("Down.", { transient: true });
      }
    },
  });
  const pipeline = memoryPipeline({
    source: memorySource([records(1), records(2)]),
    sinks: [sink],
  });
  await runPipeline(pipeline, { mode: "batch", metrics });
  assert.deepEqual(seen, [true, false, true]);
});

Deno.test("run metrics are unready before connecting and after closing", async () => {
  const metrics = new RunMetrics(INFO, ["memory"]);
  assert.deepEqual(metrics.readiness(), { ready: false, reason: "Not connected." });
  const pipeline = memoryPipeline({ source: memorySource([records(1)]), sinks: [memorySink()] });
  await runPipeline(pipeline, { mode: "batch", metrics });
  assert.equal(metrics.readiness().ready, false);
});

Deno.test("run metrics are unready when records wait and none was acknowledged for the bound", () => {
  const metrics = new RunMetrics(INFO, ["memory"]);
  metrics.connected("memory", { backlog: () => 5 }, 1_000);
  const now = performance.now();
  assert.equal(metrics.readiness(now).ready, true);
  assert.match(metrics.readiness(now + 2_000).reason, /^Stuck: 5 record\(s\) wait/);
  metrics.progressed();
  assert.equal(metrics.readiness(performance.now() + 500).ready, true);
});

Deno.test("run metrics read the source's lag per partition at every scrape", () => {
  const metrics = new RunMetrics(INFO, ["memory"]);
  let records = 4;
  metrics.connected("memory", { lag: () => [{ stream: "t", partition: 1, records }] }, 1_000);
  records = 9;
  const series = 'pipeline_source_lag_records{pipeline="memory",stream="t",partition="1"}';
  assert.equal(sample(metrics.registry.expose(), series), 9);
});

Deno.test("run metrics give the build and config in pipeline_info", () => {
  const text = new RunMetrics(INFO, ["a"]).registry.expose();
  assert.equal(sample(text, 'pipeline_info{pipeline="a",version="1.2.3",config_digest="00ff"}'), 1);
});
