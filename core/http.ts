/**
 * The transport of sources that poll an HTTP API once per cycle: a JSON GET within a timeout
 * and the cycle's budget, `Retry-After` waited out only when it ends before the next cycle, and
 * URLs shown without credentials. Whatever goes wrong becomes one {@linkcode CycleError}, so
 * that the cycle fails whole.
 *
 * @module
 */
import { PipelineError, type PipelineErrorOptions } from "./errors.ts";
import { sleep } from "./retry.ts";

/** The shortest wait honoured before asking again, so a `Retry-After: 0` loop cannot spin. */
const MIN_RETRY_WAIT_MS = 1_000;

const HTTP_DATE_START = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun)/;

/**
 * A cycle's snapshot could not be taken: a timeout, a dropped connection, an HTTP error, a body
 * that is not JSON, or a body that is not what the source expects. Transient: the next cycle
 * may succeed.
 *
 * @example
 * ```ts
 * import { CycleError } from "./http.ts";
 * import assert from "node:assert/strict";
 *
 * const error = new CycleError("The source's API answered HTTP 500.", { hint: "Try later." });
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

/**
 * What one cycle may spend.
 *
 * @example
 * ```ts
 * import type { CycleBudget } from "./http.ts";
 *
 * const intervalMs = 60_000;
 * const budget: CycleBudget = {
 *   signal: new AbortController().signal,
 *   deadline: performance.now() + intervalMs,
 * };
 * ```
 */
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
 * One GET to make, and the words a source puts in its errors: messages name `what` answered,
 * hints name the setting to check.
 *
 * @example
 * ```ts
 * import type { JsonRequest } from "./http.ts";
 *
 * const request: JsonRequest = {
 *   url: "https://api.example.org/stations",
 *   what: "the source's API",
 *   timeoutMs: 10_000,
 *   setting: "url (SOURCE_URL)",
 *   urlHint: "Check url (SOURCE_URL): it must be the stations endpoint.",
 * };
 * ```
 */
export interface JsonRequest {
  /** The URL. */
  url: string;
  /** What answers, lower case, for messages: `the source's API`, `the feed station_status`. */
  what: string;
  /** Longest wait for the response, body included. */
  timeoutMs: number;
  /** The setting that holds the URL, for hints: `url (SOURCE_URL)`. */
  setting: string;
  /** The hint for an HTTP 4xx other than 429, which says the URL is likely wrong. */
  urlHint: string;
  /**
   * Reads the server's own explanation from the body of an HTTP error, if the API has one; it
   * ends the message.
   * @default {undefined}
   */
  errorDetail?: (body: string) => string | undefined;
}

/**
 * GETs `request.url` and parses its body as JSON, waiting out `Retry-After` answers within the
 * budget. Throws a {@linkcode CycleError} when it cannot, and the signal's reason once the
 * budget's signal aborts.
 *
 * @example
 * ```ts ignore
 * import { getJson } from "./http.ts";
 *
 * const body = await getJson(
 *   {
 *     url: "https://api.example.org/stations",
 *     what: "the source's API",
 *     timeoutMs: 10_000,
 *     setting: "url (SOURCE_URL)",
 *     urlHint: "Check url (SOURCE_URL): it must be the stations endpoint.",
 *   },
 *   { signal: AbortSignal.timeout(60_000), deadline: performance.now() + 60_000 },
 * );
 * ```
 */
export async function getJson(request: JsonRequest, budget: CycleBudget): Promise<unknown> {
  const shown = displayUrl(request.url);
  const what = capitalized(request.what);
  for (;;) {
    const response = await get(request, budget.signal);
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
          `${what} answered HTTP ${response.status} with Retry-After: ${header}, longer than ` +
            `the ${leftMs} ms left before the next cycle (GET ${shown}).`,
          { hint: "The server is rate-limiting or overloaded; raise intervalMs if this persists." },
        );
      }
    }
    if (response.status < 200 || response.status > 299) {
      const status = `HTTP ${response.status}${
        response.statusText ? ` ${response.statusText}` : ""
      }`;
      const detail = request.errorDetail?.(response.body);
      throw new CycleError(
        `${what} answered ${status} (GET ${shown})${detail ? `: ${detail}` : ""}.`,
        { hint: httpHint(response.status, request.urlHint) },
      );
    }
    try {
      return JSON.parse(response.body);
    } catch (error) {
      throw new CycleError(
        `${what} sent a body that is not valid JSON (GET ${shown}): ${oneLine(error)}.`,
        {
          hint: "The body may be an error page or cut off; " +
            `check ${request.setting} if this persists.`,
          cause: error,
        },
      );
    }
  }
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
 * assert.equal(
 *   displayUrl("https://user:pw@api.example.org/data?limit=1"),
 *   "https://api.example.org/data?limit=1",
 * );
 * ```
 */
export function displayUrl(url: string): string {
  const shown = new URL(url);
  shown.username = "";
  shown.password = "";
  return shown.href;
}

interface Fetched {
  status: number;
  statusText: string;
  headers: Headers;
  body: string;
}

/** One GET, body included, within the request's timeout. */
async function get(request: JsonRequest, signal: AbortSignal): Promise<Fetched> {
  const { url, timeoutMs } = request;
  const what = capitalized(request.what);
  const timeout = AbortSignal.timeout(timeoutMs);
  const either = AbortSignal.any([signal, timeout]);
  const failed = (error: unknown, happened: string, hint: string): unknown => {
    if (signal.aborted) return signal.reason;
    if (timeout.aborted) {
      return new CycleError(
        `${what} did not answer within ${timeoutMs} ms (GET ${displayUrl(url)}).`,
        {
          hint: "The server is slow or unreachable; raise timeoutMs if it needs longer.",
          cause: error,
        },
      );
    }
    return new CycleError(`${happened} (GET ${displayUrl(url)}): ${oneLine(error)}.`, {
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
      `Could not reach ${request.what}`,
      `Check the network and ${request.setting}.`,
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
      `${what}'s response broke off before its end`,
      "The connection dropped mid-response; this is usually a passing network or server fault.",
    );
  }
}

function httpHint(status: number, urlHint: string): string {
  if (status === 429) return "The server is rate-limiting this client; raise intervalMs.";
  if (status >= 500) {
    return "The server is failing on its side; nothing here needs changing unless it persists.";
  }
  return urlHint;
}

function capitalized(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function oneLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/\s+/g, " ").replace(/\.$/, "");
}
