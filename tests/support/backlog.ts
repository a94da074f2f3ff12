/**
 * A backlog on the stations topic, as a day of ingest cycles would leave it, for volume tests,
 * fault drills and benchmarks.
 *
 * The stations are the real 2024-05-28 capture (codes, names, capacities, flags, positions);
 * the counts of every cycle are **synthetic**: drawn from a seeded generator within each
 * station's capacity, so that cycles differ the way real ones do. Nothing here pretends to be a
 * real later moment of the network.
 *
 * @module
 */
import { testContext } from "../../core/testing.ts";
import type { Message } from "../../core/types.ts";
import { kafkaSink } from "../../plugins/kafka/mod.ts";
import type { StationSnapshot } from "../../contracts/mod.ts";
import { captureSnapshots } from "./fixtures.ts";

/** The moment of the real capture; synthetic cycles follow it, one per `intervalMs`. */
export const CAPTURE_MOMENT = new Date("2024-05-28T20:07:00.000Z");

/**
 * A small, fast, seeded generator (mulberry32): the same seed gives the same backlog, so a
 * failing drill can be replayed.
 *
 * @example
 * ```ts
 * import { seededRandom } from "./backlog.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(seededRandom(7)(), seededRandom(7)());
 * ```
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/**
 * One synthetic cycle: every station of `stations` at `collectedAt`, with counts drawn from
 * `random` (bikes within the capacity, split into mechanical and electric, docks the rest).
 * A station whose capacity is 0 keeps its captured counts, as real data has them.
 *
 * @example
 * ```ts
 * import { CAPTURE_MOMENT, seededRandom, syntheticCycle } from "./backlog.ts";
 * import { captureSnapshots } from "./fixtures.ts";
 * import assert from "node:assert/strict";
 *
 * const stations = await captureSnapshots(CAPTURE_MOMENT);
 * const cycle = syntheticCycle(stations, new Date("2024-05-28T20:08:00Z"), seededRandom(1));
 * assert.equal(cycle.length, 1471);
 * assert.equal(cycle[0].collected_at, "2024-05-28T20:08:00.000Z");
 * ```
 */
export function syntheticCycle(
  stations: readonly StationSnapshot[],
  collectedAt: Date,
  random: () => number,
): StationSnapshot[] {
  const at = collectedAt.toISOString();
  return stations.map((station) => {
    if (station.capacity === 0) return { ...station, collected_at: at };
    const bikes = Math.floor(random() * (station.capacity + 1));
    const electric = Math.floor(random() * (bikes + 1));
    return {
      ...station,
      bikes_available: bikes,
      mechanical_bikes: bikes - electric,
      electric_bikes: electric,
      docks_available: station.capacity - bikes,
      collected_at: at,
    };
  });
}

/** Options for {@linkcode publishBacklog}. */
export interface BacklogOptions {
  /** Comma-separated `host:port` list. */
  brokers: string;
  /** The topic; created with `partitions` when missing. */
  topic: string;
  /** How many cycles of 1,471 stations. */
  cycles: number;
  /**
   * Seeds the counts.
   * @default {1}
   */
  seed?: number;
  /**
   * Partitions of the topic when it is created.
   * @default {1}
   */
  partitions?: number;
  /**
   * The first cycle's `collected_at`.
   * @default {CAPTURE_MOMENT}
   */
  startAt?: Date;
  /**
   * Time between cycles.
   * @default {60_000}
   */
  intervalMs?: number;
  /** Called after each cycle is published, with the number published so far. */
  onCycle?: (published: number) => void;
}

/** What {@linkcode publishBacklog} published. */
export interface Backlog {
  /** Messages published: `cycles` × 1,471, one per distinct (station, collected_at). */
  messages: number;
  /** Stations per cycle. */
  stations: number;
  /** The newest cycle's `collected_at` (ISO-8601). */
  newestCollectedAt: string;
  /** The newest cycle, as published: what `mart.station_latest` should end up holding. */
  newestCycle: StationSnapshot[];
}

/**
 * Publishes `cycles` synthetic cycles to `topic` with the pipeline's own Kafka sink (JSON,
 * keyed by `station_code`, gzip, idempotent producer), one cycle per request, as ingest does.
 *
 * @example
 * ```ts ignore
 * import { publishBacklog } from "./backlog.ts";
 *
 * const backlog = await publishBacklog({ brokers: "127.0.0.1:9092", topic: "t", cycles: 10 });
 * // backlog.messages === 14_710
 * ```
 */
export async function publishBacklog(options: BacklogOptions): Promise<Backlog> {
  const { cycles, intervalMs = 60_000, startAt = CAPTURE_MOMENT } = options;
  const random = seededRandom(options.seed ?? 1);
  const stations = await captureSnapshots(CAPTURE_MOMENT);
  const sink = kafkaSink({
    brokers: options.brokers,
    topic: options.topic,
    key: "station_code",
    compression: "gzip",
    createTopic: { partitions: options.partitions ?? 1 },
  }).build({});
  const signal = new AbortController().signal;
  await sink.connect?.(testContext("backlog", { signal }));
  let newestCycle: StationSnapshot[] = [];
  try {
    for (let cycle = 0; cycle < cycles; cycle++) {
      const collectedAt = new Date(startAt.getTime() + cycle * intervalMs);
      newestCycle = syntheticCycle(stations, collectedAt, random);
      const messages: Message[] = newestCycle.map((value) => ({ value }));
      await sink.write({ messages, rejects: [], cursors: [] }, signal);
      options.onCycle?.((cycle + 1) * stations.length);
    }
  } finally {
    await sink.close?.();
  }
  return {
    messages: cycles * stations.length,
    stations: stations.length,
    newestCollectedAt: newestCycle[0]?.collected_at ?? "",
    newestCycle,
  };
}
