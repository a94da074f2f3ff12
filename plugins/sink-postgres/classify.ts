/**
 * Turns what the `pg` driver throws into the framework's errors, deciding once whether a retry
 * can help. The server's SQLSTATE decides; the message text never does.
 *
 * @module
 */
import { ConnectionError, PipelineError } from "../../mod.ts";

const CONNECT_HINT = "Check that PostgreSQL is running and DATABASE_URL points at it.";

/**
 * The SQLSTATE the server sent with an error, or `undefined` for an error of the driver or the
 * network (which have no SQLSTATE; their `code` is an errno name such as `ECONNREFUSED`).
 *
 * @example
 * ```ts
 * import { sqlState } from "./classify.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(sqlState(Object.assign(new Error("x"), { code: "23505" })), "23505");
 * assert.equal(sqlState(Object.assign(new Error("x"), { code: "ECONNRESET" })), undefined);
 * ```
 */
export function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/**
 * Whether the connection that raised `error` can no longer be used: the network failed, or the
 * server ended the session. Such a client must be destroyed, not returned to the pool.
 *
 * @example
 * ```ts
 * import { isBrokenConnection } from "./classify.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(isBrokenConnection(new Error("Connection terminated unexpectedly")), true);
 * assert.equal(isBrokenConnection(Object.assign(new Error("x"), { code: "22001" })), false);
 * ```
 */
export function isBrokenConnection(error: unknown): boolean {
  const state = sqlState(error);
  return state === undefined || state.startsWith("08") || /^57P0[123]$/.test(state);
}

/**
 * Whether `error` is about the data of a record (SQLSTATE class 22, data exception, 23,
 * integrity constraint violation, or 54000, a value too large for an index entry), so that
 * finding the record and setting it aside can let the rest of the batch through.
 *
 * @example
 * ```ts
 * import { isRecordError } from "./classify.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(isRecordError(Object.assign(new Error("too long"), { code: "22001" })), true);
 * assert.equal(isRecordError(Object.assign(new Error("index row"), { code: "54000" })), true);
 * assert.equal(isRecordError(Object.assign(new Error("deadlock"), { code: "40P01" })), false);
 * ```
 */
export function isRecordError(error: unknown): boolean {
  const state = sqlState(error);
  return state !== undefined &&
    (state.startsWith("22") || state.startsWith("23") || state === "54000");
}

/**
 * Whether retrying the statement that raised `error` may succeed: the connection failed, the
 * transaction lost a serialization race or a deadlock, the server is restarting, a lock or a
 * resource was short, or the statement timed out.
 *
 * @example
 * ```ts
 * import { isTransientError } from "./classify.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(isTransientError(Object.assign(new Error("x"), { code: "40001" })), true);
 * assert.equal(isTransientError(Object.assign(new Error("x"), { code: "42P01" })), false);
 * ```
 */
export function isTransientError(error: unknown): boolean {
  const state = sqlState(error);
  if (state === undefined || isBrokenConnection(error)) return true;
  return state === "40001" || state === "40P01" || state === "55P03" || state === "57014" ||
    state.startsWith("53");
}

const messageOf = (error: unknown): string =>
  error instanceof Error ? error.message : String(error);

/**
 * The error for a failed attempt to reach the server at `server` (see `serverOf` in database.ts):
 * a transient {@linkcode ConnectionError}, unless the server answered that the credentials or
 * the database are wrong, which retrying cannot fix.
 *
 * @example
 * ```ts
 * import { connectFailure } from "./classify.ts";
 * import { ConnectionError } from "../../mod.ts";
 * import assert from "node:assert/strict";
 *
 * const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), {
 *   code: "ECONNREFUSED",
 * });
 * assert.ok(connectFailure(refused, "127.0.0.1:1/velib") instanceof ConnectionError);
 * const auth = Object.assign(new Error("password authentication failed"), { code: "28P01" });
 * assert.equal(connectFailure(auth, "db:5432/velib").transient, false);
 * ```
 */
export function connectFailure(error: unknown, server: string): PipelineError {
  const state = sqlState(error);
  const reason = messageOf(error);
  if (state === "28P01" || state === "28000") {
    return new PipelineError(`PostgreSQL at ${server} refused the login: ${reason}.`, {
      hint: "Check the user and password in DATABASE_URL, and that the user may log in.",
      cause: error,
    });
  }
  if (state === "3D000") {
    return new PipelineError(`PostgreSQL at ${server}: ${reason}.`, {
      hint: "Create the database, or fix its name at the end of DATABASE_URL.",
      cause: error,
    });
  }
  if (state === "42501") {
    return new PipelineError(`PostgreSQL at ${server} refused the connection: ${reason}.`, {
      hint: "Grant the user CONNECT on the database.",
      cause: error,
    });
  }
  return new ConnectionError(`Could not connect to PostgreSQL at ${server}: ${reason}.`, {
    hint: CONNECT_HINT,
    cause: error,
  });
}

/**
 * The error for a statement that failed as a whole, not because of one record: transient when
 * {@linkcode isTransientError} says so, terminal otherwise. `what` says what was being done.
 *
 * @example
 * ```ts
 * import { statementFailure } from "./classify.ts";
 * import assert from "node:assert/strict";
 *
 * const missing = Object.assign(new Error('relation "raw.t" does not exist'), { code: "42P01" });
 * const error = statementFailure(missing, "Writing a batch", "db:5432/velib");
 * assert.equal(error.transient, false);
 * assert.match(error.message, /^Writing a batch failed on PostgreSQL at db:5432\/velib/);
 * ```
 */
export function statementFailure(error: unknown, what: string, server: string): PipelineError {
  if (error instanceof PipelineError) return error;
  const transient = isTransientError(error);
  const hint = transient
    ? "PostgreSQL was unavailable or busy; retrying may succeed."
    : sqlState(error) === "42P01" || sqlState(error) === "42703"
    ? "Check the tables and columns against the sink's config, and that the migrations ran."
    : "This is not a problem with one record: check the table definitions and permissions.";
  return new PipelineError(`${what} failed on PostgreSQL at ${server}: ${messageOf(error)}.`, {
    hint,
    transient,
    cause: error,
  });
}
