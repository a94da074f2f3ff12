/**
 * The one way tests find the real GBFS captures: in place, from the shared fixtures folder, never
 * copied into the repository. Each capture is a folder of feeds of one system at one moment
 * (`SOURCES.md` there says where each comes from and what is odd about it); Vélib's own GBFS
 * captures sit with its other captures (see `./fixtures.ts`).
 *
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { normalizeSystemId } from "../../contracts/mod.ts";
import { fixturesDir } from "./fixtures.ts";

/** The variable that points the tests at another copy of the GBFS captures. */
const FIXTURES_VARIABLE = "GBFS_FIXTURES_DIR";

/** A capture: the feeds of one system at one moment, each a file. */
export interface GbfsCapture {
  /** Its name: the folder's, e.g. `citi-bike-nyc_2019-07-05`. */
  name: string;
  /** Each feed's file, by feed name (`gbfs` for the discovery file, `station_status`, …). */
  files: Record<string, string>;
}

/**
 * The folder that holds the GBFS captures: `GBFS_FIXTURES_DIR` when it is set, otherwise
 * `../shared/fixtures/gbfs` next to the repository.
 *
 * @example
 * ```ts
 * import { gbfsFixturesDir } from "./gbfs_fixtures.ts";
 * import assert from "node:assert/strict";
 *
 * assert.match(gbfsFixturesDir(), /gbfs/);
 * ```
 */
export function gbfsFixturesDir(): string {
  const configured = Deno.env.get(FIXTURES_VARIABLE);
  if (configured !== undefined && configured !== "") return configured;
  return fileURLToPath(new URL("../../../shared/fixtures/gbfs", import.meta.url));
}

/**
 * Every capture of {@linkcode gbfsFixturesDir}, by name. Throws, saying where it looked, when the
 * folder is missing or holds none.
 *
 * @example
 * ```ts
 * import { gbfsCaptures } from "./gbfs_fixtures.ts";
 * import assert from "node:assert/strict";
 *
 * const captures = await gbfsCaptures();
 * assert.ok(captures.length >= 12);
 * assert.ok(captures.every((capture) => "station_status" in capture.files));
 * ```
 */
export async function gbfsCaptures(): Promise<GbfsCapture[]> {
  const dir = gbfsFixturesDir();
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) if (entry.isDirectory) names.push(entry.name);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  if (names.length === 0) throw missing(`any capture folder in ${dir}`);
  return await Promise.all(names.sort().map(gbfsCapture));
}

/**
 * The capture `name`: its folder's `<feed>.json` files.
 *
 * @example
 * ```ts
 * import { gbfsCapture } from "./gbfs_fixtures.ts";
 * import assert from "node:assert/strict";
 *
 * const capture = await gbfsCapture("lillestrom-bysykkel_2021-09-10");
 * assert.ok("vehicle_types" in capture.files && "gbfs" in capture.files);
 * ```
 */
export async function gbfsCapture(name: string): Promise<GbfsCapture> {
  const dir = join(gbfsFixturesDir(), name);
  const files: Record<string, string> = {};
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isFile && entry.name.endsWith(".json")) {
        files[entry.name.slice(0, -".json".length)] = join(dir, entry.name);
      }
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    throw missing(`the capture ${name} (${dir})`, error);
  }
  return { name, files };
}

/**
 * Vélib's GBFS capture of 2025-10-18 (1,495 stations): `station_information` and
 * `station_status` only, as its source published no discovery file or `system_information`.
 *
 * @example
 * ```ts
 * import { velibGbfsCapture } from "./gbfs_fixtures.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(Object.keys(velibGbfsCapture().files).sort(), ["station_information", "station_status"]);
 * ```
 */
export function velibGbfsCapture(): GbfsCapture {
  const file = (feed: string) => join(fixturesDir(), `gbfs_2025-10-18_${feed}.json`);
  return {
    name: "velib_2025-10-18",
    files: {
      station_information: file("station_information"),
      station_status: file("station_status"),
    },
  };
}

/**
 * Reads and parses one feed of a capture; undefined when the capture has no such feed.
 *
 * @example
 * ```ts
 * import { gbfsCapture, readFeed } from "./gbfs_fixtures.ts";
 * import assert from "node:assert/strict";
 *
 * const status = await readFeed(await gbfsCapture("bogota-pbsc_2026-09-04"), "station_status") as
 *   { data: { stations: unknown[] } };
 * assert.equal(status.data.stations.length, 6);
 * ```
 */
export async function readFeed(capture: GbfsCapture, feed: string): Promise<unknown> {
  const path = capture.files[feed];
  if (path === undefined) return undefined;
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    throw missing(`the feed ${feed} of ${capture.name} (${path})`, error);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(
      `The GBFS capture file ${path} is not valid JSON: ${(error as Error).message}. ` +
        "Captures are used as they were copied; restore the file from its source in SOURCES.md.",
      { cause: error },
    );
  }
}

function missing(what: string, cause?: unknown): Error {
  const origin = Deno.env.get(FIXTURES_VARIABLE)
    ? `${FIXTURES_VARIABLE}=${gbfsFixturesDir()}`
    : `the default ${gbfsFixturesDir()}, as ${FIXTURES_VARIABLE} is unset`;
  return new Error(
    `Could not find ${what} (GBFS fixtures folder: ${origin}). Set ${FIXTURES_VARIABLE} to the ` +
      "folder that holds the captures listed in its SOURCES.md.",
    { cause },
  );
}

/** A station of a capture, as its files give it: the status and information records. */
export interface CaptureStation {
  /** The code a snapshot of it carries: `stationCode` (Vélib') or `station_id`. */
  code: string;
  /** Its `station_status` record. */
  status: Record<string, unknown>;
  /** Its `station_information` record. */
  info: Record<string, unknown>;
}

/**
 * The stations of a capture that both `station_status` and `station_information` give (a
 * station of the status feed alone has no name nor position), in status order: what one cycle
 * of the capture loads, each once. Read from the files, without the source's code.
 *
 * @example
 * ```ts
 * import { captureStations, gbfsCapture } from "./gbfs_fixtures.ts";
 * import assert from "node:assert/strict";
 *
 * const toronto = await captureStations(await gbfsCapture("toronto-bike-share_2023-08-24"));
 * assert.equal(toronto.length, 691); // 5 of its 696 status stations are not in its information
 * ```
 */
export async function captureStations(capture: GbfsCapture): Promise<CaptureStation[]> {
  type Feed = { data: { stations: Record<string, unknown>[] } };
  const info = (await readFeed(capture, "station_information") as Feed).data.stations;
  const status = (await readFeed(capture, "station_status") as Feed).data.stations;
  const byId = new Map(info.map((station) => [String(station.station_id), station]));
  return status.flatMap((record) => {
    const station = byId.get(String(record.station_id));
    if (station === undefined) return [];
    const code = typeof station.stationCode === "string"
      ? station.stationCode
      : String(record.station_id);
    return [{ code, status: record, info: station }];
  });
}

/**
 * The system id a capture's snapshots carry when loaded with {@linkcode configuredSystemId}: its
 * `system_information.system_id` in the contract's spelling, else the configured one.
 *
 * @example
 * ```ts
 * import { configuredSystemId, gbfsCapture, loadedSystemId } from "./gbfs_fixtures.ts";
 * import assert from "node:assert/strict";
 *
 * const bixi = await gbfsCapture("bixi-montreal_2025-05-18");
 * assert.equal(await loadedSystemId(bixi), "bixi_mtl");
 * const citi = await gbfsCapture("citi-bike-nyc_2019-07-05");
 * assert.equal(configuredSystemId(citi), "citi-bike-nyc");
 * assert.equal(await loadedSystemId(citi), "citi-bike-nyc");
 * ```
 */
export async function loadedSystemId(capture: GbfsCapture): Promise<string> {
  const system = await readFeed(capture, "system_information") as
    | { data: { system_id: string } }
    | undefined;
  return system === undefined
    ? configuredSystemId(capture)
    : normalizeSystemId(system.data.system_id)!;
}

/**
 * The system id tests configure for a capture (`GBFS_SYSTEM_ID`, `systemId`): its name without
 * the date, e.g. `citi-bike-nyc`. Only used when the capture has no `system_information`.
 */
export function configuredSystemId(capture: GbfsCapture): string {
  return capture.name.replace(/_\d{4}-\d{2}-\d{2}$/, "");
}
