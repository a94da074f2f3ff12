/**
 * What the sink learns about its target tables from the catalog at connect, so that a config
 * that does not match the database fails then, with a clear message, not at the first batch.
 *
 * @module
 */
import { PipelineError } from "../../mod.ts";
import type { WriteTarget } from "./config.ts";
import type { Queryable } from "./database.ts";
import { identifier } from "./sql.ts";
import { HAS_UNIQUE_INDEX, SELECT_COLUMNS } from "./statements.ts";

/** A column a record can fill. */
export interface Column {
  /** Its type as declared, e.g. `character varying(10)`, for messages. */
  type: string;
  /** Its type without modifier, e.g. `character varying`: what a bulk write casts to. */
  base: string;
  /** Whether it is `json` or `jsonb`: a value goes as its JSON text. */
  json: boolean;
}

/** A write target with the columns its table has. */
export interface Target {
  /** The target as configured. */
  write: WriteTarget;
  /** The columns a record can fill, in table order. */
  columns: Map<string, Column>;
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
 * console.log(target.columns.get("station_code")?.type); // "text"
 * ```
 */
export async function describeTargets(
  client: Queryable,
  writes: WriteTarget[],
): Promise<Target[]> {
  const targets: Target[] = [];
  for (const write of writes) {
    const table = identifier(write.table).text;
    const { rows } = await client.query<
      { name: string; type: string; base: string; is_array: boolean; is_json: boolean }
    >(SELECT_COLUMNS.text, [table]);
    if (rows.length === 0) {
      throw new PipelineError(`Table ${write.table} does not exist.`, { hint: MIGRATION_HINT });
    }
    const arrays = rows.filter((row) => row.is_array).map((row) => `${row.name} (${row.type})`);
    if (arrays.length > 0) {
      // Bulk writes send each column as an array of values, and unnest cannot nest arrays.
      throw new PipelineError(
        `Table ${write.table} has array column(s) ${arrays.join(", ")}, which the sink cannot ` +
          "write in bulk.",
        { hint: "Store lists as jsonb in a migration, or write the table with another sink." },
      );
    }
    const columns = new Map(
      rows.map((row) => [row.name, { type: row.type, base: row.base, json: row.is_json }]),
    );
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
