/**
 * The one way tests read the real Vélib' captures: in place, from the shared fixtures folder,
 * never copied into the repository. `SOURCES.md` in that folder says where each file comes from.
 *
 * @module
 */
import { dedupeStations, normalizeStation } from "../../plugins/source-velib/mod.ts";
import { type StationSnapshot } from "../../contracts/mod.ts";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The Explore v2.1 `/exports/json` capture of 2024-05-28: a bare array of 1,471 stations. */
export const EXPLORE_EXPORTS_CAPTURE = "explore_exports_2024-05-28_1471.json";

/** The variable that points the tests at another copy of the captures. */
const FIXTURES_VARIABLE = "VELIB_FIXTURES_DIR";

/**
 * The folder that holds the captures: `VELIB_FIXTURES_DIR` when it is set, otherwise
 * `../shared/fixtures/velib` next to the repository.
 *
 * @example
 * ```ts
 * import { fixturesDir } from "./fixtures.ts";
 * import assert from "node:assert/strict";
 *
 * assert.match(fixturesDir(), /velib/);
 * ```
 */
export function fixturesDir(): string {
  const configured = Deno.env.get(FIXTURES_VARIABLE);
  if (configured !== undefined && configured !== "") return configured;
  return fileURLToPath(new URL("../../../shared/fixtures/velib", import.meta.url));
}

/**
 * Reads and parses the capture `name` (a file name in {@linkcode fixturesDir}). Throws an error
 * that says which file was looked for, where, and how to point the tests elsewhere.
 *
 * @example The 2024-05-28 export
 * ```ts
 * import { EXPLORE_EXPORTS_CAPTURE, readCapture } from "./fixtures.ts";
 * import assert from "node:assert/strict";
 *
 * const stations = await readCapture(EXPLORE_EXPORTS_CAPTURE) as unknown[];
 * assert.equal(stations.length, 1471);
 * ```
 */
export async function readCapture(name: string): Promise<unknown> {
  const dir = fixturesDir();
  const path = join(dir, name);
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    const origin = Deno.env.get(FIXTURES_VARIABLE)
      ? `${FIXTURES_VARIABLE}=${dir}`
      : `the default ${dir}, as ${FIXTURES_VARIABLE} is unset`;
    throw new Error(
      `The Vélib' capture ${name} is not at ${path} (fixtures folder: ${origin}). ` +
        `Set ${FIXTURES_VARIABLE} to the folder that holds the captures listed in its SOURCES.md.`,
      { cause: error },
    );
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(
      `The Vélib' capture ${path} is not valid JSON: ${(error as Error).message}. ` +
        "Captures are used as they were copied; restore the file from its source in SOURCES.md.",
      { cause: error },
    );
  }
}

/**
 * The 2024-05-28 capture as the Vélib' source publishes it: normalized and deduplicated, one
 * snapshot per station (1,471), stamped `collectedAt`. Shifting `collectedAt` makes further
 * cycles from the one real moment; the counts stay as captured.
 *
 * @example
 * ```ts
 * import { captureSnapshots } from "./fixtures.ts";
 * import assert from "node:assert/strict";
 *
 * const cycle = await captureSnapshots(new Date("2024-05-28T20:10:00Z"));
 * assert.equal(cycle.length, 1471);
 * assert.equal(cycle[0].collected_at, "2024-05-28T20:10:00.000Z");
 * ```
 */
export async function captureSnapshots(collectedAt: Date): Promise<StationSnapshot[]> {
  const records = await readCapture(EXPLORE_EXPORTS_CAPTURE) as unknown[];
  const snapshots = records.flatMap((record) => {
    const normalized = normalizeStation(record, collectedAt);
    return normalized.ok ? [normalized.snapshot] : [];
  });
  return dedupeStations(snapshots).stations;
}
