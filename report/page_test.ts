import assert from "node:assert/strict";
import { renderPage } from "./page.ts";
import type { ReportData } from "./data.ts";

const EMPTY: ReportData = {
  readAt: "2024-05-28T20:05:00.000Z",
  overview: undefined,
  stations: [],
  hourly: [],
  topSaturated: [],
  topEmpty: [],
  heatmap: [],
  problems: [],
  checks: [],
  deadLetters: [],
};
const ASSETS = { d3: "", plot: "", client: "" };
const HOSTILE = `</script><script>alert(1)</script><b>&"'`;

Deno.test("renderPage escapes a station's name in tables and cannot close its data script early", () => {
  const station = { station_code: "99001", station_name: HOSTILE, last_reported: null };
  const html = renderPage({
    ...EMPTY,
    stations: [station],
    topEmpty: [{ rank: 1, minutes_empty: 5, ...station }],
  }, ASSETS);
  const json = html.split('id="report-data">')[1].split("</script>")[0];
  assert.equal(JSON.parse(json).stations[0][1], HOSTILE);
  const cell = html.split('data-station-code="99001">')[1].split("</tr>")[0];
  assert.match(
    cell,
    /<td>&#60;\/script&#62;&#60;script&#62;alert\(1\)&#60;\/script&#62;&#60;b&#62;&#38;&#34;&#39;<\/td>/,
  );
});

Deno.test("renderPage says what is missing in each section of an empty warehouse", () => {
  const html = renderPage(EMPTY, ASSETS);
  assert.equal(html.match(/class="missing"/g)?.length, 9);
  assert.ok(!html.includes('data-chart="'));
});

Deno.test("renderPage names the tile server on the map only when tiles are configured", () => {
  const stations = [{ station_code: "99001", station_name: "Synthetic", last_reported: null }];
  assert.match(renderPage({ ...EMPTY, stations }, ASSETS), /with no map tiles/);
  const tiled = renderPage({ ...EMPTY, stations }, ASSETS, {
    tiles: "https://tiles.example.org/{z}/{x}/{y}.png",
  });
  assert.match(tiled, /over tiles from tiles\.example\.org/);
  assert.match(tiled, /"tiles":"https:\/\/tiles\.example\.org\/\{z\}\/\{x\}\/\{y\}\.png"/);
});
