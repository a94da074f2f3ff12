/**
 * `deno task bench [--size small|full] [--runs N] [--only name,…]`: the pipeline's performance
 * figures, each beside the references measured in the same run, since this machine is shared and
 * noisy. Starts its own PostgreSQL and Kafka (or uses `KAFKA_BROKERS` / `DATABASE_URL`), prints
 * a table, and writes the results as Markdown. Nothing here asserts on a figure.
 *
 * @module
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { SERVICE_DIR_PARENT } from "../tools/lib/state.ts";
import { formatSeconds, removePath } from "../tools/lib/proc.ts";
import {
  formatError,
  onTerminationSignals,
  settingsFromEnvironment,
  startServices,
  stopServices,
} from "../tools/services.ts";
import { catchUp } from "./catch_up.ts";
import { freshness } from "./freshness.ts";
import { goldScaling } from "./gold_scaling.ts";
import { kafkaClient } from "./kafka_client.ts";
import { formatMarkdown, formatTable } from "./format.ts";
import type { Bench, BenchSection, BenchSize } from "./report.ts";

/** Every benchmark, by the name `--only` takes, in the order they run. */
export const BENCHES: Readonly<Record<string, Bench>> = {
  "catch-up": catchUp,
  freshness,
  "gold-scaling": goldScaling,
  "kafka-client": kafkaClient,
};

const HELP = `Usage: deno task bench [--size small|full] [--runs N] [--only NAME,…] [--out FILE]

Measures the pipeline on real Kafka and PostgreSQL (started for the run unless KAFKA_BROKERS
and DATABASE_URL are set), each figure at least 3 times, with its references beside it:
  catch-up      a backlog of cycles × 1,471 stations loaded by \`pipeline batch load\`, against
                psql \\copy (the ceiling) and a naive per-message loader; peak RSS of the run
  freshness     ingest and load both streaming: API response → row in mart.station_latest
  gold-scaling  gold refreshes after one 5-minute batch on 1, 7 and 30 days of history,
                against a full materialized-view refresh
  kafka-client  consume throughput of kafkajs and @platformatic/kafka under Deno

Options:
  --size small|full  small is a smoke run (under 3 minutes); full the sizes of bench/RESULTS.md
                     (default: small)
  --runs N           repetitions of each figure, at least 3 (default: 3)
  --only NAMES       comma-separated benchmarks to run (default: all)
  --out FILE         the Markdown report (default: bench/RESULTS.md for full,
                     .data/bench/RESULTS-small.md for small)

The counts are synthetic (seeded) on the real stations of the 2024-05-28 capture.`;

/** Runs the benchmarks; resolves with the exit code. */
export async function main(args: string[]): Promise<number> {
  const options = parseOptions(args);
  if (options === "help") {
    console.log(HELP);
    return 0;
  }
  if (typeof options === "string") {
    console.error(`Error: ${options}\nHint: See \`deno task bench --help\`.`);
    return 2;
  }
  const started = performance.now();
  const stateDir = await Deno.makeTempDir({ dir: SERVICE_DIR_PARENT, prefix: "velib-bench-" });
  const interrupt = new AbortController();
  const removeHandlers = onTerminationSignals(() => interrupt.abort());
  const sections: BenchSection[] = [];
  try {
    const services = await startServices({
      stateDir,
      existing: settingsFromEnvironment(),
      ephemeral: true,
      signal: interrupt.signal,
    });
    const machine = await describeMachine(services.kafkaVersion, services.postgresVersion);
    for (const name of options.only) {
      if (interrupt.signal.aborted) break;
      log(`${name}: starting (${options.size}, ${options.runs} runs)`);
      const benchStarted = performance.now();
      const section = await BENCHES[name]({
        size: options.size,
        runs: options.runs,
        env: services.env,
        log: (line) => log(`${name}: ${line}`),
      });
      section.notes.push(`Took ${formatSeconds(performance.now() - benchStarted)} in all.`);
      sections.push(section);
      console.log(formatTable(section));
    }
    const report = formatMarkdown(sections, {
      size: options.size,
      runs: options.runs,
      machine,
      command: `deno task bench --size ${options.size}`,
      date: new Date().toISOString(),
    });
    await Deno.mkdir(join(options.out, ".."), { recursive: true });
    await Deno.writeTextFile(options.out, report);
    log(`wrote ${options.out} in ${formatSeconds(performance.now() - started)}`);
    return interrupt.signal.aborted ? 130 : 0;
  } catch (error) {
    console.error(formatError(error));
    return 1;
  } finally {
    await stopServices(stateDir).catch((error) => console.error(formatError(error)));
    await removePath(stateDir);
    removeHandlers();
  }
}

interface Options {
  size: BenchSize;
  runs: number;
  only: string[];
  out: string;
}

/** The options, `"help"`, or what is wrong with the command line. */
function parseOptions(args: string[]): Options | "help" | string {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        size: { type: "string", default: "small" },
        runs: { type: "string", default: "3" },
        only: { type: "string", default: Object.keys(BENCHES).join(",") },
        out: { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    }));
  } catch (error) {
    return (error as Error).message;
  }
  if (values.help) return "help";
  if (values.size !== "small" && values.size !== "full") {
    return `--size must be small or full, got "${values.size}".`;
  }
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 3) {
    return `--runs must be a whole number of at least 3, got "${values.runs}".`;
  }
  const only = values.only.split(",").map((name) => name.trim()).filter((name) => name !== "");
  const unknown = only.filter((name) => !(name in BENCHES));
  if (unknown.length > 0) {
    return `Unknown benchmark(s) ${unknown.join(", ")}; they are ${
      Object.keys(BENCHES).join(", ")
    }.`;
  }
  const out = values.out ??
    (values.size === "full" ? fromHere("RESULTS.md") : fromHere("../.data/bench/RESULTS-small.md"));
  return { size: values.size, runs, only, out };
}

function fromHere(path: string): string {
  return new URL(path, import.meta.url).pathname;
}

/** The machine and versions, for the report's header. */
async function describeMachine(kafka: string, postgres: string): Promise<string[]> {
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
  const cpu = cpuinfo.match(/^model name\s*:\s*(.+)$/m)?.[1] ?? "unknown CPU";
  const gib = (Deno.systemMemoryInfo().total / 1024 ** 3).toFixed(0);
  return [
    `${navigator.hardwareConcurrency} × ${cpu}, ${gib} GiB, ${Deno.build.os} ${Deno.osRelease()}`,
    `Deno ${Deno.version.deno} (V8 ${Deno.version.v8})`,
    kafka,
    postgres.replace(/ on .*$/, ""),
  ];
}

function log(line: string): void {
  console.error(`[bench] ${line}`);
}

if (import.meta.main) Deno.exit(await main(Deno.args));
