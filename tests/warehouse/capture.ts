/**
 * Several collection cycles derived from the real 2024-05-28 capture, for the warehouse tests.
 * The capture is one moment; the cycles shift its collected_at and move a few bikes between
 * mechanical bikes and docks, deterministically, so that hours, days and the ranking have
 * something to aggregate. The data is read in place, never copied.
 *
 * @module
 */
import { captureSnapshots } from "../support/fixtures.ts";
import { enrich, type WarehouseSnapshot } from "./support.ts";

/** The first cycle's collected_at: 22:05 in Paris, a few minutes after the capture was taken. */
export const FIRST_CYCLE = "2024-05-28T20:05:00.000Z";

/**
 * Minutes after {@linkcode FIRST_CYCLE} of each cycle: three in the 22:00 local hour, one in the
 * 23:00 hour, and one past local midnight, on 2024-05-29.
 */
export const CYCLE_MINUTES: readonly number[] = [0, 5, 10, 60, 120];

/** The capture's stations, normalized and deduplicated as the source does, then enriched. */
export async function captureStations(): Promise<WarehouseSnapshot[]> {
  return (await captureSnapshots(new Date(FIRST_CYCLE))).map(enrich);
}

/**
 * One list of snapshots per cycle of {@linkcode CYCLE_MINUTES}. The first cycle is the capture
 * as it is; in the others, station i moves `(i + k) % 5 - 2` mechanical bikes in (or out of) its
 * docks, within what it has, so that bikes + docks stays as captured and some stations become
 * empty or saturated.
 */
export async function captureCycles(): Promise<WarehouseSnapshot[][]> {
  const stations = await captureStations();
  return CYCLE_MINUTES.map((minutes, k) => {
    const collectedAt = new Date(Date.parse(FIRST_CYCLE) + minutes * 60_000).toISOString();
    return stations.map((station, i) => {
      const wanted = k === 0 ? 0 : (i + k) % 5 - 2;
      const moved = Math.min(Math.max(wanted, -station.mechanical_bikes), station.docks_available);
      return enrich({
        ...station,
        mechanical_bikes: station.mechanical_bikes + moved,
        bikes_available: station.bikes_available + moved,
        docks_available: station.docks_available - moved,
        collected_at: collectedAt,
      });
    });
  });
}
