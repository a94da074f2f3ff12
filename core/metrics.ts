/**
 * A small metrics registry, and the metrics the runner keeps in it.
 *
 * Counters, gauges and histograms with labels, written out in the Prometheus text exposition
 * format 0.0.4: what a `/metrics` endpoint serves and what node_exporter's textfile collector
 * reads. The names follow Prometheus's conventions: a `pipeline_` prefix, base units
 * (`_seconds`), `_total` on counters.
 *
 * @module
 */
import type { Source } from "./types.ts";

/** The content type of {@linkcode Registry.expose}'s text. */
export const EXPOSITION_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Label values by label name. */
export type Labels<L extends string> = { readonly [name in L]: string };

/** What every metric is declared with. */
export interface MetricOptions<L extends string> {
  /** The metric's name, e.g. `pipeline_records_read_total`. */
  name: string;
  /** One sentence for the `# HELP` line. */
  help: string;
  /** The names of its labels, in the order they are written. */
  labels: readonly L[];
}

/** What a histogram is declared with. */
export interface HistogramOptions<L extends string> extends MetricOptions<L> {
  /** The upper bounds of its buckets, ascending; `+Inf` is implied. */
  buckets: readonly number[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

abstract class Metric<L extends string, S> {
  abstract readonly type: "counter" | "gauge" | "histogram";
  readonly #series = new Map<string, { labels: string; state: S }>();

  constructor(readonly options: MetricOptions<L>) {
    if (!METRIC_NAME.test(options.name)) throw new TypeError(`Bad metric name: ${options.name}`);
    for (const label of options.labels) {
      if (!LABEL_NAME.test(label) || label.startsWith("__") || label === "le") {
        throw new TypeError(`Bad label name for ${options.name}: ${label}`);
      }
    }
  }

  protected abstract initial(): S;

  protected series(labels: Labels<L>): S {
    const values = this.options.labels.map((name) => labels[name]);
    const key = values.join("\u0000");
    let found = this.#series.get(key);
    if (found === undefined) {
      const pairs = this.options.labels.map((name, i) => `${name}="${escapeLabel(values[i])}"`);
      found = { labels: pairs.join(","), state: this.initial() };
      this.#series.set(key, found);
    }
    return found.state;
  }

  /** Forgets every series, e.g. before setting again the partitions a source now holds. */
  reset(): void {
    this.#series.clear();
  }

  protected abstract samples(labels: string, state: S): string[];

  expose(): string {
    const { name, help } = this.options;
    const lines = [`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${this.type}`];
    for (const { labels, state } of this.#series.values()) {
      lines.push(...this.samples(labels, state));
    }
    return lines.join("\n");
  }
}

/** A metric of one value per series: a counter or a gauge. */
abstract class ValueMetric<L extends string> extends Metric<L, { value: number }> {
  protected initial(): { value: number } {
    return { value: 0 };
  }
  protected samples(labels: string, state: { value: number }): string[] {
    return [`${this.options.name}${braces(labels)} ${formatValue(state.value)}`];
  }
}

/** A value that only goes up; see {@linkcode Registry.counter}. */
export class Counter<L extends string> extends ValueMetric<L> {
  readonly type = "counter";
  /** Adds `by` (at least 0) to the series of `labels`; creates it at 0 when `by` is 0. */
  inc(labels: Labels<L>, by = 1): void {
    if (!(by >= 0)) throw new RangeError(`A counter cannot go down: ${this.options.name} by ${by}`);
    this.series(labels).value += by;
  }
}

/** A value that is set; see {@linkcode Registry.gauge}. */
export class Gauge<L extends string> extends ValueMetric<L> {
  readonly type = "gauge";
  /** Sets the series of `labels` to `value`. */
  set(labels: Labels<L>, value: number): void {
    this.series(labels).value = value;
  }
}

interface HistogramState {
  counts: number[];
  sum: number;
  count: number;
}

/** Observations counted into buckets; see {@linkcode Registry.histogram}. */
export class Histogram<L extends string> extends Metric<L, HistogramState> {
  readonly type = "histogram";
  readonly #bounds: readonly number[];

  constructor(options: HistogramOptions<L>) {
    super(options);
    const { buckets } = options;
    if (buckets.some((bound, i) => i > 0 && !(bound > buckets[i - 1]))) {
      throw new TypeError(`The buckets of ${options.name} are not ascending.`);
    }
    this.#bounds = buckets;
  }
  protected initial(): HistogramState {
    return { counts: new Array(this.#bounds.length).fill(0), sum: 0, count: 0 };
  }
  /** Counts `value` in the series of `labels`. */
  observe(labels: Labels<L>, value: number): void {
    const state = this.series(labels);
    const bucket = this.#bounds.findIndex((bound) => value <= bound);
    if (bucket >= 0) state.counts[bucket]++;
    state.sum += value;
    state.count++;
  }
  protected samples(labels: string, state: HistogramState): string[] {
    const { name } = this.options;
    const lead = labels === "" ? "" : `${labels},`;
    let cumulative = 0;
    const lines = this.#bounds.map((bound, i) => {
      cumulative += state.counts[i];
      return `${name}_bucket{${lead}le="${formatValue(bound)}"} ${cumulative}`;
    });
    lines.push(`${name}_bucket{${lead}le="+Inf"} ${state.count}`);
    lines.push(`${name}_sum${braces(labels)} ${formatValue(state.sum)}`);
    lines.push(`${name}_count${braces(labels)} ${state.count}`);
    return lines;
  }
}

/**
 * The metrics of a process, written out together in the Prometheus text format.
 *
 * @example
 * ```ts
 * import { Registry } from "./metrics.ts";
 * import assert from "node:assert/strict";
 *
 * const registry = new Registry();
 * const read = registry.counter({ name: "app_read_total", help: "Reads.", labels: ["db"] });
 * read.inc({ db: "main" }, 2);
 * assert.equal(
 *   registry.expose(),
 *   '# HELP app_read_total Reads.\n# TYPE app_read_total counter\napp_read_total{db="main"} 2\n',
 * );
 * ```
 */
export class Registry {
  readonly #metrics = new Map<string, Metric<string, unknown>>();
  readonly #collectors: Array<() => void> = [];

  /** Declares a counter; a name can be declared once. */
  counter<L extends string>(options: MetricOptions<L>): Counter<L> {
    return this.#add(new Counter(options));
  }

  /** Declares a gauge; a name can be declared once. */
  gauge<L extends string>(options: MetricOptions<L>): Gauge<L> {
    return this.#add(new Gauge(options));
  }

  /** Declares a histogram; a name can be declared once. */
  histogram<L extends string>(options: HistogramOptions<L>): Histogram<L> {
    return this.#add(new Histogram(options));
  }

  /** Has `collect` called before every {@linkcode Registry.expose}, to set gauges read off. */
  onCollect(collect: () => void): void {
    this.#collectors.push(collect);
  }

  /** Every metric in the Prometheus text exposition format 0.0.4, in declaration order. */
  expose(): string {
    for (const collect of this.#collectors) collect();
    return [...this.#metrics.values()].map((metric) => `${metric.expose()}\n`).join("");
  }

  #add<M extends Metric<string, unknown>>(metric: M): M {
    const { name } = metric.options;
    if (this.#metrics.has(name)) throw new TypeError(`The metric ${name} is declared twice.`);
    this.#metrics.set(name, metric);
    return metric;
  }
}

function braces(labels: string): string {
  return labels === "" ? "" : `{${labels}}`;
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

function formatValue(value: number): string {
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

/** What the `pipeline_info` gauge says about the running build and its config. */
export interface BuildInfo {
  /** The project's version, e.g. from `deno.json`. */
  version: string;
  /** A digest of the config, to tell deployments apart; never the config itself. */
  configDigest: string;
}

/** Whether a run can do its work now, and why not; see {@linkcode RunMetrics.readiness}. */
export interface Readiness {
  /** Connected, writing, and not stuck. */
  ready: boolean;
  /** One sentence saying why, for a person reading the probe's answer. */
  reason: string;
}

/** Histogram buckets of a batch's time through the pipeline, in seconds. */
const BATCH_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
/** Histogram buckets of the data's age when it is committed, in seconds. */
const FRESHNESS_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400];

/**
 * The metrics of pipeline runs, which the runner keeps up to date (see `RunOptions.metrics`),
 * and the run's readiness, which they are a view of.
 *
 * Records are counted per pipeline and per stage, as a reject names its stage: `source <name>`,
 * `transform <name>`, `sink <name>`. Summed over stages, read, rejected, written (with one sink)
 * and acknowledged equal the run's `counters`.
 *
 * @example
 * ```ts
 * import { RunMetrics } from "./metrics.ts";
 * import assert from "node:assert/strict";
 *
 * const metrics = new RunMetrics({ version: "0.1.0", configDigest: "ab12" }, ["load"]);
 * assert.match(metrics.registry.expose(), /pipeline_info\{pipeline="load",version="0.1.0"/);
 * assert.equal(metrics.readiness().ready, false);
 * ```
 */
export class RunMetrics {
  /** Where the metrics are kept, to expose them. */
  readonly registry: Registry = new Registry();
  /** Records read, per stage. */
  readonly read: Counter<"pipeline" | "stage"> = this.registry.counter({
    name: "pipeline_records_read_total",
    help: "Records read from the source, rejects it decoded included.",
    labels: ["pipeline", "stage"],
  });
  /** Records set aside, per stage. */
  readonly rejected: Counter<"pipeline" | "stage"> = this.registry.counter({
    name: "pipeline_records_rejected_total",
    help: "Records written to the dead-letter sink, by the stage that rejected them.",
    labels: ["pipeline", "stage"],
  });
  /** Records written, per sink. */
  readonly written: Counter<"pipeline" | "stage"> = this.registry.counter({
    name: "pipeline_records_written_total",
    help: "Records each sink wrote; a batch handed back and written again counts again.",
    labels: ["pipeline", "stage"],
  });
  /** Records acknowledged to the source. */
  readonly acknowledged: Counter<"pipeline" | "stage"> = this.registry.counter({
    name: "pipeline_records_acknowledged_total",
    help: "Records whose batch the source acknowledged.",
    labels: ["pipeline", "stage"],
  });
  /** Batches read. */
  readonly batches: Counter<"pipeline"> = this.registry.counter({
    name: "pipeline_batches_total",
    help: "Batches read from the source.",
    labels: ["pipeline"],
  });
  /** Retries, per operation (`connect`, `write`, `step`) and component. */
  readonly retries: Counter<"pipeline" | "operation" | "component"> = this.registry.counter({
    name: "pipeline_retries_total",
    help: "Connections, sink writes and steps tried again after a failure.",
    labels: ["pipeline", "operation", "component"],
  });
  /** Batches handed back. */
  readonly nacks: Counter<"pipeline"> = this.registry.counter({
    name: "pipeline_nacks_total",
    help: "Batches handed back to the source (nacked) because a sink still failed after its " +
      "retries; the source delivers them again.",
    labels: ["pipeline"],
  });
  /** Time from read to acknowledgement. */
  readonly batchDuration: Histogram<"pipeline"> = this.registry.histogram({
    name: "pipeline_batch_duration_seconds",
    help: "Time from the source handing out a batch to its acknowledgement, per batch.",
    labels: ["pipeline"],
    buckets: BATCH_BUCKETS,
  });
  /** The data's age at commit. */
  readonly freshness: Histogram<"pipeline"> = this.registry.histogram({
    name: "pipeline_freshness_seconds",
    help: "Age of a batch's last record at its commit, from its event time " +
      "(runtime.metrics.eventTimeField), observed once per batch.",
    labels: ["pipeline"],
    buckets: FRESHNESS_BUCKETS,
  });
  /** Consumer lag. */
  readonly lag: Gauge<"pipeline" | "stream" | "partition"> = this.registry.gauge({
    name: "pipeline_source_lag_records",
    help: "Records in the source not yet acknowledged, per partition, where the source knows.",
    labels: ["pipeline", "stream", "partition"],
  });
  /** The last success. */
  readonly lastSuccess: Gauge<"pipeline"> = this.registry.gauge({
    name: "pipeline_last_success_timestamp_seconds",
    help: "When a batch was last acknowledged, or a batch run last ended well (Unix time).",
    labels: ["pipeline"],
  });
  readonly #info: Gauge<"pipeline" | "version" | "config_digest"> = this.registry.gauge({
    name: "pipeline_info",
    help: "The running build and config: always 1.",
    labels: ["pipeline", "version", "config_digest"],
  });
  #pipeline = "";
  /** The source of the run while it is connected; the lag is read off it at every scrape. */
  #source?: Pick<Source, "backlog" | "lag">;
  /** The reason each failing sink's last write threw, by sink. */
  readonly #failing = new Map<string, string>();
  #progressAt = 0;
  #stalledAfterMs = Infinity;

  /** Declares the metrics, with the info of the build running `pipelines`. */
  constructor(info: BuildInfo, pipelines: readonly string[]) {
    for (const pipeline of pipelines) {
      this.#info.set({ pipeline, version: info.version, config_digest: info.configDigest }, 1);
    }
    this.registry.onCollect(() => this.#readLag());
  }

  /**
   * Ready when every component is connected, no sink is failing (its last write threw, and it
   * is being retried or its batch handed back), and the run is not stuck: the source has not
   * reported records waiting while no batch was acknowledged for `stalledAfterMs`.
   */
  readiness(now: number = performance.now()): Readiness {
    if (this.#source === undefined) return { ready: false, reason: "Not connected." };
    const [failing] = this.#failing;
    if (failing !== undefined) {
      const [sink, reason] = failing;
      return { ready: false, reason: `Writing to sink ${sink} fails: ${reason}` };
    }
    const waiting = this.#source.backlog?.() ?? 0;
    const idleMs = now - this.#progressAt;
    if (waiting > 0 && idleMs > this.#stalledAfterMs) {
      return {
        ready: false,
        reason: `Stuck: ${waiting} record(s) wait, none acknowledged for ${Math.round(idleMs)} ms.`,
      };
    }
    return { ready: true, reason: "Connected and making progress." };
  }

  /** The runner has connected every component of `pipeline`: readiness now follows the run. */
  connected(
    pipeline: string,
    source: Pick<Source, "backlog" | "lag">,
    stalledAfterMs: number,
  ): void {
    this.#pipeline = pipeline;
    this.#source = source;
    this.#stalledAfterMs = stalledAfterMs;
    this.#progressAt = performance.now();
    // Series that exist from the start, so that an alert on their increase sees the first one.
    this.batches.inc({ pipeline }, 0);
    this.nacks.inc({ pipeline }, 0);
  }

  /** The runner is closing the components; the lag keeps its last reading. */
  closing(): void {
    this.#readLag();
    this.#source = undefined;
  }

  /** A write of `sink` failed with `reason`: unready until a write of that sink succeeds. */
  writeFailed(sink: string, reason: string): void {
    this.#failing.set(sink, reason);
  }

  /** A write of `sink` succeeded. */
  writeSucceeded(sink: string): void {
    this.#failing.delete(sink);
  }

  /** A batch was acknowledged, or a batch run ended well. */
  progressed(): void {
    this.#progressAt = performance.now();
    this.lastSuccess.set({ pipeline: this.#pipeline }, Date.now() / 1000);
  }

  #readLag(): void {
    if (this.#source?.lag === undefined) return;
    this.lag.reset();
    for (const { stream, partition, records } of this.#source.lag()) {
      this.lag.set({ pipeline: this.#pipeline, stream, partition: String(partition) }, records);
    }
  }
}
