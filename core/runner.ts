/**
 * The runner: one loop for `stream` and `batch` runs, which differ only in how they end.
 *
 * A batch is read, transformed, written to every sink, and only then acknowledged. Up to
 * `runtime.maxInFlight` batches are read ahead of the one being written; reading pauses there.
 *
 * @module
 */
import { getLogger, type Logger } from "@logtape/logtape";
import {
  BadRequest,
  BatchError,
  describeError,
  isTransient,
  PipelineError,
  ShutdownRequested,
} from "./errors.ts";
import { literal } from "./log.ts";
import { eventTimeOf } from "./range.ts";
import type { RunMetrics } from "./metrics.ts";
import { redact } from "./redact.ts";
import { backoffDelay, retry, sleep } from "./retry.ts";
import {
  type Batch,
  type CheckResult,
  type Counters,
  type Cursor,
  END_OF_INPUT,
  type EndOfInput,
  type ExitReason,
  type Lifecycle,
  type Message,
  type Named,
  type Pipeline,
  type Progress,
  type ReadRange,
  type Reject,
  type RetryPolicy,
  type RunMode,
  type RunResult,
  type Sink,
  type StepScope,
  type Timings,
} from "./types.ts";

/** Options of {@linkcode runPipeline}. */
export interface RunOptions {
  /** How the run ends. */
  mode: RunMode;
  /** Abort it, with a `ShutdownRequested` reason, to stop the run gracefully. */
  signal?: AbortSignal;
  /** Called about once a second while records flow. */
  onProgress?: (progress: Progress) => void;
  /**
   * How often `onProgress` is called.
   * @default {1000}
   */
  progressIntervalMs?: number;
  /**
   * Which parts of a `batch` run to do, so that a scheduler can run each as a task of its own:
   * the loading, the steps named (all by default), the checks. What is left out is not even
   * connected.
   * @default {{ load: true, checks: true }}
   */
  parts?: RunParts;
  /**
   * Identifies the run, e.g. Airflow's DAG run id, so that what it records can be traced.
   * @default {a random UUID}
   */
  runId?: string;
  /**
   * Makes the run a rerun: the source reads only this range, and the run's positions are kept
   * under `<pipeline>:rerun`, so that the live pipeline reads next exactly what it would have
   * read without it. Needs a `seekable` source.
   */
  range?: ReadRange;
  /** What the steps that accept one work on, e.g. the window a rerun loaded. */
  scope?: StepScope;
  /** Where the run counts what it does, and says whether it is ready. */
  metrics?: RunMetrics;
}

/** The parts of a batch run; see {@linkcode RunOptions.parts}. */
export interface RunParts {
  /** Read the source and write the sinks. */
  load: boolean;
  /**
   * The steps to run after loading, by name, in the pipeline's order.
   * @default {every step}
   */
  steps?: string[];
  /** Run the checks, after the steps. */
  checks: boolean;
}

/** Exit codes, as documented in the README. */
export const EXIT_CODES = { ok: 0, failure: 1, usage: 2, checkFailed: 3 } as const;

/**
 * Under which name a run keeps its source positions; see {@linkcode ComponentContext.positions}.
 *
 * @example
 * ```ts
 * import { positionsKey } from "./runner.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(positionsKey("load", undefined), "load");
 * assert.equal(positionsKey("load", { from: "earliest" }), "load:rerun");
 * ```
 */
export function positionsKey(pipeline: string, range: ReadRange | undefined): string {
  return range === undefined ? pipeline : `${pipeline}:rerun`;
}

/**
 * Runs a pipeline until its source is drained (`batch`) or the signal aborts (`stream`), then,
 * in `batch` mode, its steps and checks. Never throws: every outcome is in the result.
 *
 * @example A batch run over in-memory components
 * ```ts
 * import { runPipeline } from "./runner.ts";
 * import { memoryPipeline, memorySink, memorySource } from "./memory.ts";
 * import assert from "node:assert/strict";
 *
 * const sink = memorySink();
 * const source = memorySource([[{ value: 1 }, { value: 2 }]]);
 * const pipeline = memoryPipeline({ source, sinks: [sink] });
 * const result = await runPipeline(pipeline, { mode: "batch" });
 * assert.equal(result.exitCode, 0);
 * assert.equal(sink.written.length, 2);
 * ```
 */
export async function runPipeline(pipeline: Pipeline, options: RunOptions): Promise<RunResult> {
  const run = new Run(pipeline, options);
  return await run.execute();
}

class Run {
  readonly #pipeline: Pipeline;
  readonly #options: RunOptions;
  readonly #log: Logger;
  readonly #stop = new AbortController();
  /** Batches handed back since the last one written: each waits longer before the next try. */
  #handBacksInARow = 0;
  readonly #counters: Counters = {
    batches: 0,
    read: 0,
    rejected: 0,
    written: 0,
    acknowledged: 0,
    nacked: 0,
    retries: 0,
  };
  readonly #timings: Timings = { connect: 0, read: 0, transform: 0, write: 0, ack: 0, postLoad: 0 };
  readonly #steps: RunResult["steps"] = [];
  readonly #checks: CheckResult[] = [];
  readonly #connected: Lifecycle[] = [];
  readonly #startedAt = new Date();
  readonly #start = performance.now();
  readonly #load: boolean;
  readonly #runId: string;
  readonly #stepsToRun: Pipeline["steps"];
  readonly #checksToRun: Pipeline["checks"];
  readonly #metrics?: RunMetrics;

  constructor(pipeline: Pipeline, options: RunOptions) {
    this.#pipeline = pipeline;
    this.#options = options;
    this.#runId = options.runId ?? crypto.randomUUID();
    const parts = options.parts ?? { load: true, checks: true };
    this.#load = parts.load;
    this.#stepsToRun = pipeline.steps.filter((step) => parts.steps?.includes(step.name) ?? true);
    this.#checksToRun = parts.checks ? pipeline.checks : [];
    this.#log = getLogger(["pipeline", pipeline.name]);
    this.#metrics = options.metrics;
  }

  async execute(): Promise<RunResult> {
    const external = this.#options.signal;
    const forward = () => this.#stop.abort(external!.reason);
    if (external?.aborted) forward();
    external?.addEventListener("abort", forward, { once: true });
    const progress = this.#startProgress();
    let reason: ExitReason = "drained";
    let failure: unknown;
    const { name } = this.#pipeline;
    const { mode } = this.#options;
    this.#log.info(`Running ${name} in ${mode} mode.`, { pipeline: name, mode });
    try {
      await this.#connectAll();
      const { source, runtime } = this.#pipeline;
      this.#metrics?.connected(name, source.component, runtime.metrics.stalledAfterMs);
      const drained = !this.#load || await this.#pump();
      if (!drained) reason = "signal";
      else if (this.#options.mode === "batch") reason = await this.#postLoad();
    } catch (error) {
      failure = error;
      // The internal signal only aborts on a shutdown request, which wins over what it caused.
      reason = this.#stop.signal.aborted
        ? "signal"
        : error instanceof BadRequest
        ? "bad_request"
        : "failed";
    } finally {
      clearInterval(progress);
      external?.removeEventListener("abort", forward);
      this.#metrics?.closing();
      await this.#closeAll();
    }
    if (reason === "signal") failure = this.#stop.signal.reason;
    const result = this.#result(reason, failure);
    if (this.#load && result.exitCode === EXIT_CODES.ok) this.#metrics?.progressed();
    const level = result.exitCode === EXIT_CODES.ok ? "info" : "error";
    this.#log[level](
      `Finished ${result.pipeline}: ${result.exitReason} (exit code ${result.exitCode}).`,
      { ...result },
    );
    return result;
  }

  // --- connecting and closing ---

  async #connectAll(): Promise<void> {
    const started = performance.now();
    const p = this.#pipeline;
    const { mode, range } = this.#options;
    const base = {
      pipeline: p.name,
      mode,
      signal: this.#stop.signal,
      runId: this.#runId,
      positions: positionsKey(p.name, range),
    };
    // The warehouse goes before the checks that query it, which are handed it connected.
    const warehouse = this.#checksToRun.length > 0 ? p.warehouse : undefined;
    const others: Named<Lifecycle>[] = [
      ...this.#load ? [...p.sinks, p.deadLetter, ...p.transforms] : [],
      ...this.#stepsToRun,
      ...warehouse === undefined ? [] : [warehouse],
    ];
    for (const named of unique(others)) {
      await this.#connect(named, (logger) => named.component.connect?.({ ...base, logger }));
    }
    const checks = warehouse === undefined ? base : { ...base, warehouse: warehouse.component };
    for (const named of unique(this.#checksToRun)) {
      await this.#connect(named, (logger) => named.component.connect?.({ ...checks, logger }));
    }
    if (!this.#load) {
      this.#timings.connect = performance.now() - started;
      return;
    }
    // Every sink that stores positions, each once: the source resumes from the lowest.
    const cursorStores = unique(p.sinks).filter((sink) => sink.component.loadCursors);
    const loadCursors = async (): Promise<Cursor[]> =>
      lowestCursors(
        await Promise.all(cursorStores.map(({ component }) => component.loadCursors!())),
      );
    if (range !== undefined && !p.source.component.seekable) {
      throw new BadRequest(
        `The source ${p.source.name} of pipeline ${p.name} cannot read a range of positions.`,
        { hint: "Rerun a pipeline whose source can seek, such as kafkaSource({...})." },
      );
    }
    await this.#connect(
      p.source,
      (logger) =>
        p.source.component.connect?.({
          ...base,
          logger,
          loadCursors,
          ...(range === undefined ? {} : { range }),
        }),
    );
    this.#timings.connect = performance.now() - started;
  }

  async #connect(
    named: Named<Lifecycle>,
    connect: (logger: Logger) => Promise<void> | undefined,
  ): Promise<void> {
    const logger = this.#log.getChild(named.name);
    // Registered before connecting: close() must also clean up after a failed connect.
    this.#connected.push(named.component);
    const policy = this.#pipeline.runtime.connectRetry;
    try {
      await this.#retry(
        { operation: "connect", name: named.name },
        policy,
        () => connect(logger) ?? Promise.resolve(),
      );
    } catch (error) {
      if (this.#stop.signal.aborted) throw this.#stop.signal.reason;
      if (error instanceof BadRequest) throw error;
      const cause = describeError(error);
      // A terminal error is not retried: it failed on the first attempt.
      const tried = isTransient(error) ? ` after ${policy.attempts} attempt(s)` : "";
      throw new PipelineError(
        `Could not connect ${named.name}${tried}: ${cause.message}`,
        {
          hint: cause.hint ?? "Check that the service is up and that its address is right.",
          cause: error,
        },
      );
    }
  }

  async #closeAll(): Promise<void> {
    const timeoutMs = this.#pipeline.runtime.closeTimeoutMs;
    for (const component of this.#connected.reverse()) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        await Promise.race([
          component.close?.(),
          new Promise((_, reject) => {
            timer = setTimeout(
              () => reject(new Error(`close took over ${timeoutMs} ms`)),
              timeoutMs,
            );
          }),
        ]);
      } catch (error) {
        this.#log.warn("A component did not close cleanly: {error}", {
          error: describeError(error),
        });
      } finally {
        clearTimeout(timer);
      }
    }
  }

  // --- the loop ---

  /** Reads and writes until the source is drained (true) or the run is stopped (false). */
  async #pump(): Promise<boolean> {
    const window = new ReadAhead(this.#pipeline, this.#stop.signal, this.#timings);
    const limit = this.#pipeline.runtime.maxInFlight;
    window.fill(limit);
    while (!this.#stop.signal.aborted) {
      const next = await window.next();
      if (next === END_OF_INPUT) return true;
      const { batch } = next;
      const read = batch.messages.length + (batch.rejects?.length ?? 0);
      this.#counters.batches++;
      this.#counters.read += read;
      if (this.#metrics) {
        const { pipeline, stage } = this.#sourceLabels();
        this.#metrics.batches.inc({ pipeline });
        this.#metrics.read.inc({ pipeline, stage }, read);
      }
      // The batch being processed counts against the limit too.
      window.fill(limit - 1);
      try {
        await this.#process(batch, next.readAt);
      } catch (error) {
        if (!(error instanceof WriteFailed)) throw error;
        await this.#handBack(batch, error.cause, window);
      }
    }
    return false;
  }

  /**
   * Nacks a batch whose write failed after its retries. A `batch` run then fails. A `stream` run
   * goes on when the failure is transient: the source delivers the batch again (or, for a
   * snapshot poller, moves on to the next snapshot).
   */
  async #handBack(batch: Batch, cause: unknown, window: ReadAhead): Promise<void> {
    const goOn = this.#options.mode === "stream" && isTransient(cause);
    // Batches read after this one are void once it is nacked: the source delivers them again.
    // Dropping them before the nack keeps their cursors from being stored past this batch.
    if (goOn) window.discardRead();
    await batch.ack(cause instanceof Error ? cause : new Error(String(cause)));
    this.#counters.nacked++;
    this.#metrics?.nacks.inc({ pipeline: this.#pipeline.name });
    if (!goOn) throw cause;
    const { message } = describeError(cause);
    // The write's own retries start small again on every batch; without a pause growing from
    // where they ended, a long outage would be tried (and logged) every few seconds.
    const policy = this.#pipeline.runtime.writeRetry;
    const delayMs = backoffDelay(policy, policy.attempts + this.#handBacksInARow++);
    this.#log.error(
      `A batch of ${batch.messages.length} record(s) was not written: ${literal(message)} ` +
        `It was handed back to the source; the stream goes on in ${delayMs} ms.`,
      { error: message, records: batch.messages.length, delayMs },
    );
    await sleep(delayMs, this.#stop.signal);
  }

  /** Writes and acknowledges a batch the source handed out at `readAt` (`performance.now()`). */
  async #process(batch: Batch, readAt: number): Promise<void> {
    const stop = this.#stop.signal;
    for (const message of batch.messages) {
      if (message.arrived === undefined) message.arrived = message.value;
    }
    const transformed = await this.#transform(batch);
    try {
      await this.#write(transformed, batch.cursors);
    } catch (error) {
      if (stop.aborted) throw stop.reason;
      throw new WriteFailed("write failed", { cause: error });
    }
    const committedAt = Date.now();
    // Stopping mid-write leaves the batch unacknowledged: it is read again on the next run.
    if (stop.aborted) throw stop.reason;
    const started = performance.now();
    await batch.ack();
    this.#handBacksInARow = 0;
    const acknowledged = batch.messages.length + (batch.rejects?.length ?? 0);
    this.#timings.ack += performance.now() - started;
    this.#counters.acknowledged += acknowledged;
    if (this.#metrics) {
      const labels = this.#sourceLabels();
      const { pipeline } = labels;
      this.#metrics.acknowledged.inc(labels, acknowledged);
      this.#metrics.batchDuration.observe({ pipeline }, (performance.now() - readAt) / 1000);
      const field = this.#pipeline.runtime.metrics.eventTimeField;
      // The last record only: per batch, so that the hot path stays free of per-record work.
      const eventTime = field === undefined
        ? undefined
        : eventTimeOf(transformed.messages.at(-1)?.value, field);
      if (eventTime !== undefined) {
        this.#metrics.freshness.observe({ pipeline }, (committedAt - eventTime) / 1000);
      }
      this.#metrics.progressed();
    }
  }

  #sourceLabels(): { pipeline: string; stage: string } {
    return { pipeline: this.#pipeline.name, stage: `source ${this.#pipeline.source.name}` };
  }

  async #transform(batch: Batch): Promise<{ messages: Message[]; rejects: Reject[] }> {
    const started = performance.now();
    let messages = batch.messages;
    const rejects = [...(batch.rejects ?? [])];
    for (const { name, component } of this.#pipeline.transforms) {
      try {
        const result = await component.apply(messages);
        messages = result.messages;
        rejects.push(...result.rejects);
      } catch (error) {
        throw new PipelineError(
          `Transform ${name} threw instead of rejecting: ${describeError(error).message}`,
          {
            hint: "A transform must turn a bad record into a reject; this is a bug in the plugin.",
            cause: error,
          },
        );
      }
    }
    this.#timings.transform += performance.now() - started;
    return { messages, rejects };
  }

  /**
   * Writes rejects to the dead-letter sink and records to every sink. Records that a sink fails
   * terminally (a `BatchError`) become rejects too, so one poison record cannot jam the run.
   */
  async #write(
    batch: { messages: Message[]; rejects: Reject[] },
    cursors: Cursor[],
  ): Promise<void> {
    const started = performance.now();
    const { sinks, deadLetter } = this.#pipeline;
    let messages = batch.messages;
    let unwritten = batch.rejects; // rejects not yet in the dead-letter sink
    const deadLettered: Reject[] = [];
    const writeDeadLetters = async () => {
      await this.#writeOne(deadLetter, { messages: [], rejects: unwritten, cursors: [] });
      deadLettered.push(...unwritten);
      unwritten = [];
    };
    const deadLetterIsASink = sinks.some((sink) => sink.component === deadLetter.component);
    if (!deadLetterIsASink && unwritten.length > 0) await writeDeadLetters();
    for (const sink of sinks) {
      const isDeadLetter = sink.component === deadLetter.component;
      const written = await this.#writeOne(sink, {
        messages,
        rejects: isDeadLetter ? unwritten : [],
        cursors,
      });
      messages = written.messages;
      if (isDeadLetter) {
        deadLettered.push(...written.rejects);
        unwritten = [];
      } else {
        unwritten = [...unwritten, ...written.isolated];
      }
    }
    if (unwritten.length > 0) await writeDeadLetters();
    this.#counters.written += messages.length;
    this.#counters.rejected += deadLettered.length;
    if (this.#metrics) {
      const pipeline = this.#pipeline.name;
      for (const { stage } of deadLettered) this.#metrics.rejected.inc({ pipeline, stage });
    }
    this.#timings.write += performance.now() - started;
  }

  /**
   * Writes one sink, retrying transient failures with backoff. When the sink names records in a
   * `BatchError`, they are taken out (and, for the dead-letter sink, added to its rejects) and
   * the rest is written again at once; only records whose error is a `PipelineError` marked
   * transient stay in, and the write is retried with them (see `poisonOf`). A failed record's
   * reject carries its value as it `arrived`, not as the transforms made it, so that it can be
   * replayed.
   */
  async #writeOne(
    sink: Named<Sink>,
    batch: { messages: Message[]; rejects: Reject[]; cursors: Cursor[] },
  ): Promise<{ messages: Message[]; rejects: Reject[]; isolated: Reject[] }> {
    let { messages, rejects } = batch;
    const isolated: Reject[] = [];
    const keepsRejects = sink.component === this.#pipeline.deadLetter.component;
    for (;;) {
      try {
        const action = { operation: "write", name: sink.name } as const;
        await this.#retry(action, this.#pipeline.runtime.writeRetry, async () => {
          try {
            const attempt = { messages, rejects, cursors: batch.cursors };
            await sink.component.write(attempt, this.#stop.signal);
          } catch (error) {
            // Records a sink refuses are theirs to blame, not the sink's: it still writes.
            if (error instanceof BatchError && poisonOf(error).length > 0) throw error;
            const { message } = describeError(error);
            this.#metrics?.writeFailed(sink.name, redact(message));
            if (!(error instanceof BatchError)) throw error;
            throw new PipelineError(error.message, { transient: true, cause: error });
          }
        });
        this.#metrics?.written.inc(
          { pipeline: this.#pipeline.name, stage: `sink ${sink.name}` },
          messages.length,
        );
        this.#metrics?.writeSucceeded(sink.name);
        return { messages, rejects, isolated };
      } catch (error) {
        if (!(error instanceof BatchError) || this.#stop.signal.aborted) throw error;
        const poison = poisonOf(error);
        const failed = new Set(poison.map(([index]) => index));
        const found = poison.map(([index, cause]): Reject => ({
          payload: messages[index].arrived ?? messages[index].value,
          reason: describeError(cause).message,
          stage: `sink ${sink.name}`,
          origin: messages[index].origin,
        }));
        this.#log.warn(
          `Sink ${sink.name} failed ${found.length} record(s); they go to dead letters.`,
          { sink: sink.name, count: found.length },
        );
        isolated.push(...found);
        messages = messages.filter((_, index) => !failed.has(index));
        if (keepsRejects) rejects = [...rejects, ...found];
      }
    }
  }

  // --- after loading ---

  async #postLoad(): Promise<ExitReason> {
    const started = performance.now();
    const signal = this.#stop.signal;
    for (const { name, component } of this.#stepsToRun) {
      const stepStarted = performance.now();
      const scope = scopeFor(component.accepts, this.#options.scope);
      const result = await this.#retry(
        { operation: "step", name },
        this.#pipeline.runtime.writeRetry,
        () => scope === undefined ? component.run(signal) : component.run(signal, scope),
      );
      this.#steps.push({
        name,
        durationMs: Math.round(performance.now() - stepStarted),
        ...result,
      });
    }
    for (const { component } of this.#checksToRun) {
      this.#checks.push(await component.run(signal, this.#runId));
    }
    this.#timings.postLoad = performance.now() - started;
    const failed = this.#checks.some((check) => check.severity === "error" && !check.passed);
    return failed ? "check_failed" : "drained";
  }

  // --- helpers ---

  #retry<T>(action: Action, policy: RetryPolicy, fn: () => Promise<T>): Promise<T> {
    const what = `${action.operation} ${action.name}`;
    return retry(fn, policy, {
      signal: this.#stop.signal,
      onRetry: ({ error, attempt, delayMs }) => {
        this.#counters.retries++;
        this.#metrics?.retries.inc({
          pipeline: this.#pipeline.name,
          operation: action.operation,
          component: action.name,
        });
        const message = describeError(error).message;
        this.#log.warn(
          `Could not ${what} (attempt ${attempt} of ${policy.attempts}): ${literal(message)} ` +
            `Retrying in ${delayMs} ms.`,
          { what, attempt, attempts: policy.attempts, error: message, delayMs },
        );
      },
    });
  }

  #startProgress(): ReturnType<typeof setInterval> | undefined {
    const { onProgress, progressIntervalMs = 1000 } = this.#options;
    if (!onProgress) return undefined;
    return setInterval(() => {
      const elapsedMs = performance.now() - this.#start;
      onProgress({
        pipeline: this.#pipeline.name,
        counters: { ...this.#counters },
        recordsPerSecond: this.#counters.read / Math.max(elapsedMs / 1000, 0.001),
        backlog: this.#pipeline.source.component.backlog?.(),
        elapsedMs,
      });
    }, progressIntervalMs);
  }

  #result(exitReason: ExitReason, failure: unknown): RunResult {
    const exitCode = exitReason === "drained"
      ? EXIT_CODES.ok
      : exitReason === "check_failed"
      ? EXIT_CODES.checkFailed
      : exitReason === "bad_request"
      ? EXIT_CODES.usage
      : exitReason === "signal" && failure instanceof ShutdownRequested
      ? failure.exitCode
      : EXIT_CODES.failure;
    const round = (ms: number) => Math.round(ms);
    const t = this.#timings;
    return {
      runId: this.#runId,
      pipeline: this.#pipeline.name,
      mode: this.#options.mode,
      exitReason,
      exitCode,
      startedAt: this.#startedAt.toISOString(),
      durationMs: round(performance.now() - this.#start),
      counters: { ...this.#counters },
      timings: {
        connect: round(t.connect),
        read: round(t.read),
        transform: round(t.transform),
        write: round(t.write),
        ack: round(t.ack),
        postLoad: round(t.postLoad),
      },
      steps: this.#steps,
      checks: this.#checks,
      ...(failure === undefined ? {} : { error: describeError(failure) }),
    };
  }
}

/**
 * Reads ahead of the batch being processed. Reads are issued one after the other, never
 * concurrently, and stop for good once the source reports the end of its input.
 */
class ReadAhead {
  readonly #pending: Array<{ read: Promise<Settled>; settled: boolean }> = [];
  #last: Promise<unknown> = Promise.resolve();
  #ended = false;

  constructor(
    readonly pipeline: Pipeline,
    readonly signal: AbortSignal,
    readonly timings: Timings,
  ) {}

  /** Issues reads until `count` are pending. */
  fill(count: number): void {
    while (this.#pending.length < count && !this.#ended && !this.signal.aborted) {
      const entry = { read: this.#last.then(() => this.#read()), settled: false };
      entry.read.then(() => entry.settled = true);
      this.#last = entry.read;
      this.#pending.push(entry);
    }
  }

  /** Drops the batches the source has already handed out; reads still under way are kept. */
  discardRead(): void {
    while (this.#pending[0]?.settled) this.#pending.shift();
  }

  /**
   * The next batch in source order, with when the source handed it out (`performance.now()`),
   * or the end of input. Throws what the source threw.
   */
  async next(): Promise<{ batch: Batch; readAt: number } | EndOfInput> {
    this.fill(1);
    const settled = await this.#pending.shift()!.read;
    if ("error" in settled) throw settled.error;
    return settled.value === END_OF_INPUT
      ? END_OF_INPUT
      : { batch: settled.value, readAt: settled.readAt };
  }

  async #read(): Promise<Settled> {
    if (this.#ended || this.signal.aborted) return { value: END_OF_INPUT, readAt: 0 };
    const started = performance.now();
    try {
      const value = await this.pipeline.source.component.read(this.signal);
      if (value === END_OF_INPUT) this.#ended = true;
      return { value, readAt: performance.now() };
    } catch (error) {
      this.#ended = true;
      return { error: this.signal.aborted ? this.signal.reason : error };
    } finally {
      this.timings.read += performance.now() - started;
    }
  }
}

/** A write that failed after its retries; the cause is what the sink last threw. */
class WriteFailed extends Error {}

/**
 * The records of a `BatchError` to dead-letter, by index: all of them but those whose error is a
 * `PipelineError` marked transient, which are written again. A sink that names a record has
 * looked at it, so an error of any other class (a plain `Error`, a driver's) is taken as that
 * record's own fault: presuming it transient, as {@linkcode isTransient} does for a failed
 * batch, would retry the same record until the run fails, naming no record.
 */
function poisonOf(error: BatchError): Array<[number, Error]> {
  return [...error.failures].filter(([, cause]) =>
    !(cause instanceof PipelineError && cause.transient)
  );
}

/**
 * Where a source resumes when several sinks store positions: per stream and partition, the
 * lowest offset any of them stored, so that none of them misses a batch (a crash between two
 * sinks' writes leaves them apart; replaying to the one ahead is harmless, since a sink that
 * stores positions is idempotent). A partition one of them has no position for is left out:
 * that sink has written nothing of it, so the source starts it from its own start.
 */
function lowestCursors(stored: Cursor[][]): Cursor[] {
  if (stored.length === 0) return [];
  const key = (cursor: Cursor) => JSON.stringify([cursor.stream, cursor.partition]);
  const lowest = new Map(stored[0].map((cursor) => [key(cursor), cursor]));
  for (const cursors of stored.slice(1)) {
    const own = new Map(cursors.map((cursor) => [key(cursor), cursor]));
    for (const [at, cursor] of lowest) {
      const other = own.get(at);
      if (other === undefined) lowest.delete(at);
      else if (BigInt(other.offset) < BigInt(cursor.offset)) lowest.set(at, other);
    }
  }
  return [...lowest.values()];
}

type Settled = { value: Batch | EndOfInput; readAt: number } | { error: unknown };

/** What the runner retries: connecting a component, writing a sink, or running a step. */
interface Action {
  operation: "connect" | "write" | "step";
  name: string;
}

/** The parts of `scope` a step accepts; undefined when none is left. */
function scopeFor(
  accepts: ReadonlyArray<keyof StepScope> | undefined,
  scope: StepScope | undefined,
): StepScope | undefined {
  if (scope === undefined || accepts === undefined) return undefined;
  const kept = Object.fromEntries(
    Object.entries(scope).filter(([part]) => accepts.includes(part as keyof StepScope)),
  );
  return Object.keys(kept).length === 0 ? undefined : kept;
}

function unique<C>(items: Named<C>[]): Named<C>[] {
  const seen = new Set<C>();
  return items.filter((item) => !seen.has(item.component) && seen.add(item.component));
}
