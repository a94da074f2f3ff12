/**
 * The ClickHouse warehouse's SQL on current ClickHouse: the dev server is 18.16, and chDB (the
 * ClickHouse engine as a Python library, `tools/lib/chdb.ts`) runs everything the plugin and the
 * project send, as they send it (split by `splitStatements`, bound by `bind`), on 26.9. No
 * server is needed: each test runs its statements in order in one chDB session of its own.
 *
 * The data is synthetic: three stations that are not real ones, a cycle every 15 minutes from
 * 21:00 to 23:45 UTC on 2025-10-18, across local midnight in Europe/Paris (UTC+2 that day).
 *
 * @module
 */
import assert from "node:assert/strict";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { CHDB_VERSION, ensureChdb } from "../../tools/lib/chdb.ts";
import { removePath } from "../../tools/lib/proc.ts";
import { bind, type Params } from "../../plugins/sink-clickhouse/bind.ts";
import { splitStatements } from "../../plugins/sink-clickhouse/sql.ts";
import { migrationsOf } from "../../plugins/sink-clickhouse/database.ts";
import * as sink from "../../plugins/sink-clickhouse/statements.ts";
import { RESULT_STATEMENTS } from "../../plugins/checks-quality/statements.ts";
import { synthetic, type WarehouseSnapshot } from "./support.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const RUNNER = fileURLToPath(new URL("./chdb_run.py", import.meta.url));
const at = (path: string) => join(ROOT, path);
const CURRENT = `ClickHouse ${CHDB_VERSION.split(".").slice(0, 2).join(".")}`;

const PIPELINE = "velib-synthetic";
const TIME_ZONE = "Europe/Paris";
const FIRST_CYCLE = Date.parse("2025-10-18T21:00:00Z");
const CYCLES = 12;
const CYCLE_MS = 15 * 60_000;
const NEWEST = new Date(FIRST_CYCLE + (CYCLES - 1) * CYCLE_MS);
const STEP_RUN_AT = new Date("2025-10-18T23:50:00Z");

/** A statement to run, named for a failure message. */
interface Statement {
  label: string;
  sql: string;
}

/** What one statement gave: its rows (none for a command), or chDB's error. */
interface Result {
  label: string;
  rows?: Record<string, unknown>[];
  error?: string;
}

/** What a run of statements gave, by label, with the engine that ran them. */
interface Run {
  engine: string;
  rows(label: string): Record<string, unknown>[];
}

/** A script's statements, each bound with `params` as the plugin binds them. */
const script = (label: string, text: string, params: Params = {}): Statement[] =>
  splitStatements(text).map((sql, i) => ({ label: `${label} #${i + 1}`, sql: bind(sql, params) }));

/**
 * An insert as the sink sends it (`@clickhouse/client`, JSONEachRow): booleans as 1 and 0,
 * Dates as ISO text, which `date_time_input_format = 'best_effort'` reads.
 */
function insert(table: string, rows: readonly object[]): Statement {
  const columns = Object.keys(rows[0]);
  const value = (v: unknown) =>
    typeof v === "boolean" ? Number(v) : v instanceof Date ? v.toISOString() : v ?? null;
  const lines = rows.map((row) =>
    JSON.stringify(
      Object.fromEntries(columns.map((c) => [c, value((row as Record<string, unknown>)[c])])),
    )
  );
  return {
    label: `an insert into ${table}`,
    sql: `INSERT INTO ${table} (${columns.join(", ")}) FORMAT JSONEachRow\n${lines.join("\n")}`,
  };
}

/** Station 1 is always full, station 2 always empty, station 3 in between. */
function cycle(i: number): WarehouseSnapshot[] {
  const collected_at = new Date(FIRST_CYCLE + i * CYCLE_MS).toISOString();
  return [
    synthetic({ station_code: "99001_synthetic", collected_at, bikes_available: 10 }),
    synthetic({ station_code: "99002_synthetic", collected_at, bikes_available: 0 }),
    synthetic({
      station_code: "99003_synthetic",
      collected_at,
      bikes_available: 4,
      // The newest cycle's bikes do not add up: what bikes_mismatch counts.
      ...(i === CYCLES - 1 ? { electric_bikes: 1 } : {}),
    }),
  ].map((snapshot) => ({ ...snapshot, station_name: `Synthetic ${snapshot.station_code}` }));
}

/**
 * What a warehouse holds after the sink connected and loaded the synthetic cycles: the sink's
 * setting, its bootstrap, both sets of migrations (each recorded as the sink records it), the
 * checks' results table, then the synthetic rows as the sink writes them (every snapshot into
 * raw and mart, the newest cycle twice as a replay would, a reject, positions) and a step run.
 */
async function setup(): Promise<Statement[]> {
  const statements: Statement[] = [
    { label: "the sink's setting", sql: "SET date_time_input_format = 'best_effort'" },
    ...sink.BOOTSTRAP.map((sql, i) => ({ label: `BOOTSTRAP[${i}]`, sql: bind(sql, []) })),
  ];
  for (const migration of await migrationsOf({ migrations: at("sql/clickhouse/migrations") })) {
    statements.push(...script(relative(ROOT, migration.path), migration.script));
    statements.push(insert("pipeline.schema_migrations", [{
      scope: migration.scope,
      version: migration.version,
      name: migration.name,
      checksum: migration.checksum,
    }]));
  }
  const results = RESULT_STATEMENTS.clickhouse;
  statements.push(
    { label: "RESULT_STATEMENTS.clickhouse.create", sql: bind(results.create, []) },
    {
      label: "RESULT_STATEMENTS.clickhouse.insert",
      sql: bind(results.insert, [
        "synthetic-run",
        PIPELINE,
        "freshness",
        "error",
        12.5,
        1800,
        true,
        "Synthetic result. Observed 12.5, at most 1800 expected",
      ]),
    },
  );
  const snapshots = Array.from({ length: CYCLES }, (_, i) => cycle(i));
  for (const batch of [...snapshots, snapshots.at(-1)!]) {
    statements.push(insert("raw.station_snapshots", batch), insert("mart.station_latest", batch));
  }
  statements.push(
    insert("pipeline.dead_letters", [{
      pipeline: PIPELINE,
      id: "velib.stations/0/40",
      stage: "enrich",
      reason: "station_code is missing (synthetic)",
      payload: '{"synthetic":true}',
      source_stream: "velib.stations",
      source_partition: 0,
      source_offset: "40",
    }]),
    insert("pipeline.source_positions", [
      { pipeline: PIPELINE, stream: "velib.stations", partition: 0, next_offset: "41" },
      { pipeline: PIPELINE, stream: "velib.stations", partition: 0, next_offset: "42" },
      { pipeline: PIPELINE, stream: "velib.stations", partition: 1, next_offset: "7" },
    ]),
    insert("pipeline.step_runs", [{
      pipeline: PIPELINE,
      script: "sql/clickhouse/gold/refresh_hourly_stats.sql",
      started_at: STEP_RUN_AT,
    }]),
  );
  return statements;
}

/**
 * Runs `statements` in order in a fresh chDB session, and fails naming each statement that
 * failed with chDB's error.
 */
async function runOnChdb(statements: Statement[]): Promise<Run> {
  const chdb = await ensureChdb();
  const dir = await Deno.makeTempDir({ prefix: "velib-chdb-" });
  try {
    const spec = join(dir, "spec.json");
    const out = join(dir, "out.json");
    await Deno.writeTextFile(spec, JSON.stringify({ path: join(dir, "session"), statements }));
    const { code, stderr } = await new Deno.Command(chdb.python, {
      args: [RUNNER, spec, out],
      cwd: dir,
      env: { PYTHONDONTWRITEBYTECODE: "1" },
      stdin: "null",
      stdout: "inherit",
      stderr: "piped",
    }).output();
    assert.equal(code, 0, `${RUNNER} failed:\n${new TextDecoder().decode(stderr)}`);
    const { engine, results }: { engine: string; results: Result[] } = JSON.parse(
      await Deno.readTextFile(out),
    );
    const failed = results.flatMap((result, i) =>
      result.error === undefined
        ? []
        : [`- ${result.label}: ${result.error}\n  ${statements[i].sql.slice(0, 400)}`]
    );
    assert.deepEqual(
      failed,
      [],
      `On ClickHouse ${engine} (chdb-core ${chdb.version}), ${failed.length} statement(s) ` +
        `failed:\n${failed.join("\n")}`,
    );
    const byLabel = new Map(results.map((result) => [result.label, result.rows ?? []]));
    return {
      engine,
      rows(label) {
        const rows = byLabel.get(label);
        assert.ok(rows !== undefined, `No statement is labelled ${label}.`);
        return rows;
      },
    };
  } finally {
    await removePath(dir);
  }
}

/** A query of the test's own, to look at what the statements under test left. */
const look = (label: string, sql: string): Statement => ({ label, sql });

const RAW_COLUMNS = [
  "schema_version",
  "system_id",
  "station_code",
  "station_name",
  "bikes_available",
  "mechanical_bikes",
  "electric_bikes",
  "docks_available",
  "capacity",
  "is_installed",
  "is_renting",
  "is_returning",
  "latitude",
  "longitude",
  "last_reported",
  "commune",
  "code_insee",
  "collected_at",
  "occupancy_rate",
  "station_status",
  "inserted_at",
];

Deno.test(`${CURRENT}: the migrations and the sink's own statements run, as the sink sends them`, async () => {
  const migrations = await migrationsOf({ migrations: at("sql/clickhouse/migrations") });
  const gold = migrations.find((m) => m.scope === "app" && m.name === "0003_gold.sql")!;
  const run = await runOnChdb([
    ...await setup(),
    { label: "SELECT_MIGRATION", sql: bind(sink.SELECT_MIGRATION, ["app", gold.version]) },
    { label: "SELECT_COLUMNS", sql: bind(sink.SELECT_COLUMNS, ["raw", "station_snapshots"]) },
    { label: "SELECT_POSITIONS", sql: bind(sink.SELECT_POSITIONS, [PIPELINE]) },
    {
      label: "SELECT_DEAD_LETTERS",
      sql: bind(sink.SELECT_DEAD_LETTERS, [PIPELINE, 0, "MISSING"]),
    },
    {
      label: "SELECT_STEP_RUN",
      sql: bind(sink.SELECT_STEP_RUN, [PIPELINE, "sql/clickhouse/gold/refresh_hourly_stats.sql"]),
    },
    { label: "SELECT_VERSION", sql: bind(sink.SELECT_VERSION, []) },
    look("applied", "SELECT scope, version FROM pipeline.schema_migrations FINAL ORDER BY scope"),
    look("raw", "SELECT count() AS n FROM raw.station_snapshots FINAL"),
    look(
      "latest",
      "SELECT station_code, bikes_available, toString(collected_at) AS at " +
        "FROM mart.station_latest FINAL ORDER BY station_code",
    ),
    look("results", "SELECT check_name, severity, passed FROM pipeline.check_results"),
  ]);
  const on = `on ClickHouse ${run.engine}`;

  const [{ version }] = run.rows("SELECT_VERSION");
  assert.match(String(version), /^26\.9\./, `SELECT_VERSION ${on}`);
  assert.deepEqual(run.rows("SELECT_MIGRATION"), [{ checksum: gold.checksum }], on);
  assert.deepEqual(
    run.rows("applied").map((row) => `${row.scope} ${row.version}`),
    migrations.map((m) => `${m.scope} ${m.version}`).sort(),
    on,
  );
  assert.deepEqual(run.rows("SELECT_COLUMNS").map((row) => row.name), RAW_COLUMNS, on);
  assert.deepEqual(run.rows("SELECT_POSITIONS"), [
    { stream: "velib.stations", partition: 0, offset: "42" },
    { stream: "velib.stations", partition: 1, offset: "7" },
  ], on);
  const letters = run.rows("SELECT_DEAD_LETTERS");
  assert.equal(letters.length, 1, on);
  assert.equal(letters[0].id, "velib.stations/0/40", on);
  assert.equal(letters[0].offset_text, "40", on);
  assert.match(String(letters[0].failed_text), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, on);
  assert.deepEqual(run.rows("SELECT_STEP_RUN"), [{ started_at: STEP_RUN_AT.getTime() / 1000 }], on);
  assert.deepEqual(
    run.rows("results"),
    [{ check_name: "freshness", severity: "error", passed: 1 }],
    on,
  );
  // The replayed cycle collapses on read; mart keeps each station's newest snapshot.
  assert.equal(Number(run.rows("raw")[0].n), 3 * CYCLES, on);
  const newest = NEWEST.toISOString().replace("T", " ").slice(0, 19);
  assert.deepEqual(run.rows("latest"), [
    { station_code: "99001_synthetic", bikes_available: 10, at: newest },
    { station_code: "99002_synthetic", bikes_available: 0, at: newest },
    { station_code: "99003_synthetic", bikes_available: 4, at: newest },
  ], on);
});

const CHECKS = [
  "bikes_mismatch",
  "bikes_over_capacity",
  "capacity_zero",
  "dead_letters",
  "duplicates",
  "freshness",
  "negative_counts",
  "station_count",
];

Deno.test(`${CURRENT}: the gold scripts and the eight checks run, and give the synthetic data's buckets, ranking and observations`, async () => {
  // What the steps of `load-clickhouse` pass on a load (no window asked for: every time, and
  // every row loaded since the epoch, as on a first run): see plugins/sink-clickhouse/step.ts.
  const scope = {
    time_zone: TIME_ZONE,
    loaded_since: new Date(0),
    window_start: new Date(0),
    window_end: new Date(4_294_967_295_000),
    at: null,
    window_seconds: 24 * 3600,
    max_gap_seconds: 15 * 60,
  };
  const gold = ["refresh_hourly_stats", "refresh_daily_stats", "compute_station_ranking"];
  const statements = [...await setup()];
  for (const name of gold) {
    const path = `sql/clickhouse/gold/${name}.sql`;
    statements.push(...script(path, await Deno.readTextFile(at(path)), scope));
  }
  for (const name of CHECKS) {
    const path = `sql/clickhouse/checks/${name}.sql`;
    const check = script(path, await Deno.readTextFile(at(path)), []);
    assert.equal(check.length, 1, `${path} is one query`);
    statements.push({ ...check[0], label: name });
  }
  statements.push(
    look(
      "hourly",
      "SELECT station_code, toString(bucket_start) AS start, toString(bucket_local) AS local, " +
        "snapshot_count, avg_bikes, saturated_count, empty_count " +
        "FROM mart.hourly_station_stats FINAL ORDER BY station_code, bucket_start",
    ),
    look(
      "daily",
      "SELECT station_code, toString(day) AS day, toString(day_start) AS start, " +
        "snapshot_count FROM mart.daily_station_stats FINAL ORDER BY station_code, day",
    ),
    look(
      "ranking",
      "SELECT station_code, toString(window_start) AS from, " +
        "toString(window_end) AS to, computed_for, snapshot_count, minutes_saturated, " +
        "minutes_empty, rank_saturation, rank_empty " +
        "FROM mart.station_ranking ORDER BY station_code",
    ),
  );
  const checkedAt = Date.now();
  const run = await runOnChdb(statements);
  const on = `on ClickHouse ${run.engine}`;
  const stations = ["99001_synthetic", "99002_synthetic", "99003_synthetic"];

  // Each script's last statement counts what it wrote.
  const rowsOf = (name: string, n: number) =>
    Number(run.rows(`sql/clickhouse/gold/${name}.sql #${n}`)[0].rows);
  assert.equal(rowsOf("refresh_hourly_stats", 2), stations.length * 3, `hourly rows ${on}`);
  assert.equal(rowsOf("refresh_daily_stats", 2), stations.length * 2, `daily rows ${on}`);
  assert.equal(rowsOf("compute_station_ranking", 2), stations.length, `ranking rows ${on}`);

  // Three hours (23:00, 00:00 and 01:00 in Paris) of four snapshots per station.
  const hourly = run.rows("hourly");
  assert.deepEqual(
    hourly.map((row) => `${row.station_code} ${row.start} ${row.local} ${row.snapshot_count}`),
    stations.flatMap((code) => [
      `${code} 2025-10-18 21:00:00 2025-10-18 23:00:00 4`,
      `${code} 2025-10-18 22:00:00 2025-10-19 00:00:00 4`,
      `${code} 2025-10-18 23:00:00 2025-10-19 01:00:00 4`,
    ]),
    on,
  );
  const first = hourly.filter((row) => row.start === "2025-10-18 21:00:00");
  assert.deepEqual(first.map((row) => [row.avg_bikes, row.saturated_count, row.empty_count]), [
    [10, 4, 0],
    [0, 0, 4],
    [4, 0, 0],
  ], on);
  // Two local days: the 18th (one hour) and the 19th (from midnight, 22:00 UTC).
  assert.deepEqual(
    run.rows("daily").map((row) =>
      `${row.station_code} ${row.day} ${row.start} ${row.snapshot_count}`
    ),
    stations.flatMap((code) => [
      `${code} 2025-10-18 2025-10-17 22:00:00 4`,
      `${code} 2025-10-19 2025-10-18 22:00:00 8`,
    ]),
    on,
  );
  // Eleven gaps of 15 minutes (the last snapshot lasts 0) full, empty, or neither.
  const window = { from: "2025-10-17 23:45:00", to: "2025-10-18 23:45:00", computed_for: null };
  assert.deepEqual(run.rows("ranking"), [
    {
      station_code: stations[0],
      ...window,
      snapshot_count: 12,
      minutes_saturated: 165,
      minutes_empty: 0,
      rank_saturation: 1,
      rank_empty: 2,
    },
    {
      station_code: stations[1],
      ...window,
      snapshot_count: 12,
      minutes_saturated: 0,
      minutes_empty: 165,
      rank_saturation: 2,
      rank_empty: 1,
    },
    {
      station_code: stations[2],
      ...window,
      snapshot_count: 12,
      minutes_saturated: 0,
      minutes_empty: 0,
      rank_saturation: 2,
      rank_empty: 2,
    },
  ], on);

  // Every check answers one row with a number in `observed`, as checks-quality requires.
  const observed = Object.fromEntries(CHECKS.map((name) => {
    const rows = run.rows(name);
    assert.equal(rows.length, 1, `${name} ${on}: ${JSON.stringify(rows)}`);
    assert.equal(typeof rows[0].observed, "number", `${name} ${on}: ${JSON.stringify(rows)}`);
    return [name, rows[0].observed as number];
  }));
  const stale = (checkedAt - NEWEST.getTime()) / 1000;
  assert.ok(Math.abs(observed.freshness - stale) < 600, `freshness ${on}: ${observed.freshness}`);
  assert.deepEqual({ ...observed, freshness: 0 }, {
    bikes_mismatch: 1,
    bikes_over_capacity: 0,
    capacity_zero: 0,
    dead_letters: 1,
    duplicates: 0,
    freshness: 0,
    negative_counts: 0,
    station_count: 0,
  }, on);
  assert.equal(
    run.rows("bikes_mismatch")[0].details,
    "velib/99003_synthetic (4 + 1 ≠ 4)",
    on,
  );
});
