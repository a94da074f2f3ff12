/**
 * Helpers for the sink's integration tests: they run against a real server, whose URL is in
 * `DATABASE_URL`, and each test works in a schema of its own that is dropped afterwards.
 *
 * @module
 */
import { requiredEnv, testContext } from "../../testing.ts";
import pg from "pg";
import type { ComponentContext } from "../../mod.ts";
import { configSchema } from "./config.ts";
import { PostgresSink } from "./sink.ts";
import { identifier } from "./sql.ts";

/**
 * The test server's URL, from `DATABASE_URL`. Throws when it is unset: a test that needs a
 * server fails rather than passing without one.
 *
 * @example
 * ```ts ignore
 * import { databaseUrl } from "./testing.ts";
 *
 * const url = databaseUrl();
 * ```
 */
export function databaseUrl(): string {
  return requiredEnv("DATABASE_URL", "a PostgreSQL server");
}

/**
 * The context the runner would hand the sink at connect.
 *
 * @example
 * ```ts
 * import { contextFor } from "./testing.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(contextFor("load").pipeline, "load");
 * ```
 */
export function contextFor(pipeline: string): ComponentContext {
  return testContext(pipeline);
}

const suffix = (): string => crypto.randomUUID().replaceAll("-", "").slice(0, 12);

/** One test's corner of the server; `await using` it to drop everything at the end. */
export interface Scratch extends AsyncDisposable {
  /** The schema of the test's tables, e.g. `sink_test_0123456789ab`. */
  readonly schema: string;
  /** `schema.name` for a table of the test: a validated name, safe to splice into SQL. */
  table(name: string): string;
  /** A pipeline name of the test's own: positions and dead letters are kept per pipeline. */
  readonly pipeline: string;
  /** The server's URL. */
  readonly url: string;
  /** Runs a statement on a connection of the test's own and returns the rows. */
  query<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
  /** Builds and connects a sink for the test's pipeline; it is closed at the end. */
  sink(config: Record<string, unknown>): Promise<PostgresSink>;
}

/**
 * Creates a fresh schema for one test, and on disposal closes the test's sinks, deletes its
 * pipeline's positions and dead letters, and drops the schema.
 *
 * @example
 * ```ts ignore
 * import { scratch } from "./testing.ts";
 *
 * await using db = await scratch();
 * await db.query(`CREATE TABLE ${db.table("t")} (id int PRIMARY KEY)`);
 * ```
 */
export async function scratch(url: string = databaseUrl()): Promise<Scratch> {
  const id = suffix();
  const schema = `sink_test_${id}`;
  const pipeline = `test-${id}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${identifier(schema).text}`);
  const sinks: PostgresSink[] = [];
  return {
    schema,
    pipeline,
    url,
    table: (name) => {
      identifier(`${schema}.${name}`);
      return `${schema}.${name}`;
    },
    async query<T>(text: string, params?: unknown[]) {
      return (await admin.query(text, params)).rows as T[];
    },
    async sink(config) {
      const sink = new PostgresSink(configSchema.parse({ url, ...config }));
      sinks.push(sink);
      await sink.connect(contextFor(pipeline));
      return sink;
    },
    async [Symbol.asyncDispose]() {
      try {
        for (const sink of sinks) await sink.close();
        const { rows } = await admin.query(
          "SELECT to_regclass('pipeline.source_positions') IS NOT NULL AS exists",
        );
        if (rows[0].exists) {
          await admin.query("DELETE FROM pipeline.source_positions WHERE pipeline = $1", [
            pipeline,
          ]);
          await admin.query("DELETE FROM pipeline.dead_letters WHERE pipeline = $1", [pipeline]);
        }
        await admin.query(`DROP SCHEMA ${identifier(schema).text} CASCADE`);
      } finally {
        await admin.end();
      }
    },
  };
}

/**
 * Creates a fresh database, for tests of what is shared by a whole database (the migrations
 * table), and drops it on disposal. Its `url` points at it. With `copyOf`, it starts as a copy
 * of that database of the server (which must have no open connection), as a restored backup.
 *
 * @example
 * ```ts ignore
 * import { scratchDatabase } from "./testing.ts";
 *
 * await using db = await scratchDatabase();
 * console.log(db.url);
 * ```
 */
export async function scratchDatabase(
  url: string = databaseUrl(),
  options: { copyOf?: string } = {},
): Promise<{ url: string; name: string } & AsyncDisposable> {
  const name = `sink_test_${suffix()}`;
  const admin = new pg.Client({ connectionString: url });
  // Without a listener, a server that goes away (a drill stops it) crashes the test process;
  // the next query reports the failure instead.
  admin.on("error", () => {});
  await admin.connect();
  await admin.query(
    `CREATE DATABASE ${identifier(name).text}` +
      (options.copyOf === undefined ? "" : ` TEMPLATE ${identifier(options.copyOf).text}`),
  );
  const target = new URL(url);
  target.pathname = `/${name}`;
  return {
    url: target.href,
    name,
    async [Symbol.asyncDispose]() {
      try {
        await admin.query(`DROP DATABASE ${identifier(name).text} WITH (FORCE)`);
      } finally {
        await admin.end();
      }
    },
  };
}
