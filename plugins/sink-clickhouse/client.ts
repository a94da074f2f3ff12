/**
 * The connection to a ClickHouse server, on the official client, and what its errors mean: the
 * server's error code (`Code: 252` in the message, since 18.16's errors reach the client as a
 * plain `Error`) or the network's errno decides whether a retry can help.
 *
 * @module
 */
import { type ClickHouseClient, ClickHouseLogLevel, createClient } from "@clickhouse/client";
import { ConnectionError, PipelineError } from "../../mod.ts";

/**
 * Server error codes a retry may get past: the server is busy or slow, or the request was cut.
 * Any other code is about the statement, the data or the credentials, and fails the same way
 * every time.
 */
const TRANSIENT_CODES = new Set([
  3, // UNEXPECTED_END_OF_FILE: the request was cut
  159, // TIMEOUT_EXCEEDED
  164, // READONLY: a replica or server in read-only mode for now
  202, // TOO_MANY_SIMULTANEOUS_QUERIES
  209, // SOCKET_TIMEOUT
  210, // NETWORK_ERROR
  241, // MEMORY_LIMIT_EXCEEDED
  242, // TABLE_IS_READ_ONLY
  252, // TOO_MANY_PARTS: inserts outpace merges
  319, // UNKNOWN_STATUS_OF_INSERT
  394, // QUERY_WAS_CANCELLED
]);

/** Codes that say the user or password is wrong, or the user may not do this. */
const AUTH_CODES = new Set([192, 193, 194, 195, 497, 516]);

/** The server's error code in a message, e.g. 62 in `Code: 62, e.displayText() = …`. */
function serverErrorCode(error: unknown): number | undefined {
  const message = error instanceof Error ? error.message : String(error);
  const match = /\bCode: (\d+)\b/.exec(message);
  return match ? Number(match[1]) : undefined;
}

/**
 * The server's part of the error message, without the exception class's noise: what a person
 * reads.
 */
function serverMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/^Code: \d+, e\.displayText\(\) = (DB::Exception: )?/, "")
    .replace(/,? e\.what\(\) = DB::Exception\s*$/, "").trim();
}

/**
 * `error` of the client, from doing `what` on `server`, as a framework error: transient for the
 * network, timeouts and an overloaded server; terminal with a hint for a bad statement, bad data
 * or bad credentials.
 *
 * @example
 * ```ts
 * import { classify } from "./client.ts";
 * import assert from "node:assert/strict";
 *
 * const busy = classify(new Error("Code: 252, e.displayText() = DB::Exception: Too many parts"), "An insert", "ch:8123");
 * assert.equal(busy.transient, true);
 * const syntax = classify(new Error("Code: 62, e.displayText() = DB::Exception: Syntax error"), "A query", "ch:8123");
 * assert.equal(syntax.transient, false);
 * const refused = classify(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }), "A query", "ch:8123");
 * assert.equal(refused.transient, true);
 * ```
 */
export function classify(error: unknown, what: string, server: string): PipelineError {
  if (error instanceof PipelineError) return error;
  const code = serverErrorCode(error);
  if (code === undefined) {
    const message = error instanceof Error ? error.message : String(error);
    return new ConnectionError(`${what} on ClickHouse at ${server} failed: ${message}`, {
      hint: "Check that ClickHouse is running and CLICKHOUSE_URL points at its HTTP port.",
      cause: error,
    });
  }
  const text = `${what} on ClickHouse at ${server} failed (code ${code}): ${serverMessage(error)}`;
  if (TRANSIENT_CODES.has(code)) {
    return new PipelineError(text, {
      transient: true,
      hint: "The server is busy or slow; the run retries.",
      cause: error,
    });
  }
  if (AUTH_CODES.has(code)) {
    return new PipelineError(text, {
      hint: "Check the user and password in CLICKHOUSE_URL, and the user's grants.",
      cause: error,
    });
  }
  return new PipelineError(text, {
    hint: "Fix the statement or the data: this fails the same way on every try.",
    cause: error,
  });
}

/**
 * `host:port` of a URL: how logs and errors name the server, without its credentials.
 *
 * @example
 * ```ts
 * import { serverOf } from "./client.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(serverOf("http://pipeline:secret@127.0.0.1:8123"), "127.0.0.1:8123");
 * ```
 */
export function serverOf(url: string): string {
  const parsed = new URL(url);
  return parsed.port ? `${parsed.hostname}:${parsed.port}` : parsed.hostname;
}

/**
 * A client for the server at `url`, its credentials taken out of the URL. Times are read with the
 * best-effort parser, so ISO text with `Z` or an offset is stored as the instant it names.
 * The client's own logging is off: its errors come back to us, classified and redacted.
 */
export function openClient(url: string, requestTimeoutMs: number): ClickHouseClient {
  const parsed = new URL(url);
  const username = decodeURIComponent(parsed.username) || "default";
  const password = decodeURIComponent(parsed.password);
  parsed.username = "";
  parsed.password = "";
  return createClient({
    url: parsed.toString(),
    username,
    password,
    request_timeout: requestTimeoutMs,
    application: "pipeline",
    log: { level: ClickHouseLogLevel.OFF },
    clickhouse_settings: { date_time_input_format: "best_effort" },
  });
}
