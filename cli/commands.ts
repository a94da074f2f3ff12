/**
 * The CLI's commands, each with its help text and its action.
 *
 * @module
 */
import { loadConfig } from "../core/config.ts";
import { describeError } from "../core/errors.ts";
import { retry } from "../core/retry.ts";
import { EXIT_CODES } from "../core/runner.ts";
import type { Position, RunMode } from "../core/types.ts";
import { redact } from "../core/redact.ts";
import { getLogger } from "@logtape/logtape";
import { deadLetters } from "./dead_letters.ts";
import { plugins } from "./plugins.ts";
import { formatReport } from "./report.ts";
import { htmlReport, OUT_HELP, reportTarget, writeHtmlReport } from "./report_html.ts";
import {
  requireSeekable,
  rerun,
  rerunFromFlags,
  stepScopeFromFlags,
  WINDOW_HELP,
} from "./rerun.ts";
import {
  type Command,
  componentsOf,
  execute,
  EXIT_CODE_HELP,
  METRICS_FILE_HELP,
  METRICS_HELP,
  metricsTargets,
  OPTIONS_HELP,
  pipelineArgument,
  UsageError,
} from "./shared.ts";

function runCommand(mode: RunMode): Command {
  const ends = mode === "stream"
    ? `Runs until SIGINT or SIGTERM. The batch in flight is left unacknowledged, so it is read again
next time. A batch a sink still refuses after its retries is handed back to the source and the
stream goes on.

  --once               one cycle, then exit (0 only if it was written), e.g. to publish once
${METRICS_HELP}

/readyz answers 503 until every component is connected, while a sink's writes fail, and when
records wait but none was acknowledged for runtime.metrics.stalledAfterMs.`
    : `Reads everything available when it starts (bounded), writes it, runs the pipeline's steps and
checks, and exits. Meant to be scheduled, e.g. by Airflow.

  --load-only          skip the steps and checks, to run them as tasks of their own
                       (\`deno task pipeline step\`)
${METRICS_FILE_HELP}
${WINDOW_HELP}

With --from it is a rerun (see \`deno task pipeline rerun --help\`): it adds the snapshots of the
window that are missing, never rewrites one, then runs the steps over the window.`;
  return {
    summary: `run a pipeline in ${mode} mode`,
    help: `Usage: deno task pipeline ${mode} <pipeline> [options]

${ends}

Progress goes to stderr on a terminal; the last line on stdout is a JSON summary.

${OPTIONS_HELP}

${EXIT_CODE_HELP}`,
    async run(args, options) {
      const config = await loadConfig(options.config, Deno.env.toObject());
      const pipeline = config.pipeline(pipelineArgument(args, mode, config));
      const rerun = rerunFromFlags(options, new Date());
      if (rerun !== undefined) requireSeekable(pipeline, "--from");
      const result = await execute(pipeline, {
        // One cycle is the source's bounded mode: it ends once it has read what was there.
        mode: options.once ? "batch" : mode,
        parts: options["load-only"] ? { load: true, steps: [], checks: false } : undefined,
        ...rerun,
      }, metricsTargets(options, config.path));
      const command = options.once ? `${mode} --once` : mode;
      return { command, ...(rerun === undefined ? {} : { range: rerun.range }), ...result };
    },
  };
}

/** How long a component may take to answer `health`, retries included. */
const HEALTH_TIMEOUT_MS = 10_000;

/** How `health` asks again after a transient failure. */
const HEALTH_RETRY = { attempts: 5, initialDelayMs: 250, maxDelayMs: 2_000 };

/** The commands, by name. */
export const COMMANDS: Record<string, Command> = {
  stream: runCommand("stream"),
  batch: runCommand("batch"),
  rerun,
  "dead-letters": deadLetters,
  report: htmlReport,
  plugins,
  validate: {
    summary: "check the config without connecting to anything",
    help: `Usage: deno task pipeline validate [options]

Loads the config, applies the environment overrides the plugins bind (see \`pipeline plugins\`),
and validates every pipeline, every rerun and every component's settings. Lists all problems at
once; otherwise lists the pipelines and the reruns.

${OPTIONS_HELP}`,
    async run(args, options) {
      if (args.length > 0) {
        throw new UsageError(`validate takes no arguments, got: ${args.join(" ")}.`);
      }
      const config = await loadConfig(options.config, Deno.env.toObject());
      for (const { name, description } of config.pipelines) console.log(`${name}\t${description}`);
      for (const r of config.reruns) {
        const window = `from ${describePosition(r.from)}` +
          (r.to === undefined ? " to the end" : ` to ${describePosition(r.to)}`);
        const steps = r.steps === undefined ? "every step" : r.steps.join(", ") || "no step";
        console.log(
          `rerun ${r.name}\t${r.pipeline}, ${window}, then ${steps}` +
            `${r.checks ? " and the checks" : ""}: ${r.description}`,
        );
      }
      return {
        command: "validate",
        exitCode: EXIT_CODES.ok,
        config: config.path,
        pipelines: config.pipelines.map((p) => p.name),
        reruns: config.reruns.map((r) => r.name),
      };
    },
  },
  run: {
    summary: "the main job: one full cycle into the warehouse, then a summary",
    help: `Usage: deno task pipeline run [pipeline] [options]

Runs one full cycle of a pipeline in batch mode: its source, transforms and sinks, then its
steps and checks. Without a name it runs the config's default (\`run: { pipeline }\`). Then it
prints the summary the pipeline's \`report\` declares, from the rows of its steps; with one, it
also writes the HTML report of its warehouse (see \`deno task pipeline report --help\`) and
prints its path.

${METRICS_FILE_HELP}
${OUT_HELP}

${OPTIONS_HELP}

${EXIT_CODE_HELP}`,
    async run(args, options) {
      if (args.length > 1) {
        throw new UsageError(`run takes at most one pipeline name, got: ${args.join(" ")}.`);
      }
      const config = await loadConfig(options.config, Deno.env.toObject());
      const name = args[0] ?? config.run?.pipeline;
      if (name === undefined) {
        const known = config.pipelines.map((p) => p.name).join(", ") || "none defined";
        throw new UsageError("The run command needs a pipeline name: the config sets no default.", {
          hint: `Name one (pipelines in ${config.path}: ${known}), or set \`run: { pipeline }\` ` +
            "in the config.",
        });
      }
      const pipeline = config.pipeline(name);
      const target = reportTarget(options);
      const result = await execute(
        pipeline,
        { mode: "batch" },
        metricsTargets(options, config.path),
      );
      const report = config.pipelines.find((p) => p.name === pipeline.name)?.report;
      const done = result.exitCode === EXIT_CODES.ok || result.exitCode === EXIT_CODES.checkFailed;
      if (done && report !== undefined) {
        const text = formatReport(report, result);
        if (text !== undefined) console.log(text);
      }
      // Beside the summary: the pipelines that print one are those the page is about.
      if (done && report !== undefined && pipeline.warehouse !== undefined) {
        const { path } = await writeHtmlReport(pipeline, target);
        console.log(`Report: ${path}`);
        return { command: "run", ...result, report: path };
      }
      return { command: "run", ...result };
    },
  },
  step: {
    summary: "run steps of a pipeline alone, e.g. a gold refresh",
    help: `Usage: deno task pipeline step <pipeline> <step> [step...] [options]

Runs the named steps of a pipeline, in the pipeline's order, without reading its source: what a
\`batch\` run does after loading. Airflow runs each gold refresh as a task of its own this way.
The JSON summary gives each step's rows touched and time taken.

Without a window, a step works on what was loaded since its last run. With one, it works on
that instead, for the steps that take it (a step that does not refuses it, exit 2):

  --from <ISO-8601>    recompute from raw what overlaps [--from, --to), e.g. the hourly and
  --to <ISO-8601>      daily buckets; --to defaults to now
  --at <ISO-8601>      compute as of that instant, e.g. rank-stations for a past day

${OPTIONS_HELP}

${EXIT_CODE_HELP}`,
    async run(args, options) {
      const config = await loadConfig(options.config, Deno.env.toObject());
      const [name, ...steps] = args;
      const pipeline = config.pipeline(
        pipelineArgument(name === undefined ? [] : [name], "step", config),
      );
      const known = pipeline.steps.map((step) => step.name);
      const unknown = steps.filter((step) => !known.includes(step));
      if (steps.length === 0 || unknown.length > 0) {
        throw new UsageError(
          steps.length === 0
            ? "The step command needs the name of a step."
            : `Pipeline ${pipeline.name} has no step ${unknown.join(", ")}.`,
          { hint: `Its steps are: ${known.join(", ") || "none"}.` },
        );
      }
      const named = pipeline.steps.filter((step) => steps.includes(step.name));
      const scope = stepScopeFromFlags(options, named, new Date());
      const result = await execute(pipeline, {
        mode: "batch",
        parts: { load: false, steps, checks: false },
        ...(scope === undefined ? {} : { scope }),
      });
      return { command: "step", ...result };
    },
  },
  check: {
    summary: "run a pipeline's data-quality checks alone",
    help: `Usage: deno task pipeline check <pipeline> [options]

Runs the pipeline's checks without reading its source: what a \`batch\` run does last. Each
result (observed value, threshold, passed) is stored in pipeline.check_results with the run id
(Airflow's DAG run id when Airflow runs it), printed as a table on a terminal, and given in the
JSON summary. Exits 3 when an error-severity check fails; warnings only report.

${OPTIONS_HELP}

${EXIT_CODE_HELP}`,
    async run(args, options) {
      const config = await loadConfig(options.config, Deno.env.toObject());
      const pipeline = config.pipeline(pipelineArgument(args, "check", config));
      if (pipeline.checks.length === 0) {
        throw new UsageError(`Pipeline ${pipeline.name} has no checks.`, {
          hint: "Add checks to it in the config, e.g. qualityCheck({...}).",
        });
      }
      const result = await execute(pipeline, {
        mode: "batch",
        parts: { load: false, steps: [], checks: true },
      });
      return { command: "check", ...result };
    },
  },
  health: {
    summary: "ask the systems behind a pipeline whether they answer",
    help: `Usage: deno task pipeline health <pipeline> [component...] [options]

Asks each component of the pipeline (or only those named, e.g. kafka or postgres) for a cheap
round trip with the system behind it (a metadata request, SELECT version()), each bounded to
${
      HEALTH_TIMEOUT_MS / 1000
    } s, and prints one line per component. Connects nothing else and changes nothing.
Exits 0 when all answer, 1 otherwise.

${OPTIONS_HELP}`,
    async run(args, options) {
      const config = await loadConfig(options.config, Deno.env.toObject());
      const [name, ...wanted] = args;
      const pipeline = config.pipeline(
        pipelineArgument(name === undefined ? [] : [name], "health", config),
      );
      const all = componentsOf(pipeline).filter(({ component }) => component.health);
      const unknown = wanted.filter((w) => !all.some((c) => c.name === w));
      if (unknown.length > 0) {
        throw new UsageError(
          `Pipeline ${pipeline.name} has no component ${unknown.join(", ")} with a health check.`,
          {
            hint: `Its components with one are: ${all.map((c) => c.name).join(", ") || "none"}.`,
          },
        );
      }
      const chosen = wanted.length === 0 ? all : all.filter((c) => wanted.includes(c.name));
      const results = await Promise.all(chosen.map(async ({ name, component }) => {
        const started = performance.now();
        const signal = AbortSignal.timeout(HEALTH_TIMEOUT_MS);
        let last: unknown;
        try {
          // A transient answer (a broker still electing a group coordinator) is asked again
          // within the time limit, as the runner would when connecting.
          const answer = await retry(
            () => component.health!(signal).catch((error) => Promise.reject(last = error)),
            HEALTH_RETRY,
            { signal },
          );
          return { name, healthy: true, answer, ms: Math.round(performance.now() - started) };
        } catch (error) {
          const described = describeError(signal.aborted && last !== undefined ? last : error);
          return {
            name,
            healthy: false,
            error: described.message,
            hint: described.hint,
            ms: Math.round(performance.now() - started),
          };
        }
      }));
      for (const result of results) {
        const line = result.healthy
          ? `${result.name}: ok, ${result.answer} (${result.ms} ms)`
          : `${result.name}: FAILED, ${result.error}${result.hint ? ` Hint: ${result.hint}` : ""}`;
        (result.healthy ? console.log : console.error)(redact(line));
      }
      const healthy = results.every((result) => result.healthy);
      return {
        command: "health",
        pipeline: pipeline.name,
        exitCode: healthy ? EXIT_CODES.ok : EXIT_CODES.failure,
        exitReason: healthy ? "healthy" : "unhealthy",
        components: results,
      };
    },
  },
  migrate: {
    summary: "create or upgrade the warehouse tables, and nothing else",
    help: `Usage: deno task pipeline migrate [pipeline] [options]

Applies the migrations not applied yet of every component that keeps tables (the PostgreSQL
sink and steps), for one pipeline or, without a name, for all. \`run\` and \`batch\` do it on
their own; this is for deploying ahead of them. Applying twice is harmless.

${OPTIONS_HELP}`,
    async run(args, options) {
      if (args.length > 1) {
        throw new UsageError(`migrate takes at most one pipeline name, got: ${args.join(" ")}.`);
      }
      const config = await loadConfig(options.config, Deno.env.toObject());
      const names = args.length === 1 ? args : config.pipelines.map((p) => p.name);
      const applied: string[] = [];
      for (const name of names) {
        const pipeline = config.pipeline(name);
        const logger = getLogger(["pipeline", name]);
        const ctx = {
          pipeline: name,
          mode: "batch" as const,
          runId: crypto.randomUUID(),
          positions: name,
          logger,
          signal: new AbortController().signal,
        };
        for (const { component } of componentsOf(pipeline)) {
          applied.push(...await component.migrate?.(ctx) ?? []);
        }
      }
      console.log(applied.length === 0 ? "Up to date." : `Applied: ${applied.join(", ")}.`);
      return { command: "migrate", exitCode: EXIT_CODES.ok, applied };
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
  Plugins bind variables that override their settings (DATABASE_URL, KAFKA_BROKERS, GBFS_URL…):
  \`deno task pipeline plugins\` lists each one with the field it overrides.

${EXIT_CODE_HELP}`;
}

/** A position as `validate` shows it. */
function describePosition(position: Position): string {
  if (typeof position === "string") return position;
  if ("time" in position) return position.time;
  return `offsets ${JSON.stringify(position.offsets)}`;
}
