/**
 * Versioned SQL migrations: the plugin's own (scope `pipeline`), then the project's (scope
 * `app`), each applied once, in its own transaction, and recorded with a checksum.
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { PipelineError } from "../../mod.ts";
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

interface Migration extends AppliedMigration {
  /** Where it was read from, for messages. */
  path: string;
  /** The SQL, run as one multi-statement script. */
  script: string;
  /** SHA-256 of the script, hex. */
  checksum: string;
}

const OWN_MIGRATIONS = fileURLToPath(new URL("./migrations", import.meta.url));
const FILE_NAME = /^(\d{4})_([a-z0-9_]+)\.sql$/;

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
      if (rows[0].checksum !== migration.checksum) throw edited(migration);
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

function edited(migration: Migration): PipelineError {
  return new PipelineError(
    `Migration ${migration.path} was edited after it was applied (its checksum changed).`,
    {
      hint: "An applied migration must not change: restore the file, and put the change in a " +
        "new migration with a higher number.",
    },
  );
}

async function readMigrations(folder: string, scope: MigrationScope): Promise<Migration[]> {
  const files: string[] = [];
  try {
    for await (const entry of Deno.readDir(folder)) {
      if (entry.isFile && entry.name.endsWith(".sql")) files.push(entry.name);
    }
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new PipelineError(`Could not read the migrations folder ${folder}: ${reason}.`, {
      hint: "Check `migrations` in the sink's config; a relative path starts at the working " +
        "directory.",
      cause: error,
    });
  }
  const migrations: Migration[] = [];
  for (const name of files.sort()) {
    const match = FILE_NAME.exec(name);
    const path = join(folder, name);
    if (!match) {
      throw new PipelineError(`Migration ${path} is not named like 0002_add_index.sql.`, {
        hint: "Name migrations NNNN_name.sql: a four-digit version, then lowercase words.",
      });
    }
    const version = Number(match[1]);
    const clash = migrations.find((other) => other.version === version);
    if (clash) {
      throw new PipelineError(`Migrations ${clash.path} and ${path} have the same version.`, {
        hint: "Give each migration its own number.",
      });
    }
    const script = await Deno.readTextFile(path);
    migrations.push({ scope, version, name, path, script, checksum: await sha256(script) });
  }
  return migrations;
}

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, "0")).join("");
}
