import assert from "node:assert/strict";
import { EXPLORE_EXPORTS_CAPTURE, readCapture } from "./fixtures.ts";
import { type ReplayServer, withReplayServer } from "./velib_replay.ts";

type Station = { stationcode: string; duedate: string };
type Page = { total_count: number; results: Station[] };

async function get(url: string): Promise<{ status: number; headers: Headers; body: unknown }> {
  const response = await fetch(url);
  return { status: response.status, headers: response.headers, body: await response.json() };
}

async function statusOf(url: string): Promise<number> {
  const response = await fetch(url);
  await response.body?.cancel();
  return response.status;
}

/** Pages through `/records` as a client does: limit 100, ordered by code. */
async function pageThrough(
  replay: ReplayServer,
): Promise<{ totals: number[]; results: Station[] }> {
  const totals: number[] = [];
  const results: Station[] = [];
  for (let offset = 0; offset === 0 || offset < totals[0]; offset += 100) {
    const { body } = await get(
      `${replay.baseUrl}/records?limit=100&offset=${offset}&order_by=stationcode`,
    );
    totals.push((body as Page).total_count);
    results.push(...(body as Page).results);
  }
  return { totals, results };
}

const capture = await readCapture(EXPLORE_EXPORTS_CAPTURE) as Station[];
const lastCode = capture.map((station) => station.stationcode).sort().at(-1)!;

Deno.test("/records answers 10 records by default, with total_count", () =>
  withReplayServer(async (replay) => {
    const { status, body } = await get(`${replay.baseUrl}/records`);
    assert.equal(status, 200);
    assert.equal((body as Page).total_count, 1471);
    assert.equal((body as Page).results.length, 10);
    assert.deepEqual((body as Page).results, capture.slice(0, 10));
  }));

Deno.test("/records refuses a limit above 100 with the API's error body", () =>
  withReplayServer(async (replay) => {
    const { status, body } = await get(`${replay.baseUrl}/records?limit=101`);
    assert.equal(status, 400);
    assert.deepEqual(body, {
      error_code: "InvalidRESTParameterError",
      message: "Invalid value for limit API parameter: 101 was found but -1 <= limit <= 100 is " +
        "expected.",
    });
    assert.equal(await statusOf(`${replay.baseUrl}/records?limit=100`), 200);
    const { body: countOnly } = await get(`${replay.baseUrl}/records?limit=0`);
    assert.deepEqual(countOnly, { total_count: 1471, results: [] });
  }));

Deno.test("/records refuses offset + limit above 10,000", () =>
  withReplayServer(async (replay) => {
    const atTheEdge = await get(`${replay.baseUrl}/records?limit=100&offset=9900`);
    assert.deepEqual(atTheEdge.body, { total_count: 1471, results: [] });
    const past = await get(`${replay.baseUrl}/records?limit=100&offset=9901`);
    assert.equal(past.status, 400);
    assert.deepEqual(past.body, {
      error_code: "InvalidRESTParameterError",
      message: "Invalid value for limit/offset, the sum of both must be lower or equal to 10000",
    });
  }));

Deno.test("/records?order_by=stationcode pages through every station in text order", () =>
  withReplayServer(async (replay) => {
    const { totals, results } = await pageThrough(replay);
    assert.equal(totals.length, 15);
    assert.equal(results.length, 1471);
    const codes = results.map((station) => station.stationcode);
    assert.deepEqual(codes, [...codes].sort());
    assert.equal(new Set(codes).size, 1471);
    // Text order, as the API sorts a text field: the relay station sits right after its parent.
    assert.deepEqual(codes.slice(0, 2), ["10001", "10001_relais"]);
  }));

Deno.test("/exports/json serves the capture as a bare array", () =>
  withReplayServer(async (replay) => {
    const { status, body } = await get(`${replay.baseUrl}/exports/json`);
    assert.equal(status, 200);
    assert.deepEqual(body, capture);
  }));

Deno.test("an injected fault breaks the next cycle only, in the order injected", () =>
  withReplayServer(async (replay) => {
    replay.injectFault({ kind: "http-error" });
    replay.injectFault({ kind: "http-error", status: 502 });
    assert.equal(await statusOf(`${replay.baseUrl}/exports/json`), 500);
    assert.equal(await statusOf(`${replay.baseUrl}/records?limit=100`), 502);
    assert.equal(await statusOf(`${replay.baseUrl}/exports/json`), 200);
    assert.deepEqual(
      replay.requests.map((request) => [request.status, request.fault]),
      [[500, "http-error"], [502, "http-error"], [200, undefined]],
    );
  }));

Deno.test("a /records request past offset 0 belongs to the cycle under way", () =>
  withReplayServer(async (replay) => {
    assert.equal(await statusOf(`${replay.baseUrl}/records?limit=100`), 200);
    replay.injectFault({ kind: "http-error" });
    assert.equal(await statusOf(`${replay.baseUrl}/records?limit=100&offset=100`), 200);
    assert.equal(await statusOf(`${replay.baseUrl}/records?limit=100&offset=0`), 500);
  }));

Deno.test("fault delay: the first request answers after the client has given up", () =>
  withReplayServer(async (replay) => {
    replay.injectFault({ kind: "delay", ms: 5_000 });
    await assert.rejects(
      fetch(`${replay.baseUrl}/exports/json`, { signal: AbortSignal.timeout(100) }),
      (error: Error) => error.name === "TimeoutError",
    );
    assert.equal(await statusOf(`${replay.baseUrl}/exports/json`), 200);
  }));

Deno.test("fault http-error: an error body that says it is injected", () =>
  withReplayServer(async (replay) => {
    replay.injectFault({ kind: "http-error", status: 500 });
    const { status, body } = await get(`${replay.baseUrl}/records?limit=100`);
    assert.equal(status, 500);
    assert.deepEqual(body, {
      error_code: "ReplayInjectedFault",
      message: "Injected fault: HTTP 500.",
    });
  }));

Deno.test("fault retry-after: 429 or 503 with a Retry-After header", () =>
  withReplayServer(async (replay) => {
    replay.injectFault({ kind: "retry-after", retryAfter: 2 });
    replay.injectFault({
      kind: "retry-after",
      status: 503,
      retryAfter: "Tue, 28 May 2024 20:10:00 GMT",
    });
    const first = await get(`${replay.baseUrl}/exports/json`);
    assert.equal(first.status, 429);
    assert.equal(first.headers.get("retry-after"), "2");
    const second = await get(`${replay.baseUrl}/exports/json`);
    assert.equal(second.status, 503);
    assert.equal(second.headers.get("retry-after"), "Tue, 28 May 2024 20:10:00 GMT");
  }));

Deno.test("fault truncated: the body breaks off before its declared length", () =>
  withReplayServer(async (replay) => {
    replay.injectFault({ kind: "truncated" });
    const response = await fetch(`${replay.baseUrl}/exports/json`);
    assert.equal(response.status, 200);
    const whole = new TextEncoder().encode(JSON.stringify(capture)).length;
    assert.equal(response.headers.get("content-length"), String(whole));
    await assert.rejects(response.text(), TypeError);
  }));

Deno.test("fault invalid-json: a 200 whose body is an HTML page", () =>
  withReplayServer(async (replay) => {
    replay.injectFault({ kind: "invalid-json" });
    const response = await fetch(`${replay.baseUrl}/records?limit=100`);
    assert.equal(response.status, 200);
    const text = await response.text();
    assert.throws(() => JSON.parse(text), SyntaxError);
  }));

Deno.test("fault missing-page: page 2 comes back empty while total_count still counts it", () =>
  withReplayServer(async (replay) => {
    replay.injectFault({ kind: "missing-page" });
    const { totals, results } = await pageThrough(replay);
    assert.ok(totals.every((total) => total === 1471));
    assert.equal(results.length, 1371);
    const { body } = await get(`${replay.baseUrl}/exports/json`);
    assert.equal((body as Station[]).length, 1471, "the next cycle is whole again");
  }));

Deno.test("fault missing-page on an export: 100 stations short, while the count is whole", () =>
  withReplayServer(async (replay) => {
    replay.injectFault({ kind: "missing-page" });
    const { body } = await get(`${replay.baseUrl}/exports/json`);
    assert.equal((body as Station[]).length, 1371);
    const { body: count } = await get(`${replay.baseUrl}/records?limit=0`);
    assert.equal((count as Page).total_count, 1471);
  }));

Deno.test("fault short-export: the export ends early, the count and the pages are whole", () =>
  withReplayServer(async (replay) => {
    replay.injectFault({ kind: "short-export", missing: 3 });
    replay.injectFault({ kind: "short-export" });
    const { body } = await get(`${replay.baseUrl}/exports/json`);
    assert.deepEqual(body, capture.slice(0, 1468));
    const { body: count } = await get(`${replay.baseUrl}/records?limit=0`);
    assert.deepEqual(count, { total_count: 1471, results: [] });
    const { body: next } = await get(`${replay.baseUrl}/exports/json`);
    assert.equal((next as Station[]).length, 1470, "the second fault shortens the next cycle");
    const { totals, results } = await pageThrough(replay);
    assert.deepEqual([totals[0], results.length], [1471, 1471], "a paged read is whole again");
    assert.deepEqual(
      replay.requests.map((request) => request.fault),
      [
        "short-export",
        "short-export",
        "short-export",
        ...Array(15).fill(undefined),
      ],
    );
  }));

Deno.test("a count alone (limit=0) belongs to the cycle under way", () =>
  withReplayServer(async (replay) => {
    replay.injectFault({ kind: "http-error" });
    assert.equal(await statusOf(`${replay.baseUrl}/records?limit=0`), 200);
    assert.equal(await statusOf(`${replay.baseUrl}/exports/json`), 500);
    assert.equal(await statusOf(`${replay.baseUrl}/records?limit=0`), 200);
  }));

Deno.test("fault duplicate: the last station by code comes again on page 1, a minute newer", () =>
  withReplayServer(async (replay) => {
    replay.injectFault({ kind: "duplicate" });
    const { totals, results } = await pageThrough(replay);
    assert.ok(totals.every((total) => total === 1472));
    const copies = results.filter((station) => station.stationcode === lastCode);
    assert.equal(copies.length, 2);
    assert.equal(results[0], copies[0]);
    assert.ok(results.lastIndexOf(copies[1]) >= 1400, "the original stays on the last page");
    assert.equal(Date.parse(copies[0].duedate) - Date.parse(copies[1].duedate), 60_000);
  }));

Deno.test("the control endpoint queues faults posted as JSON and lists them", () =>
  withReplayServer(async (replay) => {
    const posted = await fetch(replay.faultsUrl, {
      method: "POST",
      body: JSON.stringify([{ kind: "http-error", status: 503 }, { kind: "invalid-json" }]),
    });
    assert.equal(posted.status, 200);
    assert.deepEqual(await posted.json(), {
      pending: [{ kind: "http-error", status: 503 }, { kind: "invalid-json" }],
    });
    const refused = await fetch(replay.faultsUrl, {
      method: "POST",
      body: JSON.stringify({ kind: "meteor" }),
    });
    assert.equal(refused.status, 400);
    await refused.body?.cancel();
    assert.equal(await statusOf(`${replay.baseUrl}/exports/json`), 503);
    const { body } = await get(replay.faultsUrl);
    assert.deepEqual(body, { pending: [{ kind: "invalid-json" }] });
  }));
