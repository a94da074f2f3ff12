/**
 * The project's test command: `deno task test [-- extra deno test args]`.
 *
 * Uses KAFKA_BROKERS / DATABASE_URL / CLICKHOUSE_URL from the environment when set; otherwise
 * starts a private PostgreSQL server, Kafka broker and ClickHouse server for this run (never
 * touching the ones of `deno task services up`) and always stops them afterwards, also on
 * SIGINT/SIGTERM.
 * Runs `deno test -A --doc` over the repo, one file at a time (tests share the services), then
 * prints `tests: N passed, N failed, N skipped` and exits with deno test's exit code.
 *
 * @module
 */

import { join } from "node:path";
import { redact } from "../core/redact.ts";
import {
  formatError,
  onTerminationSignals,
  reapOrphanedServices,
  REPO_ROOT,
  type ServiceEnv,
  type Services,
  settingsFromEnvironment,
  startServices,
  StartupAborted,
  stopServices,
} from "./services.ts";
import { formatSeconds, removePath } from "./lib/proc.ts";
import { DRILL_REPORT_VARIABLE, formatDrillTable, readDrillRows } from "../tests/faults/report.ts";
import { SERVICE_DIR_PARENT } from "./lib/state.ts";

/** The fixed part of the deno test command line; extra args are appended. */
// No --parallel: files run one at a time, since they share one broker and the servers.
// (`--parallel=false` would not do: Deno reads the flag's presence as "on".)
export const DENO_TEST_ARGS: readonly string[] = ["test", "-A", "--doc"];

const HELP = `Usage: deno task test [-- <extra deno test args>]

Runs the whole test suite against a real PostgreSQL server, Kafka broker and ClickHouse server:
  - KAFKA_BROKERS / DATABASE_URL / CLICKHOUSE_URL from the environment are used when set;
  - anything missing is started just for this run (in /tmp) and stopped afterwards.
Then runs: deno ${DENO_TEST_ARGS.join(" ")} [extra args]
and prints "tests: N passed, N failed, N skipped". Exit status is deno test's; it is
non-zero also when no test ran or the summary line could not be read.

Examples:
  deno task test
  deno task test -- tests/sink_test.ts
  deno task test -- --filter "kafka"`;

/** Counts from the summary line deno test prints last. */
export interface TestSummary {
  ok: boolean;
  passed: number;
  failed: number;
  ignored: number;
  filteredOut: number;
}

// deno-lint-ignore no-control-regex
const ANSI_ESCAPE = /\x1b\[[0-9;]*m/g;

/**
 * Parses deno test's summary line, e.g. `ok | 25 passed (3 steps) | 0 failed | 2 ignored (4s)`
 * or `FAILED | 24 passed | 1 failed (5s)` (colors allowed). Undefined for any other line.
 */
export function parseTestSummary(line: string): TestSummary | undefined {
  const text = line.replace(ANSI_ESCAPE, "").trim();
  const head = text.match(/^(ok|FAILED) \| (.*) \([^()]*\)$/);
  if (!head) return undefined;
  const counts = new Map<string, number>();
  for (const segment of head[2].split(" | ")) {
    const match = segment.match(/^(\d+) (passed|failed|ignored|filtered out|measured)\b/);
    if (!match) return undefined;
    counts.set(match[2], Number(match[1]));
  }
  if (!counts.has("passed") || !counts.has("failed")) return undefined;
  return {
    ok: head[1] === "ok",
    passed: counts.get("passed")!,
    failed: counts.get("failed")!,
    ignored: counts.get("ignored") ?? 0,
    filteredOut: counts.get("filtered out") ?? 0,
  };
}

/** The one plain result line: `tests: N passed, N failed, N skipped` (skipped = ignored). */
export function formatResultLine(summary: TestSummary): string {
  return `tests: ${summary.passed} passed, ${summary.failed} failed, ${summary.ignored} skipped`;
}

/** Splits our args: `--help` before any `--` is ours, everything else goes to deno test. */
function parseCliArgs(args: string[]): { help: boolean; passThrough: string[] } {
  if (args[0] === "--") return { help: false, passThrough: args.slice(1) };
  const separator = args.indexOf("--");
  const own = separator === -1 ? args : args.slice(0, separator);
  const help = own.includes("--help") || own.includes("-h");
  return { help, passThrough: args.filter((_arg, index) => index !== separator) };
}

function log(line: string): void {
  console.error(`[test] ${line}`);
}

/** CLI entry point; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const { help, passThrough } = parseCliArgs(args);
  if (help) {
    console.log(HELP);
    return 0;
  }
  const startedAt = performance.now();
  const timings: string[] = [];
  const stateDir = await Deno.makeTempDir({ dir: SERVICE_DIR_PARENT, prefix: "velib-test-state-" });
  const interrupt = new AbortController();
  let receivedSignal: Deno.Signal | undefined;
  let testProcess: Deno.ChildProcess | undefined;
  const removeHandlers = onTerminationSignals((signal) => {
    receivedSignal = signal;
    log(`${signal}: stopping the tests and the services (again to force quit)…`);
    interrupt.abort();
    try {
      testProcess?.kill(signal);
    } catch {
      // Already exited.
    }
  });

  let exitCode = 1;
  let phase: "starting services" | "running tests" = "starting services";
  try {
    await reapOrphans();
    const servicesStartedAt = performance.now();
    const services = await startServices({
      stateDir,
      existing: settingsFromEnvironment(),
      ephemeral: true,
      signal: interrupt.signal,
    });
    timings.push(`services ${formatSeconds(performance.now() - servicesStartedAt)}`);
    printBanner(services);

    phase = "running tests";
    const testsStartedAt = performance.now();
    const drillReport = join(stateDir, "drills.jsonl");
    const run = runDenoTest(
      passThrough,
      { ...services.env, [DRILL_REPORT_VARIABLE]: drillReport },
      (child) => (testProcess = child),
    );
    const { code, summary } = await run;
    timings.push(`tests ${formatSeconds(performance.now() - testsStartedAt)}`);
    await printDrillReport(drillReport);
    exitCode = receivedSignal ? signalExitCode(receivedSignal) : judgeRun(code, summary);
  } catch (err) {
    if (err instanceof StartupAborted && receivedSignal) {
      exitCode = signalExitCode(receivedSignal);
    } else {
      console.error(formatError(err));
      console.error(
        `error: failed while ${phase}` +
          (phase === "starting services" ? "; no tests were run" : ""),
      );
      exitCode = 1;
    }
  } finally {
    const teardownStartedAt = performance.now();
    if (!(await tearDown(stateDir))) exitCode ||= 1;
    timings.push(`teardown ${formatSeconds(performance.now() - teardownStartedAt)}`);
    removeHandlers();
  }
  console.log(
    `total wall time: ${formatSeconds(performance.now() - startedAt)} (${timings.join(", ")})`,
  );
  return exitCode;
}

/** The failure drills' table, when any drill ran. */
async function printDrillReport(path: string): Promise<void> {
  const rows = await readDrillRows(path);
  if (rows.length === 0) return;
  console.log(
    `\nFailure drills (tests/faults/), one row per scenario:\n${formatDrillTable(rows)}\n`,
  );
}

async function reapOrphans(): Promise<void> {
  const reaped = await reapOrphanedServices();
  for (const service of reaped) {
    log(`stopped a ${service.kind} left behind by a killed test run: ${service.outcome}`);
  }
}

function printBanner(services: Services): void {
  console.log(`Kafka broker: ${services.kafkaVersion} (${services.env.KAFKA_BROKERS})`);
  console.log(
    `PostgreSQL server: ${services.postgresVersion} (${redact(services.env.DATABASE_URL)})`,
  );
  console.log(
    `ClickHouse server: ${services.clickhouseVersion} (${redact(services.env.CLICKHOUSE_URL)})`,
  );
}

/**
 * Runs deno test with the service settings in its environment. Its stdout is passed through
 * live and scanned for the summary line; stderr is inherited as is.
 */
async function runDenoTest(
  passThrough: string[],
  env: ServiceEnv & Record<typeof DRILL_REPORT_VARIABLE, string>,
  onSpawn: (child: Deno.ChildProcess) => void,
): Promise<{ code: number; summary?: TestSummary }> {
  const args = [...DENO_TEST_ARGS, ...passThrough];
  log(`running: deno ${args.join(" ")}`);
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd: REPO_ROOT,
    env: { ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  onSpawn(child);
  const summary = await forwardAndFindSummary(child.stdout);
  const { code } = await child.status;
  return { code, summary };
}

async function forwardAndFindSummary(
  stream: ReadableStream<Uint8Array>,
): Promise<TestSummary | undefined> {
  const decoder = new TextDecoder();
  let partialLine = "";
  let summary: TestSummary | undefined;
  for await (const chunk of stream) {
    await writeAll(Deno.stdout, chunk);
    const lines = (partialLine + decoder.decode(chunk, { stream: true })).split("\n");
    partialLine = lines.pop()!;
    for (const line of lines) summary = parseTestSummary(line) ?? summary;
  }
  return parseTestSummary(partialLine + decoder.decode()) ?? summary;
}

async function writeAll(target: typeof Deno.stdout, bytes: Uint8Array): Promise<void> {
  for (let written = 0; written < bytes.length;) {
    written += await target.write(bytes.subarray(written));
  }
}

/** Prints the result line and decides the exit code. */
function judgeRun(code: number, summary: TestSummary | undefined): number {
  if (!summary) {
    console.error(
      `error: deno test exited with code ${code} without its summary line ` +
        "(e.g. a type-check error or a crash before the tests ran; see the output above)",
    );
    return code || 1;
  }
  console.log(formatResultLine(summary));
  if (summary.passed + summary.failed === 0) {
    console.error("error: no tests ran (a test suite without tests counts as a failure)");
    return code || 1;
  }
  // Defensive: never report success for a run whose summary says it failed.
  if (code === 0 && (!summary.ok || summary.failed > 0)) return 1;
  return code;
}

/** Stops this run's services and removes its state dir; false if something would not stop. */
async function tearDown(stateDir: string): Promise<boolean> {
  const report = await stopServices(stateDir).catch((err) => {
    console.error(formatError(err));
    return undefined;
  });
  await removePath(stateDir);
  if (!report) return false;
  for (const service of report.stopped) {
    log(`${service.kind}: ${service.outcome}`);
  }
  return report.stopped.every((service) => service.ok);
}

function signalExitCode(signal: Deno.Signal): number {
  return signal === "SIGINT" ? 130 : 143;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
