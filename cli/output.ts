/**
 * What the CLI prints: a human summary on a terminal, progress on stderr, and always, as the
 * last line of stdout, a one-line JSON summary for Airflow's XCom.
 *
 * @module
 */
import { redact } from "../core/redact.ts";
import type { CheckResult, Progress, RunResult } from "../core/types.ts";

/** The JSON object printed as the last line of stdout. */
export type Summary = { command: string; exitCode: number } & Record<string, unknown>;

/**
 * Prints the summary as one line of JSON, redacted.
 *
 * @example
 * ```ts
 * import { printSummary } from "./output.ts";
 *
 * printSummary({ command: "validate", exitCode: 0 });
 * ```
 */
export function printSummary(summary: Summary): void {
  console.log(redact(JSON.stringify(summary)));
}

const number = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

/**
 * Prints why a run failed, on stderr, and on a terminal a short account of the run on stdout,
 * before the JSON line.
 *
 * @example
 * ```ts ignore
 * printRunResult(result);
 * ```
 */
export function printRunResult(result: RunResult): void {
  if (result.error) printError(result.error);
  if (!Deno.stdout.isTerminal()) return;
  const c = result.counters;
  const seconds = (result.durationMs / 1000).toFixed(1);
  console.log(
    `${result.pipeline} (${result.mode}): ${result.exitReason} in ${seconds} s — ` +
      `${number.format(c.read)} read, ${number.format(c.written)} written, ` +
      `${number.format(c.rejected)} rejected, ${number.format(c.acknowledged)} acknowledged` +
      (c.retries > 0 ? `, ${c.retries} retries` : ""),
  );
  for (const step of result.steps) {
    console.log(`  step ${step.name}: ${number.format(step.rows)} rows in ${step.durationMs} ms`);
  }
  if (result.checks.length > 0) console.log(checkTable(result.checks));
}

/**
 * The check results as a table for a terminal, then what each failed check saw.
 *
 * @example
 * ```ts
 * import { checkTable } from "./output.ts";
 * import assert from "node:assert/strict";
 *
 * const table = checkTable([{ name: "freshness", severity: "error", passed: false,
 *   observed: 900, threshold: 600, message: "Seconds since the newest snapshot." }]);
 * assert.match(table, /freshness +error +900 +600 +FAILED/);
 * ```
 */
export function checkTable(checks: CheckResult[]): string {
  const rows = [
    ["check", "severity", "observed", "threshold", "result"],
    ...checks.map((c) => [
      c.name,
      c.severity,
      String(c.observed ?? "-"),
      String(c.threshold ?? "-"),
      c.passed ? "ok" : "FAILED",
    ]),
  ];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  const lines = rows.map((row) => "  " + row.map((cell, i) => cell.padEnd(widths[i])).join("  "));
  const failed = checks.filter((c) => !c.passed).map((c) => {
    const text = c.message.length > 300 ? `${c.message.slice(0, 300)}…` : c.message;
    return `  ${c.name}: ${text}`;
  });
  return [...lines, ...(failed.length > 0 ? ["", ...failed] : [])].join("\n");
}

/**
 * Prints an error for a person: what happened, then what to do. Redacted.
 *
 * @example
 * ```ts
 * import { printError } from "./output.ts";
 *
 * printError({ message: "Invalid config.", hint: "Fix it." });
 * ```
 */
export function printError(error: { message: string; hint?: string }): void {
  console.error(redact(`Error: ${error.message}`));
  if (error.hint) console.error(redact(`Hint: ${error.hint}`));
}

/** Draws a one-line progress report on a terminal's stderr. */
export interface ProgressPrinter {
  /** Redraws the line. */
  update(progress: Progress): void;
  /** Clears it. */
  done(): void;
}

/**
 * A progress line for stderr, or `undefined` when stderr is not a terminal (logs go there
 * instead, as JSON).
 *
 * @example
 * ```ts
 * import { progressPrinter } from "./output.ts";
 *
 * progressPrinter()?.done();
 * ```
 */
export function progressPrinter(): ProgressPrinter | undefined {
  if (!Deno.stderr.isTerminal()) return undefined;
  const encoder = new TextEncoder();
  const draw = (text: string) => Deno.stderr.writeSync(encoder.encode(`\r\x1b[2K${text}`));
  return {
    update(progress) {
      const c = progress.counters;
      const backlog = progress.backlog === undefined
        ? ""
        : ` · ${number.format(progress.backlog)} remaining`;
      draw(
        `${progress.pipeline}: ${number.format(c.read)} read · ` +
          `${number.format(progress.recordsPerSecond)} records/s · ` +
          `${number.format(c.acknowledged)} acknowledged${backlog}`,
      );
    },
    done: () => draw(""),
  };
}
