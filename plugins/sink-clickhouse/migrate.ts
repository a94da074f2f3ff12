/**
 * Versioned migrations on ClickHouse: the plugin's own (scope `pipeline`), then the project's
 * (scope `app`), each applied once and recorded with a checksum. ClickHouse has no transaction
 * to put a migration in, so a migration is recorded after its last statement, and one that
 * failed half way runs again from the top: write each statement so it can be repeated
 * (`IF NOT EXISTS`).
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import { editedMigration, type MigrationFile } from "../../mod.ts";
import type { ConnectionConfig } from "./config.ts";
import { Database, type MigrationScope, migrationsOf } from "./database.ts";
import { BOOTSTRAP, SELECT_MIGRATION } from "./statements.ts";

/**
 * Applies `migrations` (see `migrationsOf`) not applied yet, in order, and returns the paths of
 * those it applied. Fails, naming the file, if an applied migration was edited since.
 *
 * @example
 * ```ts ignore
 * const migrations = await migrationsOf(config);
 * const db = new Database(config, migrations);
 * const applied = await applyMigrations(db, migrations, logger, signal);
 * ```
 */
export async function applyMigrations(
  db: Database,
  migrations: readonly MigrationFile<MigrationScope>[],
  logger: Logger,
  signal: AbortSignal,
): Promise<string[]> {
  for (const statement of BOOTSTRAP) await db.run(statement, [], signal, "Preparing migrations");
  const applied: string[] = [];
  for (const migration of migrations) {
    const recorded = await db.run<{ checksum: string }>(
      SELECT_MIGRATION,
      [migration.scope, migration.version],
      signal,
      "Reading the applied migrations",
    );
    if (recorded.length > 0) {
      if (recorded[0].checksum !== migration.checksum) throw editedMigration(migration);
      continue;
    }
    await db.runScript(migration.script, {}, signal, `Migration ${migration.path}`);
    await db.insert(
      "pipeline.schema_migrations",
      ["scope", "version", "name", "checksum"],
      [{
        scope: migration.scope,
        version: migration.version,
        name: migration.name,
        checksum: migration.checksum,
      }],
      signal,
    );
    logger.info("Applied migration {path}.", { path: migration.path });
    applied.push(migration.path);
  }
  return applied;
}

/**
 * Applies the config's migrations not applied yet over a client of its own, and nothing else:
 * what `migrate` of the sink and of the step do.
 */
export async function migrateFor(
  config: ConnectionConfig,
  logger: Logger,
  signal: AbortSignal,
): Promise<string[]> {
  const migrations = await migrationsOf(config);
  const db = new Database(config, migrations);
  try {
    return await applyMigrations(db, migrations, logger, signal);
  } finally {
    await db.close();
  }
}
