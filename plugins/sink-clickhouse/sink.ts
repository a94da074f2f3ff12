/**
 * The ClickHouse sink: migrations at connect, and each batch written table by table, positions
 * last. Replays collapse on read, so the effect is exactly once for readers that read with
 * `FINAL` (see `write.ts`).
 *
 * @module
 */
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
} from "../../mod.ts";
import type { ClickhouseSinkConfig } from "./config.ts";
import { Database, migrationsOf } from "./database.ts";
import { applyMigrations, migrateFor } from "./migrate.ts";
import { SELECT_DEAD_LETTERS, SELECT_POSITIONS, SELECT_VERSION } from "./statements.ts";
import { describeTargets, writeBatch, type WritePlan } from "./write.ts";

/** How long `health` waits for the server's answer. */
const HEALTH_TIMEOUT_MS = 5_000;

interface LetterRow {
  id: string;
  stage: string;
  reason: string;
  payload: string | null;
  source_stream: string | null;
  source_partition: number | null;
  offset_text: string | null;
  failed_text: string;
}

/**
 * A sink writing each record to the configured ClickHouse tables, with its rejects and the
 * source positions; a replayed batch collapses into what it wrote.
 *
 * @example
 * ```ts ignore
 * import { ClickhouseSink } from "./sink.ts";
 * import { configSchema } from "./config.ts";
 * import { testContext } from "../../testing.ts";
 *
 * const sink = new ClickhouseSink(configSchema.parse({
 *   url: Deno.env.get("CLICKHOUSE_URL"),
 *   writes: [{ table: "raw.station_snapshots" }],
 * }));
 * await sink.connect(testContext("load"));
 * await sink.write({ messages: [{ value: { station_code: "16107" } }], rejects: [], cursors: [] }, signal);
 * await sink.close();
 * ```
 */
export class ClickhouseSink implements Sink, QueryRunner {
  readonly #config: ClickhouseSinkConfig;
  #plan: WritePlan | undefined;

  /** Builds the sink; nothing is opened until {@linkcode ClickhouseSink.connect}. */
  constructor(config: ClickhouseSinkConfig) {
    this.#config = config;
  }

  /** It answers queries in ClickHouse's SQL, `$1`, `$2`… bound on the client. */
  readonly dialect = "clickhouse";

  /** Opens the client, applies the migrations and reads the target tables' columns. */
  async connect(ctx: ComponentContext): Promise<void> {
    const migrations = await migrationsOf(this.#config);
    const db = new Database(this.#config, migrations);
    try {
      await applyMigrations(db, migrations, ctx.logger, ctx.signal);
      const tables = this.#config.writes.map((write) => write.table);
      const targets = await describeTargets(db, tables, ctx.signal);
      const columns = [...new Set(targets.flatMap((target) => target.columns))];
      this.#plan = { db, pipeline: ctx.pipeline, positions: ctx.positions, targets, columns };
    } catch (error) {
      await db.close();
      throw error;
    }
    ctx.logger.info("Connected to {url}; writing to {tables}.", {
      url: redact(this.#config.url),
      tables: this.#config.writes.map((write) => write.table).join(", "),
    });
  }

  /** Applies the migrations not applied yet, and nothing else. */
  migrate(ctx: ComponentContext): Promise<string[]> {
    return migrateFor(this.#config, ctx.logger, ctx.signal);
  }

  /** Writes the batch: rows, rejects, positions; see `writeBatch`. */
  async write(batch: SinkBatch, signal: AbortSignal): Promise<void> {
    await writeBatch(this.#connected(), batch, signal);
  }

  /** Runs one statement, `$1`, `$2`… bound to `params`: what a check measures with. */
  query<R = Record<string, unknown>>(
    sql: string,
    params: readonly unknown[],
    signal: AbortSignal,
  ): Promise<R[]> {
    return this.#connected().db.run<R>(sql, params, signal, "A query");
  }

  /** The furthest position of each partition this pipeline's batches stored. */
  async loadCursors(): Promise<Cursor[]> {
    const { db, positions } = this.#connected();
    const rows = await db.run<Cursor>(
      SELECT_POSITIONS,
      [positions],
      AbortSignal.timeout(this.#config.requestTimeoutMs),
      "Reading the stored positions",
    );
    return rows.map(({ stream, partition, offset }) => ({ stream, partition, offset }));
  }

  /** The pipeline's dead letters, oldest first, filtered by `since` and `reason`. */
  async listDeadLetters(filter: DeadLetterFilter, signal: AbortSignal): Promise<DeadLetter[]> {
    const { db, pipeline } = this.#connected();
    const since = Math.floor((filter.since?.getTime() ?? 0) / 1000);
    const rows = await db.run<LetterRow>(
      SELECT_DEAD_LETTERS,
      [pipeline, since, filter.reason ?? ""],
      signal,
      "Listing the dead letters",
    );
    return rows.map((row) => ({
      id: row.id,
      stage: row.stage,
      reason: row.reason,
      payload: row.payload,
      origin: row.source_stream === null ? undefined : {
        stream: row.source_stream,
        partition: Number(row.source_partition),
        offset: String(row.offset_text),
      },
      failedAt: row.failed_text,
    }));
  }

  /**
   * Asks the server its version with the configured credentials (ClickHouse's /ping answers
   * without them), within five seconds. Returns e.g. `ClickHouse 18.16.1 at 127.0.0.1:8123`.
   */
  async health(signal: AbortSignal): Promise<string> {
    const db = new Database({ ...this.#config, requestTimeoutMs: HEALTH_TIMEOUT_MS });
    try {
      const [{ version }] = await db.run<{ version: string }>(
        SELECT_VERSION,
        [],
        AbortSignal.any([signal, AbortSignal.timeout(HEALTH_TIMEOUT_MS)]),
        "Asking the version",
      );
      return `ClickHouse ${version} at ${db.server}`;
    } finally {
      await db.close();
    }
  }

  /** Closes the client. Safe to call more than once, and after a failed `connect`. */
  async close(): Promise<void> {
    const plan = this.#plan;
    this.#plan = undefined;
    await plan?.db.close();
  }

  #connected(): WritePlan {
    if (this.#plan === undefined) {
      throw new PipelineError("The clickhouse sink is not connected.", {
        hint: "Call connect() before writing; the runner does.",
      });
    }
    return this.#plan;
  }
}
