/**
 * Redaction of credentials in connection strings.
 *
 * @module
 */

// scheme://user:password@host — the password is whatever sits between the first ':' after the
// user and the last '@' before the host, so passwords containing '@' or ':' are covered too, and
// spaces: a URL parser takes them unencoded, so a pasted URL with one connects (and gets logged).
const URL_CREDENTIALS = /([a-z][a-z0-9+.-]*:\/\/[^\s:/@]*:)[^\r\n/]*(@)/gi;
// key=value connection strings: password=secret
const KEYWORD_PASSWORD = /\b(password\s*=\s*)('[^']*'|\S+)/gi;

/**
 * Replaces every password in connection URLs (and `password=` pairs) found in `text` with `***`.
 *
 * Apply it to anything that may reach a log, an error message or a summary.
 *
 * @example Redacting a PostgreSQL URL
 * ```ts
 * import { redact } from "./redact.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(
 *   redact("connect to postgres://app:s3cret@db:5432/velib failed"),
 *   "connect to postgres://app:***@db:5432/velib failed",
 * );
 * assert.equal(redact("postgres://app:pasted with spaces@db/velib"), "postgres://app:***@db/velib");
 * ```
 */
export function redact(text: string): string {
  return text.replace(URL_CREDENTIALS, "$1***$2").replace(KEYWORD_PASSWORD, "$1***");
}
