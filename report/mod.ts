/**
 * The analysts' report: one self-contained HTML page of the Vélib' network, read from a
 * PostgreSQL warehouse with the rights of `velib_analyst` (figures, a map of the stations,
 * charts and tables), that opens from `file://` with nothing fetched.
 *
 * @example
 * ```ts ignore
 * import { buildReport } from "./report/mod.ts";
 *
 * await Deno.writeTextFile("report.html", await buildReport(warehouse, signal));
 * ```
 *
 * @module
 */
import type { QueryRunner } from "../mod.ts";
import { readAssets } from "./assets.ts";
import { readReportData } from "./data.ts";

export { requirePostgres } from "./data.ts";
import { type PageOptions, renderPage } from "./page.ts";

export type { ReportData, Row } from "./data.ts";
export type { PageOptions } from "./page.ts";

/**
 * The page's HTML, from what `warehouse` (connected) holds now, drawn as `options` say.
 *
 * @example
 * ```ts ignore
 * const html = await buildReport(pipeline.warehouse!.component, new AbortController().signal);
 * ```
 */
export async function buildReport(
  warehouse: QueryRunner,
  signal: AbortSignal,
  options: PageOptions = {},
): Promise<string> {
  const [data, assets] = await Promise.all([readReportData(warehouse, signal), readAssets()]);
  return renderPage(data, assets, options);
}
