/**
 * The CLI's commands, each with its help text and its action.
 *
 * @module
 */
import { loadConfig, type LoadedConfig } from "../core/config.ts";
import { PipelineError, SHUTDOWN_SIGNALS, ShutdownRequested } from "../core/errors.ts";
import { EXIT_CODES, runPipeline } from "../core/runner.ts";
import type { RunMode } from "../core/types.ts";
import { printRunResult, progressPrinter, type Summary } from "./output.ts";

/** Options every command takes. */
export interface GlobalOptions {
  /** Path to the pipeline config. */
  config: string;
  /** `stream --once`: one cycle, then exit. */
  once: boolean;
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
  2    bad usage or invalid config
  3    an error-severity check failed
  130  stopped by SIGINT     143  stopped by SIGTERM`;

const OPTIONS_HELP = `Options:
  --config <path>      pipeline config module  (default: pipeline.config.ts, env PIPELINE_CONFIG)
  --log-format <fmt>   pretty | json           (default: pretty on a terminal, json otherwise)
  --log-level <level>  debug | info | warning | error  (default: info)
  -h, --help           show help`;

/** A usage mistake: exit code 2. */
export class UsageError extends PipelineError {}

function runCommand(mode: RunMode): Command {
  const ends = mode === "stream"
    ? `Runs until SIGINT or SIGTERM. The batch in flight is left unacknowledged, so it is read again
next time. A batch a sink still refuses after its retries is handed back to the source and the
stream goes on.

  --once               one cycle, then exit (0 only if it was written), e.g. to publish once`
    : "Reads everything available when it starts (bounded), writes it, runs the pipeline's steps and\nchecks, and exits. Meant to be scheduled, e.g. by Airflow.";
  return {
    summary: `run a pipeline in ${mode} mode`,
    help: `Usage: deno task pipeline ${mode} <pipeline> [options]

${ends}

Progress goes to stderr on a terminal; the last line on stdout is a JSON summary.

${OPTIONS_HELP}

${EXIT_CODE_HELP}`,
    async run(args, options) {
      if (options.once && mode !== "stream") {
        throw new UsageError(
          "--once goes with the stream command; a batch run is one cycle already.",
        );
      }
      const config = await loadConfig(options.config, Deno.env.toObject());
      const pipeline = config.pipeline(pipelineArgument(args, mode, config));
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
          // One cycle is the source's bounded mode: it ends once it has read what was there.
          mode: options.once ? "batch" : mode,
          signal: controller.signal,
          onProgress: progress?.update,
        });
        progress?.done();
        printRunResult(result);
        return { command: options.once ? `${mode} --once` : mode, ...result };
      } finally {
        for (const [signal, listener] of listeners) Deno.removeSignalListener(signal, listener);
      }
    },
  };
}

function pipelineArgument(args: string[], command: string, config: LoadedConfig): string {
  if (args.length === 1) return args[0];
  const known = config.pipelines.map((p) => p.name).join(", ") || "none defined";
  throw new UsageError(
    args.length === 0
      ? `The ${command} command needs a pipeline name.`
      : `The ${command} command takes one pipeline name, got ${args.length}: ${args.join(" ")}.`,
    { hint: `Pipelines in ${config.path}: ${known}. Example: deno task pipeline ${command} load` },
  );
}

/** The commands, by name. */
export const COMMANDS: Record<string, Command> = {
  stream: runCommand("stream"),
  batch: runCommand("batch"),
  validate: {
    summary: "check the config without connecting to anything",
    help: `Usage: deno task pipeline validate [options]

Loads the config, applies the environment overrides (KAFKA_BROKERS, DATABASE_URL, VELIB_API_URL),
and validates every pipeline and every component's settings. Lists all problems at once.

${OPTIONS_HELP}`,
    async run(args, options) {
      if (options.once) throw new UsageError("--once goes with the stream command.");
      if (args.length > 0) {
        throw new UsageError(`validate takes no arguments, got: ${args.join(" ")}.`);
      }
      const config = await loadConfig(options.config, Deno.env.toObject());
      for (const { name, description } of config.pipelines) console.log(`${name}\t${description}`);
      return {
        command: "validate",
        exitCode: EXIT_CODES.ok,
        config: config.path,
        pipelines: config.pipelines.map((p) => p.name),
      };
    },
  },
  run: {
    summary: "the main job on the embedded default (not yet available)",
    help: `Usage: deno task pipeline run

Will run one full cycle (Vélib' source, enrich, an embedded warehouse, gold, checks) with no Kafka
and no database server. Not available yet: it arrives with the warehouse plugins.`,
    run() {
      throw new PipelineError("The run command is not available yet.", {
        hint: "It arrives with the warehouse plugins; use `batch` or `stream` meanwhile.",
      });
    },
  },
};

/** The top-level `--help`. */
export function mainHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length));
  const commands = Object.entries(COMMANDS)
    .map(([name, command]) => `  ${name.padEnd(width)}  ${command.summary}`)
    .join("\n");
  return `Usage: deno task pipeline <command> [arguments] [options]

Runs the pipelines defined in pipeline.config.ts.

Commands:
${commands}

Run \`deno task pipeline <command> --help\` for a command's details.

${OPTIONS_HELP}

Environment:
  KAFKA_BROKERS   overrides the Kafka brokers of every Kafka plugin (host:port,host:port)
  DATABASE_URL    overrides the PostgreSQL URL of every PostgreSQL plugin
  VELIB_API_URL   overrides the base URL of the Vélib' API

${EXIT_CODE_HELP}`;
}
