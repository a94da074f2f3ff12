/**
 * The PostgreSQL sink: a pool, migrations at connect, and one transaction per batch holding the
 * rows, the dead letters and the source positions.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { PipelineError } from "../../core/errors.ts";
import { redact } from "../../core/redact.ts";
import type { ComponentContext, Cursor, Sink, SinkBatch } from "../../core/types.ts";
import { describeTargets } from "./catalog.ts";
import { connectFailure, statementFailure } from "./classify.ts";
import type { PostgresSinkConfig } from "./config.ts";
import { connectDatabase, migrateFor } from "./connect.ts";
import { openDatabase, serverOf } from "./database.ts";
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
 * await sink.connect({ pipeline: "load", mode: "batch", logger: getLogger(["load"]), signal });
 * await sink.write({ messages: [{ value: { station_code: "16107" } }], rejects: [], cursors: [] }, signal);
 * await sink.close();
 * ```
 */
export class PostgresSink implements Sink {
  readonly #config: PostgresSinkConfig;
  readonly #server: string;
  #plan: WritePlan | undefined;

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
      this.#plan = { db, pipeline: ctx.pipeline, positions: ctx.positions, targets };
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
