/**
 * The PostgreSQL sink: a pool, migrations at connect, and one transaction per batch holding the
 * rows, the dead letters and the source positions. It also lists its dead letters and replays
 * them (see `dead_letters.ts`).
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import {
  type ComponentContext,
  type Cursor,
  type DeadLetter,
  type DeadLetterFilter,
  PipelineError,
  type QueryRunner,
  redact,
  type Sink,
  type SinkBatch,
  type Source,
} from "../../mod.ts";
import { describeTargets } from "./catalog.ts";
import { connectFailure, statementFailure } from "./classify.ts";
import type { PostgresSinkConfig } from "./config.ts";
import { connectDatabase, migrateFor } from "./connect.ts";
import { openDatabase, serverOf } from "./database.ts";
import { DeadLetterReplay, listDeadLetters } from "./dead_letters.ts";
import { SELECT_POSITIONS, SELECT_VERSION } from "./statements.ts";
import { writeBatch, type WritePlan } from "./write.ts";

/**
 * A sink writing each record to the configured tables, exactly once in effect: a replayed batch
 * changes nothing, because rows, dead letters and positions commit together and each write
 * skips (or only moves forward) what is already there.
 *
 * @example
 * ```ts ignore
 * import { PostgresSink } from "./sink.ts";
 * import { configSchema } from "./config.ts";
 * import { getLogger } from "@logtape/logtape";
 *
 * const sink = new PostgresSink(configSchema.parse({
 *   url: Deno.env.get("DATABASE_URL"),
 *   writes: [{ table: "raw.station_snapshots", mode: "insert", key: ["station_code", "collected_at"] }],
 * }));
 * const signal = new AbortController().signal;
 * await sink.connect({
 *   pipeline: "load",
 *   runId: crypto.randomUUID(),
 *   positions: "load",
 *   mode: "batch",
 *   logger: getLogger(["load"]),
 *   signal,
 * });
 * await sink.write({ messages: [{ value: { station_code: "16107" } }], rejects: [], cursors: [] }, signal);
 * await sink.close();
 * ```
 */
export class PostgresSink implements Sink, QueryRunner {
  readonly #config: PostgresSinkConfig;
  readonly #server: string;
  #plan: WritePlan | undefined;
  /** Set once a replay of its letters is made: from then on, writes mark them. */
  #replays = false;

  /** Builds the sink; nothing is opened until {@linkcode PostgresSink.connect}. */
  constructor(config: PostgresSinkConfig) {
    this.#config = config;
    this.#server = serverOf(config.url);
  }

  /**
   * Opens the pool, checks the server answers, applies the migrations and reads the target
   * tables' columns. Tries once: the runner retries a transient failure.
   */
  async connect(ctx: ComponentContext): Promise<void> {
    const { db } = await connectDatabase(this.#config, {
      logger: ctx.logger,
      applicationName: `pipeline ${ctx.pipeline}`,
      poolSize: this.#config.poolSize,
    });
    try {
      const targets = await describeTargets(db, this.#config.writes).catch((error) => {
        throw statementFailure(error, "Reading the target tables", this.#server);
      });
      this.#plan = {
        db,
        pipeline: ctx.pipeline,
        positions: ctx.positions,
        targets,
        runId: ctx.runId,
        replays: this.#replays,
      };
    } catch (error) {
      await db.end();
      throw error;
    }
    ctx.logger.info("Connected to {url}; writing to {tables}.", {
      url: redact(this.#config.url),
      tables: this.#config.writes.map((write) => write.table).join(", "),
    });
  }

  /** Applies the migrations not applied yet, and nothing else; see `migrate` in `connect.ts`. */
  migrate(ctx: ComponentContext): Promise<string[]> {
    return migrateFor(this.#config, ctx.logger);
  }

  /** Writes the batch in one transaction; see `writeBatch` for what it throws. */
  async write(batch: SinkBatch, signal: AbortSignal): Promise<void> {
    await writeBatch(this.#connected(), batch, signal);
  }

  /** It answers queries in PostgreSQL's SQL: it can be a pipeline's `warehouse`. */
  readonly dialect = "postgres";

  /**
   * Runs one statement on the pool, in a transaction of its own, outside any batch's: what a
   * check measures with. Parameters are `$1`, `$2`…; `statementTimeoutMs` bounds it.
   */
  async query<R = Record<string, unknown>>(
    sql: string,
    params: readonly unknown[],
    signal: AbortSignal,
  ): Promise<R[]> {
    signal.throwIfAborted();
    const { db } = this.#connected();
    try {
      return (await db.query<R>(sql, [...params])).rows;
    } catch (error) {
      throw statementFailure(error, "A query", this.#server);
    }
  }

  /** The positions this run's batches (live, or a rerun's) brought each partition to. */
  async loadCursors(): Promise<Cursor[]> {
    const { db, positions } = this.#connected();
    try {
      const { rows } = await db.query<Cursor>(SELECT_POSITIONS.text, [positions]);
      return rows.map(({ stream, partition, offset }) => ({ stream, partition, offset }));
    } catch (error) {
      throw statementFailure(error, "Reading the stored positions", this.#server);
    }
  }

  /**
   * The pipeline's dead letters, oldest first, replayed ones included, filtered by `since`
   * (`failed_at` at or after it) and `reason` (contained in it, ignoring case).
   *
   * @example
   * ```ts ignore
   * const waiting = (await sink.listDeadLetters({ reason: "capacity" }, signal))
   *   .filter((letter) => letter.replayed === undefined);
   * ```
   */
  async listDeadLetters(filter: DeadLetterFilter, signal: AbortSignal): Promise<DeadLetter[]> {
    signal.throwIfAborted();
    const letters = await listDeadLetters(this.#connected(), filter);
    signal.throwIfAborted();
    return letters;
  }

  /**
   * A `batch` source of the letters that wait and match `filter`, read through this sink's
   * connection once it is connected (the runner connects sinks first). From now on, this sink's
   * writes mark the letters whose records they write replayed, with the run id, and give those
   * rejected again their new reason, in the transaction of the rows; so the sink must be one of
   * the pipeline's sinks, not only its dead-letter sink.
   *
   * @example
   * ```ts ignore
   * import { runPipeline } from "../../mod.ts";
   *
   * const replay = { ...pipeline, source: { name: "dead-letters", component: sink.replayDeadLetters({}) } };
   * await runPipeline(replay, { mode: "batch", parts: { load: true, checks: false } });
   * ```
   */
  replayDeadLetters(filter: DeadLetterFilter): Source {
    this.#replays = true;
    if (this.#plan !== undefined) this.#plan.replays = true;
    return new DeadLetterReplay(() => this.#connected(), filter);
  }

  /**
   * Asks the server its version over a connection of its own, so it works before `connect`
   * and does not migrate anything. Returns e.g. `PostgreSQL 15.14 at db:5432/velib`.
   */
  async health(signal: AbortSignal): Promise<string> {
    signal.throwIfAborted();
    const ask = (async () => {
      const db = await openDatabase({
        ...this.#config,
        poolSize: 1,
        applicationName: "pipeline health",
        logger: getLogger(["pipeline", "health"]),
      });
      try {
        const { rows } = await db.query<{ version: string }>(SELECT_VERSION.text);
        return rows[0].version;
      } finally {
        await db.end();
      }
    })();
    ask.catch(() => {}); // once aborted, its failure is of no interest
    const aborted = Promise.withResolvers<never>();
    const onAbort = () => aborted.reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      const version = await Promise.race([ask, aborted.promise]);
      return `${version.split(" ").slice(0, 2).join(" ")} at ${this.#server}`;
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      throw connectFailure(error, this.#server);
    } finally {
      // Once aborted, the attempt may hang: it ends in the background.
      signal.removeEventListener("abort", onAbort);
    }
  }

  /** Closes the pool. Safe to call more than once, and after a failed `connect`. */
  async close(): Promise<void> {
    const plan = this.#plan;
    this.#plan = undefined;
    await plan?.db.end();
  }

  #connected(): WritePlan {
    if (this.#plan === undefined) {
      throw new PipelineError("The postgres sink is not connected.", {
        hint: "Call connect() before writing; the runner does.",
      });
    }
    return this.#plan;
  }
}
