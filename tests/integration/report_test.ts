/**
 * The analysts' HTML report, rendered in headless Chromium from warehouses loaded with real
 * captures (five cycles over three local hours), with one cycle, and empty; with map tiles
 * from a local tile server; and as `run` writes it on the embedded warehouse. Screenshots go
 * to `.data/test-output/report/`.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { runCli } from "../support/cli.ts";
import { withReplayServer } from "../support/velib_replay.ts";
import { chromium, DESKTOP, type Page, PHONE } from "../support/chromium.ts";
import { captureCycles } from "../warehouse/capture.ts";
import {
  fillStationLatest,
  insertSnapshots,
  type Warehouse,
  warehouse,
} from "../warehouse/support.ts";

const OUTPUT = new URL("../../.data/test-output/report/", import.meta.url);

/** A warehouse holding the first `cycles` cycles of the capture, refreshed and ranked. */
async function loaded(cycles: number): Promise<Warehouse> {
  const wh = await warehouse();
  for (const cycle of (await captureCycles()).slice(0, cycles)) {
    await insertSnapshots(wh.client, cycle);
  }
  await fillStationLatest(wh.client);
  await wh.query(
    "SELECT mart.refresh_hourly_stats(), mart.refresh_daily_stats(), mart.compute_station_ranking()",
  );
  return wh;
}

/** Writes the report of `wh` with the CLI, as the load pipeline's warehouse, and returns its path. */
async function report(wh: Warehouse, name: string, flags: string[] = []): Promise<string> {
  await Deno.mkdir(OUTPUT, { recursive: true });
  const out = join(OUTPUT.pathname, `${name}.html`);
  const run = await runCli(["report", "load", "--out", out, ...flags], {
    env: { DATABASE_URL: wh.url },
  });
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.summary.path, out);
  return out;
}

/** Requests that left the page: anything but its own file and the data: URLs it made. */
const outgoing = (page: Page, path: string) =>
  page.requests.filter((url) => url !== `file://${path}` && !url.startsWith("data:"));

const count = (page: Page, selector: string) =>
  page.evaluate<number>(`document.querySelectorAll(${JSON.stringify(selector)}).length`);

const codes = (page: Page, section: string) =>
  page.evaluate<string[]>(
    `[...document.querySelectorAll("#${section} tr[data-station-code]")].map((r) => r.dataset.stationCode)`,
  );

Deno.test("the report of real captures draws one dot per station, one point per hour and one cell per heatmap row, and lists the ranked stations, offline and without errors", async () => {
  await using wh = await loaded(5);
  const path = await report(wh, "captures");
  const stations = await wh.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM mart.station_latest",
  );
  const hours = await wh.query(
    "SELECT DISTINCT bucket_start FROM mart.hourly_station_stats WHERE system_id = 'velib'",
  );
  const saturated = await wh.query<{ station_code: string }>(
    await Deno.readTextFile(new URL("../../sql/analysis/top_saturated.sql", import.meta.url)),
  );
  const empty = await wh.query<{ station_code: string }>(
    await Deno.readTextFile(new URL("../../sql/analysis/top_empty.sql", import.meta.url)),
  );
  await using browser = await chromium();
  const page = await browser.open(`file://${path}`, DESKTOP);
  assert.deepEqual(page.errors, []);
  assert.deepEqual(outgoing(page, path), []);
  assert.equal(await count(page, ".stations circle"), stations[0].n);
  assert.equal(await count(page, ".mechanical-by-hour circle"), hours.length);
  assert.equal(await count(page, ".electric-by-hour circle"), hours.length);
  const cells = (await wh.query<{ system_id: string }>(
    await Deno.readTextFile(
      new URL("../../sql/analysis/weekday_hour_heatmap.sql", import.meta.url),
    ),
  )).filter((cell) => cell.system_id === "velib");
  assert.equal(await count(page, ".occupancy-cells rect"), cells.length);
  assert.ok(saturated.length > 0 && empty.length > 0);
  assert.deepEqual(await codes(page, "top-saturated"), saturated.map((r) => r.station_code));
  assert.deepEqual(await codes(page, "top-empty"), empty.map((r) => r.station_code));
  assert.equal(await count(page, ".missing"), 2, "only the checks and the dead letters are empty");
  const desktop = join(OUTPUT.pathname, "desktop.png");
  await page.screenshot(desktop);
  const phone = await browser.open(`file://${path}`, PHONE);
  assert.deepEqual(phone.errors, []);
  const phoneShot = join(OUTPUT.pathname, "phone.png");
  await phone.screenshot(phoneShot);
  console.log(`Screenshots: ${desktop} ${phoneShot}`);
});

Deno.test("the report of one cycle maps the stations and says the charts and rankings need more cycles", async () => {
  await using wh = await loaded(1);
  const path = await report(wh, "one_cycle");
  await using browser = await chromium();
  const page = await browser.open(`file://${path}`, DESKTOP);
  assert.deepEqual(page.errors, []);
  assert.equal(await count(page, ".stations circle"), 1471);
  const text = await page.evaluate<string>("document.body.innerText");
  assert.match(text, /Only one hour of data so far \(22:00, Paris time\): the chart needs two/);
  assert.match(text, /None yet: the minutes come from the spacing of snapshots/);
  assert.equal(await count(page, "#hourly svg, #heatmap svg"), 0);
});

Deno.test("the report of an empty warehouse says there is no data yet in every section", async () => {
  await using wh = await warehouse();
  const path = await report(wh, "empty");
  await using browser = await chromium();
  const page = await browser.open(`file://${path}`, DESKTOP);
  assert.deepEqual(page.errors, []);
  const text = await page.evaluate<string>("document.body.innerText");
  assert.match(text, /No data yet: the warehouse holds no snapshot/);
  assert.match(text, /No station yet/);
  assert.equal(await count(page, "svg"), 0);
  assert.equal(await count(page, "section"), 8);
});

/** A 1×1 PNG, what the tile server answers for every tile. */
const PIXEL = Uint8Array.from(
  atob(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==",
  ),
  (c) => c.charCodeAt(0),
);

Deno.test("the report with --tiles draws the map over tiles from that URL and requests nothing else", async () => {
  const served: string[] = [];
  await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    served.push(new URL(request.url).pathname);
    return new Response(PIXEL, { headers: { "content-type": "image/png" } });
  });
  const tiles = `http://127.0.0.1:${server.addr.port}`;
  await using wh = await loaded(1);
  const path = await report(wh, "tiles", ["--tiles", `${tiles}/{z}/{x}/{y}.png`]);
  await using browser = await chromium();
  const page = await browser.open(`file://${path}`, DESKTOP);
  assert.deepEqual(page.errors, []);
  const images = await count(page, ".tiles image");
  assert.ok(images > 0);
  const requested = outgoing(page, path);
  assert.equal(requested.length, images);
  for (const url of requested) assert.match(url, new RegExp(`^${tiles}/\\d+/\\d+/\\d+\\.png$`));
  assert.equal(served.length, images);
  assert.equal(await count(page, ".stations circle"), 1471);
});

Deno.test("pipeline run on the embedded warehouse writes the report beside its summary and prints its path", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "report_test_" });
  try {
    const out = join(dataDir, "report.html");
    await withReplayServer(async (server) => {
      const run = await runCli(["run", "--out", out], {
        env: { VELIB_API_URL: server.baseUrl, VELIB_DATA_DIR: dataDir },
        unset: ["DATABASE_URL", "KAFKA_BROKERS"],
      });
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /stations +1,471/);
      assert.ok(run.stdout.includes(`Report: ${out}\n`));
      assert.equal(run.summary.report, out);
    });
    await using browser = await chromium();
    const page = await browser.open(`file://${out}`, PHONE);
    assert.deepEqual(page.errors, []);
    assert.equal(await count(page, ".stations circle"), 1471);
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});
