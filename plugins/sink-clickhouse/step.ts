/**
 * The ClickHouse step: a `.sql` script of statements, such as a gold refresh, run in order with
 * its `{name}` placeholders bound. Without a window, it works on what was loaded since its last
 * successful run: `{loaded_since}` is that run's start less a minute, so that rows still being
 * inserted then are read again rather than missed (a refresh is idempotent).
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
import type { ClickhouseStepConfig } from "./config.ts";
import { Database, migrationsOf } from "./database.ts";
import { migrateFor } from "./migrate.ts";
import { SELECT_STEP_RUN } from "./statements.ts";

/** Rows inserted while the previous run started are read again, not missed. */
const SLACK_S = 60;
/** The first and the last instant a `DateTime` holds, whole seconds: "every time". */
const FIRST = new Date(0);
const LAST = new Date(4_294_967_295_000);

const wholeSecond = (date: Date) => new Date(Math.floor(date.getTime() / 1000) * 1000);

/**
 * Runs a script on ClickHouse after a load.
 *
 * @example
 * ```ts ignore
 * import { ClickhouseStep } from "./step.ts";
 * import { stepConfigSchema, stepExample } from "./config.ts";
 *
 * const step = new ClickhouseStep(stepConfigSchema.parse(stepExample));
 * await step.connect(ctx);
 * const { rows } = await step.run(signal);
 * ```
 */
export class ClickhouseStep implements Step {
  readonly #config: ClickhouseStepConfig;
  #db: Database | undefined;
  #script: string | undefined;
  #pipeline = "";

  /** The parts of a scope its config names placeholders for. */
  readonly accepts: ReadonlyArray<keyof StepScope> | undefined;

  /** Builds the step; nothing is opened until `connect`. */
  constructor(config: ClickhouseStepConfig) {
    this.#config = config;
    const parts: Array<keyof StepScope> = [
      ...(config.window === undefined ? [] : ["window" as const]),
      ...(config.at === undefined ? [] : ["at" as const]),
    ];
    this.accepts = parts.length === 0 ? undefined : Object.freeze(parts);
  }

  /**
   * Reads the script and opens the client. Give the step the sink's `migrations`: they say
   * which databases `databasePrefix` applies to.
   */
  async connect(ctx: ComponentContext): Promise<void> {
    try {
      this.#script = await Deno.readTextFile(this.#config.script);
    } catch (error) {
      throw new PipelineError(`Could not read the step's script ${this.#config.script}.`, {
        hint: "Check `script` in the step's config; a relative path starts at the working " +
          "directory.",
        cause: error,
      });
    }
    this.#pipeline = ctx.pipeline;
    this.#db = new Database(this.#config, await migrationsOf(this.#config));
  }

  /** Applies the migrations not applied yet, and nothing else. */
  migrate(ctx: ComponentContext): Promise<string[]> {
    return migrateFor(this.#config, ctx.logger, ctx.signal);
  }

  /**
   * Runs the script. Its last statement's rows are the result: one row with a `rows` column
   * counts what it touched; any other rows are reported as they are (`details.rows`).
   */
  async run(signal: AbortSignal, scope?: StepScope): Promise<StepResult> {
    const db = this.#db;
    const script = this.#script;
    if (db === undefined || script === undefined) {
      throw new PipelineError("The clickhouse step is not connected.", {
        hint: "Call connect() before run(); the runner does.",
      });
    }
    const startedAt = wholeSecond(new Date());
    const values = await this.#values(db, scope, signal);
    const rows = await db.runScript(script, values, signal, `The script ${this.#config.script}`);
    if (scope?.window === undefined) {
      await db.insert(
        "pipeline.step_runs",
        ["pipeline", "script", "started_at"],
        [{ pipeline: this.#pipeline, script: this.#config.script, started_at: startedAt }],
        signal,
      );
    }
    if (rows.length === 1 && "rows" in rows[0] && Object.keys(rows[0]).length === 1) {
      return { rows: Number(rows[0].rows) };
    }
    return { rows: rows.length, details: { rows } };
  }

  /** Closes the client. Safe to call more than once. */
  async close(): Promise<void> {
    const db = this.#db;
    this.#db = undefined;
    await db?.close();
  }

  /** The script's placeholders: `args`, the window, the instant and `{loaded_since}`. */
  async #values(
    db: Database,
    scope: StepScope | undefined,
    signal: AbortSignal,
  ): Promise<Record<string, unknown>> {
    const { args, window, at, script } = this.#config;
    const refused = Object.entries(scope ?? {}).find(([part, value]) =>
      value !== undefined && !this.accepts?.includes(part as keyof StepScope)
    );
    if (refused !== undefined) {
      throw new BadRequest(
        `The clickhouse step of ${script} takes no ${refused[0]}: its config names no ` +
          "placeholder for it.",
        { hint: `Set \`${refused[0]}\` in the step's config, or run the step without it.` },
      );
    }
    const values: Record<string, unknown> = { ...args };
    let loadedSince = FIRST;
    if (scope?.window === undefined) {
      const [last] = await db.run<{ started_at: number }>(
        SELECT_STEP_RUN,
        [this.#pipeline, script],
        signal,
        "Reading the step's last run",
      );
      const seconds = Number(last?.started_at ?? 0);
      if (seconds > SLACK_S) loadedSince = new Date((seconds - SLACK_S) * 1000);
    }
    values.loaded_since = loadedSince;
    if (window !== undefined) {
      values[window.from] = wholeSecond(scope?.window?.from ?? FIRST);
      values[window.to] = wholeSecond(scope?.window?.to ?? LAST);
    }
    // Without an instant asked for, the script decides (e.g. as of the newest snapshot).
    if (at !== undefined) values[at] = scope?.at === undefined ? null : wholeSecond(scope.at);
    return values;
  }
}
