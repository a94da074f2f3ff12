/**
 * Helpers for the plugin's integration tests: they run against a real server, whose URL is in
 * `CLICKHOUSE_URL`, and each test works in a database of its own that is dropped afterwards.
 *
 * @module
 */
import { requiredEnv, testContext, uniqueName } from "../../testing.ts";
import { configSchema } from "./config.ts";
import { Database, migrationsOf } from "./database.ts";
import { ClickhouseSink } from "./sink.ts";

/**
 * The test server's URL, from `CLICKHOUSE_URL`. Throws when it is unset: a test that needs a
 * server fails rather than passing without one.
 *
 * @example
 * ```ts ignore
 * const url = clickhouseUrl();
 * ```
 */
export function clickhouseUrl(): string {
  return requiredEnv("CLICKHOUSE_URL", "a ClickHouse server");
}

/** One test's corner of the server; `await using` it to drop everything at the end. */
export interface Scratch extends AsyncDisposable {
  /** The database of the test's tables, e.g. `sink_test_0123abcd`. */
  readonly database: string;
  /** A pipeline name of the test's own: positions and dead letters are kept per pipeline. */
  readonly pipeline: string;
  /** The server's URL. */
  readonly url: string;
  /** Runs a statement (`$n` bound) and returns its rows. */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Builds and connects a sink for the test's pipeline; it is closed at the end. */
  sink(config: Record<string, unknown>): Promise<ClickhouseSink>;
}

/**
 * A database of the test's own on the test server.
 *
 * @example
 * ```ts ignore
 * await using db = await scratch();
 * await db.query(`CREATE TABLE ${db.database}.t (id UInt32) ENGINE = MergeTree ORDER BY id`);
 * ```
 */
export async function scratch(): Promise<Scratch> {
  const url = clickhouseUrl();
  const database = uniqueName("sink_test");
  const pipeline = uniqueName("pipeline");
  const db = new Database({ url, databasePrefix: "", requestTimeoutMs: 30_000 });
  const signal = () => AbortSignal.timeout(30_000);
  await db.run(`CREATE DATABASE ${database}`, [], signal());
  const sinks: ClickhouseSink[] = [];
  return {
    database,
    pipeline,
    url,
    query: (sql, params = []) => db.run(sql, params, signal()),
    async sink(config) {
      const sink = new ClickhouseSink(configSchema.parse({ url, ...config }));
      sinks.push(sink);
      await sink.connect(testContext(pipeline));
      return sink;
    },
    async [Symbol.asyncDispose]() {
      for (const sink of sinks) await sink.close();
      await db.run(`DROP DATABASE IF EXISTS ${database}`, [], signal());
      await db.close();
    },
  };
}

/** A warehouse of the test's own on the test server: its databases under a prefix of its own. */
export interface ScratchWarehouse extends AsyncDisposable {
  /** What points a pipeline at it: `CLICKHOUSE_URL` and `CLICKHOUSE_DATABASE_PREFIX`. */
  readonly env: { CLICKHOUSE_URL: string; CLICKHOUSE_DATABASE_PREFIX: string };
  /** Runs a statement (`$n` bound) with the warehouse's names, e.g. `raw.t` for its `raw`. */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
}

/**
 * A warehouse of the test's own on the server at `url` (the test server unless given), as the
 * sink with `migrations` would create it under a fresh `databasePrefix`; `await using` it to drop its databases at the end. Nothing is created until
 * a pipeline connects to it.
 *
 * @example
 * ```ts ignore
 * await using warehouse = await scratchWarehouse("sql/clickhouse/migrations");
 * await runCli(["batch", "load-clickhouse"], { env: { ...env, ...warehouse.env } });
 * const [{ n }] = await warehouse.query("SELECT count() AS n FROM raw.station_snapshots FINAL");
 * ```
 */
export async function scratchWarehouse(
  migrations: string,
  url: string = clickhouseUrl(),
): Promise<ScratchWarehouse> {
  const databasePrefix = `${uniqueName("t")}_`;
  const files = await migrationsOf({ migrations });
  const db = new Database({ url, databasePrefix, requestTimeoutMs: 30_000 }, files);
  const signal = () => AbortSignal.timeout(30_000);
  return {
    env: { CLICKHOUSE_URL: url, CLICKHOUSE_DATABASE_PREFIX: databasePrefix },
    query: (sql, params = []) => db.run(sql, params, signal()),
    async [Symbol.asyncDispose]() {
      const names = await db.run<{ name: string }>(
        "SELECT name FROM system.databases WHERE startsWith(name, $1)",
        [databasePrefix],
        signal(),
      );
      for (const { name } of names) await db.run(`DROP DATABASE ${name}`, [], signal());
      await db.close();
    },
  };
}
