/**
 * The contracts every plugin implements, and the shapes the runner reports.
 *
 * This is the one file of types in the core: everything else imports them from here.
 * Nothing here knows about any particular system a plugin talks to.
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import type { z } from "zod";
import type { retryPolicySchema, runtimeSchema } from "./schema.ts";

/** Exponential backoff settings; see `retryPolicySchema`. */
export type RetryPolicy = z.infer<typeof retryPolicySchema>;

/** How the runner runs a pipeline; see `runtimeSchema`. */
export type Runtime = z.infer<typeof runtimeSchema>;

/** How a pipeline ends: `stream` runs until a signal, `batch` until the source is drained. */
export type RunMode = "stream" | "batch";

/**
 * A position in a source that can be resumed from.
 *
 * `offset` is the position of the *next* record to read, not of the last one read, so a stored
 * cursor can be handed back to the source as it is. It is a decimal string because offsets of
 * some systems exceed `Number.MAX_SAFE_INTEGER`.
 */
export interface Cursor {
  /** The stream (topic, table, endpoint) the position belongs to. */
  stream: string;
  /** The partition of that stream; 0 where the source has none. */
  partition: number;
  /** The next offset to read. */
  offset: string;
}

/** One record travelling through a pipeline. */
export interface Message<T = unknown> {
  /** The payload. */
  value: T;
  /** The routing key, where the source or a sink uses one. */
  key?: string;
  /**
   * Where the record came from, so a dead letter can point back at it. Unlike a batch's
   * cursors, `origin.offset` is the record's own offset, not the next one.
   */
  origin?: Cursor;
  /**
   * The value as the source delivered it, before any transform, so that a record a sink refuses
   * is dead-lettered as it arrived and can be replayed. The runner sets it when the source did
   * not; a transform keeps it by building its output from the input (`{ ...message, value }`).
   */
  arrived?: unknown;
}

/**
 * A record that could not be processed, with the reason. It keeps the original payload so the
 * dead-letter sink stores what arrived, not what a transform made of it.
 */
export interface Reject {
  /** The payload as it arrived (parsed value, text, or bytes). */
  payload: unknown;
  /** Why it was rejected, in a sentence a user can act on. */
  reason: string;
  /** The component that rejected it, e.g. `transform enrich`. */
  stage: string;
  /** Where the record came from, when the source knows. */
  origin?: Cursor;
}

/**
 * What a source acknowledges once a batch is durably written.
 *
 * Called with no argument to commit, or with the error that stopped the batch (a nack). The
 * runner calls it at most once per batch, in the order the batches were read.
 *
 * After a nack, the source's next batch starts again from the nacked batch's first record (a
 * source whose data a newer read supersedes, such as a snapshot poller, may skip to new data
 * instead). Batches it handed out after the nacked one are void: the runner neither writes nor
 * acknowledges them, and their records come again.
 */
export type Ack = (error?: Error) => Promise<void>;

/** A batch read from a source. The acknowledgement travels with it. */
export interface Batch<T = unknown> {
  /** The records, in source order. */
  messages: Message<T>[];
  /** Records the source itself could not decode; they go to the dead-letter sink. */
  rejects?: Reject[];
  /** The positions to resume from once this batch is committed, one per partition touched. */
  cursors: Cursor[];
  /** Commit (no argument) or nack (an error) the batch. */
  ack: Ack;
}

/** The value a source returns from {@linkcode Source.read} when it has no more input. */
export const END_OF_INPUT: unique symbol = Symbol("end of input");

/** The type of {@linkcode END_OF_INPUT}. */
export type EndOfInput = typeof END_OF_INPUT;

/**
 * Where a bounded read of a source starts or stops: the oldest or the newest record it holds,
 * the first record at or after a time (ISO-8601), or an offset per partition.
 */
export type Position =
  | "earliest"
  | "latest"
  | { time: string }
  | { offsets: Record<string, string> };

/**
 * The part of a source a rerun reads: from `from` (included) to `to` (excluded), or, without
 * `to`, to where the source ended when the run started. A time selects records by their event
 * time where the source knows one.
 */
export interface ReadRange {
  /** Where reading starts. */
  from: Position;
  /** Where reading stops. @default {where the source ended at start} */
  to?: Position;
}

/** A span of data time, start included and end excluded. */
export interface TimeWindow {
  /** The first instant in the window. */
  from: Date;
  /** The first instant after it. */
  to: Date;
}

/** The data a step works on when it is told, instead of what was loaded since its last run. */
export interface StepScope {
  /** Recompute what overlaps this window. */
  window?: TimeWindow;
  /** Compute as of this instant, e.g. a past day's ranking. */
  at?: Date;
}

/** What the runner hands to every component when it connects it. */
export interface ComponentContext {
  /** The name of the pipeline being run. */
  pipeline: string;
  /** Identifies the run, e.g. in stored check results and replayed dead letters. */
  runId: string;
  /**
   * The name the run's source positions are kept under: the pipeline's name for a live run, and
   * `<pipeline>:rerun` for a rerun, so that a rerun never moves the live pipeline.
   */
  positions: string;
  /** How the run ends. */
  mode: RunMode;
  /** A logger scoped to the component. */
  logger: Logger;
  /** Aborted when the run is asked to stop. */
  signal: AbortSignal;
}

/** What the runner hands to a source when it connects it. */
export interface SourceContext extends ComponentContext {
  /**
   * Reads the positions the sinks stored in the same transactions as the data (see
   * {@linkcode Sink.loadCursors}). Empty when no sink stores them. When several do, it merges
   * them so that none misses a batch: per stream and partition, the lowest offset stored, and a
   * partition left out when one of them has no position for it (that sink has written nothing of
   * it: the source starts it from its own start). A source should call it whenever it (re)gains
   * a partition, since another instance may have moved it on.
   */
  loadCursors(): Promise<Cursor[]>;
  /**
   * Set for a rerun: read only this range, whatever the stored positions say, and move no
   * position of the live pipeline (such as a consumer group's offsets). Only set for a source
   * whose `seekable` is true.
   */
  range?: ReadRange;
}

/**
 * Optional lifecycle shared by every component: connect, do the work, close.
 *
 * `connect` is retried with backoff by the runner, so a plugin only needs to try once.
 * `close` must be safe to call more than once, and after a failed `connect`.
 */
export interface Lifecycle<C extends ComponentContext = ComponentContext> {
  /** Opens connections. Throw to have the runner retry with backoff. */
  connect?(ctx: C): Promise<void>;
  /** Releases everything. Idempotent. */
  close?(): Promise<void>;
  /**
   * A cheap round trip with the system behind the component (`SELECT 1`, a metadata request),
   * bounded by `signal`. Returns a one-line description of what answered.
   */
  health?(signal: AbortSignal): Promise<string>;
  /**
   * Creates or upgrades what the component keeps its data in (tables, by migrations) and
   * returns what it applied, e.g. `["app/0001_raw.sql"]`. `connect` does the same; the
   * `migrate` command calls only this.
   */
  migrate?(ctx: ComponentContext): Promise<string[]>;
}

/** How far a source's acknowledgements are behind the end of one partition. */
export interface PartitionLag {
  /** The stream (topic, table, endpoint). */
  stream: string;
  /** The partition; 0 where the source has none. */
  partition: number;
  /** Records after the last acknowledged one. */
  records: number;
}

/** Reads batches of records. */
export interface Source<T = unknown> extends Lifecycle<SourceContext> {
  /**
   * Resolves with the next batch, or {@linkcode END_OF_INPUT} when a `batch`-mode run has read
   * everything that was there when it started. Must return promptly once `signal` aborts.
   */
  read(signal: AbortSignal): Promise<Batch<T> | EndOfInput>;
  /** Records known to be waiting (e.g. consumer lag), for progress reports. */
  backlog?(): number | undefined;
  /** Per partition, the records not acknowledged yet (consumer lag), for metrics. */
  lag?(): PartitionLag[];
  /** Whether it can read a {@linkcode ReadRange} (see {@linkcode SourceContext.range}). */
  readonly seekable?: boolean;
}

/** The result of a transform: what goes on, and what goes to dead letters. */
export interface TransformResult<O = unknown> {
  /** Records that go on to the next stage. */
  messages: Message<O>[];
  /** Records that stop here, each with its reason. */
  rejects: Reject[];
}

/** Maps a batch of records to records plus rejects. Must not throw for a bad record. */
export interface Transform<I = unknown, O = unknown> extends Lifecycle {
  /** Processes one batch. */
  apply(messages: Message<I>[]): TransformResult<O> | Promise<TransformResult<O>>;
}

/** What a sink receives for one source batch. */
export interface SinkBatch<T = unknown> {
  /** The records to write. */
  messages: Message<T>[];
  /** Rejected records; non-empty only for the pipeline's dead-letter sink. */
  rejects: Reject[];
  /** The source positions this batch brings the pipeline to. */
  cursors: Cursor[];
}

/** Which dead letters to list or replay. */
export interface DeadLetterFilter {
  /** Only letters set aside at or after this instant. */
  since?: Date;
  /** Only letters whose reason contains this text, ignoring case. */
  reason?: string;
}

/** A record set aside by a run, as a dead-letter store keeps it. */
export interface DeadLetter {
  /** Identifies it in its store. */
  id: string;
  /** The component that rejected it. */
  stage: string;
  /** Why, as last tried. */
  reason: string;
  /** The payload as it arrived, as text (JSON-encoded when it was not text). */
  payload: string | null;
  /** Where it came from, when the source knew. */
  origin?: Cursor;
  /** When it was set aside (ISO-8601). */
  failedAt: string;
  /** When a replay wrote it, and the run that did; unset while it waits. */
  replayed?: { at: string; runId: string };
}

/** Writes batches durably. */
export interface Sink<T = unknown> extends Lifecycle {
  /**
   * Writes the whole batch atomically: all or nothing. Throw an error to fail the batch, or a
   * `BatchError` that names the records that failed. A sink that implements
   * {@linkcode Sink.loadCursors} writes `batch.cursors` in the same transaction as the rows; a
   * store without transactions writes them after every row, its tables keyed so that a batch
   * written twice collapses for its readers.
   */
  write(batch: SinkBatch<T>, signal: AbortSignal): Promise<void>;
  /**
   * The positions stored by earlier writes for this pipeline. The source resumes from the
   * lowest position any such sink of the pipeline stored (see
   * {@linkcode SourceContext.loadCursors}), so a sink that implements it may be handed again
   * batches it has written, after a crash between two sinks' writes: it must be idempotent, a
   * replayed batch leaving its store as it was.
   */
  loadCursors?(): Promise<Cursor[]>;
  /** The dead letters it stores for this pipeline, oldest first; replayed ones included. */
  listDeadLetters?(filter: DeadLetterFilter, signal: AbortSignal): Promise<DeadLetter[]>;
  /**
   * A source of the letters that wait for a replay, as the records they were. Once this sink
   * writes a letter's record, it marks the letter replayed in the same transaction; a letter
   * rejected again keeps its place with the new reason. Use only after `connect`.
   */
  replayDeadLetters?(filter: DeadLetterFilter): Source;
}

/** How serious a failed check is. */
export type Severity = "info" | "warn" | "error";

/** The structured outcome of one check. */
export interface CheckResult {
  /** The check's name. */
  name: string;
  /** How serious a failure is. */
  severity: Severity;
  /** Whether the observed value is within the threshold. */
  passed: boolean;
  /** What was measured. */
  observed: number | string | null;
  /** The limit it was held against. */
  threshold: number | string | null;
  /** One sentence for a person. */
  message: string;
}

/**
 * A component that can answer a query, such as a warehouse's sink: what a check measures the
 * data with, on whichever warehouse holds it. It runs what it is given; a caller that sends
 * statements of its own (a check recording its result in its own table) picks them by `dialect`.
 */
export interface QueryRunner {
  /** The query language it speaks, e.g. `postgres`. */
  readonly dialect: string;
  /**
   * Runs one statement with `params` bound to its placeholders (written as the dialect writes
   * them, e.g. `$1`) and resolves with the rows it returned, keyed by column. Use only after
   * `connect`; `signal` stops waiting for the answer.
   */
  query<R = Record<string, unknown>>(
    sql: string,
    params: readonly unknown[],
    signal: AbortSignal,
  ): Promise<R[]>;
}

/** What the runner hands to a check when it connects it. */
export interface CheckContext extends ComponentContext {
  /**
   * The pipeline's `warehouse`, connected (and so migrated) before the check and closed after
   * it: what a check that measures with a query runs it on. Unset when the pipeline names none.
   */
  warehouse?: QueryRunner;
}

/** Runs after loading and reports whether the data holds up. */
export interface Check extends Lifecycle<CheckContext> {
  /** Measures and judges; `runId` identifies the run, for a check that records its results. */
  run(signal: AbortSignal, runId: string): Promise<CheckResult>;
}

/** What a post-load step did. */
export interface StepResult {
  /** Rows inserted, updated or deleted. */
  rows: number;
  /** Anything else worth reporting. */
  details?: Record<string, unknown>;
}

/** A unit of work that runs after loading, such as refreshing an aggregate. */
export interface Step extends Lifecycle {
  /**
   * Does the work: on what was loaded since its last run, or on `scope` when given. The runner
   * only passes the parts of a scope the step `accepts`.
   */
  run(signal: AbortSignal, scope?: StepScope): Promise<StepResult>;
  /** Which parts of a {@linkcode StepScope} it takes; none when unset. */
  readonly accepts?: ReadonlyArray<keyof StepScope>;
}

/** Counts per stage, in records. */
export interface Counters {
  /** Batches read from the source. */
  batches: number;
  /** Records read from the source. */
  read: number;
  /** Records sent to the dead-letter sink. */
  rejected: number;
  /** Records written by every sink. */
  written: number;
  /** Records whose batch the source acknowledged. */
  acknowledged: number;
  /** Batches handed back to the source because a sink still failed after its retries. */
  nacked: number;
  /** Sink writes and connections retried. */
  retries: number;
}

/** Time spent per stage, in milliseconds. */
export interface Timings {
  /** Connecting every component. */
  connect: number;
  /** Waiting for the source. */
  read: number;
  /** Running transforms. */
  transform: number;
  /** Writing to sinks, retries included. */
  write: number;
  /** Acknowledging to the source. */
  ack: number;
  /** Post-load steps and checks. */
  postLoad: number;
}

/** Why a run ended. */
export type ExitReason = "drained" | "signal" | "failed" | "check_failed" | "bad_request";

/** The outcome of one run, also printed as the last line of the CLI's output. */
export interface RunResult {
  /** Identifies the run, e.g. in stored check results. */
  runId: string;
  /** The pipeline that ran. */
  pipeline: string;
  /** How it ran. */
  mode: RunMode;
  /** Why it ended. */
  exitReason: ExitReason;
  /** The process exit code this outcome maps to. */
  exitCode: number;
  /** When it started (ISO-8601). */
  startedAt: string;
  /** Wall time of the whole run. */
  durationMs: number;
  /** Records per stage. */
  counters: Counters;
  /** Milliseconds per stage. */
  timings: Timings;
  /** Post-load steps, by name. */
  steps: Array<{ name: string; durationMs: number } & StepResult>;
  /** Check outcomes. */
  checks: CheckResult[];
  /** The error that ended the run, if one did. */
  error?: { name: string; message: string; hint?: string };
}

/** A snapshot of a running pipeline, reported about once a second. */
export interface Progress {
  /** The pipeline. */
  pipeline: string;
  /** Counters so far. */
  counters: Counters;
  /** Records read per second since the start. */
  recordsPerSecond: number;
  /** Records still waiting at the source, where it knows. */
  backlog: number | undefined;
  /** Milliseconds since the start. */
  elapsedMs: number;
}

/** A component with the name that logs and results use for it. */
export interface Named<C> {
  /** How logs and results refer to it, e.g. `kafka` or `refresh-hourly`. */
  name: string;
  /** The component. */
  component: C;
}

/**
 * A pipeline ready to run: built components wired together. `loadConfig` builds it from
 * `pipeline.config.ts`; tests may build one by hand.
 */
export interface Pipeline {
  /** Its name in the config. */
  name: string;
  /** Where records come from. */
  source: Named<Source>;
  /** Applied in order to every batch. */
  transforms: Named<Transform>[];
  /** Every batch is written to each of them, in order, before it is acknowledged. */
  sinks: Named<Sink>[];
  /** Where rejects go. May be one of `sinks`: then rejects are written in the same call. */
  deadLetter: Named<Sink>;
  /** Run in order after a `batch` run has drained its source. */
  steps: Named<Step>[];
  /** Run after the steps. */
  checks: Named<Check>[];
  /**
   * Where the checks run their queries, usually one of `sinks`; the runner connects it before
   * them. Unset when the pipeline names none.
   */
  warehouse?: Named<Sink & QueryRunner>;
  /** Runner settings. */
  runtime: Runtime;
}
