/**
 * The PostgreSQL step: calls one SQL function after a load, such as a gold-layer refresh.
 *
 * @module
 */
import { PipelineError } from "../../core/errors.ts";
import type { ComponentContext, Step, StepResult } from "../../core/types.ts";
import { statementFailure } from "./classify.ts";
import type { PostgresStepConfig } from "./config.ts";
import { connectDatabase } from "./connect.ts";
import type { Database } from "./database.ts";
import { identifier, list, placeholder, type Sql, sql } from "./sql.ts";

/**
 * Calls `call(args…)` in a transaction of its own and reports the number it returns as the
 * rows touched. The function owns the work: it is SQL in a migration, versioned with the
 * tables it writes.
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
  readonly #statement: Sql;
  #db: Database | undefined;

  /** Builds the step; nothing is opened until {@linkcode PostgresStep.connect}. */
  constructor(config: PostgresStepConfig) {
    this.#config = config;
    this.#statement = callStatement(config.call, Object.keys(config.args));
  }

  /** Opens the database and applies the migrations not applied yet. */
  async connect(ctx: ComponentContext): Promise<void> {
    const { db } = await connectDatabase(this.#config, {
      logger: ctx.logger,
      applicationName: `pipeline ${ctx.pipeline}`,
      poolSize: 1,
    });
    this.#db = db;
  }

  /** Calls the function; a single statement is a transaction of its own. */
  async run(signal: AbortSignal): Promise<StepResult> {
    signal.throwIfAborted();
    const db = this.#db;
    if (db === undefined) {
      throw new PipelineError("The postgres step is not connected.", {
        hint: "Call connect() before run(); the runner does.",
      });
    }
    try {
      const { rows } = await db.query<{ rows: number | string | null }>(
        this.#statement.text,
        Object.values(this.#config.args),
      );
      return { rows: Number(rows[0]?.rows ?? 0) };
    } catch (error) {
      throw statementFailure(error, `Calling ${this.#config.call}`, db.server);
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
