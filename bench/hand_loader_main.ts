/**
 * A hand-written loader (`naive` or `seed-style`) as a process of its own, so that its peak
 * memory is its own and not the bench's:
 *
 *   KAFKA_BROKERS=… DATABASE_URL=… deno run -A bench/hand_loader_main.ts \
 *     --loader naive|seed-style --topic TOPIC --limit N
 *
 * loads the first N messages of TOPIC (a new consumer group) into the migrated database and
 * prints `{"ms": …}` on stdout: the loader's own timed work, without the process start-up.
 * {@linkcode runHandLoader} is the bench's side of that exchange.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { uniqueName } from "../core/testing.ts";
import type { HandLoadOptions } from "./hand_loader.ts";
import { naiveLoad } from "./naive_loader.ts";
import { type MeasuredRun, runScript } from "./process.ts";
import { seedStyleLoad } from "./seed_style_loader.ts";

/** The loaders, by the name `--loader` takes. */
export const HAND_LOADERS: Readonly<
  Record<"naive" | "seed-style", (options: HandLoadOptions) => Promise<number>>
> = { naive: naiveLoad, "seed-style": seedStyleLoad };

/** A loader's name. */
export type HandLoaderKind = keyof typeof HAND_LOADERS;

/** Options of {@linkcode runHandLoader}. */
export interface HandLoaderRunOptions {
  /** Which loader. */
  loader: HandLoaderKind;
  /** Comma-separated `host:port` list. */
  brokers: string;
  /** The topic, read from its beginning. */
  topic: string;
  /** A migrated warehouse (passed in the environment, so its password stays out of `ps`). */
  databaseUrl: string;
  /** How many messages to load. */
  limit: number;
}

/** A finished loader process. */
export interface HandLoaderRun {
  /** The loader's own time, from its first message to its last commit (what it printed). */
  ms: number;
  /** The process: wall time from spawn to exit, and peak RSS. */
  run: MeasuredRun;
}

const SCRIPT = new URL(import.meta.url).pathname;

/**
 * Runs a loader in a child process to completion; throws, with its last lines, unless it exits
 * 0 having printed its time.
 *
 * @example
 * ```ts ignore
 * import { runHandLoader } from "./hand_loader_main.ts";
 *
 * const { ms, run } = await runHandLoader({ loader: "naive", brokers, topic, databaseUrl, limit });
 * console.log(ms, run.wallMs, run.peakRssMb);
 * ```
 */
export async function runHandLoader(options: HandLoaderRunOptions): Promise<HandLoaderRun> {
  const run = await runScript(
    SCRIPT,
    ["--loader", options.loader, "--topic", options.topic, "--limit", String(options.limit)],
    { KAFKA_BROKERS: options.brokers, DATABASE_URL: options.databaseUrl },
  );
  const ms = (JSON.parse(run.summary) as { ms?: unknown }).ms;
  if (typeof ms !== "number") {
    throw new Error(`The ${options.loader} loader printed no time: ${run.summary}`);
  }
  return { ms, run };
}

/**
 * The child's side: loads, prints `{"ms": …}`, resolves with the exit code (2 for a bad
 * command line).
 *
 * @example
 * ```ts ignore
 * import { main } from "./hand_loader_main.ts";
 *
 * Deno.exit(await main(["--loader", "naive", "--topic", "bench_catchup", "--limit", "3000"]));
 * ```
 */
export async function main(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        loader: { type: "string" },
        topic: { type: "string" },
        limit: { type: "string" },
      },
    }));
  } catch (error) {
    return usage((error as Error).message);
  }
  if (!Object.hasOwn(HAND_LOADERS, values.loader ?? "")) {
    return usage(`--loader must be ${Object.keys(HAND_LOADERS).join(" or ")}.`);
  }
  const load = HAND_LOADERS[values.loader as HandLoaderKind];
  const limit = Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1) return usage("--limit must be a positive integer.");
  if (!values.topic) return usage("--topic is required.");
  const brokers = Deno.env.get("KAFKA_BROKERS");
  const databaseUrl = Deno.env.get("DATABASE_URL");
  if (!brokers || !databaseUrl) return usage("KAFKA_BROKERS and DATABASE_URL must be set.");
  try {
    const ms = await load({
      brokers,
      topic: values.topic,
      groupId: uniqueName("bench_hand_loader"),
      databaseUrl,
      limit,
    });
    console.log(JSON.stringify({ ms }));
    return 0;
  } catch (error) {
    console.error(`Error: the ${values.loader} loader failed: ${(error as Error).message}`);
    return 1;
  }
}

function usage(problem: string): number {
  console.error(
    `Error: ${problem}\nHint: KAFKA_BROKERS=… DATABASE_URL=… deno run -A ` +
      "bench/hand_loader_main.ts --loader naive|seed-style --topic TOPIC --limit N",
  );
  return 2;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
