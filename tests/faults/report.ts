/**
 * The failure drills' report: each scenario records one row (faults injected, messages in, rows
 * out, lost, duplicated) and `deno task test` prints them all as one table at the end.
 *
 * Rows are appended as JSON lines to the file named by `VELIB_DRILL_REPORT` (tools/test.ts sets
 * it); each is also printed when it is recorded, so a drill run alone shows its own row.
 *
 * @module
 */

/** The variable that names the file drill rows are appended to. */
export const DRILL_REPORT_VARIABLE = "VELIB_DRILL_REPORT";

/** One scenario's outcome. */
export interface DrillRow {
  /** The scenario, e.g. `crash safety (10 × SIGKILL)`. */
  scenario: string;
  /** The seed that replays it: `VELIB_DRILL_SEED=<seed>`. */
  seed: number;
  /** Faults injected (kills, outages, API faults, hostile records…). */
  faults: number;
  /** Messages (or records) that went in. */
  messagesIn: number;
  /** Rows (or records) that came out where they belong, dead letters included. */
  rowsOut: number;
  /** Went in and never came out. */
  lost: number;
  /** Came out more than once. */
  duplicated: number;
}

/**
 * The seed of a drill: `VELIB_DRILL_SEED` when set (to replay a failure), else a fresh one.
 * Print it before the drill starts so a failure names it.
 *
 * @example
 * ```ts
 * import { drillSeed } from "./report.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(Number.isInteger(drillSeed()), true);
 * ```
 */
export function drillSeed(): number {
  const configured = Deno.env.get("VELIB_DRILL_SEED");
  const seed = configured ? Number(configured) : Math.floor(Math.random() * 2 ** 31);
  console.log(`drill seed: ${seed} (replay with VELIB_DRILL_SEED=${seed})`);
  return seed;
}

/**
 * Records a scenario's row: printed now, and appended to the run's report file when there is
 * one.
 *
 * @example
 * ```ts ignore
 * await recordDrill({
 *   scenario: "crash safety", seed, faults: 10, messagesIn: 200_000, rowsOut: 200_000,
 *   lost: 0, duplicated: 0,
 * });
 * ```
 */
export async function recordDrill(row: DrillRow): Promise<void> {
  console.log(formatDrillTable([row]));
  const path = Deno.env.get(DRILL_REPORT_VARIABLE);
  if (path) await Deno.writeTextFile(path, JSON.stringify(row) + "\n", { append: true });
}

/**
 * Reads the rows recorded in `path`, in the order they were recorded; none when the file is
 * missing.
 *
 * @example
 * ```ts
 * import { readDrillRows } from "./report.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(await readDrillRows("/nonexistent/drills.jsonl"), []);
 * ```
 */
export async function readDrillRows(path: string): Promise<DrillRow[]> {
  const text = await Deno.readTextFile(path).catch((error) => {
    if (error instanceof Deno.errors.NotFound) return "";
    throw error;
  });
  return text.split("\n").filter((line) => line !== "").map((line) => JSON.parse(line));
}

const COLUMNS: ReadonlyArray<[title: string, cell: (row: DrillRow) => string]> = [
  ["scenario", (row) => row.scenario],
  ["seed", (row) => String(row.seed)],
  ["faults", (row) => row.faults.toLocaleString("en-US")],
  ["messages in", (row) => row.messagesIn.toLocaleString("en-US")],
  ["rows out", (row) => row.rowsOut.toLocaleString("en-US")],
  ["lost", (row) => row.lost.toLocaleString("en-US")],
  ["duplicated", (row) => row.duplicated.toLocaleString("en-US")],
];

/**
 * The rows as a plain-text table, one line per scenario, numbers right-aligned.
 *
 * @example
 * ```ts
 * import { formatDrillTable } from "./report.ts";
 * import assert from "node:assert/strict";
 *
 * const table = formatDrillTable([{
 *   scenario: "kafka outage", seed: 1, faults: 1, messagesIn: 10, rowsOut: 10, lost: 0,
 *   duplicated: 0,
 * }]);
 * assert.match(table, /kafka outage/);
 * ```
 */
export function formatDrillTable(rows: readonly DrillRow[]): string {
  const cells = rows.map((row) => COLUMNS.map(([, cell]) => cell(row)));
  const widths = COLUMNS.map(([title], i) =>
    Math.max(title.length, ...cells.map((line) => line[i].length))
  );
  const line = (values: string[]) =>
    values.map((value, i) => i === 0 ? value.padEnd(widths[i]) : value.padStart(widths[i]))
      .join("  ");
  return [
    line(COLUMNS.map(([title]) => title)),
    line(widths.map((width) => "-".repeat(width))),
    ...cells.map(line),
  ].join("\n");
}
