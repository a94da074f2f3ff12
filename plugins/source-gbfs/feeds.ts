/**
 * A GBFS system's feeds, as one cycle needs them: the auto-discovery file (`gbfs.json`) read in
 * its 1.x/2.x shape (`data.<language>.feeds`) or its 3.0 shape (`data.feeds`), then
 * `system_information` and `vehicle_types` when it lists them, `station_information`, and
 * `station_status` last. Every feed but `station_status` is kept until its `ttl` runs out, so
 * that a cycle asks only for what may have changed.
 *
 * @module
 */
import { type CycleBudget, CycleError, displayUrl, getJson, type JsonRequest } from "../../mod.ts";

/** What to check when a GBFS file cannot be had. */
const GBFS_HINTS = {
  setting: "url (GBFS_URL)",
  urlHint: "Check url (GBFS_URL): it must be the system's gbfs.json, whose feeds must answer.",
} satisfies Pick<JsonRequest, "setting" | "urlHint">;

/** The feeds a cycle cannot do without. */
export const REQUIRED_FEEDS = ["station_information", "station_status"] as const;

/** The feeds read when the discovery file lists them. */
export const OPTIONAL_FEEDS = ["system_information", "vehicle_types"] as const;

/** A feed's name, among those the source reads. */
export type FeedName = typeof REQUIRED_FEEDS[number] | typeof OPTIONAL_FEEDS[number];

/** What a discovery file says, for the language chosen. */
export interface Discovery {
  /** The `version` it declares (`2.3`, `3.0`); absent from 1.x files. */
  version?: string;
  /** The language whose feeds are used (1.x/2.x); undefined for 3.0, which has one list. */
  language?: string;
  /** Every language the file lists feeds for (1.x/2.x), in its order. */
  languages: string[];
  /** Each feed's absolute URL, by name. */
  feeds: Map<string, string>;
}

/** A feed's envelope: `last_updated`, `ttl` and `data`, the same in every GBFS version. */
export interface Envelope {
  /** `last_updated` as epoch milliseconds: epoch seconds (1.x/2.x) or RFC 3339 (3.0). */
  lastUpdated?: number;
  /** `ttl` in seconds; 0 when absent or unreadable, so the feed is read again each time. */
  ttlSeconds: number;
  /** The `version` it declares, if any. */
  version?: string;
  /** Its `data` object. */
  data: Record<string, unknown>;
}

/** What one cycle read: the feeds' `data`, and which were asked for anew. */
export interface FeedSet {
  /** The discovery file in use. */
  discovery: Discovery;
  /** `system_information`'s data, when the system publishes one. */
  systemInformation?: Record<string, unknown>;
  /** `vehicle_types`'s `data.vehicle_types`, when the system publishes it. */
  vehicleTypes?: unknown[];
  /** `station_information`'s `data.stations`. */
  stationInformation: unknown[];
  /** `station_status`'s `data.stations`, read last, in this cycle. */
  stationStatus: unknown[];
  /** The feeds requested in this cycle (the others came from what was kept). */
  requested: string[];
}

/** Options of {@linkcode GbfsFeeds}. */
export interface FeedsOptions {
  /** The discovery file's URL. */
  url: string;
  /** The preferred language; the file's first one when unset or absent. */
  language?: string;
  /** Longest wait for one request. */
  timeoutMs: number;
  /**
   * The wall clock, in epoch milliseconds, that decides whether a kept feed's `ttl` has run out.
   * @default {Date.now}
   */
  now?: () => number;
}

interface Kept {
  url: string;
  expiresAt: number;
  body: Envelope;
}

/**
 * Reads a system's feeds cycle after cycle, keeping each one until it expires: at the feed's
 * `last_updated` + `ttl`, and never later than `ttl` after it was read (a clock ahead of this
 * one would otherwise keep it too long). A feed without `last_updated` expires `ttl` after it
 * was read; `ttl` 0 means read it every time.
 *
 * @example
 * ```ts ignore
 * import { GbfsFeeds } from "./feeds.ts";
 *
 * const feeds = new GbfsFeeds({ url: "https://gbfs.example.org/gbfs.json", timeoutMs: 10_000 });
 * const budget = { signal: AbortSignal.timeout(60_000), deadline: performance.now() + 60_000 };
 * const { stationStatus, requested } = await feeds.read(budget);
 * ```
 */
export class GbfsFeeds {
  readonly #options: FeedsOptions;
  readonly #now: () => number;
  #discovery: Kept | undefined;
  #parsed: Discovery | undefined;
  readonly #kept = new Map<string, Kept>();

  /** Keeps nothing yet: the first {@linkcode read} asks for every feed. */
  constructor(options: FeedsOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Reads what this cycle needs, in order: the discovery file, `system_information` and
   * `vehicle_types` (when listed), `station_information`, each only when expired, then
   * `station_status`. Throws a {@linkcode CycleError} when any of them cannot be had.
   */
  async read(budget: CycleBudget): Promise<FeedSet> {
    const requested: string[] = [];
    const discovery = await this.discover(budget, requested);
    for (const name of REQUIRED_FEEDS) {
      if (!discovery.feeds.has(name)) {
        throw new CycleError(
          `The GBFS discovery file lists no ${name} feed (GET ${displayUrl(this.#options.url)}); ` +
            `it lists ${[...discovery.feeds.keys()].join(", ") || "none"}.`,
          {
            hint: "The source reads docked systems, which publish station_information and " +
              "station_status; check url (GBFS_URL).",
          },
        );
      }
    }
    const feed = (name: FeedName) => this.#feed(name, discovery, budget, requested);
    const systemInformation = discovery.feeds.has("system_information")
      ? (await feed("system_information")).data
      : undefined;
    const list = async (name: FeedName, field: string) =>
      listOf(await feed(name), { name, field, url: discovery.feeds.get(name)! });
    const vehicleTypes = discovery.feeds.has("vehicle_types")
      ? await list("vehicle_types", "vehicle_types")
      : undefined;
    const stationInformation = await list("station_information", "stations");
    const stationStatus = await list("station_status", "stations");
    return {
      discovery,
      ...(systemInformation === undefined ? {} : { systemInformation }),
      ...(vehicleTypes === undefined ? {} : { vehicleTypes }),
      stationInformation,
      stationStatus,
      requested,
    };
  }

  /** The discovery file, read again when it has expired. */
  async discover(budget: CycleBudget, requested: string[] = []): Promise<Discovery> {
    const { url, timeoutMs, language } = this.#options;
    if (this.#parsed === undefined || this.#expired(this.#discovery)) {
      const what = "the GBFS discovery file";
      const body = await getJson({ url, what, timeoutMs, ...GBFS_HINTS }, budget);
      const envelope = parseEnvelope(body, what, url);
      this.#parsed = parseDiscovery(envelope, url, language);
      this.#discovery = this.#keep(url, envelope);
      requested.push("gbfs");
    }
    return this.#parsed;
  }

  async #feed(
    name: FeedName,
    discovery: Discovery,
    budget: CycleBudget,
    requested: string[],
  ): Promise<Envelope> {
    const url = discovery.feeds.get(name)!;
    const kept = this.#kept.get(name);
    if (name !== "station_status" && kept?.url === url && !this.#expired(kept)) return kept.body;
    const what = `the GBFS feed ${name}`;
    const envelope = parseEnvelope(
      await getJson({ url, what, timeoutMs: this.#options.timeoutMs, ...GBFS_HINTS }, budget),
      what,
      url,
    );
    requested.push(name);
    this.#kept.set(name, this.#keep(url, envelope));
    return envelope;
  }

  #keep(url: string, body: Envelope): Kept {
    return { url, body, expiresAt: expiresAt(body, this.#now()) };
  }

  #expired(kept: Kept | undefined): boolean {
    return kept === undefined || this.#now() >= kept.expiresAt;
  }
}

/**
 * When a feed read at `readAt` (epoch ms) expires: at its `last_updated` + `ttl`, but never
 * later than `readAt` + `ttl`; without `last_updated`, at `readAt` + `ttl`.
 *
 * @example
 * ```ts
 * import { expiresAt } from "./feeds.ts";
 * import assert from "node:assert/strict";
 *
 * const readAt = Date.parse("2025-05-18T14:45:25Z");
 * // Updated 5 s before it was read, for 10 s: 5 s left.
 * const lastUpdated = Date.parse("2025-05-18T14:45:20Z");
 * assert.equal(expiresAt({ lastUpdated, ttlSeconds: 10, data: {} }, readAt), readAt + 5_000);
 * assert.equal(expiresAt({ ttlSeconds: 3600, data: {} }, readAt), readAt + 3_600_000);
 * assert.equal(expiresAt({ lastUpdated, ttlSeconds: 0, data: {} }, readAt) <= readAt, true);
 * ```
 */
export function expiresAt(envelope: Envelope, readAt: number): number {
  const ttlMs = envelope.ttlSeconds * 1_000;
  if (envelope.lastUpdated === undefined) return readAt + ttlMs;
  return Math.min(envelope.lastUpdated + ttlMs, readAt + ttlMs);
}

/**
 * Reads a feed's envelope. Throws a {@linkcode CycleError} when the body is not an object with
 * a `data` object; a missing or odd `last_updated` or `ttl` only makes the feed expire at once.
 *
 * @example
 * ```ts
 * import { parseEnvelope } from "./feeds.ts";
 * import assert from "node:assert/strict";
 *
 * const v2 = parseEnvelope({ last_updated: 1747579520, ttl: 10, data: {} }, "a feed", "http://127.0.0.1/f");
 * assert.equal(v2.lastUpdated, 1747579520_000);
 * const v3 = parseEnvelope(
 *   { last_updated: "2026-09-04T21:45:32Z", ttl: 3, version: "3.0", data: {} }, "a feed", "http://127.0.0.1/f",
 * );
 * assert.equal(v3.lastUpdated, Date.parse("2026-09-04T21:45:32Z"));
 * assert.equal(parseEnvelope({ data: {} }, "a feed", "http://127.0.0.1/f").ttlSeconds, 0);
 * ```
 */
export function parseEnvelope(body: unknown, what: string, url: string): Envelope {
  if (!isObject(body) || !isObject(body.data)) {
    throw new CycleError(
      `${capitalized(what)} sent ${describeJson(body)} without a data object, which every ` +
        `GBFS feed has (GET ${displayUrl(url)}).`,
      { hint: "Check url (GBFS_URL): it must be the system's gbfs.json, listing GBFS feeds." },
    );
  }
  const ttl = body.ttl;
  const lastUpdated = epochMs(body.last_updated);
  return {
    ...(lastUpdated === undefined ? {} : { lastUpdated }),
    ttlSeconds: typeof ttl === "number" && Number.isFinite(ttl) && ttl > 0 ? ttl : 0,
    ...(typeof body.version === "string" ? { version: body.version } : {}),
    data: body.data,
  };
}

/**
 * Reads a discovery file's feeds: `data.feeds` (3.0), or `data.<language>.feeds` (1.x, 2.x)
 * for `preferred` when the file has it, else for its first language. Relative feed URLs are
 * resolved against the file's own; a feed entry without a name or URL is left out. Throws a
 * {@linkcode CycleError} when there is no list of feeds, or a feed is not at an http(s) URL.
 *
 * @example A 2.x file with two languages
 * ```ts
 * import { parseDiscovery } from "./feeds.ts";
 * import assert from "node:assert/strict";
 *
 * // Synthetic URLs.
 * const feed = (lang: string) => ({ feeds: [{ name: "station_status", url: `https://gbfs.example.org/${lang}/station_status.json` }] });
 * const envelope = { ttlSeconds: 60, version: "2.3", data: { en: feed("en"), fr: feed("fr") } };
 * const discovery = parseDiscovery(envelope, "https://gbfs.example.org/gbfs.json", "fr");
 * assert.equal(discovery.language, "fr");
 * assert.deepEqual(discovery.languages, ["en", "fr"]);
 * assert.equal(discovery.feeds.get("station_status"), "https://gbfs.example.org/fr/station_status.json");
 * assert.equal(parseDiscovery(envelope, "https://gbfs.example.org/gbfs.json", "de").language, "en");
 * ```
 */
export function parseDiscovery(envelope: Envelope, url: string, preferred?: string): Discovery {
  const { data } = envelope;
  const version = envelope.version === undefined ? {} : { version: envelope.version };
  if (Array.isArray(data.feeds)) {
    return { ...version, languages: [], feeds: feedUrls(data.feeds, url) };
  }
  const languages = Object.keys(data).filter((key) => {
    const entry = data[key];
    return isObject(entry) && Array.isArray(entry.feeds);
  });
  if (languages.length === 0) {
    throw new CycleError(
      `The GBFS discovery file has neither data.feeds (GBFS 3.0) nor data.<language>.feeds ` +
        `(GBFS 1.x and 2.x) (GET ${displayUrl(url)}).`,
      { hint: "Check url (GBFS_URL): it must be the system's gbfs.json." },
    );
  }
  const language = preferred !== undefined && languages.includes(preferred)
    ? preferred
    : languages[0];
  const feeds = (data[language] as { feeds: unknown[] }).feeds;
  return { ...version, language, languages, feeds: feedUrls(feeds, url) };
}

function feedUrls(feeds: unknown[], base: string): Map<string, string> {
  const urls = new Map<string, string>();
  for (const feed of feeds) {
    if (!isObject(feed) || typeof feed.name !== "string" || typeof feed.url !== "string") continue;
    if (urls.has(feed.name)) continue;
    const resolved = URL.canParse(feed.url, base) ? new URL(feed.url, base) : undefined;
    if (resolved === undefined || !/^https?:$/.test(resolved.protocol)) {
      // Only the feeds the source reads need an address it can fetch.
      if (!isRead(feed.name)) continue;
      throw new CycleError(
        `The GBFS discovery file lists the feed ${feed.name} at ${JSON.stringify(feed.url)}, ` +
          `which is not an http(s) URL (GET ${displayUrl(base)}).`,
        { hint: "Check url (GBFS_URL): it must be the system's published gbfs.json." },
      );
    }
    urls.set(feed.name, resolved.href);
  }
  return urls;
}

function isRead(name: string): boolean {
  return (REQUIRED_FEEDS as readonly string[]).includes(name) ||
    (OPTIONAL_FEEDS as readonly string[]).includes(name);
}

/** `data[field]` of the feed `name`, which must be an array. */
function listOf(
  envelope: Envelope,
  feed: { name: FeedName; field: string; url: string },
): unknown[] {
  const list = envelope.data[feed.field];
  if (Array.isArray(list)) return list;
  throw new CycleError(
    `The GBFS feed ${feed.name} has ${describeJson(list)} where GBFS puts the list ` +
      `data.${feed.field} (GET ${displayUrl(feed.url)}).`,
    { hint: "The feed is not a GBFS feed, or was cut short; check url (GBFS_URL)." },
  );
}

/** Epoch seconds (a number or its text) or an RFC 3339 date-time, as epoch milliseconds. */
function epochMs(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) ? value * 1_000 : undefined;
  if (typeof value !== "string") return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1_000;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function describeJson(value: unknown): string {
  if (value === undefined) return "nothing";
  if (Array.isArray(value)) return "an array";
  if (value === null) return "null";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}

function capitalized(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
