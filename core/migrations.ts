/**
 * Versioned migration files, for sinks that create their own tables: a folder of
 * `NNNN_name.sql` files, read in version order with a checksum each, so that a sink applies each
 * once and notices one edited after it was applied. How a migration is applied (a transaction,
 * a lock, idempotent statements) is the sink's; what a migration folder is, is shared.
 *
 * @module
 */
import { join } from "node:path";
import { PipelineError } from "./errors.ts";

/** One migration file, read. */
export interface MigrationFile<S extends string = string> {
  /** Which set it belongs to, e.g. a sink's own (`pipeline`) or a project's (`app`). */
  scope: S;
  /** Its number, from the file name. */
  version: number;
  /** Its file name. */
  name: string;
  /** Where it was read from, for messages. */
  path: string;
  /** The SQL. */
  script: string;
  /** SHA-256 of the script, hex: what tells an applied migration that was edited since. */
  checksum: string;
}

const FILE_NAME = /^(\d{4})_([a-z0-9_]+)\.sql$/;

/**
 * The migrations of `folder`, in version order. Fails with a hint when the folder cannot be
 * read, a `.sql` file is not named `NNNN_name.sql`, or two files share a version.
 *
 * @example
 * ```ts
 * import { readMigrations } from "./migrations.ts";
 * import assert from "node:assert/strict";
 *
 * const folder = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${folder}/0002_index.sql`, "CREATE INDEX i ON t (a);");
 * await Deno.writeTextFile(`${folder}/0001_table.sql`, "CREATE TABLE t (a int);");
 * const migrations = await readMigrations(folder, "app");
 * assert.deepEqual(migrations.map((m) => m.version), [1, 2]);
 * assert.match(migrations[0].checksum, /^[0-9a-f]{64}$/);
 * await Deno.remove(folder, { recursive: true });
 * ```
 */
export async function readMigrations<S extends string>(
  folder: string,
  scope: S,
): Promise<MigrationFile<S>[]> {
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
  const migrations: MigrationFile<S>[] = [];
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

/**
 * The error for a migration whose file changed after it was applied: `applied` is the checksum
 * the store recorded.
 *
 * @example
 * ```ts
 * import { editedMigration } from "./migrations.ts";
 * import assert from "node:assert/strict";
 *
 * const error = editedMigration({ path: "sql/0001_raw.sql" });
 * assert.match(error.message, /0001_raw\.sql was edited after it was applied/);
 * ```
 */
export function editedMigration(migration: Pick<MigrationFile, "path">): PipelineError {
  return new PipelineError(
    `Migration ${migration.path} was edited after it was applied (its checksum changed).`,
    {
      hint: "An applied migration must not change: restore the file, and put the change in a " +
        "new migration with a higher number.",
    },
  );
}

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, "0")).join("");
}
