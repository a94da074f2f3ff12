/**
 * One interface over the two PostgreSQLs the plugins speak to: a server, through a `pg` pool,
 * and the embedded default, PGlite, persisted in a folder (`pglite:<folder>`). Everything else
 * in the plugin sends the same SQL through it.
 *
 * @module
 */
import { PGlite } from "@electric-sql/pglite";
import type { Logger } from "@logtape/logtape";
import { resolve } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import pg from "pg";
import { from as copyFromStdin } from "pg-copy-streams";
import { PipelineError, redact } from "../../mod.ts";
import { connectFailure } from "./classify.ts";

/** The rows a statement returned, and how many rows it touched. */
export interface QueryResult<R> {
  /** The rows, as objects keyed by column name. */
  rows: R[];
  /** Rows inserted, updated or deleted, or returned; 0 when the server does not say. */
  rowCount: number;
}

/** Runs statements. */
export interface Queryable {
  /** Runs one statement with `$n` parameters. */
  query<R = Record<string, unknown>>(text: string, params?: unknown[]): Promise<QueryResult<R>>;
  /** Runs a script of several statements, without parameters (a migration). */
  exec(script: string): Promise<void>;
}

/** One connection, held until released: what a transaction runs on. */
export interface Session extends Queryable {
  /**
   * Runs `COPY <into> FROM STDIN` with `rows`, in COPY's text format (tab-separated columns,
   * one row per line, `\N` for NULL). `into` is a quoted table and column list.
   */
  copyFrom(into: string, rows: string): Promise<void>;
  /**
   * Gives the connection back. Pass `true` when it failed, so that it is closed rather than
   * handed to the next user; it also is when the connection reported an error meanwhile.
   */
  release(failed?: boolean): void;
}

/** A database: connections on demand. */
export interface Database extends Queryable {
  /** Where it is, for messages: `host:port/database`, or `embedded PostgreSQL in <folder>`. */
  readonly server: string;
  /** Takes a connection of its own, for a transaction. */
  session(): Promise<Session>;
  /** Closes every connection. */
  end(): Promise<void>;
}

/** How to open a {@linkcode Database}. */
export interface DatabaseOptions {
  /** `postgres://…` for a server, `pglite:<folder>` for the embedded database. */
  url: string;
  /** Connections in a server's pool. */
  poolSize: number;
  /** Longest to wait for a server connection. */
  connectTimeoutMs: number;
  /** Longest a statement may run on a server before it is cancelled. */
  statementTimeoutMs: number;
  /** Shown in the server's `pg_stat_activity`. */
  applicationName: string;
  /** Where a failing idle connection is reported. */
  logger: Logger;
}

const PGLITE_SCHEME = "pglite:";

/**
 * Whether `url` names the embedded database.
 *
 * @example
 * ```ts
 * import { isEmbedded } from "./database.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(isEmbedded("pglite:.data/warehouse"), true);
 * assert.equal(isEmbedded("postgres://db:5432/velib"), false);
 * ```
 */
export function isEmbedded(url: string): boolean {
  return url.startsWith(PGLITE_SCHEME);
}

/**
 * Where a database is, for messages, with no credentials: `host:port/database`, or
 * `embedded PostgreSQL in <folder>`.
 *
 * @example
 * ```ts
 * import { serverOf } from "./database.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(serverOf("postgres://app:pw@db/velib"), "db:5432/velib");
 * assert.equal(serverOf("pglite:.data/warehouse"), "embedded PostgreSQL in .data/warehouse");
 * ```
 */
export function serverOf(url: string): string {
  if (isEmbedded(url)) return `embedded PostgreSQL in ${url.slice(PGLITE_SCHEME.length)}`;
  const { hostname, port, pathname } = new URL(url);
  return `${hostname}:${port || "5432"}${decodeURIComponent(pathname)}`;
}

/**
 * Opens a database. A server's pool connects lazily; the embedded database is opened (and
 * created if its folder is empty) now, and shared by everything in the process that opens the
 * same folder, since only one instance may use a folder at a time.
 *
 * @example
 * ```ts ignore
 * import { openDatabase } from "./database.ts";
 *
 * const db = await openDatabase({ url: "pglite:.data/warehouse", poolSize: 4,
 *   connectTimeoutMs: 5_000, statementTimeoutMs: 60_000, applicationName: "load", logger });
 * const { rows } = await db.query("SELECT count(*) AS n FROM mart.station_latest");
 * await db.end();
 * ```
 */
export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  return isEmbedded(options.url) ? await openEmbedded(options.url) : openServer(options);
}

function openServer(options: DatabaseOptions): Database {
  const server = serverOf(options.url);
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize,
    connectionTimeoutMillis: options.connectTimeoutMs,
    statement_timeout: options.statementTimeoutMs,
    application_name: options.applicationName.slice(0, 63),
  });
  // An idle connection can fail (a server restart); without a listener that would crash.
  pool.on("error", (error) => {
    options.logger.warn("An idle PostgreSQL connection failed: {error}", {
      error: redact(error.message),
    });
  });
  const query = async <R>(client: pg.ClientBase | pg.Pool, text: string, params?: unknown[]) => {
    const result = await client.query(text, params);
    return { rows: result.rows as R[], rowCount: result.rowCount ?? 0 };
  };
  return {
    server,
    query: (text, params) => query(pool, text, params),
    async exec(script) {
      await pool.query(script);
    },
    async session() {
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (error) {
        throw connectFailure(error, server);
      }
      let failed = false;
      // A checked-out client reports its connection dying as an event too; unheard, it would
      // crash the process.
      const onError = () => void (failed = true);
      client.on("error", onError);
      return {
        query: (text, params) => query(client, text, params),
        async exec(script) {
          await client.query(script);
        },
        async copyFrom(into, rows) {
          await pipeline(
            Readable.from([rows]),
            client.query(copyFromStdin(`COPY ${into} FROM STDIN`)),
          );
        },
        release(broken) {
          client.off("error", onError);
          client.release(broken || failed ? true : undefined);
        },
      };
    },
    end: () => pool.end(),
  };
}

/** One PGlite per folder in the process, with the number of users still holding it. */
const embedded = new Map<string, { db: Promise<PGlite>; users: number; lock: Lock }>();

async function openEmbedded(url: string): Promise<Database> {
  const folder = resolve(url.slice(PGLITE_SCHEME.length));
  const server = serverOf(url);
  let entry = embedded.get(folder);
  if (entry === undefined) {
    const db = (async () => {
      await Deno.mkdir(folder, { recursive: true });
      const instance = new PGlite(folder);
      await instance.waitReady;
      return instance;
    })();
    entry = { db, users: 0, lock: new Lock() };
    embedded.set(folder, entry);
    db.catch(() => embedded.delete(folder));
  }
  entry.users++;
  let db: PGlite;
  try {
    db = await entry.db;
  } catch (error) {
    entry.users--;
    throw connectFailure(error, server);
  }
  const { lock } = entry;
  let ended = false;
  // PGlite is one connection: a session holds it whole, so that statements of other users
  // cannot land inside its transaction.
  const query = async <R>(text: string, params?: unknown[]) => {
    const result = await db.query<R>(text, params);
    return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length };
  };
  const exec = async (script: string) => void await db.exec(script);
  // PGlite has no STDIN: COPY reads the rows from a blob it names /dev/blob.
  const copyFrom = async (into: string, rows: string) =>
    void await db.query(`COPY ${into} FROM '/dev/blob'`, [], { blob: new Blob([rows]) });
  return {
    server,
    query: (text, params) => lock.run(() => query(text, params)),
    exec: (script) => lock.run(() => exec(script)),
    async session() {
      const release = await lock.acquire();
      return { query, exec, copyFrom, release: () => release() };
    },
    async end() {
      if (ended) return;
      ended = true;
      if (--entry.users > 0) return;
      embedded.delete(folder);
      await db.close();
    },
  };
}

/** A FIFO mutex. */
class Lock {
  #tail: Promise<void> = Promise.resolve();

  /** Waits for the lock; resolves with the function that frees it. */
  acquire(): Promise<() => void> {
    const { promise: freed, resolve: free } = Promise.withResolvers<void>();
    const previous = this.#tail;
    this.#tail = previous.then(() => freed);
    return previous.then(() => free);
  }

  /** Runs `fn` holding the lock. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    const release = await this.acquire();
    try {
      return await fn();
    } finally {
      release();
    }
  }
}

/**
 * Reads the `.sql` file of a step's or a check's `query`, or says which file could not be read
 * and what to fix.
 *
 * @example
 * ```ts
 * import { readQueryFile } from "./database.ts";
 * import assert from "node:assert/strict";
 *
 * await assert.rejects(readQueryFile("no/such.sql", "check"), /Could not read the check's query/);
 * ```
 */
export async function readQueryFile(path: string, owner: "step" | "check"): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    throw new PipelineError(
      `Could not read the ${owner}'s query ${path}: ${
        error instanceof Error ? error.message : error
      }.`,
      {
        hint: `Check \`query\` in the ${owner}'s config; a relative path starts at the working ` +
          "directory.",
      },
    );
  }
}
