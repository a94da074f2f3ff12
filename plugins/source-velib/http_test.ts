// The transport's checks that the replay of the real API cannot provoke, against one-off servers.
// Their bodies are real records of the 2024-05-28 capture, or envelopes without station data.
import assert from "node:assert/strict";
import { EXPLORE_EXPORTS_CAPTURE, readCapture } from "../../tests/support/fixtures.ts";
import { configSchema } from "./config.ts";
import { CycleError } from "../../mod.ts";
import { fetchStations } from "./http.ts";

const capture = await readCapture(EXPLORE_EXPORTS_CAPTURE) as unknown[];

/** Serves `answer(url)` as JSON on 127.0.0.1 while `test` runs. */
async function withServer(
  answer: (url: URL) => unknown,
  test: (origin: string) => Promise<void>,
): Promise<void> {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (request) => Response.json(answer(new URL(request.url))),
  );
  try {
    await test(`http://127.0.0.1:${server.addr.port}`);
  } finally {
    await server.shutdown();
  }
}

function budget() {
  return { signal: new AbortController().signal, deadline: performance.now() + 60_000 };
}

Deno.test("fetchStations refuses to page through more than 10,000 records", () =>
  withServer(() => ({ total_count: 10_001, results: [] }), async (origin) => {
    const config = configSchema.parse({ baseUrl: `${origin}/dataset`, fetch: "records" });
    await assert.rejects(
      fetchStations(config, budget()),
      (error: CycleError) =>
        error instanceof CycleError &&
        /has 10001 records, more than the 10000 that \/records can page through/.test(
          error.message,
        ) && /fetch: "exports"/.test(error.hint ?? ""),
    );
  }));

Deno.test("fetchStations fails a paginated read whose total_count changes midway", () =>
  withServer((url) => {
    const offset = Number(url.searchParams.get("offset"));
    const results = capture.slice(offset, offset + 100);
    return { total_count: offset === 0 ? 150 : 151, results };
  }, async (origin) => {
    const config = configSchema.parse({ baseUrl: `${origin}/dataset`, fetch: "records" });
    await assert.rejects(
      fetchStations(config, budget()),
      /The Vélib' dataset changed while it was paged through: total_count went from 150 to 151/,
    );
  }));

Deno.test("fetchStations fails an export that is not an array", () =>
  withServer(() => ({ total_count: 1, results: capture.slice(0, 1) }), async (origin) => {
    const config = configSchema.parse({ baseUrl: `${origin}/dataset` });
    await assert.rejects(
      fetchStations(config, budget()),
      /The Vélib' API sent an object instead of an array of stations \(GET http:.*\/exports\/json\)/,
    );
  }));
