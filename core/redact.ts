/**
 * Redaction of credentials: the one redactor for everything that may reach a log, an error
 * message, a summary or a tool's output.
 *
 * @module
 */

// scheme://user:password@host — the password is whatever sits between the first ':' after the
// user and the last '@' before the host, so passwords containing '@' or ':' are covered too, and
// spaces: a URL parser takes them unencoded, so a pasted URL with one connects (and gets logged).
// It stops at '/', which ends the authority (so a second URL on the line is matched on its own),
// and at '"', which ends a JSON string: the JSON summary is redacted as a whole.
const URL_CREDENTIALS = /([a-z][a-z0-9+.-]*:\/\/[^\s:/@]*:)[^\r\n/"]*(@)/gi;
// The names of settings that hold a secret, as a key ends: password, PGPASSWORD, sasl.password,
// client_secret, AIRFLOW__SMTP__SMTP_PASSWORD, api_key, token.
const SECRET_KEY = String.raw`[\w.-]*(?:password|passwd|secret|token|api[_-]?key)`;
// key=value pairs (libpq conninfo, env files, URL queries, JDBC strings): a quoted value, else
// everything up to the next `key=`, a query or JDBC separator, the end of a JSON string or the
// end of the line. Spaces are taken in: `password=a b` is a password with a space to whoever
// pasted it.
const KEY_VALUE = new RegExp(
  String.raw`\b(${SECRET_KEY}\s*=\s*)('[^']*'|"[^"]*"|.*?(?=\s+[\w.-]+\s*=|[&;"\r\n]|$))`,
  "gi",
);
// "key": "value" in JSON, e.g. a logged config.
const JSON_MEMBER = new RegExp(String.raw`("${SECRET_KEY}"\s*:\s*)"(?:[^"\\]|\\.)*"`, "gi");

/**
 * Replaces every password in connection URLs, and the value of every secret setting
 * (`password=`, `token=`, `"client_secret": …`), found in `text` with `***`; and every one of
 * the `known` secrets wherever it appears, for text a client wrote from a secret it was given
 * (a driver may quote a password on its own, or a URL it has taken apart).
 *
 * Apply it to anything that may reach a log, an error message or a summary.
 *
 * @example Redacting a PostgreSQL URL and a conninfo string
 * ```ts
 * import { redact } from "./redact.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(
 *   redact("connect to postgres://app:s3cret@db:5432/velib failed"),
 *   "connect to postgres://app:***@db:5432/velib failed",
 * );
 * assert.equal(redact("postgres://u:p@ss@host/velib"), "postgres://u:***@host/velib");
 * assert.equal(redact("host=db password=a b user=app"), "host=db password=*** user=app");
 * assert.equal(redact("auth failed for s3cret", ["s3cret"]), "auth failed for ***");
 * ```
 */
export function redact(text: string, known: Iterable<string> = []): string {
  let redacted = text;
  for (const secret of known) {
    if (secret.length > 0) redacted = redacted.replaceAll(secret, "***");
  }
  return redacted
    .replace(URL_CREDENTIALS, "$1***$2")
    .replace(KEY_VALUE, "$1***")
    .replace(JSON_MEMBER, '$1"***"');
}
