/**
 * Metrics and health, end to end: a `stream` run of `load` (Kafka → a PostgreSQL server of the
 * test's own) serves `/metrics`, `/healthz` and `/readyz`, and a `batch` run writes the same
 * metrics to a textfile; both are read with Prometheus's own parser.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { startOwnPostgres } from "../faults/postgres_server.ts";
import {
  type Drill,
  drillOn,
  highWatermarks,
  Published,
  storedPositions,
  waitUntil,
} from "../faults/warehouse_audit.ts";
import { runCli, startCli } from "../support/cli.ts";
import { parsePrometheus, type Sample, sumOf } from "../support/prometheus.ts";

const CONFIG = ["--config", "tests/support/metrics.config.ts"];
const PARTITIONS = 2;

/** Whether the stored positions reached the topic's end on every partition. */
async function loadedAll(drill: Drill): Promise<boolean> {
  const ends = await highWatermarks(drill);
  const stored = await storedPositions(drill);
  return Object.entries(ends).every(([partition, end]) => stored[Number(partition)] === end);
}

/** A loopback port nothing listens on now. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

function envOf(drill: Drill): Record<string, string> {
  return { KAFKA_BROKERS: drill.brokers, DATABASE_URL: drill.databaseUrl, LOAD_TOPIC: drill.topic };
}

/** The status of `GET path`, or undefined while nothing answers. */
async function statusOf(url: string): Promise<number | undefined> {
  try {
    const response = await fetch(url);
    await response.body?.cancel();
    return response.status;
  } catch {
    return undefined;
  }
}

/** Asserts that the metrics sum, over stages, to the run's JSON summary counters. */
function assertMatchesCounters(samples: Sample[], counters: Record<string, number>): void {
  const pipeline = { pipeline: "load" };
  assert.deepEqual(
    {
      batches: sumOf(samples, "pipeline_batches_total", pipeline),
      read: sumOf(samples, "pipeline_records_read_total", pipeline),
      rejected: sumOf(samples, "pipeline_records_rejected_total", pipeline),
      written: sumOf(samples, "pipeline_records_written_total", pipeline),
      acknowledged: sumOf(samples, "pipeline_records_acknowledged_total", pipeline),
      nacked: sumOf(samples, "pipeline_nacks_total", pipeline),
      retries: sumOf(samples, "pipeline_retries_total", pipeline),
    },
    counters,
  );
}

Deno.test("stream --metrics serves metrics that Prometheus parses and that match the summary, and /readyz follows a warehouse outage", async () => {
  await using postgres = await startOwnPostgres();
  await using drill = drillOn(postgres.url, "metrics_stream", PARTITIONS);
  const published = new Published();
  await published.add(drill, 2, 7);
  const base = `http://127.0.0.1:${freePort()}`;
  const run = startCli(["stream", "load", ...CONFIG, "--metrics", base.slice(7)], {
    env: envOf(drill),
  });
  let exited = false;
  run.child.status.then(() => exited = true);
  try {
    await waitUntil("the backlog is loaded", () => loadedAll(drill), run);
    assert.equal(await statusOf(`${base}/healthz`), 200);
    assert.equal(await statusOf(`${base}/readyz`), 200);

    const response = await fetch(`${base}/metrics`);
    assert.equal(response.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
    const samples = await parsePrometheus(await response.text());
    const types = Object.fromEntries(samples.map((sample) => [sample.family, sample.type]));
    assert.equal(types.pipeline_records_read, "counter");
    assert.equal(types.pipeline_batch_duration_seconds, "histogram");
    assert.equal(types.pipeline_freshness_seconds, "histogram");
    assert.equal(sumOf(samples, "pipeline_records_written_total"), published.messages);
    const batches = sumOf(samples, "pipeline_batches_total");
    assert.equal(sumOf(samples, "pipeline_batch_duration_seconds_count"), batches);
    assert.equal(sumOf(samples, "pipeline_freshness_seconds_count"), batches);
    const lag = samples.filter((sample) => sample.name === "pipeline_source_lag_records");
    assert.deepEqual(lag.map((sample) => sample.labels.partition).sort(), ["0", "1"]);
    assert.deepEqual(lag.map((sample) => sample.value), [0, 0]);
    const last = sumOf(samples, "pipeline_last_success_timestamp_seconds");
    assert.ok(Math.abs(last - Date.now() / 1000) < 120, `last success at ${last}`);
    const [info] = samples.filter((sample) => sample.name === "pipeline_info");
    assert.equal(info.labels.version, "0.1.0");
    assert.match(info.labels.config_digest, /^[0-9a-f]{16}$/);

    await postgres.stop();
    await published.add(drill, 1, 8);
    await waitUntil(
      "/readyz turns unready",
      async () => await statusOf(`${base}/readyz`) === 503,
      run,
      { everyMs: 200, giveUpMs: 60_000 },
    );
    assert.equal(await statusOf(`${base}/healthz`), 200, "alive while unready");
    await postgres.start();
    await waitUntil("everything is loaded", () => loadedAll(drill), run, { everyMs: 200 });
    await waitUntil(
      "/readyz is ready again",
      async () => await statusOf(`${base}/readyz`) === 200,
      run,
      { everyMs: 200, giveUpMs: 60_000 },
    );

    const idle = await parsePrometheus(await (await fetch(`${base}/metrics`)).text());
    run.child.kill("SIGTERM");
    const stopped = await run.finished;
    assert.equal(stopped.code, 143, stopped.stderr);
    const counters = stopped.summary.counters as Record<string, number>;
    assert.ok(counters.retries > 0, "the outage was retried");
    assertMatchesCounters(idle, counters);
    assert.equal(await statusOf(`${base}/healthz`), undefined, "the server is closed");
  } finally {
    // A failed assertion must not leave the stream running; one that exited cannot be killed.
    if (!exited) run.child.kill("SIGKILL");
    await run.finished.catch(() => {});
  }
});

Deno.test("batch --metrics-file writes, atomically, a textfile Prometheus parses that matches the summary", async () => {
  await using postgres = await startOwnPostgres();
  await using drill = drillOn(postgres.url, "metrics_batch", PARTITIONS);
  const published = new Published();
  await published.add(drill, 2, 9);
  const dir = await Deno.makeTempDir();
  try {
    const file = join(dir, "velib_load.prom");
    const run = await runCli(["batch", "load", ...CONFIG, "--metrics-file", file], {
      env: envOf(drill),
    });
    assert.equal(run.code, 0, run.stderr);
    const samples = await parsePrometheus(await Deno.readTextFile(file));
    assertMatchesCounters(samples, run.summary.counters as Record<string, number>);
    assert.equal(sumOf(samples, "pipeline_records_written_total"), published.messages);
    assert.ok(sumOf(samples, "pipeline_last_success_timestamp_seconds") > 0);
    const left = [...Deno.readDirSync(dir)].map((entry) => entry.name);
    assert.deepEqual(left, ["velib_load.prom"], "no temporary file is left");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("stream --metrics refuses an address that is not host:port, with exit code 2", async () => {
  const run = await runCli(["stream", "load", ...CONFIG, "--metrics", "localhost"], {
    env: { LOAD_TOPIC: "unused" },
  });
  assert.equal(run.code, 2, run.stderr);
  assert.match(run.stderr, /--metrics must be host:port/);
});

Deno.test("--metrics-file goes with batch, run and rerun, not stream", async () => {
  const run = await runCli(["stream", "load", ...CONFIG, "--metrics-file", "x.prom"]);
  assert.equal(run.code, 2, run.stderr);
  assert.match(run.stderr, /--metrics-file goes with the batch, run and rerun commands/);
});
