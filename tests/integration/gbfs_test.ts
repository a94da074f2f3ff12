/**
 * `deno task pipeline run gbfs` against replays of the real GBFS captures, served in place on
 * 127.0.0.1: every capture loads each of its stations once with the file's own counts, two
 * systems share one warehouse without mixing, Vélib' by GBFS and by its Explore API land in the
 * same tables, and a cycle with a failing feed writes nothing.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import pg from "pg";
import { PGlite } from "@electric-sql/pglite";
import { scratchDatabase } from "../../plugins/sink-postgres/testing.ts";
import { runCli } from "../support/cli.ts";
import { EXPLORE_EXPORTS_CAPTURE, readCapture } from "../support/fixtures.ts";
import {
  captureStations,
  configuredSystemId,
  type GbfsCapture,
  gbfsCapture,
  gbfsCaptures,
  loadedSystemId,
  readFeed,
  velibGbfsCapture,
} from "../support/gbfs_fixtures.ts";
import { startGbfsReplay, withGbfsReplay } from "../support/gbfs_replay.ts";
import { withReplayServer } from "../support/velib_replay.ts";

type Query = <T = Record<string, unknown>>(text: string, params?: unknown[]) => Promise<T[]>;

/** The env of `run gbfs` for a capture: its replay, and a system id when it has none. */
function gbfsEnv(capture: GbfsCapture, url: string): Record<string, string> {
  return "system_information" in capture.files
    ? { GBFS_URL: url }
    : { GBFS_URL: url, GBFS_SYSTEM_ID: configuredSystemId(capture) };
}

/** Runs `test` on a fresh embedded warehouse folder, read afterwards with PGlite. */
async function withEmbedded(
  test: (dataDir: string, open: () => Query & { close(): Promise<void> }) => Promise<void>,
) {
  const dataDir = await Deno.makeTempDir({ prefix: "gbfs_test_" });
  try {
    await test(dataDir, () => {
      const db = new PGlite(join(dataDir, "warehouse"));
      const query = (async (text: string, params?: unknown[]) =>
        (await db.query(text, params)).rows) as Query;
      return Object.assign(query, { close: () => db.close() });
    });
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
}

/** Asserts that the warehouse holds one cycle of `capture`, each station once, its own counts. */
async function assertLoaded(query: Query, capture: GbfsCapture): Promise<void> {
  const system = await loadedSystemId(capture);
  const expected = await captureStations(capture);
  const rows = await query<Record<string, unknown>>(
    `SELECT station_code, bikes_available, mechanical_bikes, electric_bikes, docks_available,
       is_installed, is_renting, is_returning, collected_at, schema_version
     FROM raw.station_snapshots WHERE system_id = $1`,
    [system],
  );
  assert.equal(rows.length, expected.length, `${capture.name}: raw rows of ${system}`);
  const byCode = new Map(rows.map((row) => [row.station_code as string, row]));
  assert.equal(byCode.size, expected.length, "each station once");
  for (const { code, status } of expected) {
    const row = byCode.get(code);
    assert.ok(row, `${capture.name}: station ${code}`);
    assert.deepEqual(
      [
        row.bikes_available,
        row.docks_available,
        row.is_installed,
        row.is_renting,
        row.is_returning,
      ],
      [
        status.num_bikes_available ?? status.num_vehicles_available,
        status.num_docks_available,
        Boolean(status.is_installed),
        Boolean(status.is_renting),
        Boolean(status.is_returning),
      ],
      `${capture.name}: station ${code}`,
    );
    assert.equal(
      (row.mechanical_bikes as number) + (row.electric_bikes as number),
      row.bikes_available,
    );
    assert.equal(row.schema_version, 2);
  }
  assert.equal(new Set(rows.map((row) => String(row.collected_at))).size, 1, "one cycle");
  const [latest] = await query<{ n: number }>(
    "SELECT count(*)::int AS n FROM mart.station_latest WHERE system_id = $1",
    [system],
  );
  assert.equal(latest.n, expected.length);
}

for (const capture of await gbfsCaptures()) {
  Deno.test(`run gbfs loads every station of ${capture.name} once, with the file's own counts`, async () => {
    await using db = await scratchDatabase();
    await withGbfsReplay(capture, async (replay) => {
      const run = await runCli(["run", "gbfs"], {
        env: { ...gbfsEnv(capture, replay.url), DATABASE_URL: db.url },
        unset: ["KAFKA_BROKERS"],
      });
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.summary.pipeline, "gbfs");
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      try {
        const query = (async (text: string, params?: unknown[]) =>
          (await client.query(text, params)).rows) as Query;
        await assertLoaded(query, capture);
        const status = await readFeed(capture, "station_status") as { data: { stations: [] } };
        const unmatched = status.data.stations.length - (await captureStations(capture)).length;
        const [letters] = await query<{ n: number }>(
          "SELECT count(*)::int AS n FROM pipeline.dead_letters WHERE stage = 'source gbfs'",
        );
        assert.equal(letters.n, unmatched);
      } finally {
        await client.end();
      }
    });
  });
}

Deno.test("run gbfs twice, for two systems with the same station codes, into one embedded warehouse: they do not mix", async () => {
  // Montréal names itself (system_information); San Francisco is named by GBFS_SYSTEM_ID.
  const bixi = await gbfsCapture("bixi-montreal_2025-05-18");
  const ford = await gbfsCapture("ford-gobike-sf_2018-04-30");
  await withEmbedded(async (dataDir, open) => {
    for (const capture of [bixi, ford]) {
      await withGbfsReplay(capture, async (replay) => {
        const run = await runCli(["run", "gbfs"], {
          env: { ...gbfsEnv(capture, replay.url), VELIB_DATA_DIR: dataDir },
          unset: ["DATABASE_URL", "KAFKA_BROKERS"],
        });
        // A system of 312 stations after one of 957 is not a drop of the station count.
        assert.equal(run.code, 0, run.stderr);
        const checks = run.summary.checks as { name: string; passed: boolean }[];
        assert.ok(checks.find((check) => check.name === "station_count")?.passed);
      });
    }
    const query = open();
    try {
      await assertLoaded(query, bixi);
      await assertLoaded(query, ford);
      const perSystem = (table: string) =>
        query(`SELECT system_id, count(*)::int AS n FROM ${table} GROUP BY 1 ORDER BY 1`);
      const counts = [{ system_id: "bixi_mtl", n: 957 }, { system_id: "ford-gobike-sf", n: 312 }];
      assert.deepEqual(await perSystem("raw.station_snapshots"), counts);
      assert.deepEqual(await perSystem("mart.station_latest"), counts);
      assert.deepEqual(await perSystem("mart.hourly_station_stats"), counts);
      assert.deepEqual(await perSystem("mart.daily_station_stats"), counts);
      assert.deepEqual(await perSystem("mart.station_ranking"), counts);
      // Codes both systems use are two stations each, with each system's own name.
      const shared = await query<{ n: number }>(
        `SELECT count(*)::int AS n FROM (
           SELECT station_code FROM mart.station_latest GROUP BY station_code
           HAVING count(DISTINCT system_id) = 2 AND count(DISTINCT station_name) = 2) AS s`,
      );
      assert.equal(shared[0].n, 285);
    } finally {
      await query.close();
    }
  });
});

Deno.test("a Vélib' GBFS snapshot and a Vélib' Explore snapshot land in the same tables, as the velib system", async () => {
  await withEmbedded(async (dataDir, open) => {
    await withReplayServer(async (explore) => {
      const run = await runCli(["run"], {
        env: { VELIB_API_URL: explore.baseUrl, VELIB_DATA_DIR: dataDir },
        unset: ["DATABASE_URL", "KAFKA_BROKERS"],
      });
      assert.equal(run.code, 0, run.stderr);
    });
    const capture = velibGbfsCapture();
    await withGbfsReplay(capture, async (replay) => {
      const run = await runCli(["run", "gbfs"], {
        env: { GBFS_URL: replay.url, GBFS_SYSTEM_ID: "velib", VELIB_DATA_DIR: dataDir },
        unset: ["DATABASE_URL", "KAFKA_BROKERS"],
      });
      assert.equal(run.code, 0, run.stderr);
    });
    const query = open();
    try {
      const cycles = await query<{ system_id: string; schema_version: number; n: number }>(
        `SELECT system_id, schema_version, count(*)::int AS n FROM raw.station_snapshots
         GROUP BY collected_at, system_id, schema_version ORDER BY collected_at`,
      );
      assert.deepEqual(cycles, [
        { system_id: "velib", schema_version: 2, n: 1471 },
        { system_id: "velib", schema_version: 2, n: 1495 },
      ]);
      // One station, one row in mart, whichever source saw it last: the codes are the same.
      const exploreCodes = (await readCapture(EXPLORE_EXPORTS_CAPTURE) as { stationcode: string }[])
        .map((record) => record.stationcode);
      const gbfsCodes = (await captureStations(capture)).map((station) => station.code);
      const union = new Set([...exploreCodes, ...gbfsCodes]);
      assert.ok(union.size < 1600, `${union.size} codes: the two captures share most of them`);
      const [latest] = await query<{ n: number; systems: number }>(
        `SELECT count(*)::int AS n, count(DISTINCT system_id)::int AS systems
         FROM mart.station_latest`,
      );
      assert.deepEqual(latest, { n: union.size, systems: 1 });
      const twice = await query<{ n: number }>(
        `SELECT count(*)::int AS n FROM raw.station_snapshots WHERE station_code = '16107'`,
      );
      assert.equal(twice[0].n, 2);
    } finally {
      await query.close();
    }
  });
});

Deno.test("run gbfs with a feed failing publishes nothing, exits 1 with the feed's error, and the next run loads it", async () => {
  const capture = await gbfsCapture("oslo-bysykkel_2022-10-23");
  await using db = await scratchDatabase();
  const replay = await startGbfsReplay(capture);
  try {
    // The runner retries nothing of a source's read: one failing answer fails the cycle.
    replay.injectFault({ feed: "station_status", kind: "http-error", status: 503 });
    const env = { ...gbfsEnv(capture, replay.url), DATABASE_URL: db.url };
    const failed = await runCli(["run", "gbfs"], { env, unset: ["KAFKA_BROKERS"] });
    assert.equal(failed.code, 1, failed.stderr);
    assert.match(failed.stderr, /The GBFS feed station_status answered HTTP 503/);
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const count = async () =>
        (await client.query("SELECT count(*)::int AS n FROM raw.station_snapshots")).rows[0].n;
      assert.equal(await count(), 0);
      const next = await runCli(["run", "gbfs"], { env, unset: ["KAFKA_BROKERS"] });
      assert.equal(next.code, 0, next.stderr);
      assert.equal(await count(), 260);
    } finally {
      await client.end();
    }
  } finally {
    await replay.close();
  }
});

Deno.test("run gbfs refuses, exit 2, a feed that does not say which system it is, and a missing GBFS_URL", async () => {
  await using db = await scratchDatabase();
  const capture = await gbfsCapture("citi-bike-nyc_2019-07-05");
  await withGbfsReplay(capture, async (replay) => {
    const run = await runCli(["run", "gbfs"], {
      env: { GBFS_URL: replay.url, DATABASE_URL: db.url },
      unset: ["KAFKA_BROKERS", "GBFS_SYSTEM_ID"],
    });
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /publishes no system_information/);
    assert.match(run.stderr, /GBFS_SYSTEM_ID/);
  });
  const run = await runCli(["run", "gbfs"], {
    env: { DATABASE_URL: db.url },
    unset: ["KAFKA_BROKERS", "GBFS_URL", "GBFS_SYSTEM_ID"],
  });
  assert.equal(run.code, 2, run.stderr);
  assert.match(run.stderr, /The gbfs source has no url/);
});
