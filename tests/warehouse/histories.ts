/**
 * Random histories of loads, the same for the same seed, for the tests that hold the gold
 * functions to a computation from raw after every load. Two systems sharing station codes;
 * cycles a minute to hours apart (outages longer than max_gap); stations silent for a while or
 * for good, renamed, resized, closed, empty or full; cycles split over two loads, loads
 * arriving late and out of order, and replays of rows already loaded. All stations are
 * synthetic.
 *
 * @module
 */
import { synthetic, type WarehouseSnapshot } from "./support.ts";
import { seededRandom } from "../support/backlog.ts";

/** One INSERT into raw, as a load writes it. */
export interface Load {
  rows: WarehouseSnapshot[];
  /** Whether some rows were loaded before: inserted with ON CONFLICT DO NOTHING, as a replay. */
  replay: boolean;
  /** Whether the gold steps run after this load. */
  refresh: boolean;
}

/** What {@linkcode randomHistory} generates. */
export interface HistoryOptions {
  /** The first cycle's collected_at, an ISO instant. */
  start: string;
  /** @default {150} */
  cycles?: number;
}

/** The stations: codes shared by two systems, and one reporting no capacity (no rate). */
const STATIONS = [
  { system_id: "velib", station_code: "99001", capacity: 10 },
  { system_id: "velib", station_code: "99002", capacity: 20 },
  { system_id: "velib", station_code: "99003", capacity: 12 },
  { system_id: "velib", station_code: "99004", capacity: 0 },
  { system_id: "synthetic-b", station_code: "99001", capacity: 8 },
  { system_id: "synthetic-b", station_code: "99002", capacity: 15 },
] as const;

/** Seconds between cycles: mostly minutes, sometimes an outage past max_gap, or of hours. */
const GAPS = [60, 60, 120, 120, 300, 300, 300, 600, 17 * 60, 47 * 60, 3 * 3600];

/**
 * The loads of a random history, in the order they arrive: about 2.5 days for 150 cycles.
 *
 * @example
 * ```ts
 * import { randomHistory } from "./histories.ts";
 * import assert from "node:assert/strict";
 *
 * const loads = randomHistory(1, { start: "2024-10-26T12:00:00Z", cycles: 10 });
 * assert.deepEqual(loads, randomHistory(1, { start: "2024-10-26T12:00:00Z", cycles: 10 }));
 * ```
 */
export function randomHistory(seed: number, options: HistoryOptions): Load[] {
  const random = seededRandom(seed);
  const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)];
  const { cycles = 150 } = options;
  // Each station is silent over one stretch of cycles, often up to the end of the history.
  const silent = STATIONS.map(() => {
    const from = Math.floor(random() * cycles * 1.5);
    return { from, to: random() < 0.5 ? cycles : from + Math.floor(random() * 40) };
  });
  const renamedAt = Math.floor(random() * cycles);

  const cycleLoads: { rows: WarehouseSnapshot[]; order: number }[] = [];
  let at = Date.parse(options.start);
  for (let cycle = 0; cycle < cycles; cycle++) {
    at += cycle === 0 ? 0 : pick(GAPS) * 1000;
    // The second system's feed is read a few seconds later, or at the same instant.
    const skew = random() < 0.5 ? 7_000 : 0;
    for (const system of ["velib", "synthetic-b"]) {
      const collectedAt = new Date(at + (system === "velib" ? 0 : skew)).toISOString();
      const rows = STATIONS.flatMap((station, i) => {
        if (station.system_id !== system) return [];
        if (cycle >= silent[i].from && cycle < silent[i].to) return [];
        if (random() < 0.05) return [];
        const capacity = station.capacity > 0 && cycle > renamedAt
          ? station.capacity + 2
          : station.capacity;
        const roll = random();
        const bikes = roll < 0.25 ? 0 : roll < 0.5 ? capacity : Math.floor(random() * capacity);
        const closed = random() < 0.05;
        return [synthetic({
          system_id: station.system_id,
          station_code: station.station_code,
          station_name: cycle > renamedAt ? `Station ${i} (renamed)` : `Station ${i}`,
          collected_at: collectedAt,
          capacity,
          bikes_available: bikes,
          mechanical_bikes: bikes - Math.floor(bikes / 3),
          electric_bikes: Math.floor(bikes / 3),
          docks_available: capacity - bikes,
          is_renting: !closed,
          is_returning: !closed,
        })];
      });
      if (rows.length === 0) continue;
      // A late load arrives after up to 30 later ones.
      const order = cycle + (random() < 0.15 ? 1 + random() * 30 : random() * 0.5);
      cycleLoads.push({ rows, order });
    }
  }

  const loads: Load[] = [];
  for (const { rows } of cycleLoads.toSorted((a, b) => a.order - b.order)) {
    const refresh = () => random() < 0.35;
    if (rows.length > 1 && random() < 0.2) {
      // A cycle in two loads; the second half sometimes replayed as the whole cycle.
      const half = Math.ceil(rows.length / 2);
      loads.push({ rows: rows.slice(0, half), replay: false, refresh: refresh() });
      loads.push(
        random() < 0.5
          ? { rows, replay: true, refresh: refresh() }
          : { rows: rows.slice(half), replay: false, refresh: refresh() },
      );
    } else {
      loads.push({ rows, replay: false, refresh: refresh() });
    }
    if (random() < 0.08) loads.push({ rows: pick(loads).rows, replay: true, refresh: refresh() });
  }
  loads[loads.length - 1].refresh = true;
  return loads;
}
