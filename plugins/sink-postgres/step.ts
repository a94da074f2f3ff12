/**
 * The PostgreSQL step: after a load, calls one SQL function, such as a gold-layer refresh, or
 * runs one read-only query, such as a report.
 *
 * @module
 */
import { PipelineError } from "../../core/errors.ts";
import type { ComponentContext, Step, StepResult } from "../../core/types.ts";
import { statementFailure } from "./classify.ts";
import type { PostgresStepConfig } from "./config.ts";
import { connectDatabase, migrateFor } from "./connect.ts";
import { type Database, readQueryFile } from "./database.ts";
import { identifier, list, placeholder, type Sql, sql } from "./sql.ts";

/**
 * Calls `call(args…)` in a transaction of its own and reports the number it returns as the
 * rows touched: the function owns the work, as SQL in a migration, versioned with the tables it
 * writes. Or runs the `query` file and returns its rows in `details.rows`.
 *
 * @example
 * ```ts ignore
 * import { PostgresStep } from "./step.ts";
 * import { stepConfigSchema } from "./config.ts";
 *
 * const step = new PostgresStep(stepConfigSchema.parse({
 *   url: "pglite:.data/warehouse", migrations: "sql/migrations",
 *   call: "mart.refresh_hourly_stats", args: { time_zone: "Europe/Paris" },
 * }));
 * await step.connect(ctx);
 * const { rows } = await step.run(AbortSignal.timeout(60_000));
 * await step.close();
 * ```
 */
export class PostgresStep implements Step {
  readonly #config: PostgresStepConfig;
  #statement: string | undefined;
  #db: Database | undefined;

  /** Builds the step; nothing is opened until {@linkcode PostgresStep.connect}. */
  constructor(config: PostgresStepConfig) {
    this.#config = config;
  }

  /** Reads the query file, opens the database and applies the migrations not applied yet. */
  async connect(ctx: ComponentContext): Promise<void> {
    const { call, args, query } = this.#config;
    this.#statement = call !== undefined
      ? callStatement(call, Object.keys(args)).text
      : await readQueryFile(query!, "step");
    const { db } = await connectDatabase(this.#config, {
      logger: ctx.logger,
      applicationName: `pipeline ${ctx.pipeline}`,
      poolSize: 1,
    });
    this.#db = db;
  }

  /** Applies the migrations not applied yet, and nothing else; see `migrate` in `connect.ts`. */
  migrate(ctx: ComponentContext): Promise<string[]> {
    return migrateFor(this.#config, ctx.logger);
  }

  /** Calls the function or runs the query; one statement is a transaction of its own. */
  async run(signal: AbortSignal): Promise<StepResult> {
    signal.throwIfAborted();
    const db = this.#db;
    if (db === undefined || this.#statement === undefined) {
      throw new PipelineError("The postgres step is not connected.", {
        hint: "Call connect() before run(); the runner does.",
      });
    }
    const { call, args, query } = this.#config;
    try {
      if (query !== undefined) {
        const { rows } = await db.query(this.#statement);
        return { rows: rows.length, details: { rows } };
      }
      const { rows } = await db.query<{ rows: number | string | null }>(
        this.#statement,
        Object.values(args),
      );
      return { rows: Number(rows[0]?.rows ?? 0) };
    } catch (error) {
      const what = call !== undefined ? `Calling ${call}` : `The query in ${query}`;
      throw statementFailure(error, what, db.server);
    }
  }

  /** Closes the connection. Safe to call more than once. */
  async close(): Promise<void> {
    const db = this.#db;
    this.#db = undefined;
    await db?.end();
  }
}

/**
 * `SELECT schema.fn(name => $1, …) AS rows`.
 *
 * @example
 * ```ts
 * import { callStatement } from "./step.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(
 *   callStatement("mart.refresh", ["time_zone"]).text,
 *   'SELECT "mart"."refresh"("time_zone" => $1) AS rows',
 * );
 * ```
 */
export function callStatement(call: string, names: string[]): Sql {
  const args = list(names.map((name, i) => sql`${identifier(name)} => ${placeholder(i + 1)}`));
  return sql`SELECT ${identifier(call)}(${args}) AS rows`;
}
