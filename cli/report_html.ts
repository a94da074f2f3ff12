/**
 * `deno task pipeline report <pipeline> [--out <file.html>]`: the analysts' HTML report of a
 * pipeline's warehouse, written to one file; `run` writes one too, through
 * {@linkcode writeHtmlReport}.
 *
 * @module
 */
import { mkdir } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { loadConfig } from "../core/config.ts";
import { EXIT_CODES } from "../core/runner.ts";
import type { Pipeline } from "../core/types.ts";
import { buildReport, requirePostgres } from "../report/mod.ts";
import { writeAtomically } from "./metrics.ts";
import {
  type Command,
  type GlobalOptions,
  OPTIONS_HELP,
  pipelineArgument,
  UsageError,
  withConnected,
} from "./shared.ts";

/** Where the page goes without `--out`: the local state folder, which git ignores. */
export const DEFAULT_REPORT_PATH = ".data/report.html";

/** The `--help` lines of `--out` and `--tiles`. */
export const OUT_HELP =
  `  --out <file.html>    where to write the HTML report (default: ${DEFAULT_REPORT_PATH})
  --tiles <url>        draw its map on the tiles of this {z}/{x}/{y} URL, fetched when the page
                       opens (default: none, so the page fetches nothing)`;

/** Where the page goes and how it is drawn. */
export interface ReportTarget {
  /** The file to write. */
  out: string;
  /** `--tiles`: a `{z}/{x}/{y}` tile URL for the map. */
  tiles?: string;
}

/**
 * The target the flags name, with `--tiles` checked: an http(s) URL with `{z}`, `{x}` and
 * `{y}`.
 *
 * @example
 * ```ts
 * import { reportTarget } from "./report_html.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(reportTarget({ config: "" }), { out: ".data/report.html" });
 * assert.throws(() => reportTarget({ config: "", tiles: "tiles.png" }), /--tiles must be/);
 * ```
 */
export function reportTarget(options: GlobalOptions): ReportTarget {
  const out = options.out ?? DEFAULT_REPORT_PATH;
  const tiles = options.tiles;
  if (tiles === undefined) return { out };
  const url = URL.parse(tiles);
  if (
    url === null || !["http:", "https:"].includes(url.protocol) ||
    !["{z}", "{x}", "{y}"].every((part) => tiles.includes(part))
  ) {
    throw new UsageError(`--tiles must be an http(s) URL with {z}, {x} and {y}, got "${tiles}".`, {
      hint: "Example: --tiles https://tiles.example.org/{z}/{x}/{y}.png",
    });
  }
  return { out, tiles };
}

/**
 * Connects the pipeline's warehouse, builds the page from it, writes it to the target's file
 * atomically and resolves with the file's absolute path and size in bytes.
 *
 * @example
 * ```ts ignore
 * const { path } = await writeHtmlReport(config.pipeline("local"), { out: "report.html" });
 * ```
 */
export async function writeHtmlReport(
  pipeline: Pipeline,
  target: ReportTarget,
): Promise<{ path: string; bytes: number }> {
  const warehouse = pipeline.warehouse;
  if (warehouse === undefined) {
    throw new UsageError(`Pipeline ${pipeline.name} names no warehouse to report on.`, {
      hint: "Name a pipeline with a PostgreSQL `warehouse`, e.g. local or load.",
    });
  }
  requirePostgres(warehouse.component);
  const html = await withConnected(
    pipeline,
    warehouse,
    (component, signal) =>
      buildReport(component, signal, target.tiles === undefined ? {} : { tiles: target.tiles }),
  );
  const path = resolve(target.out);
  await mkdir(dirname(path), { recursive: true });
  await writeAtomically(path, html);
  return { path, bytes: new TextEncoder().encode(html).length };
}

/**
 * The `report` command.
 *
 * @example
 * ```ts
 * import { htmlReport } from "./report_html.ts";
 * import assert from "node:assert/strict";
 *
 * assert.match(htmlReport.help, /--out <file.html>/);
 * ```
 */
export const htmlReport: Command = {
  summary: "write the analysts' HTML report of a pipeline's warehouse",
  help: `Usage: deno task pipeline report <pipeline> [--out <file.html>] [--tiles <url>] [options]

Reads the pipeline's PostgreSQL warehouse (a server, or the embedded one) with the read-only
rights of velib_analyst, through the queries of sql/analysis/, and writes one HTML page: the
network now, a map of the stations, bikes by hour, the top saturated and empty stations, an
occupancy heatmap, the problem stations, the last run's checks and the dead letters of the last
hour. Everything is inlined: it opens from file:// with no network (unless --tiles names map
tiles). Prints the file's path.

${OUT_HELP}

${OPTIONS_HELP}`,
  async run(args, options) {
    const config = await loadConfig(options.config, Deno.env.toObject());
    const pipeline = config.pipeline(pipelineArgument(args, "report", config));
    const target = reportTarget(options);
    const { path, bytes } = await writeHtmlReport(pipeline, target);
    console.log(path);
    return { command: "report", exitCode: EXIT_CODES.ok, pipeline: pipeline.name, path, bytes };
  },
};
