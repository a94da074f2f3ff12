/**
 * What every CLI command shares: the options and the flags that belong to some commands only,
 * the help texts, and running a pipeline with signals and progress wired.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { LoadedConfig } from "../core/config.ts";
import {
  BadRequest,
  describeError,
  PipelineError,
  SHUTDOWN_SIGNALS,
  ShutdownRequested,
} from "../core/errors.ts";
import { literal } from "../core/log.ts";
import { RunMetrics } from "../core/metrics.ts";
import { retry } from "../core/retry.ts";
import { type RunOptions, runPipeline } from "../core/runner.ts";
import type { ComponentContext, Lifecycle, Named, Pipeline, RunResult } from "../core/types.ts";
import { buildInfo, parseListen, serveMetrics, writeAtomically } from "./metrics.ts";
import { printRunResult, progressPrinter, type Summary } from "./output.ts";

/**
 * The flags that some commands take and others refuse, as written on the command line, with
 * the commands that take each.
 */
export const COMMAND_FLAGS = {
  once: { type: "boolean", commands: ["stream"] },
  "load-only": { type: "boolean", commands: ["batch"] },
  from: { type: "string", commands: ["batch", "rerun", "step"] },
  to: { type: "string", commands: ["batch", "rerun", "step"] },
  at: { type: "string", commands: ["step"] },
  since: { type: "string", commands: ["dead-letters"] },
  reason: { type: "string", commands: ["dead-letters"] },
  metrics: { type: "string", commands: ["stream"] },
  "metrics-file": { type: "string", commands: ["batch", "run", "rerun"] },
  out: { type: "string", commands: ["report", "run"] },
  tiles: { type: "string", commands: ["report", "run"] },
} as const;

/** A flag of {@linkcode COMMAND_FLAGS}. */
export type CommandFlag = keyof typeof COMMAND_FLAGS;

/** Options every command is given: the config, and the command flags as parsed. */
export interface GlobalOptions {
  /** Path to the pipeline config. */
  config: string;
  /** `stream --once`: one cycle, then exit. */
  once?: boolean;
  /** `batch --load-only`: skip the pipeline's steps and checks. */
  "load-only"?: boolean;
  /** Where a rerun's window starts (ISO-8601). */
  from?: string;
  /** Where it ends, excluded (ISO-8601). */
  to?: string;
  /** The instant a step computes as of (ISO-8601). */
  at?: string;
  /** Dead letters set aside at or after this instant (ISO-8601). */
  since?: string;
  /** Dead letters whose reason contains this text. */
  reason?: string;
  /** `stream --metrics <host:port>`: serve `/metrics`, `/healthz` and `/readyz` there. */
  metrics?: string;
  /** `--metrics-file <path>`: write the metrics there when the run ends. */
  "metrics-file"?: string;
  /** `report --out <file.html>`, `run --out`: where the HTML report goes. */
  out?: string;
  /** `report --tiles <url>`, `run --tiles`: the `{z}/{x}/{y}` tiles of the report's map. */
  tiles?: string;
}

/** The `--help` lines of `--metrics`. */
export const METRICS_HELP =
  `  --metrics <host:port> serve /metrics (Prometheus), /healthz and /readyz while it runs;
                       :port binds 127.0.0.1 (default: runtime.metrics.listen, else none)`;

/** The `--help` lines of `--metrics-file`. */
export const METRICS_FILE_HELP =
  `  --metrics-file <path> write the run's metrics there when it ends, atomically, for
                       node_exporter's textfile collector (name it *.prom)`;

/** Where {@linkcode execute} sends a run's metrics. */
export interface MetricsTargets {
  /** `host:port` to serve them on while the run lasts; wins over `runtime.metrics.listen`. */
  listen?: string;
  /** The file to write them to once the run ended. */
  file?: string;
  /** The config file, whose digest the `pipeline_info` metric gives. */
  configPath: string;
}

/** A CLI command. */
export interface Command {
  /** One line for the command list. */
  summary: string;
  /** The full `--help` text. */
  help: string;
  /** Runs it with its positional arguments; resolves with the summary to print last. */
  run(args: string[], options: GlobalOptions): Promise<Summary>;
}

/** Exit codes, for `--help` and the README. */
export const EXIT_CODE_HELP = `Exit codes:
  0    ok
  1    failure (a component failed after its retries; nothing unwritten was acknowledged)
  2    bad usage, invalid config, or a request that cannot be done (nothing written)
  3    an error-severity check failed
  130  stopped by SIGINT     143  stopped by SIGTERM`;

/** The options of every command, for `--help`. */
export const OPTIONS_HELP = `Options:
  --config <path>      pipeline config module  (default: pipeline.config.ts, env PIPELINE_CONFIG)
  --log-format <fmt>   pretty | json           (default: pretty on a terminal, json otherwise)
  --log-level <level>  debug | info | warning | error  (default: info)
  -h, --help           show help`;

/** A usage mistake: exit code 2. */
export class UsageError extends BadRequest {}

/**
 * Refuses a flag the command does not take, naming the commands it belongs to.
 *
 * @example
 * ```ts
 * import { checkFlags } from "./shared.ts";
 * import assert from "node:assert/strict";
 *
 * assert.throws(
 *   () => checkFlags("stream", { config: "", "load-only": true }),
 *   /--load-only goes with the batch command, not stream/,
 * );
 * ```
 */
export function checkFlags(name: string, options: GlobalOptions): void {
  for (const [flag, { commands }] of Object.entries(COMMAND_FLAGS)) {
    const value = options[flag as CommandFlag];
    if (value === undefined || value === false) continue;
    if ((commands as readonly string[]).includes(name)) continue;
    const owners = commands.length === 1
      ? `the ${commands[0]} command`
      : `the ${commands.slice(0, -1).join(", ")} and ${commands.at(-1)} commands`;
    throw new UsageError(`--${flag} goes with ${owners}, not ${name}.`, {
      hint: `See \`deno task pipeline ${name} --help\`.`,
    });
  }
}

/**
 * The metrics targets the flags name; the config path is for the `pipeline_info` digest.
 *
 * @example
 * ```ts
 * import { metricsTargets } from "./shared.ts";
 * import assert from "node:assert/strict";
 *
 * const targets = metricsTargets({ config: "p.ts", "metrics-file": "m.prom" }, "p.ts");
 * assert.deepEqual(targets, { configPath: "p.ts", file: "m.prom" });
 * ```
 */
export function metricsTargets(options: GlobalOptions, configPath: string): MetricsTargets {
  return {
    configPath,
    ...(options.metrics === undefined ? {} : { listen: options.metrics }),
    ...(options["metrics-file"] === undefined ? {} : { file: options["metrics-file"] }),
  };
}

/**
 * Runs a pipeline with SIGINT/SIGTERM wired to a graceful stop and progress on a terminal, and
 * prints how it went.
 *
 * @example
 * ```ts ignore
 * const result = await execute(config.pipeline("load"), { mode: "batch" });
 * ```
 */
export async function execute(
  pipeline: Pipeline,
  options: Omit<RunOptions, "signal" | "onProgress" | "metrics">,
  targets?: MetricsTargets,
): Promise<RunResult> {
  const fromConfig = options.mode === "stream" ? pipeline.runtime.metrics.listen : undefined;
  const listen = targets?.listen ?? fromConfig;
  const address = listen === undefined ? undefined : parseListen(
    listen,
    targets?.listen === undefined ? `runtime.metrics.listen of ${pipeline.name}` : "--metrics",
  );
  // Kept only when something reads them: a run without either pays nothing for them.
  const metrics = targets === undefined || (address === undefined && targets.file === undefined)
    ? undefined
    : new RunMetrics(await buildInfo(targets.configPath), [pipeline.name]);
  const server = metrics && address && serve(metrics, address);
  const controller = new AbortController();
  const stopOn = (signal: keyof typeof SHUTDOWN_SIGNALS) => () => {
    // A second signal means "now": exit without waiting for a graceful close.
    if (controller.signal.aborted) Deno.exit(SHUTDOWN_SIGNALS[signal]);
    controller.abort(new ShutdownRequested(signal));
  };
  const listeners = (Object.keys(SHUTDOWN_SIGNALS) as Array<keyof typeof SHUTDOWN_SIGNALS>)
    .map((signal) => [signal, stopOn(signal)] as const);
  for (const [signal, listener] of listeners) Deno.addSignalListener(signal, listener);
  const progress = progressPrinter();
  try {
    const result = await runPipeline(pipeline, {
      // Airflow sets it in every task's environment: stored check results then carry it.
      runId: Deno.env.get("AIRFLOW_CTX_DAG_RUN_ID") || undefined,
      ...options,
      signal: controller.signal,
      onProgress: progress?.update,
      ...(metrics === undefined ? {} : { metrics }),
    });
    progress?.done();
    if (metrics && targets?.file !== undefined) await writeMetricsFile(metrics, targets.file);
    printRunResult(result);
    return result;
  } finally {
    for (const [signal, listener] of listeners) Deno.removeSignalListener(signal, listener);
    await server?.shutdown();
  }
}

function serve(metrics: RunMetrics, address: { hostname: string; port: number }) {
  try {
    const server = serveMetrics(metrics, address);
    const { hostname, port } = server.addr;
    const url = `http://${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}/metrics`;
    getLogger(["pipeline", "metrics"]).info("Serving metrics on {url}.", { url });
    return server;
  } catch (error) {
    throw new PipelineError(
      `Could not serve metrics on ${address.hostname}:${address.port}: ` +
        describeError(error).message,
      { hint: "Choose a free port with --metrics or runtime.metrics.listen.", cause: error },
    );
  }
}

/**
 * Writes the metrics file. A failure is logged, not fatal: the data is loaded and acknowledged,
 * and the file's `pipeline_last_success_timestamp_seconds` going stale is what alerts.
 */
async function writeMetricsFile(metrics: RunMetrics, path: string): Promise<void> {
  try {
    await writeAtomically(path, metrics.registry.expose());
  } catch (error) {
    getLogger(["pipeline", "metrics"]).error("Could not write the metrics file {path}: {error}", {
      path,
      error: describeError(error).message,
    });
  }
}

/**
 * The one pipeline name a command was given, or a usage error listing the pipelines.
 *
 * @example
 * ```ts
 * import { pipelineArgument } from "./shared.ts";
 * import assert from "node:assert/strict";
 *
 * const config = { path: "p.ts", pipelines: [{ name: "load", description: "" }], reruns: [], pipeline: () => { throw new Error(); } };
 * assert.equal(pipelineArgument(["load"], "check", config), "load");
 * assert.throws(() => pipelineArgument([], "check", config), /needs a pipeline name/);
 * ```
 */
export function pipelineArgument(args: string[], command: string, config: LoadedConfig): string {
  if (args.length === 1) return args[0];
  const known = config.pipelines.map((p) => p.name).join(", ") || "none defined";
  throw new UsageError(
    args.length === 0
      ? `The ${command} command needs a pipeline name.`
      : `The ${command} command takes one pipeline name, got ${args.length}: ${args.join(" ")}.`,
    { hint: `Pipelines in ${config.path}: ${known}. Example: deno task pipeline ${command} load` },
  );
}

/**
 * Every component of a pipeline, each once (a sink may also be the dead-letter sink).
 *
 * @example
 * ```ts
 * import { componentsOf } from "./shared.ts";
 * import { memoryPipeline, memorySink, memorySource } from "../core/memory.ts";
 * import assert from "node:assert/strict";
 *
 * const sink = memorySink();
 * const pipeline = memoryPipeline({ source: memorySource([]), sinks: [sink], deadLetter: sink });
 * assert.equal(componentsOf(pipeline).length, 2);
 * ```
 */
export function componentsOf(pipeline: Pipeline): Named<Lifecycle>[] {
  const all: Named<Lifecycle>[] = [
    pipeline.source,
    ...pipeline.transforms,
    ...pipeline.sinks,
    pipeline.deadLetter,
    ...pipeline.steps,
    ...pipeline.checks,
  ];
  const seen = new Set<Lifecycle>();
  return all.filter(({ component }) => !seen.has(component) && seen.add(component));
}

/**
 * Connects one component of `pipeline` alone, as the runner would (with its connect retries),
 * hands it to `use` with the signal of the call, and closes it: for the commands that read a
 * warehouse without running the pipeline.
 *
 * @example
 * ```ts ignore
 * const letters = await withConnected(pipeline, pipeline.deadLetter, (sink, signal) =>
 *   sink.listDeadLetters!({}, signal)
 * );
 * ```
 */
export async function withConnected<C extends Lifecycle, T>(
  pipeline: Pipeline,
  { name, component }: Named<C>,
  use: (component: C, signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const logger = getLogger(["pipeline", pipeline.name, name]);
  const signal = new AbortController().signal;
  const ctx: ComponentContext = {
    pipeline: pipeline.name,
    runId: crypto.randomUUID(),
    positions: pipeline.name,
    mode: "batch",
    logger,
    signal,
  };
  const policy = pipeline.runtime.connectRetry;
  try {
    try {
      await retry(() => component.connect?.(ctx) ?? Promise.resolve(), policy, {
        onRetry: ({ error, attempt, delayMs }) =>
          logger.warn(
            `Could not connect ${name} (attempt ${attempt} of ${policy.attempts}): ` +
              `${literal(describeError(error).message)} Retrying in ${delayMs} ms.`,
          ),
      });
    } catch (error) {
      if (error instanceof BadRequest) throw error;
      const cause = describeError(error);
      throw new PipelineError(
        `Could not connect ${name} after ${policy.attempts} attempt(s): ${cause.message}`,
        {
          hint: cause.hint ?? "Check that the service is up and that its address is right.",
          cause: error,
        },
      );
    }
    return await use(component, signal);
  } finally {
    await component.close?.();
  }
}
