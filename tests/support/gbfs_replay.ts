/**
 * A replay of a GBFS system on 127.0.0.1: it serves one real capture (see `./gbfs_fixtures.ts`)
 * as the system's feeds, counts the requests of each, and breaks a feed on demand.
 *
 * The feeds are served as the capture's files hold them, byte for byte, at `/<feed>.json`. The
 * discovery file at `/gbfs.json` is the one edit:
 *
 * - a capture with its own `gbfs.json` gets it with every feed URL pointed at the replay, and
 *   without the feeds the capture has no file for (a discovery file listing a feed that answers
 *   404 would fail every cycle);
 * - a capture without one (most real captures kept only the station feeds) gets a **synthetic**
 *   discovery file, labelled so in its `_replay` field: the capture's feeds, in the shape of the
 *   version its `station_status` declares (`data.feeds` for 3.x, else `data.<language>.feeds`,
 *   the language of its `system_information`, else `en`), with `ttl` 0.
 *
 * Run by hand:
 *
 * ```sh
 * deno run --allow-net=127.0.0.1 --allow-read --allow-env=GBFS_FIXTURES_DIR,VELIB_FIXTURES_DIR \
 *   tests/support/gbfs_replay.ts citi-bike-nyc_2019-07-05 --port 8080
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { sleep } from "../../core/retry.ts";
import { type GbfsCapture, gbfsCapture, readFeed } from "./gbfs_fixtures.ts";

/**
 * A fault for the next `times` requests of one feed (`gbfs` for the discovery file).
 *
 * - `http-error`: the request answers `status` (500 by default).
 * - `invalid-json`: a 200 HTML page.
 * - `malformed`: a 200 JSON body without the feed's data (`{"data": {}}`).
 * - `delay`: the answer comes after `ms` (set it past the client's timeout).
 */
export interface GbfsFault {
  /** The feed it breaks, e.g. `station_status`. */
  feed: string;
  /** What goes wrong. */
  kind: "http-error" | "invalid-json" | "malformed" | "delay";
  /** For `http-error`. @default {500} */
  status?: number;
  /** For `delay`. @default {60000} */
  ms?: number;
  /** How many requests it breaks. @default {1} */
  times?: number;
}

/** One request the replay received. */
export interface GbfsReplayRequest {
  /** The feed asked for (`gbfs` for the discovery file), or the path when it is none. */
  feed: string;
  /** The status answered; 0 while the answer is pending. */
  status: number;
  /** The fault that shaped the answer, if one did. */
  fault?: GbfsFault["kind"];
}

/** A running replay. */
export interface GbfsReplay {
  /** The discovery file's URL, to use as `GBFS_URL`. */
  readonly url: string;
  /** The capture served. */
  readonly capture: GbfsCapture;
  /** Whether the discovery file served is synthetic: the capture has none. */
  readonly syntheticDiscovery: boolean;
  /** Every request received, in order. */
  readonly requests: readonly GbfsReplayRequest[];
  /** How many requests `feed` received. */
  requestsOf(feed: string): number;
  /** Breaks the next requests of a feed. */
  injectFault(fault: GbfsFault): void;
  /** Stops listening and ends pending delays. Idempotent. */
  close(): Promise<void>;
}

/** Options of {@linkcode startGbfsReplay}. */
export interface GbfsReplayOptions {
  /**
   * The port to listen on; 0 picks a free one.
   * @default {0}
   */
  port?: number;
}

/**
 * Starts a replay of `capture` on 127.0.0.1.
 *
 * @example
 * ```ts ignore
 * import { gbfsCapture } from "./gbfs_fixtures.ts";
 * import { startGbfsReplay } from "./gbfs_replay.ts";
 *
 * const replay = await startGbfsReplay(await gbfsCapture("oslo-bysykkel_2022-10-23"));
 * const discovery = await (await fetch(replay.url)).json();
 * await replay.close();
 * ```
 */
export async function startGbfsReplay(
  capture: GbfsCapture,
  options: GbfsReplayOptions = {},
): Promise<GbfsReplay> {
  const bodies = new Map<string, string>();
  for (const [feed, path] of Object.entries(capture.files)) {
    if (feed !== "gbfs") bodies.set(feed, await Deno.readTextFile(path));
  }
  const requests: GbfsReplayRequest[] = [];
  const faults: Array<Required<Pick<GbfsFault, "times">> & GbfsFault> = [];
  const closing = new AbortController();
  let origin = "";
  let discovery = "";

  const server = Deno.serve(
    { hostname: "127.0.0.1", port: options.port ?? 0, onListen: () => {} },
    async (request) => {
      const path = new URL(request.url).pathname;
      const feed = path.match(/^\/([A-Za-z0-9_]+)\.json$/)?.[1] ?? path;
      const entry: GbfsReplayRequest = { feed, status: 0 };
      requests.push(entry);
      const body = feed === "gbfs" ? discovery : bodies.get(feed);
      let response: Response;
      if (request.method !== "GET") {
        response = new Response("Only GET is served.", { status: 405 });
      } else if (body === undefined) {
        response = new Response(`The capture ${capture.name} has no feed at ${path}.`, {
          status: 404,
        });
      } else {
        const index = faults.findIndex((fault) => fault.feed === feed);
        const fault = index === -1 ? undefined : faults[index];
        if (fault !== undefined && --fault.times <= 0) faults.splice(index, 1);
        if (fault !== undefined) entry.fault = fault.kind;
        response = await answer(body, fault, closing.signal);
      }
      entry.status = response.status;
      return response;
    },
  );
  origin = `http://127.0.0.1:${server.addr.port}`;
  const served = await discoveryFile(capture, origin);
  discovery = served.text;
  let closed: Promise<void> | undefined;
  return {
    url: `${origin}/gbfs.json`,
    capture,
    syntheticDiscovery: served.synthetic,
    requests,
    requestsOf: (feed) => requests.filter((entry) => entry.feed === feed).length,
    injectFault(fault) {
      faults.push({ ...fault, times: fault.times ?? 1 });
    },
    close() {
      closing.abort();
      closed ??= server.shutdown();
      return closed;
    },
  };
}

/**
 * Runs `test` against a fresh replay of `capture`, and closes it however the test ends.
 *
 * @example
 * ```ts ignore
 * await withGbfsReplay(capture, async (replay) => {
 *   const discovery = await (await fetch(replay.url)).json();
 * });
 * ```
 */
export async function withGbfsReplay<T>(
  capture: GbfsCapture,
  test: (replay: GbfsReplay) => Promise<T>,
): Promise<T> {
  const replay = await startGbfsReplay(capture);
  try {
    return await test(replay);
  } finally {
    await replay.close();
  }
}

type Json = Record<string, unknown>;

/** The discovery file to serve: the capture's own, pointed at the replay, or a synthetic one. */
async function discoveryFile(
  capture: GbfsCapture,
  origin: string,
): Promise<{ text: string; synthetic: boolean }> {
  const feedsHere = (feeds: unknown[]) =>
    feeds.flatMap((feed) => {
      const name = (feed as Json).name;
      return typeof name === "string" && name in capture.files
        ? [{ ...(feed as Json), url: `${origin}/${name}.json` }]
        : [];
    });
  const own = await readFeed(capture, "gbfs") as Json | undefined;
  if (own !== undefined) {
    const data = own.data as Json;
    const pointed = Array.isArray(data.feeds)
      ? { ...data, feeds: feedsHere(data.feeds) }
      : Object.fromEntries(
        Object.entries(data).map(([language, entry]) => [
          language,
          Array.isArray((entry as Json)?.feeds)
            ? { ...(entry as Json), feeds: feedsHere((entry as Json).feeds as unknown[]) }
            : entry,
        ]),
      );
    return { text: JSON.stringify({ ...own, data: pointed }), synthetic: false };
  }
  const status = await readFeed(capture, "station_status") as Json;
  const system = await readFeed(capture, "system_information") as Json | undefined;
  const feeds = Object.keys(capture.files).sort().map((name) => ({
    name,
    url: `${origin}/${name}.json`,
  }));
  const version = typeof status.version === "string" ? status.version : undefined;
  const language = typeof (system?.data as Json | undefined)?.language === "string"
    ? (system!.data as Json).language as string
    : "en";
  return {
    text: JSON.stringify({
      _replay: `synthetic: the capture ${capture.name} has no gbfs.json; this one lists the ` +
        "feeds it has",
      last_updated: status.last_updated,
      ttl: 0,
      ...(version === undefined ? {} : { version }),
      data: version?.startsWith("3.") ? { feeds } : { [language]: { feeds } },
    }),
    synthetic: true,
  };
}

async function answer(
  body: string,
  fault: GbfsFault | undefined,
  closing: AbortSignal,
): Promise<Response> {
  const json = (text: string) =>
    new Response(text, { headers: { "content-type": "application/json; charset=utf-8" } });
  switch (fault?.kind) {
    case undefined:
      return json(body);
    case "http-error":
      return new Response("Injected fault.", { status: fault.status ?? 500 });
    case "invalid-json":
      return new Response(
        "<!DOCTYPE html><html><body><h1>Injected fault: an HTML page, not JSON</h1></body></html>",
        { headers: { "content-type": "text/html; charset=utf-8" } },
      );
    case "malformed":
      return json(JSON.stringify({ _replay: "injected fault: no feed data", data: {} }));
    case "delay":
      try {
        await sleep(fault.ms ?? 60_000, closing);
      } catch {
        // The replay is closing: answer at once so that it can.
      }
      return json(body);
  }
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    options: { port: { type: "string", default: "0" } },
    allowPositionals: true,
  });
  if (positionals.length !== 1) {
    console.error("Usage: gbfs_replay.ts <capture folder name> [--port N]");
    Deno.exit(2);
  }
  const replay = await startGbfsReplay(await gbfsCapture(positionals[0]), {
    port: Number(values.port),
  });
  console.log(`export GBFS_URL=${replay.url}`);
}
