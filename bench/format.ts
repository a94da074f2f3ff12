/**
 * The benchmarks' sections as a terminal table and as the Markdown of `bench/RESULTS.md`.
 *
 * @module
 */
import { type BenchSection, type BenchSize, type Figure, summarize } from "./report.ts";

/**
 * A number as the tables show it: three significant digits at most, thousands separated.
 *
 * @example
 * ```ts
 * import { formatValue } from "./format.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(formatValue(123456.7), "123,457");
 * assert.equal(formatValue(0.01234), "0.0123");
 * ```
 */
export function formatValue(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 1 ? 3 : 4;
  const rounded = Math.abs(value) >= 100 ? Math.round(value) : Number(value.toPrecision(3));
  return rounded.toLocaleString("en-US", { maximumFractionDigits: digits });
}

function statistics(figure: Figure): string[] {
  const { min, median, max } = summarize(figure.samples);
  return [formatValue(min), formatValue(median), formatValue(max)];
}

/**
 * One section as plain text: its figures (min / median / max), its targets and its notes.
 *
 * @example
 * ```ts
 * import { formatTable } from "./format.ts";
 * import assert from "node:assert/strict";
 *
 * const text = formatTable({
 *   title: "Example",
 *   figures: [{ name: "load", unit: "msg/s", samples: [1, 2, 3] }],
 *   targets: [{ name: "load ≥ 1", observed: "2", met: true }],
 *   notes: [],
 * });
 * assert.match(text, /load\s+msg\/s\s+1\s+2\s+3/);
 * ```
 */
export function formatTable(section: BenchSection): string {
  const header = ["figure", "unit", "min", "median", "max"];
  const rows = section.figures.map((figure) => [figure.name, figure.unit, ...statistics(figure)]);
  const widths = header.map((title, i) =>
    Math.max(title.length, ...rows.map((row) => row[i].length))
  );
  const line = (cells: string[]) =>
    cells.map((cell, i) => i < 2 ? cell.padEnd(widths[i]) : cell.padStart(widths[i])).join("  ");
  return [
    "",
    `== ${section.title} ==`,
    line(header),
    line(widths.map((width) => "-".repeat(width))),
    ...rows.map(line),
    ...section.targets.map((target) =>
      `${target.met ? "[met]   " : "[missed]"} ${target.name}: ${target.observed}`
    ),
    ...section.notes.map((note) => `  - ${note}`),
  ].join("\n");
}

/** What the report's header says about the run. */
export interface ReportMeta {
  /** The size run. */
  size: BenchSize;
  /** Repetitions of each figure. */
  runs: number;
  /** The machine and versions, a line each. */
  machine: string[];
  /** How to reproduce it. */
  command: string;
  /** When it ran (ISO-8601). */
  date: string;
}

/**
 * The whole report as Markdown: a header with the machine and versions, then one section per
 * benchmark with a table of min / median / max, the targets and the notes.
 *
 * @example
 * ```ts
 * import { formatMarkdown } from "./format.ts";
 * import assert from "node:assert/strict";
 *
 * const markdown = formatMarkdown([], {
 *   size: "small", runs: 3, machine: ["2 cores"], command: "deno task bench",
 *   date: "2026-11-30T12:00:00Z",
 * });
 * assert.match(markdown, /^# Benchmark results/);
 * ```
 */
export function formatMarkdown(sections: readonly BenchSection[], meta: ReportMeta): string {
  const lines = [
    "# Benchmark results",
    "",
    `Written by \`${meta.command}\` on ${meta.date} (size ${meta.size}, ${meta.runs} runs of ` +
    "each figure; min / median / max). Targets are judged on the medians, as ratios to " +
    "references measured in the same run.",
    "",
    ...meta.machine.map((line) => `- ${line}`),
  ];
  for (const section of sections) {
    lines.push("", `## ${section.title}`, "");
    lines.push("| figure | unit | min | median | max |", "| --- | --- | ---: | ---: | ---: |");
    for (const figure of section.figures) {
      lines.push(`| ${[figure.name, figure.unit, ...statistics(figure)].join(" | ")} |`);
    }
    if (section.targets.length > 0) {
      lines.push("", "| target | observed (median) | met |", "| --- | --- | --- |");
      for (const target of section.targets) {
        lines.push(`| ${target.name} | ${target.observed} | ${target.met ? "yes" : "**no**"} |`);
      }
    }
    if (section.notes.length > 0) lines.push("", ...section.notes.map((note) => `- ${note}`));
  }
  return lines.join("\n") + "\n";
}
