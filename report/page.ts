/**
 * The report as one HTML page: the figures and tables laid out here, the charts drawn in the
 * browser by Observable Plot from the data the page embeds, every script inlined, so that it
 * opens from `file://` with nothing fetched.
 *
 * @module
 */
import type { Assets } from "./assets.ts";
import type { ReportData, Row } from "./data.ts";

/** How a page is drawn, beyond its data. */
export interface PageOptions {
  /**
   * A `{z}/{x}/{y}` tile URL to draw the map on, e.g. a tile server of your own. The page then
   * fetches those tiles when it opens, and nothing else.
   * @default {undefined} no tiles: the stations on a plain background, and no request at all
   */
  tiles?: string;
}

/** The clock the page tells time by. */
const TIME_ZONE = "Europe/Paris";

/**
 * The station states' colours, from the Okabe–Ito palette, which stays distinct under the
 * common colour-vision deficiencies; stations in between go by occupancy on cividis (navy, grey,
 * yellow), which was designed for them too, and none of the states' colours is on it. The two series of the hourly chart are Okabe–Ito's blue and orange.
 */
const COLOURS = {
  empty: "#D55E00",
  saturated: "#CC79A7",
  closed: "#000000",
  out_of_service: "#56B4E9",
  stale: "#DDDDDD",
  series: ["#0072B2", "#E69F00"],
};

/** How the map's legend and tooltips name each state. */
const LABELS = {
  empty: "empty: no bike",
  saturated: "saturated: no free dock",
  in_between: "in between, by occupancy",
  closed: "closed",
  out_of_service: "out of service",
  stale: "not seen lately",
};

const NUMBER = new Intl.NumberFormat("en-GB");
const PARIS = new Intl.DateTimeFormat("en-GB", {
  timeZone: TIME_ZONE,
  dateStyle: "medium",
  timeStyle: "short",
});

/** `28 May 2024, 22:05`: an instant on the Paris clock. */
const paris = (instant: unknown) => PARIS.format(new Date(String(instant)));
const number = (value: unknown) => NUMBER.format(Number(value));
const percent = (value: unknown) =>
  value === null || value === undefined ? "n/a" : `${(Number(value) * 100).toFixed(1)} %`;

/** `text` safe inside HTML, as text or as a quoted attribute. */
function escape(text: unknown): string {
  return String(text ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A script's text safe inside `<script>`: it cannot close the element early. */
const scriptText = (text: string) => text.replace(/<\/(script)/gi, "<\\/$1");

/** A section with its heading, and either its content or what is missing instead. */
function section(id: string, title: string, content: string): string {
  return `<section id="${id}"><h2>${escape(title)}</h2>${content}</section>`;
}

/** A paragraph saying what a section lacks, instead of an empty chart or table. */
const missing = (text: string) => `<p class="missing">${escape(text)}</p>`;

/** A table of `rows` with a header; each row carries the station code when it has one. */
function table(headers: string[], rows: Row[], cells: (row: Row) => unknown[]): string {
  const head = headers.map((h) => `<th scope="col">${escape(h)}</th>`).join("");
  const body = rows.map((row) => {
    const code = row.station_code === undefined
      ? ""
      : ` data-station-code="${escape(row.station_code)}"`;
    return `<tr${code}>${cells(row).map((c) => `<td>${escape(c)}</td>`).join("")}</tr>`;
  }).join("");
  return `<div class="table"><table><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table></div>`;
}

function overview(data: ReportData): string {
  const o = data.overview;
  if (o === undefined) {
    return section(
      "overview",
      "The network now",
      missing(
        "No data yet: the warehouse holds no snapshot. Load one with `deno task pipeline run`.",
      ),
    );
  }
  const figures: [string, string, string][] = [
    [
      "Stations",
      number(o.stations),
      `${number(o.in_service)} in service, ${number(o.closed)} closed, ` +
      `${number(o.out_of_service)} out of service, ${number(o.stale_stations)} not seen lately`,
    ],
    [
      "Bikes",
      number(o.bikes),
      `${number(o.mechanical)} mechanical, ${number(o.electric)} electric`,
    ],
    ["Free docks", number(o.docks), ""],
    ["Empty", number(o.empty_stations), "stations in service with no bike"],
    ["Saturated", number(o.saturated_stations), "stations in service with no free dock"],
    ["Occupancy", percent(o.avg_occupancy_rate), "on average, stations in service"],
  ];
  const tiles = figures.map(([name, value, detail]) =>
    `<div class="figure"><div class="name">${escape(name)}</div>` +
    `<div class="value">${escape(value)}</div><div class="detail">${escape(detail)}</div></div>`
  ).join("");
  return section(
    "overview",
    "The network now",
    `<p class="as-of">As of <time datetime="${escape(o.as_of)}">${
      escape(paris(o.as_of))
    }</time> (Paris time)</p><div class="figures">${tiles}</div>`,
  );
}

function map(data: ReportData, tiles: string | undefined): string {
  if (data.stations.length === 0) {
    return section("map", "Stations", missing("No station yet: the warehouse holds no snapshot."));
  }
  const swatch = (state: keyof typeof LABELS) => {
    const style = state === "in_between"
      ? "background: linear-gradient(90deg, #00204d, #7c7b78, #ffea46)"
      : `background: ${COLOURS[state]}`;
    return `<li><span class="swatch" style="${style}"></span>${escape(LABELS[state])}</li>`;
  };
  const legend = (Object.keys(LABELS) as (keyof typeof LABELS)[]).map(swatch).join("");
  return section(
    "map",
    `Stations (${number(data.stations.length)})`,
    `<ul class="legend">${legend}</ul><div data-chart="map"></div>` +
      `<p class="note">Each dot is a station at its latitude and longitude, on a Mercator ` +
      `projection ${
        tiles === undefined ? "with no map tiles" : `over tiles from ${escape(new URL(tiles).host)}`
      }. Hover or tap a dot for its details.</p>`,
  );
}

function hourly(data: ReportData): string {
  const hours = data.hourly.length;
  const content = hours === 0
    ? missing("No hourly statistics yet: the gold refresh has not run on any snapshot.")
    : hours === 1
    ? missing(
      `Only one hour of data so far (${
        String(data.hourly[0].hour_local).slice(11, 16)
      }, Paris time): the chart needs two.`,
    )
    : `<div data-chart="hourly"></div>`;
  return section("hourly", "Bikes available over the last 24 hours", content);
}

function ranking(id: string, title: string, rows: Row[], minutes: string): string {
  const content = rows.length === 0
    ? missing(
      "None yet: the minutes come from the spacing of snapshots, so the ranking takes two cycles.",
    )
    : table(
      ["#", "Station", "Code", "Minutes"],
      rows,
      (r) => [r.rank, r.station_name, r.station_code, Math.round(Number(r[minutes]))],
    );
  return section(id, title, content);
}

function heatmap(data: ReportData): string {
  const content = data.heatmap.length < 2
    ? missing(
      data.heatmap.length === 0
        ? "No hourly statistics yet: the heatmap fills in as hours of data arrive."
        : "Only one hour of data so far: the heatmap fills in as hours of data arrive.",
    )
    : `<div data-chart="heatmap"></div>`;
  return section("heatmap", "Occupancy by weekday and hour (last 4 weeks)", content);
}

/** How many problem stations the page lists: a page to read, not the whole query. */
const PROBLEMS_SHOWN = 20;

function problems(data: ReportData): string {
  const content = data.overview === undefined
    ? missing("No data yet.")
    : data.problems.length === 0
    ? missing(
      "No station was empty, saturated or not in service in a quarter of its snapshots.",
    )
    : (data.problems.length > PROBLEMS_SHOWN
      ? `<p>The ${PROBLEMS_SHOWN} worst of ${data.problems.length}, by their largest share.</p>`
      : "") +
      table(
        ["Station", "Code", "Problems", "Empty", "Saturated", "Not in service", "Snapshots"],
        data.problems.slice(0, PROBLEMS_SHOWN),
        (r) => [
          r.station_name,
          r.station_code,
          r.problems,
          percent(r.empty_share),
          percent(r.saturated_share),
          percent(r.out_of_service_share),
          r.snapshot_count,
        ],
      );
  return section("problems", `Problem stations over 7 days (${data.problems.length})`, content);
}

function quality(data: ReportData): string {
  const checks = data.checks.length === 0
    ? missing("No check result recorded yet: a run, or `deno task pipeline check`, records them.")
    : `<p>Run ${escape(data.checks[0].run_id)}, ${escape(paris(data.checks[0].checked_at))}</p>` +
      table(
        ["Check", "Severity", "Result", "Observed", "Threshold", "Message"],
        data.checks,
        (r) => [
          r.check_name,
          r.severity,
          r.passed ? "passed" : "FAILED",
          r.observed,
          r.threshold,
          r.message,
        ],
      );
  const letters = data.deadLetters.length === 0
    ? missing("No record was set aside in the last hour.")
    : table(
      ["Pipeline", "Stage", "Reason", "Records", "Last"],
      data.deadLetters,
      (r) => [r.pipeline, r.stage, r.reason, r.letters, paris(r.last_failed_at)],
    );
  return section(
    "quality",
    "Data quality",
    `<h3>Last run's checks</h3>${checks}<h3>Dead letters, last hour</h3>${letters}`,
  );
}

/** What the browser script is given: the rows it charts, the colours and the labels. */
function embedded(data: ReportData, tiles: string | undefined): string {
  const stations = data.stations.map((s) =>
    STATION_FIELDS.map((field) =>
      field !== "last_reported_local"
        ? s[field]
        : s.last_reported === null
        ? "unknown"
        : paris(s.last_reported)
    )
  );
  return JSON.stringify({
    stationFields: STATION_FIELDS,
    stations,
    hourly: data.hourly,
    heatmap: data.heatmap,
    colours: COLOURS,
    labels: LABELS,
    ...(tiles === undefined ? {} : { tiles }),
  });
}

/** What the map shows of each station, in the order the page lists them. */
const STATION_FIELDS = [
  "station_code",
  "station_name",
  "latitude",
  "longitude",
  "bikes_available",
  "mechanical_bikes",
  "electric_bikes",
  "docks_available",
  "capacity",
  "occupancy_rate",
  "station_status",
  "stale",
  "last_reported_local",
];

const STYLE = `
:root { font-family: system-ui, sans-serif; color: #1a1a1a; background: #fff; }
body { margin: 0 auto; max-width: 1100px; padding: 0 16px 32px; line-height: 1.4; }
h1 { font-size: 1.6rem; margin: 20px 0 4px; }
h2 { font-size: 1.2rem; margin: 28px 0 8px; border-bottom: 1px solid #ddd; }
h3 { font-size: 1rem; margin: 16px 0 6px; }
.as-of, .note, .read-at { color: #555; font-size: 0.9rem; }
.missing { background: #f4f4f0; border-left: 4px solid #999; padding: 8px 12px; }
.figures { display: grid; grid-template-columns: repeat(auto-fit, minmax(160px, 1fr)); gap: 8px; }
.figure { border: 1px solid #ddd; border-radius: 6px; padding: 8px 12px; }
.figure .name { font-size: 0.85rem; color: #555; }
.figure .value { font-size: 1.6rem; font-weight: 600; }
.figure .detail { font-size: 0.8rem; color: #555; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 16px; list-style: none; padding: 0; font-size: 0.85rem; }
.swatch { display: inline-block; width: 14px; height: 14px; border: 1px solid #888; margin-right: 6px; vertical-align: -2px; }
.rankings { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap: 0 24px; }
.table { overflow-x: auto; }
table { border-collapse: collapse; font-size: 0.9rem; width: 100%; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #eee; }
[data-chart] svg { max-width: 100%; height: auto; }
`;

/**
 * The page for `data`, with `assets` inlined, drawn as `options` say.
 *
 * @example
 * ```ts
 * import { renderPage } from "./page.ts";
 * import assert from "node:assert/strict";
 *
 * const empty = {
 *   readAt: "2024-05-28T20:05:00.000Z", overview: undefined, stations: [], hourly: [],
 *   topSaturated: [], topEmpty: [], heatmap: [], problems: [], checks: [], deadLetters: [],
 * };
 * const html = renderPage(empty, { d3: "", plot: "", client: "" });
 * assert.match(html, /No data yet/);
 * ```
 */
export function renderPage(data: ReportData, assets: Assets, options: PageOptions = {}): string {
  const body = [
    overview(data),
    map(data, options.tiles),
    hourly(data),
    `<div class="rankings">${
      ranking(
        "top-saturated",
        "Top 10 saturated (minutes without a free dock, last 24 h)",
        data.topSaturated,
        "minutes_saturated",
      )
    }${
      ranking(
        "top-empty",
        "Top 10 empty (minutes without a bike, last 24 h)",
        data.topEmpty,
        "minutes_empty",
      )
    }</div>`,
    heatmap(data),
    problems(data),
    quality(data),
  ].join("\n");
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Vélib' Métropole report</title>
<style>${STYLE}</style>
</head>
<body>
<h1>Vélib' Métropole</h1>
<p class="read-at">Read from the warehouse ${escape(paris(data.readAt))} (Paris time)</p>
${body}
<script type="application/json" id="report-data">${
    scriptText(embedded(data, options.tiles))
  }</script>
<script>${scriptText(assets.d3)}</script>
<script>${scriptText(assets.plot)}</script>
<script>${scriptText(assets.client)}</script>
</body>
</html>
`;
}
