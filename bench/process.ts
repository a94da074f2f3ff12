/**
 * Running `deno task pipeline …` as a child process, as Airflow does, with its wall time and
 * peak resident memory.
 *
 * @module
 */
import { readPeakRssKb } from "../tools/lib/proc.ts";

const CLI = new URL("../cli/main.ts", import.meta.url).pathname;

/** How often the child's memory high-water mark is read. */
const SAMPLE_MS = 100;

/** A finished CLI run. */
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

/** A CLI process started by {@linkcode startPipeline}. */
export interface PipelineProcess {
  /** The child. */
  child: Deno.ChildProcess;
  /** Resolves once it exited. */
  finished: Promise<MeasuredRun>;
}

/**
 * Starts `cli/main.ts` with `args` and `env` added to this process's environment; stdout and
 * stderr are collected, memory is sampled until it exits.
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
  const started = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", CLI, ...args, "--log-format", "json"],
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
 * Runs `cli/main.ts` to completion and throws, with its last log lines, unless it exits 0.
 *
 * @example
 * ```ts ignore
 * import { runPipeline } from "./process.ts";
 *
 * const run = await runPipeline(["batch", "load", "--load-only"], { LOAD_TOPIC: "t" });
 * ```
 */
export async function runPipeline(
  args: string[],
  env: Record<string, string>,
): Promise<MeasuredRun> {
  const run = await startPipeline(args, env).finished;
  if (run.code !== 0) {
    throw new Error(
      `pipeline ${args.join(" ")} exited ${run.code}:\n${run.stderrTail}\n${run.summary}`,
    );
  }
  return run;
}
