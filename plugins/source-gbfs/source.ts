/**
 * The GBFS source: polls a bike-share system's GBFS feeds and hands the runner one batch of
 * station snapshots per cycle.
 *
 * @module
 */
import {
  BadRequest,
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
import { normalizeSystemId, type StationSnapshot } from "../../contracts/mod.ts";
import { configSchema, example, type GbfsSourceConfig } from "./config.ts";
import { type FeedSet, GbfsFeeds } from "./feeds.ts";
import { normalizeStations } from "./normalize.ts";

/** How rejects name this source. */
const STAGE = "source gbfs";

/** What the source has done since it was created. */
export interface GbfsCounters {
  /** Snapshots read whole and handed to the runner. */
  cyclesOk: number;
  /** Snapshots that could not be read (a feed timed out, failed, was malformed…); nothing was published. */
  cyclesFailed: number;
  /** Snapshots handed to the runner but nacked because a sink failed; they are not redelivered. */
  cyclesDropped: number;
  /** Station records dropped because the same station came twice in one `station_status`. */
  duplicates: number;
  /** Stations rejected by normalization, sent to dead letters. */
  rejects: number;
}

/** The GBFS source, with its counters. */
export interface GbfsSource extends Source<StationSnapshot> {
  /** Live counts; read them, do not change them. */
  readonly counters: Readonly<GbfsCounters>;
}

/** Options of {@linkcode createGbfsSource} that are not config. */
export interface GbfsSourceOptions {
  /**
   * The wall clock, in epoch milliseconds, that decides when a kept feed's `ttl` has run out
   * (tests move it); `collected_at` is always the real time.
   * @default {Date.now}
   */
  now?: () => number;
}

/**
 * Builds the source. Each `read()` is one cycle: every station of `station_status` with its
 * `station_information`, as snapshots of the system keyed `system_id/station_code`, plus the
 * stations that did not normalize as rejects. The discovery file, `system_information`,
 * `vehicle_types` and `station_information` are read again only once their `ttl` has run out;
 * `station_status` every cycle. The first cycle starts at once, the next ones `intervalMs` after
 * the previous one started (at once if that is past).
 *
 * A cycle is all or nothing: any feed that fails or is malformed fails it. In `stream` mode a
 * failed cycle publishes nothing, logs one error line and waits for the next cycle; in `batch`
 * mode there is exactly one cycle, and its failure fails the run. A system that says neither in
 * `system_information` nor in the config which system it is fails the run with a
 * {@linkcode BadRequest}.
 *
 * @example Reading one snapshot
 * ```ts ignore
 * import { createGbfsSource } from "./source.ts";
 * import { configSchema } from "./config.ts";
 * import { testContext } from "../../testing.ts";
 *
 * const source = createGbfsSource(configSchema.parse({ url: "https://gbfs.example.org/gbfs.json" }));
 * await source.connect?.({ ...testContext("gbfs"), loadCursors: () => Promise.resolve([]) });
 * const batch = await source.read(new AbortController().signal);
 * ```
 */
export function createGbfsSource(
  config: GbfsSourceConfig,
  options: GbfsSourceOptions = {},
): GbfsSource {
  return new GbfsPoller(config, options);
}

/**
 * The `gbfs` source plugin. `url` is overridden by `GBFS_URL`, `systemId` by `GBFS_SYSTEM_ID`.
 *
 * @example Pointing it at a system
 * ```ts
 * import { gbfsSource } from "./source.ts";
 * import assert from "node:assert/strict";
 *
 * const source = gbfsSource({ intervalMs: 60_000 });
 * assert.deepEqual(source.validate({ GBFS_URL: "http://127.0.0.1:8000/gbfs.json", GBFS_SYSTEM_ID: "demo" }), []);
 * assert.equal(source.validate({ GBFS_URL: "not a url" })[0].path, "url (from GBFS_URL)");
 * assert.equal(source.validate({ GBFS_SYSTEM_ID: "***" })[0].path, "systemId (from GBFS_SYSTEM_ID)");
 * ```
 */
export const gbfsSource = definePlugin({
  kind: "source",
  name: "gbfs",
  description: "Polls the GBFS feeds (1.x, 2.x or 3.0) of a docked bike-share system and " +
    "publishes one batch of station snapshots per cycle.",
  config: configSchema,
  example,
  env: { url: "GBFS_URL", systemId: "GBFS_SYSTEM_ID" },
  create: (config: GbfsSourceConfig) => createGbfsSource(config),
});

class GbfsPoller implements GbfsSource {
  readonly counters: GbfsCounters = {
    cyclesOk: 0,
    cyclesFailed: 0,
    cyclesDropped: 0,
    duplicates: 0,
    rejects: 0,
  };
  readonly #config: GbfsSourceConfig;
  readonly #options: GbfsSourceOptions;
  #feeds: GbfsFeeds | undefined;
  #ctx: SourceContext | undefined;
  /** `performance.now()` at which the next cycle may start. */
  #nextCycleAt = 0;
  #cycles = 0;
  #renameLogged = false;

  constructor(config: GbfsSourceConfig, options: GbfsSourceOptions) {
    this.#config = config;
    this.#options = options;
  }

  connect(ctx: SourceContext): Promise<void> {
    // Nothing to open: every cycle makes its own requests.
    this.#ctx = ctx;
    this.#feeds ??= new GbfsFeeds({
      url: this.#url(),
      timeoutMs: this.#config.timeoutMs,
      ...(this.#config.language === undefined ? {} : { language: this.#config.language }),
      ...(this.#options.now === undefined ? {} : { now: this.#options.now }),
    });
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
    const url = this.#url();
    const feeds = new GbfsFeeds({ url, timeoutMs: this.#config.timeoutMs });
    try {
      const discovery = await feeds.discover({ signal, deadline: performance.now() });
      const version = discovery.version === undefined ? "1.x" : discovery.version;
      return `GBFS ${version} discovery file at ${displayUrl(url)}: ` +
        `${[...discovery.feeds.keys()].join(", ")}`;
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
    let feeds: FeedSet;
    try {
      feeds = await this.#feeds!.read({ signal, deadline: this.#nextCycleAt });
    } catch (error) {
      if (error instanceof CycleError) this.counters.cyclesFailed++;
      throw error;
    }
    const collectedAt = new Date();
    const systemId = this.#systemId(feeds);
    const normalized = normalizeStations({
      status: feeds.stationStatus,
      information: feeds.stationInformation,
      ...(feeds.vehicleTypes === undefined ? {} : { vehicleTypes: feeds.vehicleTypes }),
    }, {
      systemId,
      collectedAt,
      ...(this.#config.language === undefined ? {} : { language: this.#config.language }),
    });
    const { stations, duplicates, unreported } = normalized;
    const rejects: Reject[] = normalized.rejects.map((reject) => ({ ...reject, stage: STAGE }));
    this.counters.cyclesOk++;
    this.counters.duplicates += duplicates;
    this.counters.rejects += rejects.length;
    const ms = Math.round(performance.now() - started);
    ctx.logger.info(
      `Snapshot ${cycle} of ${systemId}: ${stations.length} stations, ${duplicates} ` +
        `duplicate(s), ${rejects.length} reject(s), ${unreported} station(s) without status, ` +
        `in ${ms} ms (read ${feeds.requested.join(", ")}).`,
      {
        cycle,
        systemId,
        stations: stations.length,
        duplicates,
        rejects: rejects.length,
        unreported,
        requested: feeds.requested,
        ms,
      },
    );
    return {
      messages: stations.map((station) => ({
        key: `${station.system_id}/${station.station_code}`,
        value: station,
      })),
      rejects,
      cursors: [],
      ack: (error?: Error) => {
        // Committing needs nothing: a snapshot poller has no position to save.
        if (error) this.#dropped(cycle, stations.length, error);
        return Promise.resolve();
      },
    };
  }

  /**
   * The configured system id, else the feed's own; refused when there is neither. The operator's
   * word comes first so that a system can keep the id it already has in the warehouse: Vélib's
   * GBFS calls itself `Paris`, and its stations are the `velib` system's.
   */
  #systemId(feeds: FeedSet): string {
    const published = feeds.systemInformation?.system_id;
    const fromFeed = typeof published === "string" ? normalizeSystemId(published) : undefined;
    const configured = this.#config.systemId;
    if (configured !== undefined) {
      if (fromFeed !== undefined && fromFeed !== configured && !this.#renameLogged) {
        this.#renameLogged = true;
        this.#context().logger.info(
          `The feed calls its system "${literal(fromFeed)}"; its snapshots are written as the ` +
            `configured "${literal(configured)}".`,
          { feedSystemId: fromFeed, systemId: configured },
        );
      }
      return configured;
    }
    if (fromFeed !== undefined) return fromFeed;
    const said = feeds.systemInformation === undefined
      ? "publishes no system_information"
      : `gives no usable system_id in system_information (${JSON.stringify(published)})`;
    throw new BadRequest(
      `The GBFS system at ${displayUrl(this.#url())} ${said}, so it does not say which system ` +
        "it is, and the gbfs source has no systemId.",
      {
        hint: "Set GBFS_SYSTEM_ID (or systemId in the source's config) to a short id for it, " +
          "e.g. GBFS_SYSTEM_ID=citi-bike-nyc: 1 to 64 lowercase letters, digits, _ or -.",
      },
    );
  }

  #url(): string {
    if (this.#config.url !== undefined) return this.#config.url;
    throw new BadRequest("The gbfs source has no url: it does not know which system to read.", {
      hint: "Set GBFS_URL (or url in the source's config) to the system's gbfs.json, e.g. " +
        "GBFS_URL=https://gbfs.example.org/gbfs.json.",
    });
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
      throw new Error("The GBFS source was read before connect(); the runner connects it.");
    }
    return this.#ctx;
  }
}
