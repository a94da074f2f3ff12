/**
 * Reruns from the command line: `batch <pipeline> --from … [--to …]`, the reruns declared in the
 * config (`rerun <name>`), and steps over a window (`step … --from … --to …`, `--at …`).
 *
 * Every request is checked before anything connects, so that a bad one exits 2 having written
 * nothing.
 *
 * @module
 */
import { loadConfig, rangeOf } from "../core/config.ts";
import { BadRequest } from "../core/errors.ts";
import { parseInstant, planRerun, type Rerun } from "../core/range.ts";
import type { Named, Pipeline, ReadRange, Step, StepScope } from "../core/types.ts";
import {
  type Command,
  execute,
  EXIT_CODE_HELP,
  type GlobalOptions,
  METRICS_FILE_HELP,
  metricsTargets,
  OPTIONS_HELP,
  UsageError,
} from "./shared.ts";

/** What `--from` and `--to` ask of a run, for the help texts. */
export const WINDOW_HELP =
  `  --from <ISO-8601>    rerun: read only what was collected from then on (included), e.g.
                       2025-10-18T00:00:00Z; the live consumer group and positions never move
  --to <ISO-8601>      and before then (excluded); without it, up to where the source ends now`;

/**
 * The rerun `--from`/`--to` ask for, on top of a `declared` range if any; undefined when there
 * is neither. The window is checked against the clock.
 *
 * @example
 * ```ts
 * import { rerunFromFlags } from "./rerun.ts";
 * import assert from "node:assert/strict";
 *
 * const now = new Date("2025-10-18T12:00:00Z");
 * const rerun = rerunFromFlags({ config: "", from: "2025-10-18T01:00:00Z" }, now);
 * assert.deepEqual(rerun?.range, { from: { time: "2025-10-18T01:00:00.000Z" } });
 * assert.equal(rerunFromFlags({ config: "" }, now), undefined);
 * assert.throws(() => rerunFromFlags({ config: "", to: "2025-10-18T01:00:00Z" }, now), /--to needs --from/);
 * ```
 */
export function rerunFromFlags(
  options: GlobalOptions,
  now: Date,
  declared?: ReadRange,
): Rerun | undefined {
  if (options.from === undefined && declared === undefined) {
    if (options.to !== undefined) {
      throw new UsageError("--to needs --from: a window has a start.", {
        hint: "Add --from <ISO-8601>, e.g. --from 2025-10-18T00:00:00Z.",
      });
    }
    return undefined;
  }
  const from = options.from === undefined
    ? declared!.from
    : { time: parseInstant(options.from, "--from").toISOString() };
  const to = options.to === undefined
    ? declared?.to
    : { time: parseInstant(options.to, "--to").toISOString() };
  return planRerun(to === undefined ? { from } : { from, to }, now);
}

/**
 * Refuses a rerun of a pipeline whose source cannot read a range.
 *
 * @example
 * ```ts
 * import { requireSeekable } from "./rerun.ts";
 * import { memoryPipeline, memorySink, memorySource } from "../core/memory.ts";
 * import assert from "node:assert/strict";
 *
 * const pipeline = memoryPipeline({ source: memorySource([]), sinks: [memorySink()] });
 * assert.throws(() => requireSeekable(pipeline, "--from"), /cannot seek/);
 * ```
 */
export function requireSeekable(pipeline: Pipeline, what: string): void {
  if (pipeline.source.component.seekable) return;
  throw new UsageError(
    `${what} needs a source that can seek; the source ${pipeline.source.name} of pipeline ` +
      `${pipeline.name} cannot seek.`,
    {
      hint: "Rerun a pipeline that reads a log it can seek in, such as Kafka " +
        "(kafkaSource({...})); a poller of an API has no past to go back to.",
    },
  );
}

/**
 * What `--from`/`--to` and `--at` ask of the `steps` named, or undefined when none is given.
 * Each named step must accept what is given: a step that takes no window refuses `--from`.
 *
 * @example
 * ```ts
 * import { stepScopeFromFlags } from "./rerun.ts";
 * import assert from "node:assert/strict";
 *
 * const now = new Date("2025-10-18T12:00:00Z");
 * const refresh = { name: "refresh-hourly", component: { accepts: ["window"] as const, run: () => Promise.resolve({ rows: 0 }) } };
 * const scope = stepScopeFromFlags({ config: "", from: "2025-10-18T01:00:00Z" }, [refresh], now);
 * assert.equal(scope?.window?.to.toISOString(), now.toISOString());
 * assert.throws(() => stepScopeFromFlags({ config: "", at: "2025-10-18T01:00:00Z" }, [refresh], now), /takes no --at/);
 * ```
 */
export function stepScopeFromFlags(
  options: GlobalOptions,
  steps: Named<Step>[],
  now: Date,
): StepScope | undefined {
  const rerun = rerunFromFlags(options, now);
  const scope: StepScope = { ...rerun?.scope };
  if (options.at !== undefined) {
    if (options.from !== undefined) {
      throw new UsageError("--at and --from do not go together.", {
        hint: "--at computes as of one instant; --from/--to recompute a window.",
      });
    }
    scope.at = parseInstant(options.at, "--at");
    if (scope.at > now) {
      throw new BadRequest(`--at ${scope.at.toISOString()} is in the future.`, {
        hint: "Give an instant the warehouse has data up to.",
      });
    }
  }
  const given = Object.keys(scope) as Array<keyof StepScope>;
  if (given.length === 0) return undefined;
  for (const { name, component } of steps) {
    for (const part of given) {
      if (component.accepts?.includes(part)) continue;
      const flag = part === "at" ? "--at" : "--from/--to";
      throw new UsageError(`Step ${name} takes no ${flag}: it has no ${part} to work on.`, {
        hint: `Run it without ${flag}, or name only steps that take it.`,
      });
    }
  }
  return scope;
}

/** The `rerun` command. */
export const rerun: Command = {
  summary: "run a rerun declared in the config: part of a source again, then its steps",
  help: `Usage: deno task pipeline rerun <name> [--from <ISO-8601>] [--to <ISO-8601>] [options]

Runs a rerun declared under \`reruns\` in the config (\`validate\` lists them): a batch run of
its pipeline over part of the source, then the steps it names over the window read (the gold
buckets the window touches are recomputed from raw, whatever the refresh queue holds), then
the checks unless it says otherwise.

A rerun never moves the live pipeline: the consumer group's offsets and the positions stored
with the data stay as they were, and its own progress is kept apart (<pipeline>:rerun). It adds
the rows that are missing and never rewrites a stored one, so running it again, or after it
was killed, ends the same.

${WINDOW_HELP}
                       (both override the declared window for this run)
${METRICS_FILE_HELP}

${OPTIONS_HELP}

${EXIT_CODE_HELP}`,
  async run(args, options) {
    const config = await loadConfig(options.config, Deno.env.toObject());
    const known = config.reruns.map((r) => r.name).join(", ") || "none declared";
    if (args.length !== 1) {
      throw new UsageError(
        args.length === 0
          ? "The rerun command needs the name of a rerun."
          : `The rerun command takes one rerun name, got: ${args.join(" ")}.`,
        { hint: `Reruns in ${config.path}: ${known}.` },
      );
    }
    const declared = config.reruns.find((r) => r.name === args[0]);
    if (declared === undefined) {
      throw new UsageError(`No rerun named ${args[0]} in ${config.path}.`, {
        hint: `Reruns in ${config.path}: ${known}.`,
      });
    }
    const now = new Date();
    const plan = rerunFromFlags(options, now, rangeOf(declared))!;
    const pipeline = config.pipeline(declared.pipeline);
    requireSeekable(pipeline, `Rerun ${declared.name}`);
    const result = await execute(pipeline, {
      mode: "batch",
      range: plan.range,
      ...(plan.scope === undefined ? {} : { scope: plan.scope }),
      parts: {
        load: true,
        ...(declared.steps === undefined ? {} : { steps: declared.steps }),
        checks: declared.checks,
      },
    }, metricsTargets(options, config.path));
    return { command: "rerun", rerun: declared.name, range: plan.range, ...result };
  },
};
