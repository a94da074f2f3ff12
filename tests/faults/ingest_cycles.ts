/**
 * What the ingest drills share: running `stream ingest` on the drill config as a child process,
 * reading its log lines, and counting what reached the topic, cycle by cycle.
 *
 * @module
 */
import type { Message } from "../../core/types.ts";
import type { StationSnapshot } from "../../contracts/mod.ts";
import { startCli } from "../support/cli.ts";

/** Stations in the capture the replay serves: a complete cycle has each of them once. */
export const STATIONS_IN_CAPTURE = 1471;

const DRILL_CONFIG = new URL("./ingest_drill.config.ts", import.meta.url).pathname;

/**
 * Starts `deno task pipeline stream ingest` on the drill config (a cycle every 1.5 s, paged
 * reads) as a child process, publishing to `topic` on `brokers`.
 *
 * @example
 * ```ts ignore
 * const ingest = startDrillIngest({ brokers, topic, apiUrl: replay.baseUrl });
 * ingest.child.kill("SIGTERM");
 * const run = await ingest.finished;
 * ```
 */
export function startDrillIngest(options: { brokers: string; topic: string; apiUrl: string }) {
  return startCli(["stream", "ingest", "--config", DRILL_CONFIG], {
    env: {
      KAFKA_BROKERS: options.brokers,
      VELIB_API_URL: options.apiUrl,
      VELIB_DRILL_TOPIC: options.topic,
    },
  });
}

/** One JSON log line of the CLI. */
export interface LogRecord {
  /** When it was logged (ISO-8601). */
  "@timestamp": string;
  /** `INFO`, `ERROR`… */
  level: string;
  /** The rendered message. */
  message: string;
  /** e.g. `pipeline.ingest.velib`. */
  logger: string;
  /** The structured properties. */
  properties: Record<string, unknown>;
}

/**
 * The JSON log lines of `stderr` (the CLI logs JSON lines when not on a terminal); other lines
 * (warnings of the runtime) are skipped.
 *
 * @example
 * ```ts
 * import { logRecords } from "./ingest_cycles.ts";
 * import assert from "node:assert/strict";
 *
 * const line = { "@timestamp": "2024-05-28T20:07:00.000Z", level: "INFO", message: "m",
 *   logger: "l", properties: { cycle: 1 } };
 * const stderr = `${JSON.stringify(line)}\nnoise\n`;
 * assert.deepEqual(logRecords(stderr).map((r) => r.properties.cycle), [1]);
 * ```
 */
export function logRecords(stderr: string): LogRecord[] {
  return stderr.split("\n").filter((line) => line.startsWith("{")).flatMap((line) => {
    try {
      return [JSON.parse(line) as LogRecord];
    } catch {
      return []; // a line cut off by the end of the process
    }
  });
}

/**
 * The cycles of the Vélib' source in the logs, by outcome: read whole (`Snapshot N: …`) or
 * failed with nothing published (`Snapshot N failed…`), by cycle number.
 *
 * @example
 * ```ts
 * import { sourceCycles } from "./ingest_cycles.ts";
 * import assert from "node:assert/strict";
 *
 * const logs = [{ "@timestamp": "2024-05-28T20:07:00.000Z", level: "ERROR", message: "Snapshot 2 failed; nothing was published: …",
 *   logger: "pipeline.ingest.velib", properties: { cycle: 2 } }];
 * assert.deepEqual(sourceCycles(logs).failed, [2]);
 * ```
 */
export function sourceCycles(logs: readonly LogRecord[]): {
  read: number[];
  failed: number[];
  dropped: number[];
} {
  const ofSource = logs.filter((log) => log.logger === "pipeline.ingest.velib");
  const cycles = (pattern: RegExp) =>
    ofSource.filter((log) => pattern.test(log.message)).map((log) =>
      log.properties.cycle as number
    );
  return {
    read: cycles(/^Snapshot \d+: /),
    failed: cycles(/^Snapshot \d+ failed; nothing was published/),
    dropped: cycles(/^Snapshot \d+ \(\d+ stations\) was dropped/),
  };
}

/**
 * The messages of a topic, grouped by cycle (`collected_at`), oldest cycle first.
 *
 * @example
 * ```ts
 * import { cyclesInTopic } from "./ingest_cycles.ts";
 * import assert from "node:assert/strict";
 *
 * const [later, earlier] = ["2024-05-28T20:08:00.000Z", "2024-05-28T20:07:00.000Z"]; // synthetic
 * const cycles = cyclesInTopic([{ value: { collected_at: later } }, {
 *   value: { collected_at: earlier },
 * }]);
 * assert.deepEqual(cycles.map(([at]) => at), [earlier, later]);
 * ```
 */
export function cyclesInTopic(messages: readonly Message[]): Array<[string, Message[]]> {
  const byCycle = Map.groupBy(messages, (m) => (m.value as StationSnapshot).collected_at);
  return [...byCycle].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0);
}

/**
 * Counts, over cycles, the stations missing from a cycle and the extra copies in it: each cycle
 * should hold every one of `stations` once.
 *
 * @example
 * ```ts
 * import { tallyCycles } from "./ingest_cycles.ts";
 * import assert from "node:assert/strict";
 *
 * const at = "2024-05-28T20:07:00.000Z"; // synthetic
 * const cycle = [{ value: { station_code: "a", collected_at: at } }, {
 *   value: { station_code: "a", collected_at: at },
 * }];
 * assert.deepEqual(tallyCycles([[at, cycle]], ["a", "b"]), { lost: 1, duplicated: 1 });
 * ```
 */
export function tallyCycles(
  cycles: ReadonlyArray<readonly [string, readonly Message[]]>,
  stations: readonly string[],
): { lost: number; duplicated: number } {
  let lost = 0;
  let duplicated = 0;
  for (const [, messages] of cycles) {
    const codes = new Set(messages.map((m) => (m.value as StationSnapshot).station_code));
    duplicated += messages.length - codes.size;
    lost += stations.filter((code) => !codes.has(code)).length;
  }
  return { lost, duplicated };
}
