/**
 * The Vélib' source's transport: one snapshot of the Explore v2.1 dataset per cycle, all or
 * nothing. Whatever goes wrong in a cycle becomes one {@linkcode CycleError}.
 *
 * @module
 */
import { z } from "zod";
import { type CycleBudget, CycleError, displayUrl, getJson, type JsonRequest } from "../../mod.ts";
import type { VelibSourceConfig } from "./config.ts";

/** The most records `/records` returns per request. */
const PAGE_SIZE = 100;

/** `/records` refuses a request whose offset + limit exceeds this. */
const MAX_PAGED_RECORDS = 10_000;

const pageSchema = z.object({
  total_count: z.int().nonnegative(),
  results: z.array(z.unknown()),
});

/** How the Vélib' API is named in errors, and what to check when it answers wrongly. */
const VELIB_API = {
  what: "the Vélib' API",
  setting: "baseUrl (VELIB_API_URL)",
  urlHint: "Check baseUrl (VELIB_API_URL): it must be the dataset's URL, ending in " +
    "/datasets/velib-disponibilite-en-temps-reel.",
  errorDetail: apiMessage,
} satisfies Omit<JsonRequest, "url" | "timeoutMs">;

/**
 * Reads every station record of the dataset, as the API sent them, with `config.fetch`: one
 * `/exports/json` request then `/records?limit=0`, or `/records` pages, either checked against
 * `total_count`. Throws a {@linkcode CycleError} when the snapshot cannot be had whole, and the
 * signal's reason when the budget's signal aborts.
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
  return (await totalCount(config, { signal, deadline: performance.now() }, 1)).total;
}

/** The dataset's `total_count`, from a `/records` request for `limit` records, and its URL. */
async function totalCount(
  config: VelibSourceConfig,
  budget: CycleBudget,
  limit: 0 | 1,
): Promise<{ total: number; url: string }> {
  const url = `${config.baseUrl}/records?limit=${limit}`;
  const body = await getJson({ url, timeoutMs: config.timeoutMs, ...VELIB_API }, budget);
  return { total: asPage(body, url).total_count, url };
}

async function fetchExport(config: VelibSourceConfig, budget: CycleBudget): Promise<unknown[]> {
  const url = `${config.baseUrl}/exports/json`;
  const body = await getJson({ url, timeoutMs: config.timeoutMs, ...VELIB_API }, budget);
  if (!Array.isArray(body)) {
    throw new CycleError(
      `The Vélib' API sent ${describeJson(body)} instead of an array of stations ` +
        `(GET ${displayUrl(url)}).`,
      { hint: "Check baseUrl (VELIB_API_URL): it must be the dataset's URL." },
    );
  }
  // An export has no envelope to say it is whole: the dataset's own count is asked for apart.
  // A station added or removed between the two requests fails the cycle too; the next one
  // asks again, which costs less than publishing a snapshot that may be partial.
  const { total, url: countUrl } = await totalCount(config, budget, 0);
  if (body.length === total) return body;
  throw new CycleError(
    `The export of the Vélib' dataset returned ${body.length} records but total_count is ` +
      `${total} (GET ${displayUrl(url)}, then ${displayUrl(countUrl)}).`,
    {
      hint: "The next cycle asks again; an export that keeps coming back short points at the " +
        'API, and fetch: "records" reads the dataset page by page instead.',
    },
  );
}

async function fetchPages(config: VelibSourceConfig, budget: CycleBudget): Promise<unknown[]> {
  const records: unknown[] = [];
  let total: number | undefined;
  for (let offset = 0; total === undefined || offset < total; offset += PAGE_SIZE) {
    // A stable order keeps a station on one page while the data changes under the paging.
    const url = `${config.baseUrl}/records?limit=${PAGE_SIZE}&offset=${offset}` +
      "&order_by=stationcode";
    const page = asPage(
      await getJson({ url, timeoutMs: config.timeoutMs, ...VELIB_API }, budget),
      url,
    );
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
