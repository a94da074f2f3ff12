// The transport's checks against one-off servers on 127.0.0.1, or none at all.
import assert from "node:assert/strict";
import { CycleError, getJson, type JsonRequest, retryAfterMs } from "./http.ts";

function request(url: string): JsonRequest {
  return {
    url,
    what: "the source's API",
    timeoutMs: 10_000,
    setting: "url (SOURCE_URL)",
    urlHint: "Check url (SOURCE_URL).",
  };
}

function budget() {
  return { signal: new AbortController().signal, deadline: performance.now() + 60_000 };
}

Deno.test("getJson says when the server cannot be reached", async () => {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => new Response(),
  );
  const origin = `http://127.0.0.1:${server.addr.port}`;
  await server.shutdown();
  await assert.rejects(
    getJson(request(`${origin}/data`), budget()),
    (error: CycleError) =>
      error instanceof CycleError && error.transient &&
      error.message.startsWith(`Could not reach the source's API (GET ${origin}/data)`),
  );
});

Deno.test("getJson gives the run's stop reason, not a CycleError, once stopped", async () => {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => Response.json([]),
  );
  try {
    const stop = new AbortController();
    stop.abort(new Error("stopped"));
    await assert.rejects(
      getJson(request(`http://127.0.0.1:${server.addr.port}/data`), {
        signal: stop.signal,
        deadline: performance.now() + 60_000,
      }),
      /^Error: stopped$/,
    );
  } finally {
    await server.shutdown();
  }
});

Deno.test("getJson ends an HTTP error's message with the API's own detail, and hints at the URL", async () => {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => Response.json({ message: "no such dataset" }, { status: 404 }),
  );
  try {
    const url = `http://127.0.0.1:${server.addr.port}/data`;
    const errorDetail = (body: string) => JSON.parse(body).message;
    await assert.rejects(getJson({ ...request(url), errorDetail }, budget()), (error) => {
      assert.ok(error instanceof CycleError);
      assert.equal(
        error.message,
        `The source's API answered HTTP 404 Not Found (GET ${url}): no such dataset.`,
      );
      assert.equal(error.hint, "Check url (SOURCE_URL).");
      return true;
    });
  } finally {
    await server.shutdown();
  }
});

Deno.test("retryAfterMs reads seconds and HTTP dates", () => {
  const now = Date.parse("2024-05-28T20:00:00Z");
  assert.equal(retryAfterMs("0", now), 0);
  assert.equal(retryAfterMs(" 30 ", now), 30_000);
  assert.equal(retryAfterMs("Tue, 28 May 2024 20:01:00 GMT", now), 60_000);
  assert.equal(retryAfterMs("Tue, 28 May 2024 19:59:00 GMT", now), 0, "a date in the past");
  assert.equal(retryAfterMs(null, now), undefined);
  assert.equal(retryAfterMs("-5", now), undefined);
  assert.equal(retryAfterMs("later", now), undefined);
});
