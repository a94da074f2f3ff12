/**
 * The PostgreSQL step: after a load, calls one SQL function, such as a gold-layer refresh, or
 * runs one read-only query, such as a report.
 *
 * @module
 */
import {
  BadRequest,
  type ComponentContext,
  PipelineError,
  type Step,
  type StepResult,
  type StepScope,
} from "../../mod.ts";
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
 * With `window` or `at` in its config, it accepts that part of a {@linkcode StepScope}: given
 * one, the call passes it by name after `args`, e.g. `window_start => …, window_end => …`.
 *
 * @example
 * ```ts ignore
 * import { PostgresStep } from "./step.ts";
 * import { stepConfigSchema } from "./config.ts";
 *
 * const step = new PostgresStep(stepConfigSchema.parse({
 *   url: "pglite:.data/warehouse", migrations: "sql/migrations",
 *   call: "mart.refresh_hourly_stats", args: { time_zone: "Europe/Paris" },
 *   window: { from: "window_start", to: "window_end" },
 * }));
 * await step.connect(ctx);
 * const { rows } = await step.run(AbortSignal.timeout(60_000), {
 *   window: { from: new Date("2025-10-18T00:00:00Z"), to: new Date("2025-10-19T00:00:00Z") },
 * });
 * await step.close();
 * ```
 */
export class PostgresStep implements Step {
  /** The parts of a scope the function has parameters for, from `window` and `at`. */
  readonly accepts?: ReadonlyArray<keyof StepScope>;
  readonly #config: PostgresStepConfig;
  #statement: string | undefined;
  #db: Database | undefined;

  /** Builds the step; nothing is opened until {@linkcode PostgresStep.connect}. */
  constructor(config: PostgresStepConfig) {
    this.#config = config;
    this.accepts = acceptsOf(config);
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

  /**
   * Calls the function or runs the query; one statement is a transaction of its own. A `scope`
   * adds its window's bounds or its instant as named parameters of the call; a part the step
   * does not {@linkcode PostgresStep.accepts} is refused.
   */
  async run(signal: AbortSignal, scope?: StepScope): Promise<StepResult> {
    signal.throwIfAborted();
    const db = this.#db;
    if (db === undefined || this.#statement === undefined) {
      throw new PipelineError("The postgres step is not connected.", {
        hint: "Call connect() before run(); the runner does.",
      });
    }
    const { call, query } = this.#config;
    const { names, values } = this.#parameters(scope);
    // The usual call is built once, at connect; a scope's parameters make a call of its own.
    const statement = scope === undefined || call === undefined
      ? this.#statement
      : callStatement(call, names).text;
    try {
      if (query !== undefined) {
        const { rows } = await db.query(statement);
        return { rows: rows.length, details: { rows } };
      }
      const { rows } = await db.query<{ rows: number | string | null }>(statement, values);
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

  /** The call's parameter names and values: `args`, then the scope's, instants as ISO text. */
  #parameters(scope: StepScope | undefined): { names: string[]; values: unknown[] } {
    const { call, query, args, window, at } = this.#config;
    const given = Object.entries(scope ?? {}).filter(([, value]) => value !== undefined);
    const refused = given.find(([part]) => !this.accepts?.includes(part as keyof StepScope));
    if (refused !== undefined) {
      throw new BadRequest(
        `The postgres step of ${call ?? query} takes no ${refused[0]}: its config names no ` +
          "parameter for it.",
        {
          hint: `Set \`${refused[0]}\` in the step's config to the function's parameter that ` +
            "receives it, or run the step without it.",
        },
      );
    }
    const names = Object.keys(args);
    const values: unknown[] = Object.values(args);
    if (scope?.window !== undefined && window !== undefined) {
      names.push(window.from, window.to);
      values.push(scope.window.from.toISOString(), scope.window.to.toISOString());
    }
    if (scope?.at !== undefined && at !== undefined) {
      names.push(at);
      values.push(scope.at.toISOString());
    }
    return { names, values };
  }
}

/**
 * The parts of a {@linkcode StepScope} a step config has parameters for; undefined for none.
 *
 * @example
 * ```ts
 * import { acceptsOf } from "./step.ts";
 * import { stepConfigSchema } from "./config.ts";
 * import assert from "node:assert/strict";
 *
 * const config = stepConfigSchema.parse({
 *   url: "pglite:.data/warehouse",
 *   call: "mart.compute_station_ranking",
 *   at: "at",
 * });
 * assert.deepEqual(acceptsOf(config), ["at"]);
 * assert.equal(acceptsOf({ ...config, at: undefined }), undefined);
 * ```
 */
export function acceptsOf(config: PostgresStepConfig): ReadonlyArray<keyof StepScope> | undefined {
  const parts: Array<keyof StepScope> = [
    ...(config.window === undefined ? [] : ["window" as const]),
    ...(config.at === undefined ? [] : ["at" as const]),
  ];
  return parts.length === 0 ? undefined : Object.freeze(parts);
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
