/**
 * The Vélib' source's transport: one snapshot of the Explore v2.1 dataset per cycle, all or
 * nothing. Whatever goes wrong in a cycle becomes one {@linkcode CycleError}.
 *
 * @module
 */
import { z } from "zod";
import { PipelineError, type PipelineErrorOptions, sleep } from "../../mod.ts";
import type { VelibSourceConfig } from "./config.ts";

/** The most records `/records` returns per request. */
const PAGE_SIZE = 100;

/** `/records` refuses a request whose offset + limit exceeds this. */
const MAX_PAGED_RECORDS = 10_000;

/** The shortest wait honoured before asking again, so a `Retry-After: 0` loop cannot spin. */
const MIN_RETRY_WAIT_MS = 1_000;

const HTTP_DATE_START = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun)/;

const pageSchema = z.object({
  total_count: z.int().nonnegative(),
  results: z.array(z.unknown()),
});

/**
 * A snapshot could not be taken: a timeout, a dropped connection, an HTTP error, a body that is
 * not JSON, or a paginated read that does not add up. Transient: the next cycle may succeed.
 *
 * @example
 * ```ts
 * import { CycleError } from "./http.ts";
 * import assert from "node:assert/strict";
 *
 * const error = new CycleError("The Vélib' API answered HTTP 500.", { hint: "Try later." });
 * assert.equal(error.transient, true);
 * assert.equal(error.name, "CycleError");
 * ```
 */
export class CycleError extends PipelineError {
  /** Creates the error; always transient. */
  constructor(message: string, options: Omit<PipelineErrorOptions, "transient"> = {}) {
    super(message, { ...options, transient: true });
  }
}

/** What one cycle may spend. */
export interface CycleBudget {
  /** The run's signal: the cycle stops as soon as it aborts. */
  signal: AbortSignal;
  /**
   * The `performance.now()` at which the next cycle is due. A `Retry-After` that would end past
   * it fails the cycle instead of delaying the next one.
   */
  deadline: number;
}

/**
 * Reads every station record of the dataset, as the API sent them, with `config.fetch`: one
 * `/exports/json` request, or `/records` pages checked against `total_count`. Throws a
 * {@linkcode CycleError} when the snapshot cannot be had whole, and the signal's reason when the
 * budget's signal aborts.
 *
 * @example
 * ```ts ignore
 * import { fetchStations } from "./http.ts";
 * import { configSchema } from "./config.ts";
 *
 * const config = configSchema.parse({ fetch: "records" });
 * const deadline = performance.now() + config.intervalMs;
 * const records = await fetchStations(config, { signal: AbortSignal.timeout(60_000), deadline });
 * ```
 */
export async function fetchStations(
  config: VelibSourceConfig,
  budget: CycleBudget,
): Promise<unknown[]> {
  return config.fetch === "exports"
    ? await fetchExport(config, budget)
    : await fetchPages(config, budget);
}

/**
 * Asks `/records?limit=1` for the number of stations: the source's health check. Does not wait
 * on a `Retry-After`.
 *
 * @example
 * ```ts ignore
 * import { countStations } from "./http.ts";
 * import { configSchema } from "./config.ts";
 *
 * const stations = await countStations(configSchema.parse({}), AbortSignal.timeout(10_000));
 * ```
 */
export async function countStations(
  config: VelibSourceConfig,
  signal: AbortSignal,
): Promise<number> {
  const url = `${config.baseUrl}/records?limit=1`;
  const body = await getJson(url, config.timeoutMs, { signal, deadline: performance.now() });
  return asPage(body, url).total_count;
}

/**
 * How long a `Retry-After` header asks to wait, in milliseconds: it holds either seconds or an
 * HTTP date. Undefined when the header is absent or unreadable.
 *
 * @example
 * ```ts
 * import { retryAfterMs } from "./http.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(retryAfterMs("120", 0), 120_000);
 * const now = Date.parse("Tue, 28 May 2024 20:00:00 GMT");
 * assert.equal(retryAfterMs("Tue, 28 May 2024 20:00:30 GMT", now), 30_000);
 * assert.equal(retryAfterMs("soon", now), undefined);
 * ```
 */
export function retryAfterMs(header: string | null, now: number): number | undefined {
  if (header === null) return undefined;
  const text = header.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1_000;
  // HTTP dates open with the day's name; Date.parse alone would also read "-5" as a year.
  const date = HTTP_DATE_START.test(text) ? Date.parse(text) : Number.NaN;
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/**
 * A URL as logs and errors show it: without user name or password.
 *
 * @example
 * ```ts
 * import { displayUrl } from "./http.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(displayUrl("https://user:pw@example.org/data?limit=1"), "https://example.org/data?limit=1");
 * ```
 */
export function displayUrl(url: string): string {
  const shown = new URL(url);
  shown.username = "";
  shown.password = "";
  return shown.href;
}

async function fetchExport(config: VelibSourceConfig, budget: CycleBudget): Promise<unknown[]> {
  const url = `${config.baseUrl}/exports/json`;
  const body = await getJson(url, config.timeoutMs, budget);
  if (Array.isArray(body)) return body;
  throw new CycleError(
    `The Vélib' API sent ${describeJson(body)} instead of an array of stations ` +
      `(GET ${displayUrl(url)}).`,
    { hint: "Check baseUrl (VELIB_API_URL): it must be the dataset's URL." },
  );
}

async function fetchPages(config: VelibSourceConfig, budget: CycleBudget): Promise<unknown[]> {
  const records: unknown[] = [];
  let total: number | undefined;
  for (let offset = 0; total === undefined || offset < total; offset += PAGE_SIZE) {
    // A stable order keeps a station on one page while the data changes under the paging.
    const url = `${config.baseUrl}/records?limit=${PAGE_SIZE}&offset=${offset}` +
      "&order_by=stationcode";
    const page = asPage(await getJson(url, config.timeoutMs, budget), url);
    if (total === undefined && page.total_count > MAX_PAGED_RECORDS) {
      throw new CycleError(
        `The Vélib' dataset has ${page.total_count} records, more than the ` +
          `${MAX_PAGED_RECORDS} that /records can page through (GET ${displayUrl(url)}).`,
        { hint: 'Set fetch: "exports", which reads the whole dataset in one request.' },
      );
    }
    if (total !== undefined && page.total_count !== total) {
      throw new CycleError(
        `The Vélib' dataset changed while it was paged through: total_count went from ${total} ` +
          `to ${page.total_count} (GET ${displayUrl(url)}).`,
        { hint: 'Set fetch: "exports" to read the dataset in one request.' },
      );
    }
    total = page.total_count;
    records.push(...page.results);
  }
  if (records.length !== total) {
    throw new CycleError(
      `The paginated read of the Vélib' dataset returned ${records.length} records but ` +
        `total_count is ${total}: a page came back short (${displayUrl(config.baseUrl)}/records).`,
      { hint: 'Set fetch: "exports" if pages keep coming back short.' },
    );
  }
  return records;
}

function asPage(body: unknown, url: string): z.infer<typeof pageSchema> {
  const parsed = pageSchema.safeParse(body);
  if (parsed.success) return parsed.data;
  throw new CycleError(
    `The Vélib' API sent ${describeJson(body)} instead of a page of records ` +
      `with total_count and results (GET ${displayUrl(url)}).`,
    { hint: "Check baseUrl (VELIB_API_URL): it must be the dataset's URL." },
  );
}

/** GETs `url` and parses its body, waiting out `Retry-After` answers within the budget. */
async function getJson(url: string, timeoutMs: number, budget: CycleBudget): Promise<unknown> {
  const shown = displayUrl(url);
  for (;;) {
    const response = await get(url, timeoutMs, budget.signal);
    const header = response.headers.get("retry-after");
    if ((response.status === 429 || response.status === 503) && header !== null) {
      const asked = retryAfterMs(header, Date.now());
      const waitMs = asked === undefined ? undefined : Math.max(asked, MIN_RETRY_WAIT_MS);
      const leftMs = Math.max(0, Math.round(budget.deadline - performance.now()));
      if (waitMs !== undefined && waitMs <= leftMs) {
        await sleep(waitMs, budget.signal);
        continue;
      }
      if (waitMs !== undefined) {
        throw new CycleError(
          `The Vélib' API answered HTTP ${response.status} with Retry-After: ${header}, ` +
            `longer than the ${leftMs} ms left before the next cycle (GET ${shown}).`,
          { hint: "The API is rate-limiting or overloaded; raise intervalMs if this persists." },
        );
      }
    }
    if (response.status < 200 || response.status > 299) {
      throw httpError(response, shown);
    }
    try {
      return JSON.parse(response.body);
    } catch (error) {
      throw new CycleError(
        `The Vélib' API sent a body that is not valid JSON (GET ${shown}): ` +
          `${oneLine(error)}.`,
        {
          hint: "The body may be an error page or cut off; check baseUrl if this persists.",
          cause: error,
        },
      );
    }
  }
}

interface Fetched {
  status: number;
  statusText: string;
  headers: Headers;
  body: string;
}

/** One GET, body included, within `timeoutMs`. */
async function get(url: string, timeoutMs: number, signal: AbortSignal): Promise<Fetched> {
  const timeout = AbortSignal.timeout(timeoutMs);
  const either = AbortSignal.any([signal, timeout]);
  const failed = (error: unknown, what: string, hint: string): unknown => {
    if (signal.aborted) return signal.reason;
    if (timeout.aborted) {
      return new CycleError(
        `The Vélib' API did not answer within ${timeoutMs} ms (GET ${displayUrl(url)}).`,
        {
          hint: "The API is slow or unreachable; raise timeoutMs if it needs longer.",
          cause: error,
        },
      );
    }
    return new CycleError(`${what} (GET ${displayUrl(url)}): ${oneLine(error)}.`, {
      hint,
      cause: error,
    });
  };
  let response: Response;
  try {
    response = await fetch(url, { signal: either, headers: { accept: "application/json" } });
  } catch (error) {
    throw failed(
      error,
      "Could not reach the Vélib' API",
      "Check the network and baseUrl (VELIB_API_URL).",
    );
  }
  try {
    const body = await response.text();
    return {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
      body,
    };
  } catch (error) {
    throw failed(
      error,
      "The Vélib' API's response broke off before its end",
      "The connection dropped mid-response; this is usually a passing network or server fault.",
    );
  }
}

function httpError(response: Fetched, shown: string): CycleError {
  const status = `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ""}`;
  const detail = apiMessage(response.body);
  return new CycleError(
    `The Vélib' API answered ${status} (GET ${shown})${detail ? `: ${detail}` : ""}.`,
    { hint: httpHint(response.status) },
  );
}

function httpHint(status: number): string {
  if (status === 429) return "The API is rate-limiting this client; raise intervalMs.";
  if (status >= 500) {
    return "The API is failing on its side; nothing here needs changing unless it persists.";
  }
  return "Check baseUrl (VELIB_API_URL): it must be the dataset's URL, ending in " +
    "/datasets/velib-disponibilite-en-temps-reel.";
}

/** The `message` of an Opendatasoft error body, such as `{ error_code, message }`. */
function apiMessage(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body);
    return typeof parsed?.message === "string" ? parsed.message.slice(0, 200) : undefined;
  } catch {
    return undefined;
  }
}

function describeJson(value: unknown): string {
  if (Array.isArray(value)) return "an array";
  if (value === null) return "null";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}

function oneLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/\s+/g, " ").replace(/\.$/, "");
}
