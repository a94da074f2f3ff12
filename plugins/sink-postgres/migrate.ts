/**
 * Versioned SQL migrations: the plugin's own (scope `pipeline`), then the project's (scope
 * `app`), each applied once, in its own transaction, and recorded with a checksum.
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import { fileURLToPath } from "node:url";
import { editedMigration, type MigrationFile, PipelineError, readMigrations } from "../../mod.ts";
import { isTransientError, statementFailure } from "./classify.ts";
import type { Queryable } from "./database.ts";
import {
  BEGIN,
  COMMIT,
  INSERT_MIGRATION,
  LOCK_MIGRATIONS,
  MIGRATIONS_TABLE_EXISTS,
  ROLLBACK,
  SELECT_MIGRATION,
  SET_LOCAL_SETTING,
} from "./statements.ts";

/** Which set of migrations one belongs to: the sink's own, or the project's folder. */
export type MigrationScope = "pipeline" | "app";

/** A migration that {@linkcode migrate} applied. */
export interface AppliedMigration {
  /** Its set. */
  scope: MigrationScope;
  /** Its number, from the file name. */
  version: number;
  /** Its file name. */
  name: string;
}

/** A migration file of one of the two scopes; its script runs as one multi-statement script. */
type Migration = MigrationFile<MigrationScope>;

const OWN_MIGRATIONS = fileURLToPath(new URL("./migrations", import.meta.url));

/** What {@linkcode applyMigrations} needs besides the client. */
export interface ApplyContext {
  /** Logs each migration applied. */
  logger: Logger;
  /** Where the server is (`host:port/database`), for messages. */
  server: string;
  /** Custom settings set for each project migration's transaction. */
  settings: Record<string, string>;
}

/**
 * Applies the sink's migrations, then those of `folder`, on an open connection. Each runs in a
 * transaction that first takes an advisory lock, so that instances starting together apply
 * each migration once. Fails, naming the file, if an applied migration was edited since.
 *
 * @example
 * ```ts ignore
 * import { applyMigrations } from "./migrate.ts";
 *
 * await applyMigrations(client, "migrations", {
 *   logger,
 *   server: "db:5432/velib",
 *   settings: {},
 * });
 * ```
 */
export async function applyMigrations(
  client: Queryable,
  folder: string | undefined,
  context: ApplyContext,
): Promise<AppliedMigration[]> {
  const migrations = [
    ...await readMigrations(OWN_MIGRATIONS, "pipeline"),
    ...folder === undefined ? [] : await readMigrations(folder, "app"),
  ];
  const applied: AppliedMigration[] = [];
  for (const migration of migrations) {
    if (await applyOne(client, migration, context)) {
      const { scope, version, name } = migration;
      applied.push({ scope, version, name });
      context.logger.info("Applied migration {path}.", { path: migration.path });
    }
  }
  return applied;
}

/** Applies one migration unless it is applied already; says whether it applied it. */
async function applyOne(
  client: Queryable,
  migration: Migration,
  { server, settings }: ApplyContext,
): Promise<boolean> {
  await client.query(BEGIN.text);
  try {
    await client.query(LOCK_MIGRATIONS.text);
    const table = await client.query<{ exists: boolean }>(MIGRATIONS_TABLE_EXISTS.text);
    const { rows } = table.rows[0].exists
      ? await client.query<{ checksum: string }>(SELECT_MIGRATION.text, [
        migration.scope,
        migration.version,
      ])
      : { rows: [] };
    if (rows.length > 0) {
      if (rows[0].checksum !== migration.checksum) throw editedMigration(migration);
      await client.query(ROLLBACK.text);
      return false;
    }
    if (migration.scope === "app") {
      for (const [name, value] of Object.entries(settings)) {
        await client.query(SET_LOCAL_SETTING.text, [name, value]);
      }
    }
    await runScript(client, migration, server);
    await client.query(INSERT_MIGRATION.text, [
      migration.scope,
      migration.version,
      migration.name,
      migration.checksum,
    ]);
    await client.query(COMMIT.text);
    return true;
  } catch (error) {
    // A failed ROLLBACK means the connection is gone, and the server rolls back on its own.
    await client.query(ROLLBACK.text).catch(() => {});
    throw statementFailure(error, `Migration ${migration.path}`, server);
  }
}

async function runScript(client: Queryable, migration: Migration, server: string) {
  try {
    await client.exec(migration.script);
  } catch (error) {
    if (isTransientError(error)) throw error;
    throw new PipelineError(
      `Migration ${migration.path} failed on PostgreSQL at ${server}: ${
        error instanceof Error ? error.message : String(error)
      }.`,
      { hint: "Fix the file and run again: the migration was rolled back as a whole." },
    );
  }
}
