/**
 * The binder: the one way a value gets into SQL text. ClickHouse 18.16 has no query parameters,
 * so placeholders (`$1` for a list of values, `{name}` for named ones) are replaced on the
 * client by literals, each written so that ClickHouse reads back exactly the value given:
 * strings quoted with every backslash, quote and control character escaped, numbers as
 * numbers, booleans as 1 and 0, `null` as NULL, a `Date` as a `DateTime`. Anything it cannot
 * write exactly is refused, never approximated.
 *
 * @module
 */
import { BadRequest } from "../../mod.ts";
import { inNamespace, type Namespace } from "./sql.ts";

/** Values for placeholders: a list for `$1`, `$2`…, or a record for `{name}`. */
export type Params = readonly unknown[] | Readonly<Record<string, unknown>>;

const HINT = "Pass strings, finite numbers, bigints, booleans, null, Dates on a whole second, " +
  "or lists of them.";

/** The latest instant a `DateTime` holds: 2106-02-07T06:28:15Z. */
const MAX_DATETIME_MS = 4_294_967_295_000;

/** What a string literal escapes: backslash, quote and the control characters. */
// Control characters are what it matches: that is the point.
// deno-lint-ignore no-control-regex
const ESCAPED = /[\\'\x00-\x1f\x7f]/g;

const ESCAPES: Record<string, string> = { "\\": "\\\\", "'": "\\'" };

/**
 * A string as a ClickHouse string literal: backslash and quote escaped, control characters as
 * `\xHH`, everything else as it is (ClickHouse strings are bytes: NUL and any Unicode are kept).
 * A lone surrogate cannot be sent as UTF-8 and is refused.
 *
 * @example
 * ```ts
 * import { quoteString } from "./bind.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(quoteString("it's C:\\tmp\n"), "'it\\'s C:\\\\tmp\\x0A'");
 * ```
 */
export function quoteString(text: string): string {
  if (!text.isWellFormed()) {
    throw new BadRequest("A string to bind has a lone surrogate: it is not valid Unicode.", {
      hint: "Fix the text; ClickHouse would store it altered.",
    });
  }
  const escaped = text.replace(
    ESCAPED,
    (char) =>
      ESCAPES[char] ?? `\\x${char.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`,
  );
  return `'${escaped}'`;
}

/**
 * One value as a ClickHouse literal. Negative numbers are parenthesized, so that no literal can
 * join the text before it (`a-$1` must not become the comment `a--1`).
 *
 * @example
 * ```ts
 * import { literal } from "./bind.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(literal("'; DROP TABLE raw.s; --"), "'\\'; DROP TABLE raw.s; --'");
 * assert.equal(literal(-5), "(-5)");
 * assert.equal(literal(true), "1");
 * assert.equal(literal(null), "NULL");
 * assert.equal(literal(new Date("2025-10-18T01:00:00Z")), "toDateTime(1760749200, 'UTC')");
 * assert.equal(literal(["a", 2n]), "['a', 2]");
 * ```
 */
export function literal(value: unknown): string {
  if (value === null || value === undefined) return "NULL";
  switch (typeof value) {
    case "boolean":
      return value ? "1" : "0";
    case "string":
      return quoteString(value);
    case "number":
      if (!Number.isFinite(value)) {
        throw new BadRequest(`${value} cannot be bound: ClickHouse gets finite numbers only.`, {
          hint: HINT,
        });
      }
      return value < 0 ? `(${value})` : String(value);
    case "bigint":
      return value < 0n ? `(${value})` : String(value);
  }
  if (value instanceof Date) return dateLiteral(value);
  if (Array.isArray(value)) return `[${value.map(literal).join(", ")}]`;
  throw new BadRequest(
    `A ${value?.constructor?.name ?? typeof value} cannot be bound as a ClickHouse value.`,
    { hint: HINT },
  );
}

function dateLiteral(date: Date): string {
  const ms = date.getTime();
  if (!(ms >= 0 && ms <= MAX_DATETIME_MS)) {
    throw new BadRequest(
      `${Number.isNaN(ms) ? "An invalid Date" : date.toISOString()} is outside what a ` +
        "ClickHouse DateTime holds (1970-01-01 to 2106-02-07).",
      { hint: HINT },
    );
  }
  if (ms % 1000 !== 0) {
    throw new BadRequest(
      `${date.toISOString()} has milliseconds, which a ClickHouse DateTime (seconds; 18.16 has ` +
        "no DateTime64) cannot hold.",
      { hint: "Give a time on a whole second, or bind its epoch milliseconds as a number." },
    );
  }
  return `toDateTime(${ms / 1000}, 'UTC')`;
}

/**
 * `sql` with each placeholder replaced by the literal of its value, and the namespace's prefix
 * on its databases (see `inNamespace`). With a list, `$1` is its first value, and every value
 * must be used; with a record, `{name}` is its value under `name`, and a record may hold more
 * than the statement uses (one scope serves several statements). A placeholder without a value,
 * or of the other style, is refused. Placeholders inside strings, quoted names and comments are
 * text, not placeholders.
 *
 * @example
 * ```ts
 * import { bind } from "./bind.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(
 *   bind("SELECT count() FROM t WHERE code = $1 AND note <> '$2'", ["16107"]),
 *   "SELECT count() FROM t WHERE code = '16107' AND note <> '$2'",
 * );
 * assert.equal(bind("SELECT {zone} AS z", { zone: "Europe/Paris", unused: 1 }), "SELECT 'Europe/Paris' AS z");
 * assert.throws(() => bind("SELECT $2", ["a", "b"]), /\$1/);
 * ```
 */
export function bind(sql: string, params: Params, namespace?: Namespace): string {
  let tokens;
  try {
    tokens = namespace === undefined
      ? inNamespace(sql, { prefix: "", databases: new Set() })
      : inNamespace(sql, namespace);
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    throw new BadRequest(error.message, { hint: "Fix the SQL." });
  }
  const positional = Array.isArray(params);
  const used = new Set<number>();
  const text = tokens.map((token) => {
    if (token.kind === "placeholder") {
      const n = Number(token.text.slice(1));
      if (!positional) throw styleError(token.text, "named values ({name})");
      const list = params as readonly unknown[];
      if (n < 1 || n > list.length) {
        throw new BadRequest(
          `${token.text} has no value: the statement was given ${list.length}.`,
          { hint: "Pass one value per placeholder, $1 first." },
        );
      }
      used.add(n);
      return literal(list[n - 1]);
    }
    if (token.kind === "named") {
      const name = token.text.slice(1, -1).trim();
      if (positional) throw styleError(token.text, "a list of values ($1, $2…)");
      if (!Object.hasOwn(params, name)) {
        throw new BadRequest(`${token.text} has no value: nothing named ${name} was given.`, {
          hint: `Give ${name} (a step's args, window or at), or fix the name in the SQL.`,
        });
      }
      return literal((params as Record<string, unknown>)[name]);
    }
    return token.text;
  }).join("");
  if (positional) {
    const unused = (params as readonly unknown[]).map((_, i) => i + 1).filter((n) => !used.has(n));
    if (unused.length > 0) {
      throw new BadRequest(
        `The statement has no placeholder for ${unused.map((n) => `$${n}`).join(", ")}.`,
        { hint: "Pass exactly one value per placeholder." },
      );
    }
  }
  return text;
}

function styleError(placeholder: string, given: string): BadRequest {
  return new BadRequest(`The placeholder ${placeholder} does not match the ${given} given.`, {
    hint: "Use $1, $2… with a list of values, and {name} with named values.",
  });
}
