/**
 * A data-quality check: one SQL query measures, the config's threshold judges, and the result
 * is recorded in `pipeline.check_results` with the run's id.
 *
 * @module
 */
import { PipelineError } from "../../core/errors.ts";
import type { Check, CheckResult, ComponentContext } from "../../core/types.ts";
import { connectDatabase, type Database, readQueryFile } from "../sink-postgres/mod.ts";
import type { QualityCheckConfig } from "./config.ts";
import { INSERT_RESULT } from "./statements.ts";

/**
 * Runs its query, compares `observed` with the threshold and stores the result.
 *
 * @example
 * ```ts ignore
 * import { QualityCheck } from "./check.ts";
 * import { configSchema, example } from "./config.ts";
 *
 * const check = new QualityCheck(configSchema.parse(example));
 * await check.connect(ctx);
 * const result = await check.run(AbortSignal.timeout(30_000), "manual");
 * await check.close();
 * ```
 */
export class QualityCheck implements Check {
  readonly #config: QualityCheckConfig;
  #query: string | undefined;
  #db: Database | undefined;
  #pipeline = "";

  /** Builds the check; nothing is opened until {@linkcode QualityCheck.connect}. */
  constructor(config: QualityCheckConfig) {
    this.#config = config;
  }

  /** Reads the query file, opens the database and applies the migrations not applied yet. */
  async connect(ctx: ComponentContext): Promise<void> {
    this.#query = await readQueryFile(this.#config.query, "check");
    const { db } = await connectDatabase(this.#config, {
      logger: ctx.logger,
      applicationName: `pipeline ${ctx.pipeline} check`,
      poolSize: 1,
    });
    this.#db = db;
    this.#pipeline = ctx.pipeline;
  }

  /** Measures, judges and records. */
  async run(signal: AbortSignal, runId: string): Promise<CheckResult> {
    signal.throwIfAborted();
    const db = this.#db;
    if (db === undefined || this.#query === undefined) {
      throw new PipelineError(`The ${this.#config.name} check is not connected.`, {
        hint: "Call connect() before run(); the runner does.",
      });
    }
    const { name, severity, threshold, passWhen, query } = this.#config;
    let rows: Array<{ observed: unknown; details?: unknown }>;
    try {
      ({ rows } = await db.query<{ observed: unknown; details?: unknown }>(this.#query));
    } catch (error) {
      throw new PipelineError(
        `The query of the ${name} check (${query}) failed on ${db.server}: ${
          error instanceof Error ? error.message : error
        }.`,
        {
          hint: "Check that the migrations ran (deno task pipeline migrate) and the query's SQL.",
          cause: error,
        },
      );
    }
    const observed = rows[0]?.observed === null || rows[0]?.observed === undefined
      ? null
      : Number(rows[0].observed);
    if (rows.length !== 1 || (observed !== null && Number.isNaN(observed))) {
      throw new PipelineError(
        `The query of the ${name} check (${query}) must return one row with a number in ` +
          `"observed"; it returned ${rows.length} row(s).`,
        { hint: "Fix the query: SELECT <number> AS observed [, <text> AS details]." },
      );
    }
    const passed = judge(observed, threshold, passWhen);
    const details = rows[0].details === null || rows[0].details === undefined
      ? ""
      : `: ${String(rows[0].details)}`;
    const message = `${this.#config.description} Observed ${observed ?? "nothing"}, ` +
      `${passWhen === "max" ? "at most" : "at least"} ${threshold} expected${details}`;
    await db.query(INSERT_RESULT.text, [
      runId,
      this.#pipeline,
      name,
      severity,
      observed,
      threshold,
      passed,
      message,
    ]);
    return { name, severity, passed, observed, threshold, message };
  }

  /** Closes the connection. Safe to call more than once. */
  async close(): Promise<void> {
    const db = this.#db;
    this.#db = undefined;
    await db?.end();
  }
}

/**
 * Whether `observed` passes. Nothing observed (an empty table) passes: there is nothing wrong
 * to see; the freshness check says "no data" by returning a number instead.
 *
 * @example
 * ```ts
 * import { judge } from "./check.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(judge(601, 600, "max"), false);
 * assert.equal(judge(0.9, 0.8, "min"), true);
 * ```
 */
export function judge(observed: number | null, threshold: number, passWhen: "max" | "min") {
  if (observed === null) return true;
  return passWhen === "max" ? observed <= threshold : observed >= threshold;
}
