/**
 * A PostgreSQL sink with an exactly-once effect: each batch's rows, dead letters and source
 * positions are written in one transaction, and a replayed batch changes nothing. Its dead
 * letters can be listed and replayed; a replayed record's origin is on `DEAD_LETTER_STREAM`, with
 * its letter's id as offset. `migrate` applies the same migrations as the sink's `connect()`, for
 * a `migrate` command, and `connectDatabase` opens a migrated database (a server or embedded
 * PGlite) for other plugins, such as checks.
 *
 * @example
 * ```ts
 * import { postgresSink } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(postgresSink.spec.name, "postgres");
 * ```
 *
 * @module
 */
export { postgresSink, postgresStep } from "./plugin.ts";
export { connectDatabase, type ConnectOptions, migrate, type MigrateOptions } from "./connect.ts";
export { connectionSchema } from "./config.ts";
export { DEAD_LETTER_STREAM } from "./dead_letters.ts";
export { readQueryFile } from "./database.ts";
export type { Database, Queryable, QueryResult, Session } from "./database.ts";
export type { AppliedMigration, MigrationScope } from "./migrate.ts";
export type { ConnectionConfig, PostgresSinkConfig, PostgresStepConfig } from "./config.ts";
