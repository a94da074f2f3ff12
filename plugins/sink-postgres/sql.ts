/**
 * SQL text that can hold no values: the `sql` tag accepts only other SQL fragments, and the one
 * way to make a fragment from a string is {@linkcode identifier}, which validates and quotes it.
 * Values always travel as query parameters.
 *
 * @module
 */

const FRAGMENT: unique symbol = Symbol("sql fragment");

/** A piece of SQL: text written in code, or a quoted identifier. */
export interface Sql {
  /** The SQL text. */
  readonly text: string;
  /** Marks values made by this module, so a plain string cannot pass for SQL. */
  readonly [FRAGMENT]: true;
}

/**
 * The identifiers the sink accepts: lowercase, unquoted-style PostgreSQL names that fit in
 * PostgreSQL's 63-byte limit. Anything else is refused rather than escaped.
 */
export const IDENTIFIER_PATTERN: RegExp = /^[a-z_][a-z0-9_]{0,62}$/;

/** A table name qualified by its schema, each part an {@linkcode IDENTIFIER_PATTERN}. */
export const TABLE_PATTERN: RegExp = /^[a-z_][a-z0-9_]{0,62}\.[a-z_][a-z0-9_]{0,62}$/;

const fragment = (text: string): Sql => ({ text, [FRAGMENT]: true });

/**
 * Tags a SQL template. Only fragments may be interpolated: a value must be a `$n` parameter.
 *
 * @example
 * ```ts
 * import { identifier, sql } from "./sql.ts";
 * import assert from "node:assert/strict";
 *
 * const statement = sql`SELECT ${identifier("code")} FROM t WHERE id = $1`;
 * assert.equal(statement.text, 'SELECT "code" FROM t WHERE id = $1');
 * ```
 */
export function sql(strings: TemplateStringsArray, ...fragments: Sql[]): Sql {
  let text = strings[0];
  fragments.forEach((part, i) => {
    // The types forbid it already; this stops a value cast to `any` from slipping through.
    if (part?.[FRAGMENT] !== true) throw new TypeError("Only SQL fragments can be interpolated.");
    text += part.text + strings[i + 1];
  });
  return fragment(text);
}

/**
 * Quotes one name after checking it against {@linkcode IDENTIFIER_PATTERN}, or a
 * `schema.table` name against {@linkcode TABLE_PATTERN}.
 *
 * @example
 * ```ts
 * import { identifier } from "./sql.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(identifier("raw.station_snapshots").text, '"raw"."station_snapshots"');
 * assert.throws(() => identifier('x"; DROP TABLE t; --'), TypeError);
 * ```
 */
export function identifier(name: string): Sql {
  if (!IDENTIFIER_PATTERN.test(name) && !TABLE_PATTERN.test(name)) {
    throw new TypeError(`Not a valid SQL identifier: ${JSON.stringify(name)}.`);
  }
  return fragment(name.split(".").map((part) => `"${part}"`).join("."));
}

/**
 * Joins fragments with commas.
 *
 * @example
 * ```ts
 * import { identifier, list } from "./sql.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(list(["a", "b"].map(identifier)).text, '"a", "b"');
 * ```
 */
export function list(fragments: Sql[]): Sql {
  return fragment(fragments.map((part) => part.text).join(", "));
}

/**
 * The placeholder of the `position`th parameter (from 1), for statements whose parameter
 * count depends on the config.
 *
 * @example
 * ```ts
 * import { placeholder } from "./sql.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(placeholder(2).text, "$2");
 * ```
 */
export function placeholder(position: number): Sql {
  if (!Number.isInteger(position) || position < 1) {
    throw new TypeError(`Not a parameter position: ${position}.`);
  }
  return fragment(`$${position}`);
}

/**
 * A type name as `format_type()` writes it (`timestamp with time zone`, `numeric`,
 * `public.station_status`), checked to hold nothing but name characters. Types come from the
 * catalog, not from records.
 *
 * @example
 * ```ts
 * import { typeName } from "./sql.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(typeName("timestamp with time zone").text, "timestamp with time zone");
 * assert.throws(() => typeName("int); DROP TABLE t; --"));
 * ```
 */
export function typeName(name: string): Sql {
  if (!/^(?:[a-z_][a-z0-9_ ]*|"[^"\\]+")(?:\.(?:[a-z_][a-z0-9_]*|"[^"\\]+"))?$/.test(name)) {
    throw new TypeError(`Not a type name: ${JSON.stringify(name)}.`);
  }
  return fragment(name);
}
