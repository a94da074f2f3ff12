/**
 * Running a Deno script of the project as a child process (`deno task pipeline …`, as Airflow
 * does, or a hand-written loader of the bench), with its wall time and peak resident memory.
 *
 * @module
 */
import { relative } from "node:path";
import { readPeakRssKb } from "../tools/lib/proc.ts";

const CLI = new URL("../cli/main.ts", import.meta.url).pathname;
const ROOT = new URL("..", import.meta.url).pathname;

/** How often the child's memory high-water mark is read. */
const SAMPLE_MS = 100;

/** A finished child run. */
export interface MeasuredRun {
  /** Its exit code. */
  code: number;
  /** From spawn to exit. */
  wallMs: number;
  /** Peak resident set size (the kernel's `VmHWM`), in MB; 0 where /proc is missing. */
  peakRssMb: number;
  /** The last line of stdout: the JSON summary. */
  summary: string;
  /** The last lines of stderr, to explain a failure. */
  stderrTail: string;
}

/** A child started by {@linkcode startScript} or {@linkcode startPipeline}. */
export interface PipelineProcess {
  /** The child. */
  child: Deno.ChildProcess;
  /** Resolves once it exited. */
  finished: Promise<MeasuredRun>;
}

/**
 * Starts `deno run -A <script>` with `args` and `env` added to this process's environment;
 * stdout and stderr are collected, memory is sampled until it exits.
 *
 * @example
 * ```ts ignore
 * import { startScript } from "./process.ts";
 *
 * const script = new URL("./hand_loader_main.ts", import.meta.url).pathname;
 * const run = await startScript(script, ["--loader", "naive"], { DATABASE_URL }).finished;
 * console.log(run.code, run.wallMs, run.peakRssMb);
 * ```
 */
export function startScript(
  script: string,
  args: string[],
  env: Record<string, string>,
): PipelineProcess {
  const started = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", script, ...args],
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let peakKb = 0;
  const sampler = setInterval(() => {
    peakKb = Math.max(peakKb, readPeakRssKb(child.pid));
  }, SAMPLE_MS);
  const finished = (async (): Promise<MeasuredRun> => {
    const [status, stdout, stderr] = await Promise.all([
      child.status,
      new Response(child.stdout).text(),
      new Response(child.stderr).text(),
    ]);
    const wallMs = performance.now() - started;
    clearInterval(sampler);
    return {
      code: status.code,
      wallMs,
      peakRssMb: peakKb / 1024,
      summary: stdout.trimEnd().split("\n").at(-1) ?? "",
      stderrTail: stderr.trimEnd().split("\n").slice(-5).join("\n"),
    };
  })();
  return { child, finished };
}

/**
 * Runs `script` to completion (see {@linkcode startScript}) and throws, with its last log
 * lines, unless it exits 0.
 *
 * @example
 * ```ts ignore
 * import { runScript } from "./process.ts";
 *
 * const script = new URL("./hand_loader_main.ts", import.meta.url).pathname;
 * const run = await runScript(script, ["--loader", "naive", "--topic", "t", "--limit", "100"], env);
 * ```
 */
export async function runScript(
  script: string,
  args: string[],
  env: Record<string, string>,
): Promise<MeasuredRun> {
  const run = await startScript(script, args, env).finished;
  if (run.code !== 0) {
    throw new Error(
      `${relative(ROOT, script)} ${args.join(" ")} exited ${run.code}:\n${run.stderrTail}\n` +
        run.summary,
    );
  }
  return run;
}

/**
 * Starts `cli/main.ts` with `args` (and JSON logs) as {@linkcode startScript} does.
 *
 * @example
 * ```ts ignore
 * import { startPipeline } from "./process.ts";
 *
 * const run = await startPipeline(["validate"], {}).finished;
 * console.log(run.code, run.wallMs, run.peakRssMb);
 * ```
 */
export function startPipeline(args: string[], env: Record<string, string>): PipelineProcess {
  return startScript(CLI, [...args, "--log-format", "json"], env);
}

/**
 * Runs `cli/main.ts` to completion and throws, with its last log lines, unless it exits 0.
 *
 * @example
 * ```ts ignore
 * import { runPipeline } from "./process.ts";
 *
 * const run = await runPipeline(["batch", "load", "--load-only"], { LOAD_TOPIC: "t" });
 * ```
 */
export function runPipeline(
  args: string[],
  env: Record<string, string>,
): Promise<MeasuredRun> {
  return runScript(CLI, [...args, "--log-format", "json"], env);
}
