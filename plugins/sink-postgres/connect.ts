/**
 * Opening a database ready for use: reachable, and migrated. The sink and the step connect
 * through it, and `migrate` is it alone.
 *
 * @module
 */
import { getLogger, type Logger } from "@logtape/logtape";
import { PipelineError } from "../../mod.ts";
import { connectFailure, statementFailure } from "./classify.ts";
import { CONNECT_TIMEOUT_MS, type ConnectionConfig, postgresUrl } from "./config.ts";
import { type Database, openDatabase } from "./database.ts";
import { type AppliedMigration, applyMigrations } from "./migrate.ts";
import { SELECT_ONE } from "./statements.ts";

/** What {@linkcode connectDatabase} needs besides the config. */
export interface ConnectOptions {
  /** Logs each migration applied, and failing idle connections. */
  logger: Logger;
  /** Shown in the server's `pg_stat_activity`. */
  applicationName: string;
  /** Connections in a server's pool. */
  poolSize: number;
}

/**
 * The databases (URL and migrations folder) this process has migrated already. The sink, the
 * steps and the checks of a pipeline share one database: checking its migrations once per
 * process, not once per component, keeps start-up short.
 */
const migrated = new Set<string>();

/**
 * Opens the database, checks it answers, and applies the migrations not applied yet, unless
 * this process did so for the same database and folder already. Tries once: the runner retries
 * a transient failure.
 *
 * @example
 * ```ts ignore
 * import { connectDatabase } from "./connect.ts";
 *
 * const { db, applied } = await connectDatabase(
 *   { url: "pglite:.data/warehouse", migrations: "sql/migrations", migrationSettings: {},
 *     statementTimeoutMs: 60_000, connectTimeoutMs: 5_000 },
 *   { logger, applicationName: "pipeline load", poolSize: 4 },
 * );
 * await db.end();
 * ```
 */
export async function connectDatabase(
  config: ConnectionConfig,
  options: ConnectOptions,
): Promise<{ db: Database; applied: AppliedMigration[] }> {
  const key = `${config.url}\n${config.migrations ?? ""}`;
  const opened = await openAndMigrate(config, options, !migrated.has(key));
  migrated.add(key);
  return opened;
}

async function openAndMigrate(
  config: ConnectionConfig,
  options: ConnectOptions,
  applyingMigrations: boolean,
): Promise<{ db: Database; applied: AppliedMigration[] }> {
  const db = await openDatabase({ ...config, ...options });
  try {
    const session = await db.session();
    let failed = false;
    try {
      try {
        await session.query(SELECT_ONE.text);
      } catch (error) {
        throw connectFailure(error, db.server);
      }
      const applied = applyingMigrations
        ? await applyMigrations(session, config.migrations, {
          logger: options.logger,
          server: db.server,
          settings: config.migrationSettings,
        })
        : [];
      return { db, applied };
    } catch (error) {
      failed = true;
      throw statementFailure(error, "Preparing the database", db.server);
    } finally {
      session.release(failed);
    }
  } catch (error) {
    await db.end();
    throw error;
  }
}

/** Options of {@linkcode migrate}. */
export interface MigrateOptions {
  /** PostgreSQL connection URL, or `pglite:<folder>`. */
  url: string;
  /**
   * A folder of `NNNN_name.sql` files, applied after the plugin's own.
   * @default {undefined}
   */
  migrations?: string;
  /**
   * Custom settings (`prefix.name`) set for the transaction of each project migration, which
   * reads them with `current_setting('prefix.name', true)`: how a migration takes a value from
   * the environment, such as a role's password, without it being written in the file.
   * @default {{}}
   */
  settings?: Record<string, string>;
  /**
   * Where to log each migration applied.
   * @default {getLogger(["pipeline", "migrate"])}
   */
  logger?: Logger;
}

/**
 * Applies the migrations that are not applied yet: connects, migrates, disconnects, every time
 * it is called. The sink's, the step's and the check's `connect()` do the same, once per
 * process.
 *
 * @example
 * ```ts ignore
 * import { migrate } from "./connect.ts";
 *
 * const applied = await migrate({ url: Deno.env.get("DATABASE_URL")!, migrations: "migrations" });
 * console.log(applied.map((m) => `${m.scope}/${m.name}`));
 * ```
 */
export async function migrate(options: MigrateOptions): Promise<AppliedMigration[]> {
  if (!postgresUrl.safeParse(options.url).success) {
    throw new PipelineError(
      "The database URL is not a postgres://, postgresql:// or pglite: URL.",
      {
        hint: "Set DATABASE_URL to postgres://user:password@host:5432/database, or leave it " +
          "unset for the embedded database.",
      },
    );
  }
  const { db, applied } = await openAndMigrate({
    url: options.url,
    migrations: options.migrations,
    migrationSettings: options.settings ?? {},
    connectTimeoutMs: CONNECT_TIMEOUT_MS,
    statementTimeoutMs: 0,
  }, {
    logger: options.logger ?? getLogger(["pipeline", "migrate"]),
    applicationName: "pipeline migrate",
    poolSize: 1,
  }, true);
  await db.end();
  return applied;
}

/**
 * What a component's `migrate()` does: {@linkcode migrate} with the component's config, and
 * the names of what it applied as `scope/file`.
 *
 * @example
 * ```ts ignore
 * import { migrateFor } from "./connect.ts";
 *
 * const applied = await migrateFor(config, logger); // ["app/0001_raw.sql"]
 * ```
 */
export async function migrateFor(config: ConnectionConfig, logger: Logger): Promise<string[]> {
  const applied = await migrate({
    url: config.url,
    migrations: config.migrations,
    settings: config.migrationSettings,
    logger,
  });
  return applied.map((migration) => `${migration.scope}/${migration.name}`);
}
