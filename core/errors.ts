/**
 * Error classes for the conditions callers catch. Each carries a hint for the user and says,
 * once and where it is created, whether retrying can help.
 *
 * @module
 */
import { redact } from "./redact.ts";

/** Options shared by every pipeline error. */
export interface PipelineErrorOptions {
  /** What the user can do about it. */
  hint?: string;
  /**
   * Whether retrying may succeed (a dropped connection) or not (a bad config, a poison record).
   * @default {false}
   */
  transient?: boolean;
  /** The underlying error. */
  cause?: unknown;
}

/**
 * The base of the framework's errors: a message that says what happened and where, a hint, and
 * whether it is transient. Messages are redacted, so connection passwords never leak.
 *
 * @example Marking an error as worth retrying
 * ```ts
 * import { PipelineError } from "./errors.ts";
 * import assert from "node:assert/strict";
 *
 * const error = new PipelineError("The warehouse closed the connection.", {
 *   hint: "Check that PostgreSQL is up.",
 *   transient: true,
 * });
 * assert.equal(error.transient, true);
 * ```
 */
export class PipelineError extends Error {
  /** What the user can do about it. */
  readonly hint?: string;
  /** Whether retrying may succeed. */
  readonly transient: boolean;

  /** Creates an error; `message` is redacted. */
  constructor(message: string, options: PipelineErrorOptions = {}) {
    super(redact(message), { cause: options.cause });
    this.name = new.target.name;
    this.hint = options.hint === undefined ? undefined : redact(options.hint);
    this.transient = options.transient ?? false;
  }
}

/** One problem found in a configuration. */
export interface ConfigIssue {
  /** Where it is, e.g. `pipelines.load.sinks[0].url`. */
  path: string;
  /** What was expected there. */
  message: string;
}

/**
 * The configuration is invalid. Lists every problem with its path, so one run shows them all.
 *
 * @example Reporting a missing field
 * ```ts
 * import { ConfigError } from "./errors.ts";
 * import assert from "node:assert/strict";
 *
 * const error = new ConfigError("pipeline.config.ts", [
 *   { path: "pipelines.load.sinks[0].url", message: "expected a string, received undefined" },
 * ]);
 * assert.match(error.message, /pipelines\.load\.sinks\[0\]\.url/);
 * ```
 */
export class ConfigError extends PipelineError {
  /** Every problem found. */
  readonly issues: ConfigIssue[];

  /** Creates the error for the config at `where`. */
  constructor(where: string, issues: ConfigIssue[], options: PipelineErrorOptions = {}) {
    const lines = issues.map((issue) => `  - ${issue.path}: ${issue.message}`);
    super(`Invalid configuration in ${where}:\n${lines.join("\n")}`, {
      hint: "Fix the fields listed above; `deno task pipeline validate` checks the config " +
        "without running anything.",
      ...options,
      transient: false,
    });
    this.issues = issues;
  }
}

/**
 * What was asked cannot be done as asked: a window that ends before it starts, or that the
 * source no longer holds, a window for a step that takes none. Never transient; the CLI exits
 * with code 2, and the run has written nothing.
 *
 * @example
 * ```ts
 * import { BadRequest, isTransient } from "./errors.ts";
 * import assert from "node:assert/strict";
 *
 * const error = new BadRequest("--from must come before --to.", {
 *   hint: "Swap the two times.",
 * });
 * assert.equal(isTransient(error), false);
 * ```
 */
export class BadRequest extends PipelineError {
  /** Creates the error; never transient. */
  constructor(message: string, options: Omit<PipelineErrorOptions, "transient"> = {}) {
    super(message, { ...options, transient: false });
  }
}

/**
 * A component could not reach the system behind it. Transient: the runner retries connecting.
 *
 * @example
 * ```ts
 * import { ConnectionError } from "./errors.ts";
 * import assert from "node:assert/strict";
 *
 * const error = new ConnectionError("Could not reach postgres://u:pw@db/velib.", {
 *   hint: "Check DATABASE_URL.",
 * });
 * assert.equal(error.message, "Could not reach postgres://u:***@db/velib.");
 * assert.equal(error.transient, true);
 * ```
 */
export class ConnectionError extends PipelineError {
  /** Creates the error; transient unless said otherwise. */
  constructor(message: string, options: PipelineErrorOptions = {}) {
    super(message, { transient: true, ...options });
  }
}

/**
 * A sink failed on some records of a batch and not on the others. The runner dead-letters the
 * failed records and writes the rest again, except records whose error is a `PipelineError`
 * marked transient: those stay in the batch, and the write is retried. Name each failure with a
 * `PipelineError`, so that whether a retry may help is decided here, where the cause is known;
 * an error of any other class counts as terminal.
 *
 * @example Naming the record that failed
 * ```ts
 * import { BatchError, PipelineError } from "./errors.ts";
 * import assert from "node:assert/strict";
 *
 * const error = new BatchError("1 of 3 rows violated a constraint.").failed(
 *   2,
 *   new PipelineError("value too long for type character varying(10)", { transient: false }),
 * );
 * assert.deepEqual([...error.failures.keys()], [2]);
 * assert.ok(error.failures.get(2) instanceof PipelineError);
 * ```
 */
export class BatchError extends PipelineError {
  /** The failed records, by index in the batch's `messages`. */
  readonly failures: Map<number, Error> = new Map();

  /** Records that the record at `index` failed with `error`; returns `this` to chain. */
  failed(index: number, error: Error): this {
    this.failures.set(index, error);
    return this;
  }
}

/** The signals that stop a run, with the exit code each one maps to (128 + signal number). */
export const SHUTDOWN_SIGNALS = { SIGINT: 130, SIGTERM: 143 } as const;

/**
 * The reason a run was asked to stop: pass it to `AbortController.abort()`.
 *
 * @example
 * ```ts
 * import { ShutdownRequested } from "./errors.ts";
 * import assert from "node:assert/strict";
 *
 * const controller = new AbortController();
 * controller.abort(new ShutdownRequested("SIGTERM"));
 * assert.equal((controller.signal.reason as ShutdownRequested).exitCode, 143);
 * ```
 */
export class ShutdownRequested extends PipelineError {
  /** The signal received. */
  readonly signal: keyof typeof SHUTDOWN_SIGNALS;
  /** The conventional exit code for it. */
  readonly exitCode: number;

  /** Creates the reason for `signal`. */
  constructor(signal: keyof typeof SHUTDOWN_SIGNALS) {
    super(`Stopped by ${signal}.`, {
      hint: "The batch in flight was not acknowledged: the source delivers it again on the next " +
        "run (a source of snapshots, such as an API poller, takes a new one instead).",
    });
    this.signal = signal;
    this.exitCode = SHUTDOWN_SIGNALS[signal];
  }
}

/**
 * Describes any thrown value in one line with its hint, for logs and summaries. Redacted.
 *
 * @example
 * ```ts
 * import { describeError } from "./errors.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(describeError(new TypeError("bad")), { name: "TypeError", message: "bad" });
 * ```
 */
export function describeError(error: unknown): { name: string; message: string; hint?: string } {
  if (error instanceof PipelineError) {
    return error.hint === undefined
      ? { name: error.name, message: error.message }
      : { name: error.name, message: error.message, hint: error.hint };
  }
  if (error instanceof Error) return { name: error.name, message: redact(error.message) };
  return { name: "Error", message: redact(String(error)) };
}

/**
 * Whether retrying after `error` may help. Errors from outside the framework (a driver's socket
 * error, say) are presumed transient: the retry limit bounds the cost of being wrong.
 *
 * @example
 * ```ts
 * import { isTransient, PipelineError } from "./errors.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(isTransient(new Error("ECONNRESET")), true);
 * assert.equal(isTransient(new PipelineError("Bad config.")), false);
 * ```
 */
export function isTransient(error: unknown): boolean {
  return error instanceof PipelineError ? error.transient : true;
}
