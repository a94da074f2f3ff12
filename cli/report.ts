/**
 * The short human summary `deno task pipeline run` prints after a run: the `report` of the
 * pipeline's config, filled from the rows its steps returned. Everything it says comes from the
 * config and the rows; this only lays them out.
 *
 * @module
 */
import { REPORT_PLACEHOLDER, type ReportDefinition } from "../core/config.ts";
import type { RunResult } from "../core/types.ts";

type Row = Record<string, unknown>;

/**
 * The report's text for a run, or `undefined` when a step it names did not run or returned no
 * rows (`details.rows`), so that half a summary is never printed.
 *
 * @example
 * ```ts
 * import { formatReport } from "./report.ts";
 * import assert from "node:assert/strict";
 *
 * const report = {
 *   timeZone: "UTC",
 *   sections: [{ step: "top", title: "Top:", row: ["  {rank:2}. {name} {share:percent}"] }],
 * };
 * const steps = [{
 *   name: "top",
 *   rows: 1,
 *   durationMs: 3,
 *   details: { rows: [{ rank: 1, name: "Synthetic", share: 0.25 }] },
 * }];
 * assert.equal(formatReport(report, { steps }), "Top:\n   1. Synthetic 25.0 %");
 * assert.equal(formatReport(report, { steps: [] }), undefined);
 * ```
 */
export function formatReport(
  report: ReportDefinition,
  result: Pick<RunResult, "steps">,
): string | undefined {
  const sections: string[][] = [];
  for (const section of report.sections) {
    const rows = result.steps.find((step) => step.name === section.step)?.details?.rows;
    if (!Array.isArray(rows)) return undefined;
    const shown = (rows as Row[]).slice(0, section.limit);
    sections.push([
      ...(section.title === undefined ? [] : [section.title]),
      ...(shown.length === 0 && section.empty !== undefined ? [section.empty] : []),
      ...shown.flatMap((row) => section.row.map((line) => fill(line, row, report.timeZone))),
    ]);
  }
  return sections.filter((lines) => lines.length > 0).map((lines) => lines.join("\n"))
    .join("\n\n");
}

const NUMBER = new Intl.NumberFormat("en-GB");

/** `line` with each `{column}` or `{column:format}` replaced by the row's value. */
function fill(line: string, row: Row, timeZone: string): string {
  return line.replace(REPORT_PLACEHOLDER, (_, column: string, format?: string) => {
    const value = row[column];
    if (value === null || value === undefined) return "n/a";
    if (format === undefined) return value instanceof Date ? value.toISOString() : String(value);
    if (/^\d+$/.test(format)) return String(value).padStart(Number(format));
    if (format === "time") return localTime(value as Date | string, timeZone);
    const number = Number(value);
    if (format === "percent") return `${(number * 100).toFixed(1)} %`;
    // `rounded`: whole, or tenths below ten, so that small values do not all read 0.
    if (format === "rounded") return number < 10 ? number.toFixed(1) : String(Math.round(number));
    return NUMBER.format(number);
  });
}

/** `2024-05-28 22:06`: the instant on the clock of `timeZone`. */
function localTime(instant: Date | string, timeZone: string): string {
  return new Intl.DateTimeFormat("en-CA", {
    timeZone,
    dateStyle: "short",
    timeStyle: "short",
    hourCycle: "h23",
  }).format(new Date(instant)).replace(",", "");
}
