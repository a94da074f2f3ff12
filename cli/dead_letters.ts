/**
 * `deno task pipeline dead-letters <pipeline> list|replay`: the records a pipeline set aside,
 * listed, or run through the pipeline again once what refused them is fixed. It works with any
 * dead-letter sink that implements the contract's `listDeadLetters` and `replayDeadLetters`.
 *
 * @module
 */
import { loadConfig } from "../core/config.ts";
import { parseInstant } from "../core/range.ts";
import { redact } from "../core/redact.ts";
import { EXIT_CODES } from "../core/runner.ts";
import type { DeadLetter, DeadLetterFilter, Pipeline, Sink } from "../core/types.ts";
import {
  type Command,
  execute,
  EXIT_CODE_HELP,
  type GlobalOptions,
  OPTIONS_HELP,
  pipelineArgument,
  UsageError,
  withConnected,
} from "./shared.ts";

const COMMAND = "dead-letters";

/** The most characters of a payload a line of `list` shows. */
const PAYLOAD_CHARS = 80;

/** The name the replay source goes by in logs and errors. */
const REPLAY_SOURCE = "dead-letters";

/** What a subcommand reports; the command adds its name. */
type Outcome = { exitCode: number } & Record<string, unknown>;

const ACTIONS = ["list", "replay"] as const;
type Action = (typeof ACTIONS)[number];

const HELP =
  `Usage: deno task pipeline ${COMMAND} <pipeline> list|replay [--since <ISO>] [--reason <text>] [options]

The records a pipeline set aside (its dead letters), as its dead-letter sink keeps them, e.g.
pipeline.dead_letters in the warehouse. It needs a dead-letter sink that can list and replay
them, such as postgresSink({...}); a Kafka topic of rejects cannot.

  list                 one line per letter on stdout, oldest first: id, when it was set aside,
                       the stage that refused it, why, where it came from (stream/partition@offset),
                       replayed (when, by which run) or waiting, and the start of its payload.
                       Connects only the dead-letter sink.
  replay               runs the letters that wait through the pipeline again, in batch mode: its
                       transforms and sinks, then its steps, no checks. A letter whose record is
                       written is marked replayed with the run id, in the same transaction; one
                       that fails again keeps waiting, with the new reason. A second replay writes
                       nothing twice. The dead-letter sink must also be one of the pipeline's
                       sinks.

  --since <ISO>        only letters set aside at or after this instant, e.g. 2025-10-18T00:00:00Z
  --reason <text>      only letters whose reason contains this text, ignoring case

Examples:
  deno task pipeline ${COMMAND} load list --reason capacity
  deno task pipeline ${COMMAND} load replay --since 2025-10-18T00:00:00Z

The last line on stdout is a JSON summary: for list, the number of letters, waiting and replayed;
for replay, the run's summary with replayed (records written) and stillFailing (rejected again;
they keep waiting, and do not make the replay fail).

${OPTIONS_HELP}

${EXIT_CODE_HELP}`;

/**
 * The `dead-letters` command: `list` prints a pipeline's dead letters and `replay` runs the ones
 * that wait through the pipeline again, both filtered by `--since` and `--reason`.
 *
 * @example
 * ```ts
 * import { deadLetters } from "./dead_letters.ts";
 * import assert from "node:assert/strict";
 *
 * assert.match(deadLetters.help, /list\|replay/);
 * await assert.rejects(
 *   deadLetters.run(["load", "list"], { config: "pipeline.config.ts", since: "yesterday" }),
 *   /--since is not an ISO-8601 time/,
 * );
 * ```
 */
export const deadLetters: Command = {
  summary: "list the records a pipeline set aside, or replay them through it",
  help: HELP,
  async run(args, options) {
    const filter = filterOf(options);
    const [name, action, ...extra] = args;
    const config = await loadConfig(options.config, Deno.env.toObject());
    const pipelineName = pipelineArgument(name === undefined ? [] : [name], COMMAND, config);
    const chosen = actionOf(action, pipelineName);
    if (extra.length > 0) {
      throw new UsageError(
        `${COMMAND} ${chosen} takes only a pipeline name, got also: ${extra.join(" ")}.`,
        { hint: `See \`deno task pipeline ${COMMAND} --help\`.` },
      );
    }
    const pipeline = config.pipeline(pipelineName);
    const shown = {
      ...options.since === undefined ? {} : { since: filter.since!.toISOString() },
      ...options.reason === undefined ? {} : { reason: options.reason },
    };
    return chosen === "list"
      ? { command: `${COMMAND} list`, ...await list(pipeline, filter), ...shown }
      : { command: `${COMMAND} replay`, ...await replay(pipeline, filter), ...shown };
  },
};

function filterOf(options: GlobalOptions): DeadLetterFilter {
  return {
    ...options.since === undefined ? {} : { since: parseInstant(options.since, "--since") },
    ...options.reason === undefined ? {} : { reason: options.reason },
  };
}

function actionOf(action: string | undefined, pipeline: string): Action {
  if (ACTIONS.includes(action as Action)) return action as Action;
  throw new UsageError(
    action === undefined
      ? `The ${COMMAND} command needs list or replay after the pipeline name.`
      : `The ${COMMAND} command has no subcommand "${action}".`,
    {
      hint: `Use list to see the letters, replay to run them through the pipeline again, e.g. ` +
        `deno task pipeline ${COMMAND} ${pipeline} list.`,
    },
  );
}

/** Refuses a pipeline whose dead-letter sink cannot do `action`. */
function deadLetterSink(pipeline: Pipeline, action: Action): Sink {
  const { name, component } = pipeline.deadLetter;
  const able = action === "list" ? component.listDeadLetters : component.replayDeadLetters;
  if (able === undefined) {
    throw new UsageError(
      `The dead-letter sink ${name} of pipeline ${pipeline.name} cannot ${action} its letters.`,
      {
        hint: `Its rejects are in ${name}; read them there. Listing and replaying need a ` +
          "dead-letter sink that keeps its letters, such as postgresSink({...}).",
      },
    );
  }
  if (action === "replay" && !pipeline.sinks.some((sink) => sink.component === component)) {
    throw new UsageError(
      `The dead-letter sink ${name} of pipeline ${pipeline.name} is not one of its sinks.`,
      {
        hint: "A replay marks each letter in the transaction that writes its record, which it " +
          "can only do when the dead-letter sink writes the records too: make it one of the " +
          "pipeline's sinks (sinks: [warehouse], deadLetter: warehouse).",
      },
    );
  }
  return component;
}

/** Connects the dead-letter sink alone, as the runner would, and prints its letters. */
async function list(
  pipeline: Pipeline,
  filter: DeadLetterFilter,
): Promise<Outcome> {
  const sink = deadLetterSink(pipeline, "list");
  const letters = await withConnected(
    pipeline,
    { name: pipeline.deadLetter.name, component: sink },
    (sink, signal) => sink.listDeadLetters!(filter, signal),
  );
  for (const letter of letters) console.log(letterLine(letter));
  const replayed = letters.filter((letter) => letter.replayed !== undefined).length;
  return {
    exitCode: EXIT_CODES.ok,
    pipeline: pipeline.name,
    letters: letters.length,
    waiting: letters.length - replayed,
    replayed,
  };
}

/** Runs the pipeline with the letters that wait as its source. */
async function replay(
  pipeline: Pipeline,
  filter: DeadLetterFilter,
): Promise<Outcome> {
  const sink = deadLetterSink(pipeline, "replay");
  const replaying: Pipeline = {
    ...pipeline,
    source: { name: REPLAY_SOURCE, component: sink.replayDeadLetters!(filter) },
  };
  // The checks judge the live data, not a replay of part of it: `check` runs them on their own.
  const result = await execute(replaying, { mode: "batch", parts: { load: true, checks: false } });
  return {
    ...result,
    replayed: result.counters.written,
    stillFailing: result.counters.rejected,
  };
}

/** One letter on one line, tab-separated, with its payload cut short. Redacted. */
function letterLine(letter: DeadLetter): string {
  const origin = letter.origin === undefined
    ? "-"
    : `${letter.origin.stream}/${letter.origin.partition}@${letter.origin.offset}`;
  const state = letter.replayed === undefined
    ? "waiting"
    : `replayed ${letter.replayed.at} by ${letter.replayed.runId}`;
  // Redacted before it is cut: a cut URL would no longer look like one.
  const payload = letter.payload === null ? "-" : cut(oneLine(redact(letter.payload)));
  return redact(
    [letter.id, letter.failedAt, letter.stage, oneLine(letter.reason), origin, state, payload]
      .join("\t"),
  );
}

const oneLine = (text: string): string => text.replace(/[\t\r\n\u2028\u2029]+/g, " ");

function cut(text: string): string {
  if (text.length <= PAYLOAD_CHARS) return text;
  // Not through the middle of a surrogate pair: half a character would print as garbage.
  const end = /[\uD800-\uDBFF]/.test(text[PAYLOAD_CHARS - 1]) ? PAYLOAD_CHARS - 1 : PAYLOAD_CHARS;
  return `${text.slice(0, end)}… (${text.length} characters)`;
}
