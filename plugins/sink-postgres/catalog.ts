/**
 * What the sink learns about its target tables from the catalog at connect, so that a config
 * that does not match the database fails then, with a clear message, not at the first batch.
 *
 * @module
 */
import { PipelineError } from "../../core/errors.ts";
import type { WriteTarget } from "./config.ts";
import type { Queryable } from "./database.ts";
import { identifier } from "./sql.ts";
import { HAS_UNIQUE_INDEX, SELECT_COLUMNS } from "./statements.ts";

/** A write target with the columns its table has. */
export interface Target {
  /** The target as configured. */
  write: WriteTarget;
  /** The columns a record can fill, in table order, each with its SQL type. */
  columns: Map<string, string>;
}

const MIGRATION_HINT = "Create or alter the table in a migration of the `migrations` folder, " +
  "or fix the sink's `writes` config.";

/**
 * Reads each target table's columns and checks that its key is a unique constraint and that
 * its `newerThan` column exists. Throws a terminal `PipelineError` naming what is missing.
 *
 * @example
 * ```ts ignore
 * import { describeTargets } from "./catalog.ts";
 *
 * const [target] = await describeTargets(client, [
 *   { table: "raw.station_snapshots", mode: "insert", key: ["station_code", "collected_at"] },
 * ]);
 * console.log(target.columns.get("station_code")); // "text"
 * ```
 */
export async function describeTargets(
  client: Queryable,
  writes: WriteTarget[],
): Promise<Target[]> {
  const targets: Target[] = [];
  for (const write of writes) {
    const table = identifier(write.table).text;
    const { rows } = await client.query<{ name: string; type: string }>(SELECT_COLUMNS.text, [
      table,
    ]);
    if (rows.length === 0) {
      throw new PipelineError(`Table ${write.table} does not exist.`, { hint: MIGRATION_HINT });
    }
    const columns = new Map(rows.map((row) => [row.name, row.type]));
    const named = write.newerThan === undefined ? write.key : [...write.key, write.newerThan];
    const missing = named.filter((column) => !columns.has(column));
    if (missing.length > 0) {
      throw new PipelineError(
        `Table ${write.table} has no writable column ${missing.join(", ")}.`,
        { hint: MIGRATION_HINT },
      );
    }
    const unique = await client.query<{ exists: boolean }>(HAS_UNIQUE_INDEX.text, [
      table,
      write.key,
    ]);
    if (!unique.rows[0].exists) {
      throw new PipelineError(
        `Table ${write.table} has no unique constraint on (${write.key.join(", ")}), ` +
          `which the sink needs to skip or update a record it has written before.`,
        { hint: `Add UNIQUE (${write.key.join(", ")}) in a migration, or fix \`key\`.` },
      );
    }
    targets.push({ write, columns });
  }
  return targets;
}
