/**
 * The Vélib' source: polls the availability API and hands the runner one batch per snapshot.
 *
 * @module
 */
import {
  type Batch,
  ConnectionError,
  CycleError,
  definePlugin,
  describeError,
  displayUrl,
  END_OF_INPUT,
  type EndOfInput,
  literal,
  type Reject,
  sleep,
  type Source,
  type SourceContext,
} from "../../mod.ts";
import { configSchema, example, type VelibSourceConfig } from "./config.ts";
import { countStations, fetchStations } from "./http.ts";
import type { StationSnapshot } from "../../contracts/mod.ts";
import { dedupeStations, normalizeStation } from "./normalize.ts";

/** How rejects name this source. */
const STAGE = "source velib";

/** What the source has done since it was created. */
export interface VelibCounters {
  /** Snapshots read whole and handed to the runner. */
  cyclesOk: number;
  /** Snapshots that could not be read (timeout, HTTP error, bad body…); nothing was published. */
  cyclesFailed: number;
  /** Snapshots handed to the runner but nacked because a sink failed; they are not redelivered. */
  cyclesDropped: number;
  /** Station records dropped because the same station came twice in one snapshot. */
  duplicates: number;
  /** Station records rejected by normalization, sent to dead letters. */
  rejects: number;
}

/** The Vélib' source, with its counters. */
export interface VelibSource extends Source<StationSnapshot> {
  /** Live counts; read them, do not change them. */
  readonly counters: Readonly<VelibCounters>;
}

/**
 * Builds the source. Each `read()` is one cycle: all stations of one snapshot, keyed by station
 * code, plus the records that did not normalize as rejects. The first cycle starts at once, the
 * next ones `intervalMs` after the previous one started (at once if that is past).
 *
 * In `stream` mode a failed cycle publishes nothing, logs one error line and waits for the next
 * cycle; in `batch` mode there is exactly one cycle, and its failure fails the run.
 *
 * @example Reading one snapshot
 * ```ts ignore
 * import { createVelibSource } from "./source.ts";
 * import { configSchema } from "./config.ts";
 * import { getLogger } from "@logtape/logtape";
 *
 * const source = createVelibSource(configSchema.parse({}));
 * const signal = new AbortController().signal;
 * await source.connect?.({
 *   pipeline: "ingest", mode: "batch", logger: getLogger(["pipeline"]), signal,
 *   loadCursors: () => Promise.resolve([]),
 * });
 * const batch = await source.read(signal);
 * ```
 */
export function createVelibSource(config: VelibSourceConfig): VelibSource {
  return new VelibPoller(config);
}

/**
 * The `velib` source plugin. `baseUrl` is overridden by `VELIB_API_URL`.
 *
 * @example Pointing it at a local replay of the API
 * ```ts
 * import { velibSource } from "./source.ts";
 * import assert from "node:assert/strict";
 *
 * const source = velibSource({ fetch: "records", intervalMs: 60_000 });
 * assert.deepEqual(source.validate({ VELIB_API_URL: "http://127.0.0.1:8000/datasets/x" }), []);
 * assert.equal(source.validate({ VELIB_API_URL: "not a url" })[0].path, "baseUrl (from VELIB_API_URL)");
 * ```
 */
export const velibSource = definePlugin({
  kind: "source",
  name: "velib",
  description: "Polls the Vélib' Métropole availability API (Paris open data, Explore v2.1) and " +
    "publishes one batch of station snapshots per cycle.",
  config: configSchema,
  example,
  env: { baseUrl: "VELIB_API_URL" },
  create: createVelibSource,
});

class VelibPoller implements VelibSource {
  readonly counters: VelibCounters = {
    cyclesOk: 0,
    cyclesFailed: 0,
    cyclesDropped: 0,
    duplicates: 0,
    rejects: 0,
  };
  readonly #config: VelibSourceConfig;
  #ctx: SourceContext | undefined;
  /** `performance.now()` at which the next cycle may start. */
  #nextCycleAt = 0;
  #cycles = 0;

  constructor(config: VelibSourceConfig) {
    this.#config = config;
  }

  connect(ctx: SourceContext): Promise<void> {
    // Nothing to open: every cycle makes its own requests.
    this.#ctx = ctx;
    return Promise.resolve();
  }

  async read(signal: AbortSignal): Promise<Batch<StationSnapshot> | EndOfInput> {
    const ctx = this.#context();
    if (ctx.mode === "batch") {
      if (this.#cycles > 0) return END_OF_INPUT;
      return await this.#cycle(signal);
    }
    for (;;) {
      await sleep(Math.max(0, this.#nextCycleAt - performance.now()), signal);
      try {
        return await this.#cycle(signal);
      } catch (error) {
        if (!(error instanceof CycleError)) throw error;
        const { message, hint = "" } = describeError(error);
        const waitMs = Math.max(0, Math.round(this.#nextCycleAt - performance.now()));
        ctx.logger.error(
          `Snapshot ${this.#cycles} failed; nothing was published: ${literal(message)} ` +
            `${literal(hint)} Next snapshot in ${waitMs} ms.`,
          { cycle: this.#cycles, error: message, hint, waitMs },
        );
      }
    }
  }

  async health(signal: AbortSignal): Promise<string> {
    const url = displayUrl(this.#config.baseUrl);
    try {
      return `Vélib' API at ${url}: ${await countStations(this.#config, signal)} stations`;
    } catch (error) {
      if (!(error instanceof CycleError)) throw error;
      throw new ConnectionError(error.message, { hint: error.hint, cause: error });
    }
  }

  /** Takes one snapshot; throws a `CycleError` when it cannot be had whole. */
  async #cycle(signal: AbortSignal): Promise<Batch<StationSnapshot>> {
    const ctx = this.#context();
    const started = performance.now();
    const cycle = ++this.#cycles;
    // From the start, so a slow cycle delays the next one without cycles piling up.
    this.#nextCycleAt = started + this.#config.intervalMs;
    let records: unknown[];
    try {
      records = await fetchStations(this.#config, { signal, deadline: this.#nextCycleAt });
    } catch (error) {
      if (error instanceof CycleError) this.counters.cyclesFailed++;
      throw error;
    }
    const collectedAt = new Date();
    const snapshots: StationSnapshot[] = [];
    const rejects: Reject[] = [];
    for (const record of records) {
      const normalized = normalizeStation(record, collectedAt);
      if (normalized.ok) snapshots.push(normalized.snapshot);
      else rejects.push({ payload: record, reason: normalized.reason, stage: STAGE });
    }
    const { stations, duplicates } = dedupeStations(snapshots);
    this.counters.cyclesOk++;
    this.counters.duplicates += duplicates;
    this.counters.rejects += rejects.length;
    const ms = Math.round(performance.now() - started);
    ctx.logger.info(
      `Snapshot ${cycle}: ${stations.length} stations, ${duplicates} duplicate(s), ` +
        `${rejects.length} reject(s) in ${ms} ms.`,
      { cycle, stations: stations.length, duplicates, rejects: rejects.length, ms },
    );
    return {
      messages: stations.map((station) => ({ key: station.station_code, value: station })),
      rejects,
      cursors: [],
      ack: (error?: Error) => {
        // Committing needs nothing: a snapshot poller has no position to save.
        if (error) this.#dropped(cycle, stations.length, error);
        return Promise.resolve();
      },
    };
  }

  #dropped(cycle: number, stations: number, error: Error): void {
    this.counters.cyclesDropped++;
    const { message } = describeError(error);
    this.#context().logger.warn(
      `Snapshot ${cycle} (${stations} stations) was dropped because it could not be written: ` +
        `${literal(message)} The next snapshot supersedes it.`,
      { cycle, stations, error: message },
    );
  }

  #context(): SourceContext {
    if (this.#ctx === undefined) {
      throw new Error("The Vélib' source was read before connect(); the runner connects it.");
    }
    return this.#ctx;
  }
}
