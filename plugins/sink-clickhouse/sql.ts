/**
 * A small lexer for ClickHouse SQL, enough to tell what is code from what is a string, a quoted
 * name or a comment: so that a script splits on its own `;`, placeholders are found only where
 * they are code, and database names get a prefix only where they are names. Values never pass
 * through here: the binder (`bind.ts`) replaces placeholders with literals after the lexing.
 *
 * @module
 */

/** What a piece of SQL text is. */
export type TokenKind =
  | "space"
  | "comment"
  | "string"
  | "quoted"
  | "word"
  | "placeholder"
  | "named"
  | "semicolon"
  | "other";

/** One piece of SQL text. */
export interface Token {
  /** What it is. */
  kind: TokenKind;
  /** The text as written. */
  text: string;
}

/** A table name qualified by its database: lowercase letters, digits and _, no quoting. */
export const TABLE_PATTERN: RegExp = /^[a-z_][a-z0-9_]{0,62}\.[a-z_][a-z0-9_]{0,62}$/;

const WORD_START = /[A-Za-z_]/;
const WORD_PART = /[A-Za-z0-9_]/;
const SPACE = /\s/;

/** Where a quoted piece (string or name) closed: the index after its closing quote. */
function closeQuote(sql: string, start: number, quote: string): number {
  for (let i = start + 1; i < sql.length; i++) {
    const char = sql[i];
    if (char === "\\") {
      i++;
    } else if (char === quote) {
      if (sql[i + 1] === quote) i++; // a doubled quote stands for itself
      else return i + 1;
    }
  }
  throw new SyntaxError(`Unterminated ${quote === "'" ? "string" : "quoted name"} in SQL.`);
}

/**
 * Splits SQL into tokens. Strings (`'…'`), quoted names (`"…"`, `` `…` ``) and comments (`--`
 * to the end of the line, `/* … *\/`) are single tokens, so nothing inside them is read as code.
 * `$1` is a positional placeholder, `{name}` a named one; a ClickHouse query parameter
 * (`{name:Type}`) is refused, since ClickHouse 18.16 has none. Throws a `SyntaxError` for an
 * unterminated string, name or comment.
 *
 * @example
 * ```ts
 * import { tokenize } from "./sql.ts";
 * import assert from "node:assert/strict";
 *
 * const kinds = tokenize("SELECT '$1;' -- $2\n, $3").map((token) => token.kind);
 * assert.deepEqual(kinds, ["word", "space", "string", "space", "comment", "space", "other", "space", "placeholder"]);
 * ```
 */
export function tokenize(sql: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const push = (kind: TokenKind, end: number) => {
    tokens.push({ kind, text: sql.slice(i, end) });
    i = end;
  };
  while (i < sql.length) {
    const char = sql[i];
    const next = sql[i + 1];
    if (SPACE.test(char)) {
      let end = i + 1;
      while (end < sql.length && SPACE.test(sql[end])) end++;
      push("space", end);
    } else if (char === "-" && next === "-") {
      const end = sql.indexOf("\n", i);
      push("comment", end === -1 ? sql.length : end);
    } else if (char === "/" && next === "*") {
      const end = sql.indexOf("*/", i + 2);
      if (end === -1) throw new SyntaxError("Unterminated /* comment in SQL.");
      push("comment", end + 2);
    } else if (char === "'") {
      push("string", closeQuote(sql, i, "'"));
    } else if (char === '"' || char === "`") {
      push("quoted", closeQuote(sql, i, char));
    } else if (char === "$" && next !== undefined && /[0-9]/.test(next)) {
      let end = i + 1;
      while (end < sql.length && /[0-9]/.test(sql[end])) end++;
      push("placeholder", end);
    } else if (char === "{") {
      const match = /^\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*(:[^}]*)?\}/.exec(sql.slice(i));
      if (match?.[2] !== undefined) {
        throw new SyntaxError(
          `${match[0]} is a ClickHouse query parameter, which ClickHouse 18.16 does not have: ` +
            `write {${match[1]}}, which the plugin binds itself.`,
        );
      }
      if (match) push("named", i + match[0].length);
      else push("other", i + 1);
    } else if (WORD_START.test(char)) {
      let end = i + 1;
      while (end < sql.length && WORD_PART.test(sql[end])) end++;
      push("word", end);
    } else if (char === ";") {
      push("semicolon", i + 1);
    } else {
      push("other", i + 1);
    }
  }
  return tokens;
}

const isCode = (token: Token) => token.kind !== "space" && token.kind !== "comment";

/**
 * The statements of a script, split on the `;` that are code, each trimmed and without its
 * `;`. Pieces holding only spaces and comments are left out.
 *
 * @example
 * ```ts
 * import { splitStatements } from "./sql.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(splitStatements("SELECT ';'; -- done\nSELECT 2;\n-- the end\n"), [
 *   "SELECT ';'",
 *   "-- done\nSELECT 2",
 * ]);
 * ```
 */
export function splitStatements(script: string): string[] {
  const statements: string[] = [];
  let current: Token[] = [];
  const flush = () => {
    if (current.some(isCode)) statements.push(current.map((t) => t.text).join("").trim());
    current = [];
  };
  for (const token of tokenize(script)) {
    if (token.kind === "semicolon") flush();
    else current.push(token);
  }
  flush();
  return statements;
}

/**
 * The words of a statement that are code, uppercased: its keywords and bare names, in order,
 * e.g. to see what kind of statement it is.
 *
 * @example
 * ```ts
 * import { keywords } from "./sql.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(keywords("/* x *\/ create table if not exists t").slice(0, 5), [
 *   "CREATE", "TABLE", "IF", "NOT", "EXISTS",
 * ]);
 * ```
 */
export function keywords(statement: string): string[] {
  return tokenize(statement).filter((t) => t.kind === "word").map((t) => t.text.toUpperCase());
}

const ROW_STATEMENTS = new Set(["SELECT", "WITH", "SHOW", "DESC", "DESCRIBE", "EXISTS"]);

/**
 * Whether a statement answers with rows (a query), rather than doing something (a command):
 * the two go to ClickHouse differently.
 *
 * @example
 * ```ts
 * import { returnsRows } from "./sql.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(returnsRows("-- a report\nWITH 1 AS x SELECT x"), true);
 * assert.equal(returnsRows("INSERT INTO mart.t SELECT 1"), false);
 * ```
 */
export function returnsRows(statement: string): boolean {
  const [first] = keywords(statement);
  return first !== undefined && ROW_STATEMENTS.has(first);
}

/**
 * The databases a script creates (`CREATE DATABASE [IF NOT EXISTS] name`), in order.
 *
 * @example
 * ```ts
 * import { createdDatabases } from "./sql.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(createdDatabases("CREATE DATABASE IF NOT EXISTS raw; CREATE DATABASE mart"), [
 *   "raw",
 *   "mart",
 * ]);
 * ```
 */
export function createdDatabases(script: string): string[] {
  const names: string[] = [];
  const code = tokenize(script).filter(isCode);
  for (let i = 0; i + 2 < code.length; i++) {
    if (code[i].text.toUpperCase() !== "CREATE" || code[i + 1].text.toUpperCase() !== "DATABASE") {
      continue;
    }
    let at = i + 2;
    const words = code.slice(at, at + 3).map((token) => token.text.toUpperCase()).join(" ");
    if (words === "IF NOT EXISTS") at += 3;
    const name = code[at];
    if (name !== undefined && (name.kind === "word" || name.kind === "quoted")) {
      names.push(name.kind === "word" ? name.text : name.text.slice(1, -1));
    }
  }
  return names;
}

/**
 * A set of databases that one server may hold several copies of, told apart by a prefix: the
 * databases the migrations create, and the prefix their names get wherever the plugin's SQL
 * names them (`prefix` empty: names as written).
 */
export interface Namespace {
  /** Prepended to each of `databases`, e.g. `t_0a1b2c3d_`; empty for none. */
  readonly prefix: string;
  /** The database names that get the prefix, as the SQL writes them. */
  readonly databases: ReadonlySet<string>;
}

/**
 * The name of `database` in `namespace`: prefixed when it is one of its databases.
 *
 * @example
 * ```ts
 * import { databaseIn } from "./sql.ts";
 * import assert from "node:assert/strict";
 *
 * const ns = { prefix: "t_1_", databases: new Set(["raw"]) };
 * assert.equal(databaseIn(ns, "raw"), "t_1_raw");
 * assert.equal(databaseIn(ns, "system"), "system");
 * ```
 */
export function databaseIn(namespace: Namespace, database: string): string {
  return namespace.databases.has(database) ? namespace.prefix + database : database;
}

/**
 * The name of `table` (`database.table`) in `namespace`.
 *
 * @example
 * ```ts
 * import { tableIn } from "./sql.ts";
 * import assert from "node:assert/strict";
 *
 * const ns = { prefix: "t_1_", databases: new Set(["raw"]) };
 * assert.equal(tableIn(ns, "raw.station_snapshots"), "t_1_raw.station_snapshots");
 * ```
 */
export function tableIn(namespace: Namespace, table: string): string {
  const dot = table.indexOf(".");
  return dot === -1 ? table : databaseIn(namespace, table.slice(0, dot)) + table.slice(dot);
}

const nameOf = (token: Token): string | undefined =>
  token.kind === "word"
    ? token.text
    : token.kind === "quoted"
    ? token.text.slice(1, -1)
    : undefined;

/**
 * The tokens of `sql` with the namespace's prefix on each database name: a name followed by
 * `.` (`raw.t`, `"raw".t`), or after `DATABASE [IF [NOT] EXISTS]`. Strings and comments are left
 * as they are, so a database named in a string literal (`WHERE database = 'raw'`) is not
 * prefixed: bind such a name as a value instead.
 *
 * @example
 * ```ts
 * import { inNamespace } from "./sql.ts";
 * import assert from "node:assert/strict";
 *
 * const ns = { prefix: "t_", databases: new Set(["raw"]) };
 * const text = inNamespace("SELECT raw FROM raw.s WHERE x = 'raw.s' -- raw.s", ns)
 *   .map((token) => token.text).join("");
 * assert.equal(text, "SELECT raw FROM t_raw.s WHERE x = 'raw.s' -- raw.s");
 * ```
 */
export function inNamespace(sql: string, namespace: Namespace): Token[] {
  const tokens = tokenize(sql);
  if (namespace.prefix === "") return tokens;
  const code = tokens.filter(isCode);
  const rename = new Set<Token>();
  code.forEach((token, i) => {
    const name = nameOf(token);
    if (name === undefined || !namespace.databases.has(name)) return;
    const before = code.slice(Math.max(0, i - 4), i).map((t) => t.text.toUpperCase()).join(" ");
    const afterDatabase = /(^| )DATABASE( IF( NOT)? EXISTS)?$/.test(before);
    const qualifies = code[i + 1]?.text === "." && code[i - 1]?.text !== ".";
    if (qualifies || afterDatabase) rename.add(token);
  });
  return tokens.map((token) => {
    if (!rename.has(token)) return token;
    const text = token.kind === "word"
      ? namespace.prefix + token.text
      : token.text[0] + namespace.prefix + token.text.slice(1);
    return { ...token, text };
  });
}
