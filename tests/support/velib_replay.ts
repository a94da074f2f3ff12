/**
 * A replay of the Vélib' Explore v2.1 API on 127.0.0.1: it serves a real capture with the API's
 * paging rules, and breaks on demand, one cycle at a time.
 *
 * A cycle is what a client does to take one snapshot: an `/exports/json` request and the
 * `/records?limit=0` count that checks it, or a `/records` sequence that starts at offset 0 (the
 * health check's `/records?limit=1` counts as one too). Each injected fault applies to the next
 * cycle, in the order they were injected. Faults that break a response (`delay`, `http-error`,
 * `retry-after`, `truncated`, `invalid-json`) break the cycle's first request only; the data
 * faults (`missing-page`, `duplicate`, `short-export`) hold for the whole cycle. Error bodies of
 * injected faults say they are injected.
 *
 * Run by hand:
 *
 * ```sh
 * deno run --allow-net=127.0.0.1 --allow-read --allow-env=VELIB_FIXTURES_DIR \
 *   tests/support/velib_replay.ts --port 8080
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { z } from "zod";
import { sleep } from "../../core/retry.ts";
import { EXPLORE_EXPORTS_CAPTURE, readCapture } from "./fixtures.ts";

/** Where the real API serves the dataset; the replay uses the same path. */
export const DATASET_PATH = "/api/explore/v2.1/catalog/datasets/velib-disponibilite-en-temps-reel";

/** The control endpoint: `POST` a fault (or an array of faults) as JSON, `GET` those pending. */
export const FAULTS_PATH = "/_replay/faults";

const DEFAULT_LIMIT = 10;
const MAX_LIMIT = 100;
const MAX_WINDOW = 10_000;

/** The records that `missing-page` takes out: the second page of 100. */
const MISSING = { from: 100, to: 200 } as const;

/**
 * A fault for one cycle.
 *
 * - `delay`: the first request answers only after `ms` (set it past the client's timeout).
 * - `http-error`: the first request answers `status` (500 by default).
 * - `retry-after`: the first request answers `status` (429 by default) with `Retry-After`
 *   set to `retryAfter` (seconds, or an HTTP date).
 * - `truncated`: the first response declares its full length, sends half, and closes.
 * - `invalid-json`: the first response is a 200 HTML page.
 * - `missing-page`: records 100–199 of the served order are missing from every response of
 *   the cycle, while `total_count` still counts them (an export is simply 100 records short).
 * - `duplicate`: the station whose code sorts last is served twice: first a copy whose
 *   `duedate` is one minute later, at the very start (page 1), then the original in its place.
 * - `short-export`: the export ends `missing` records early (1 by default), while `total_count`
 *   still counts them; `/records` pages are whole.
 *
 * @example
 * ```ts
 * import { replayFaultSchema } from "./velib_replay.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(replayFaultSchema.parse({ kind: "http-error" }), { kind: "http-error", status: 500 });
 * ```
 */
export const replayFaultSchema = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("delay"), ms: z.int().min(1) }),
  z.strictObject({
    kind: z.literal("http-error"),
    status: z.int().min(400).max(599).default(500),
  }),
  z.strictObject({
    kind: z.literal("retry-after"),
    status: z.union([z.literal(429), z.literal(503)]).default(429),
    retryAfter: z.union([z.int().nonnegative().transform(String), z.string().min(1)]),
  }),
  z.strictObject({ kind: z.literal("truncated") }),
  z.strictObject({ kind: z.literal("invalid-json") }),
  z.strictObject({ kind: z.literal("missing-page") }),
  z.strictObject({ kind: z.literal("duplicate") }),
  z.strictObject({ kind: z.literal("short-export"), missing: z.int().min(1).default(1) }),
]);

/** A fault as it is injected. */
export type ReplayFault = z.input<typeof replayFaultSchema>;

type Fault = z.output<typeof replayFaultSchema>;
type ResponseFault = Extract<
  Fault,
  { kind: "delay" | "http-error" | "retry-after" | "truncated" | "invalid-json" }
>;

/** One request the replay received. */
export interface ReplayRequest {
  /** The HTTP method. */
  method: string;
  /** The path, without the query. */
  path: string;
  /** The query string, `?` included, or `""`. */
  query: string;
  /** The status answered; 0 while the answer is pending. */
  status: number;
  /** The fault that shaped the answer, if one did. */
  fault?: Fault["kind"];
}

/** Options of {@linkcode startReplayServer}. */
export interface ReplayOptions {
  /**
   * The capture to serve: a file name in the fixtures folder (see `tests/support/fixtures.ts`),
   * holding an Explore `/exports/json` array.
   * @default {"explore_exports_2024-05-28_1471.json"}
   */
  capture?: string;
  /**
   * The port to listen on; 0 picks a free one.
   * @default {0}
   */
  port?: number;
}

/** A running replay. */
export interface ReplayServer {
  /** The dataset's URL, to use as `VELIB_API_URL` or `baseUrl`. */
  readonly baseUrl: string;
  /** The control endpoint's URL. */
  readonly faultsUrl: string;
  /** The stations served, in the capture's order. */
  readonly stations: number;
  /** Every request received, in order. */
  readonly requests: readonly ReplayRequest[];
  /** Queues `fault` for the next cycle that has none yet. */
  injectFault(fault: ReplayFault): void;
  /** Stops listening and ends pending delays. Idempotent. */
  close(): Promise<void>;
}

/**
 * Starts a replay of the API on 127.0.0.1.
 *
 * @example A failing cycle, then a good one
 * ```ts ignore
 * import { startReplayServer } from "./velib_replay.ts";
 *
 * const replay = await startReplayServer();
 * replay.injectFault({ kind: "http-error", status: 500 });
 * const failed = await fetch(`${replay.baseUrl}/exports/json`); // 500
 * await failed.body?.cancel();
 * const stations = await (await fetch(`${replay.baseUrl}/exports/json`)).json(); // 1,471
 * await replay.close();
 * ```
 */
export async function startReplayServer(options: ReplayOptions = {}): Promise<ReplayServer> {
  const name = options.capture ?? EXPLORE_EXPORTS_CAPTURE;
  const inCaptureOrder = asStations(await readCapture(name), name);
  const byCode = [...inCaptureOrder].sort(compareCodes);
  const pending: Fault[] = [];
  const requests: ReplayRequest[] = [];
  const closing = new AbortController();
  // The fault of the cycle under way, and whether its first request is still to come.
  let cycleFault: Fault | undefined;
  let responseFaultDue = false;

  const beginCycle = () => {
    cycleFault = pending.shift();
    responseFaultDue = true;
  };

  /** The stations of the current cycle, in `order`, with its data fault applied. */
  const dataset = (order: Station[]): { stations: Station[]; total: number } => {
    if (cycleFault?.kind === "duplicate") {
      const last = byCode[byCode.length - 1];
      const copy = { ...last, duedate: aMinuteLater(last.duedate) };
      return { stations: [copy, ...order], total: order.length + 1 };
    }
    return { stations: order, total: order.length };
  };
  const isMissing = (index: number) =>
    cycleFault?.kind === "missing-page" && index >= MISSING.from && index < MISSING.to;

  /**
   * Answers `body` for a request of the current cycle, noting in `entry` the fault that shapes
   * it: the cycle's data fault, or its response fault on the cycle's first request.
   */
  const respond = (body: string, entry: ReplayRequest): Response | Promise<Response> => {
    const first = responseFaultDue;
    responseFaultDue = false;
    const fault = cycleFault;
    if (fault === undefined) return json(200, body);
    if (!isResponseFault(fault)) {
      entry.fault = fault.kind;
      return json(200, body);
    }
    if (!first) return json(200, body);
    entry.fault = fault.kind;
    return faulty(fault, body, closing.signal);
  };

  const route = (request: Request, entry: ReplayRequest): Response | Promise<Response> => {
    const url = new URL(request.url);
    if (url.pathname === FAULTS_PATH) return control(request, pending);
    if (request.method !== "GET") {
      return apiError(405, "MethodNotAllowed", "Only GET is supported.");
    }
    if (url.pathname === `${DATASET_PATH}/exports/json`) {
      beginCycle();
      const stations = dataset(inCaptureOrder).stations.filter((_, index) => !isMissing(index));
      const cut = cycleFault?.kind === "short-export" ? cycleFault.missing : 0;
      return respond(JSON.stringify(stations.slice(0, stations.length - cut)), entry);
    }
    if (url.pathname === `${DATASET_PATH}/records`) {
      const page = pageParams(url.searchParams);
      if ("error" in page) return page.error;
      // A count alone (`limit=0`) is how an export is checked: it belongs to the cycle under way.
      if (page.offset === 0 && page.limit !== 0) beginCycle();
      const { stations, total } = dataset(page.orderBy === "stationcode" ? byCode : inCaptureOrder);
      const results = stations
        .map((station, index) => ({ station, index }))
        .slice(page.offset, page.offset + page.limit)
        .filter(({ index }) => !isMissing(index))
        .map(({ station }) => station);
      return respond(JSON.stringify({ total_count: total, results }), entry);
    }
    return apiError(
      404,
      "ReplayNotFound",
      `The replay serves ${DATASET_PATH}/records and /exports/json only.`,
    );
  };

  const server = Deno.serve(
    { hostname: "127.0.0.1", port: options.port ?? 0, onListen: () => {} },
    async (request) => {
      const url = new URL(request.url);
      const entry: ReplayRequest = {
        method: request.method,
        path: url.pathname,
        query: url.search,
        status: 0,
      };
      requests.push(entry);
      const response = await route(request, entry);
      entry.status = response.status;
      return response;
    },
  );
  const origin = `http://127.0.0.1:${server.addr.port}`;
  let closed: Promise<void> | undefined;
  return {
    baseUrl: `${origin}${DATASET_PATH}`,
    faultsUrl: `${origin}${FAULTS_PATH}`,
    stations: inCaptureOrder.length,
    requests,
    injectFault(fault) {
      pending.push(replayFaultSchema.parse(fault));
    },
    close() {
      closing.abort();
      closed ??= server.shutdown();
      return closed;
    },
  };
}

/**
 * Runs `test` against a fresh replay server, and closes the server however the test ends.
 *
 * @example
 * ```ts ignore
 * await withReplayServer(async (replay) => {
 *   const stations = await (await fetch(`${replay.baseUrl}/exports/json`)).json();
 * });
 * ```
 */
export async function withReplayServer<T>(
  test: (replay: ReplayServer) => Promise<T>,
  options: ReplayOptions = {},
): Promise<T> {
  const replay = await startReplayServer(options);
  try {
    return await test(replay);
  } finally {
    await replay.close();
  }
}

/** A station record of the capture; only `stationcode` and `duedate` are looked at. */
type Station = Record<string, unknown> & { stationcode: unknown; duedate?: unknown };

function asStations(capture: unknown, name: string): Station[] {
  if (
    Array.isArray(capture) && capture.every((item) => typeof item === "object" && item !== null)
  ) {
    return capture as Station[];
  }
  throw new Error(
    `The capture ${name} is not an Explore /exports/json array of station records; ` +
      `pass one such as ${EXPLORE_EXPORTS_CAPTURE}.`,
  );
}

// order_by=stationcode sorts the codes as text: "10001" < "10001_relais" < "9020".
function compareCodes(a: Station, b: Station): number {
  const [x, y] = [String(a.stationcode), String(b.stationcode)];
  return x < y ? -1 : x > y ? 1 : 0;
}

function aMinuteLater(duedate: unknown): string {
  const instant = typeof duedate === "string" ? Date.parse(duedate) : Number.NaN;
  const base = Number.isNaN(instant) ? Date.now() : instant;
  return new Date(base + 60_000).toISOString().replace(/\.\d{3}Z$/, "+00:00");
}

type PageParams = { limit: number; offset: number; orderBy?: "stationcode" } | { error: Response };

/** The API's rules for `limit`, `offset` and `order_by`, with its error bodies. */
function pageParams(params: URLSearchParams): PageParams {
  const limitText = params.get("limit") ?? String(DEFAULT_LIMIT);
  const limit = /^-?\d+$/.test(limitText) ? Number(limitText) : Number.NaN;
  if (!(limit >= -1 && limit <= MAX_LIMIT)) {
    return {
      error: invalidParameter(
        `Invalid value for limit API parameter: ${limitText} was found but -1 <= limit <= ` +
          `${MAX_LIMIT} is expected.`,
      ),
    };
  }
  if (limit === -1) {
    return {
      error: notImplemented("limit=-1 is accepted by the API; the replay does not implement it."),
    };
  }
  const offsetText = params.get("offset") ?? "0";
  const offset = /^\d+$/.test(offsetText) ? Number(offsetText) : Number.NaN;
  if (Number.isNaN(offset)) {
    return {
      error: invalidParameter(
        `Invalid value for offset API parameter: ${offsetText} was found but offset >= 0 is expected.`,
      ),
    };
  }
  if (offset + limit > MAX_WINDOW) {
    return {
      error: invalidParameter(
        `Invalid value for limit/offset, the sum of both must be lower or equal to ${MAX_WINDOW}`,
      ),
    };
  }
  const orderBy = params.get("order_by");
  if (orderBy !== null && orderBy !== "stationcode") {
    return {
      error: notImplemented(
        `order_by=${orderBy}: the replay implements order_by=stationcode only.`,
      ),
    };
  }
  return orderBy === null ? { limit, offset } : { limit, offset, orderBy };
}

/** The faults that shape a cycle's data rather than break its first response. */
const DATA_FAULTS: ReadonlySet<Fault["kind"]> = new Set([
  "missing-page",
  "duplicate",
  "short-export",
]);

function isResponseFault(fault: Fault): fault is ResponseFault {
  return !DATA_FAULTS.has(fault.kind);
}

async function faulty(fault: ResponseFault, body: string, closing: AbortSignal): Promise<Response> {
  switch (fault.kind) {
    case "delay":
      try {
        await sleep(fault.ms, closing);
      } catch {
        // The replay is closing: answer at once so that it can.
      }
      return json(200, body);
    case "http-error":
      return apiError(fault.status, "ReplayInjectedFault", `Injected fault: HTTP ${fault.status}.`);
    case "retry-after": {
      const response = apiError(
        fault.status,
        "ReplayInjectedFault",
        `Injected fault: HTTP ${fault.status} with Retry-After: ${fault.retryAfter}.`,
      );
      response.headers.set("retry-after", fault.retryAfter);
      return response;
    }
    case "truncated": {
      // The declared length is the whole body's; the connection closes after half of it.
      const bytes = new TextEncoder().encode(body);
      return new Response(ReadableStream.from([bytes.subarray(0, Math.floor(bytes.length / 2))]), {
        headers: {
          "content-type": "application/json; charset=utf-8",
          "content-length": String(bytes.length),
        },
      });
    }
    case "invalid-json":
      return new Response(
        "<!DOCTYPE html><html><body><h1>Injected fault: an HTML page, not JSON</h1></body></html>",
        { headers: { "content-type": "text/html; charset=utf-8" } },
      );
  }
}

async function control(request: Request, pending: Fault[]): Promise<Response> {
  if (request.method === "GET") return json(200, JSON.stringify({ pending }));
  if (request.method !== "POST") {
    return apiError(405, "MethodNotAllowed", `Use POST (inject) or GET (list) on ${FAULTS_PATH}.`);
  }
  let input: unknown;
  try {
    input = await request.json();
  } catch {
    return apiError(400, "ReplayBadFault", "The body must be a JSON fault or array of faults.");
  }
  const parsed = z.array(replayFaultSchema).safeParse(Array.isArray(input) ? input : [input]);
  if (!parsed.success) {
    return apiError(400, "ReplayBadFault", z.prettifyError(parsed.error).replace(/\n/g, " "));
  }
  pending.push(...parsed.data);
  return json(200, JSON.stringify({ pending }));
}

function json(status: number, body: string): Response {
  return new Response(body, {
    status,
    headers: { "content-type": "application/json; charset=utf-8" },
  });
}

function apiError(status: number, errorCode: string, message: string): Response {
  return json(status, JSON.stringify({ error_code: errorCode, message }));
}

function invalidParameter(message: string): Response {
  return apiError(400, "InvalidRESTParameterError", message);
}

function notImplemented(message: string): Response {
  return apiError(400, "ReplayNotImplemented", message);
}

const USAGE = `Usage: deno run --allow-net=127.0.0.1 --allow-read --allow-env=VELIB_FIXTURES_DIR \\
  tests/support/velib_replay.ts [--port N] [--capture FILE]

Replays the Vélib' Explore v2.1 API on 127.0.0.1 from a capture in the fixtures folder
(VELIB_FIXTURES_DIR, default ../shared/fixtures/velib).
  --port N        port to listen on (default 0: a free one)
  --capture FILE  capture file name (default ${EXPLORE_EXPORTS_CAPTURE})`;

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      port: { type: "string", default: "0" },
      capture: { type: "string", default: EXPLORE_EXPORTS_CAPTURE },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    Deno.exit(0);
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    console.error(`--port must be a port number from 0 to 65535, got ${values.port}.\n\n${USAGE}`);
    Deno.exit(2);
  }
  const replay = await startReplayServer({ port, capture: values.capture });
  console.log(`Replaying ${values.capture} (${replay.stations} stations).`);
  console.log(`export VELIB_API_URL=${replay.baseUrl}`);
  console.log(
    `Break the next cycle: curl -X POST ${replay.faultsUrl} -d '{"kind":"http-error","status":500}'`,
  );
  console.log("Ctrl-C stops it.");
  Deno.addSignalListener("SIGINT", async () => {
    await replay.close();
    Deno.exit(0);
  });
}
