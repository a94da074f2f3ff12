/**
 * A data-quality check: one query measures, the config's threshold judges, and the result is
 * recorded with the run's id in `pipeline.check_results`, on the pipeline's warehouse.
 *
 * @module
 */
import {
  BadRequest,
  type Check,
  type CheckContext,
  type CheckResult,
  isTransient,
  PipelineError,
  type QueryRunner,
} from "../../mod.ts";
import type { QualityCheckConfig } from "./config.ts";
import { RESULT_STATEMENTS, type ResultStatements } from "./statements.ts";

/**
 * Runs its query on the warehouse the runner hands it, compares `observed` with the threshold
 * and stores the result there.
 *
 * @example
 * ```ts ignore
 * import { QualityCheck } from "./check.ts";
 * import { configSchema, example } from "./config.ts";
 *
 * const check = new QualityCheck(configSchema.parse(example));
 * await check.connect({ ...ctx, warehouse }); // the runner connects the warehouse first
 * const result = await check.run(AbortSignal.timeout(30_000), "manual");
 * await check.close();
 * ```
 */
export class QualityCheck implements Check {
  readonly #config: QualityCheckConfig;
  #query: string | undefined;
  #warehouse: { runner: QueryRunner; statements: ResultStatements } | undefined;
  #pipeline = "";

  /** Builds the check; nothing is read until {@linkcode QualityCheck.connect}. */
  constructor(config: QualityCheckConfig) {
    this.#config = config;
  }

  /**
   * Reads the query file and takes the warehouse, creating the results table there if it is
   * missing. The warehouse is connected already: the runner connects it first.
   */
  async connect(ctx: CheckContext): Promise<void> {
    const { name } = this.#config;
    const runner = ctx.warehouse;
    if (runner === undefined) {
      throw new BadRequest(
        `The ${name} check has no warehouse to run its query on: pipeline ${ctx.pipeline} ` +
          "names none.",
        { hint: "Set `warehouse` in the pipeline's config to the sink that holds the data." },
      );
    }
    const statements = RESULT_STATEMENTS[runner.dialect];
    if (statements === undefined) {
      throw new BadRequest(
        `The ${name} check cannot keep its results in a ${runner.dialect} warehouse.`,
        { hint: `It knows ${Object.keys(RESULT_STATEMENTS).join(", ")}.` },
      );
    }
    this.#query = await readQuery(this.#config.query);
    await this.#send(runner, "Preparing the results table", async () => {
      const present = statements.present !== undefined &&
        (await runner.query<{ present: boolean }>(statements.present, [], ctx.signal))[0].present;
      if (!present) await runner.query(statements.create, [], ctx.signal);
    });
    this.#warehouse = { runner, statements };
    this.#pipeline = ctx.pipeline;
  }

  /** Measures, judges and records. */
  async run(signal: AbortSignal, runId: string): Promise<CheckResult> {
    signal.throwIfAborted();
    const warehouse = this.#warehouse;
    const sql = this.#query;
    if (warehouse === undefined || sql === undefined) {
      throw new PipelineError(`The ${this.#config.name} check is not connected.`, {
        hint: "Call connect() before run(); the runner does.",
      });
    }
    const { runner, statements } = warehouse;
    const { name, severity, threshold, passWhen, query } = this.#config;
    const rows = await this.#send(
      runner,
      `The query of the ${name} check (${query})`,
      () => runner.query<{ observed: unknown; details?: unknown }>(sql, [], signal),
    );
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
    const result = [runId, this.#pipeline, name, severity, observed, threshold, passed, message];
    await this.#send(
      runner,
      `Recording the result of the ${name} check`,
      () => runner.query(statements.insert, result, signal),
    );
    return { name, severity, passed, observed, threshold, message };
  }

  /** Lets the warehouse go; the runner closes it. Safe to call more than once. */
  close(): Promise<void> {
    this.#warehouse = undefined;
    return Promise.resolve();
  }

  /** Runs `send`, naming `what` failed and keeping whether retrying may help. */
  async #send<T>(runner: QueryRunner, what: string, send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new PipelineError(`${what} failed on the ${runner.dialect} warehouse: ${reason}`, {
        hint: "Check that the warehouse's migrations ran (deno task pipeline migrate) and the " +
          "query's SQL.",
        transient: isTransient(error),
        cause: error,
      });
    }
  }
}

/** The check's query, with an error naming the file when it cannot be read. */
async function readQuery(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    throw new PipelineError(
      `Could not read the check's query ${path}: ${
        error instanceof Error ? error.message : error
      }.`,
      {
        hint: "Check `query` in the check's config; a relative path starts at the working " +
          "directory.",
      },
    );
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
