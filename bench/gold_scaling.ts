/**
 * Gold-layer scaling: how long the three gold steps take after one new 5-minute batch, on 1, 7
 * and 30 days of history, beside the naive design they replace (a materialized view of the
 * hourly and of the daily stats over all of raw, refreshed in full).
 *
 * The history is generated in SQL (`generate_series`) straight into a fresh, migrated database:
 * the real stations of the 2024-05-28 capture (codes, names, capacities, flags, positions) with
 * **synthetic** counts, one cycle per `cycleSeconds`, in June 2024 (no DST change). It is
 * written with the refresh-queue trigger disabled and the gold tables are pre-filled for its
 * hours and days, with synthetic values; the daily refresh's parts are computed from it, and the
 * ranking computed once (its parts): the state a warehouse is in when its steps have kept up.
 * Each run then inserts one batch of 5 cycles in one statement with the trigger on, as a load
 * does, calls the functions the steps call with `pipeline.config.ts`'s arguments, and deletes the
 * batch so that every run sees the same history.
 *
 * @module
 */
import pg from "pg";
import { migrate } from "../plugins/sink-postgres/mod.ts";
import { callStatement } from "../plugins/sink-postgres/step.ts";
import { scratchDatabase } from "../plugins/sink-postgres/testing.ts";
import { CAPTURE_MOMENT } from "../tests/support/backlog.ts";
import { captureSnapshots } from "../tests/support/fixtures.ts";
import { MIGRATIONS } from "../tests/warehouse/support.ts";
import type { Bench, BenchContext, BenchSection, Figure, Target } from "./report.ts";
import { median } from "./report.ts";

/** How much history a run generates. */
export interface GoldScale {
  /** Stations of the capture used (the first ones, in capture order; at most 1,471). */
  stations: number;
  /** Seconds between two generated cycles of the history. */
  cycleSeconds: number;
  /** History lengths in days, increasing; the first is the reference of the target. */
  days: number[];
}

/** The sizes of `deno task bench`: `full` is the issue's, `small` a smoke run. */
export const GOLD_SCALES: Readonly<Record<BenchContext["size"], GoldScale>> = {
  small: { stations: 200, cycleSeconds: 60, days: [1, 2, 3] },
  // 60 s cycles would be 63.5 M rows and about 20 minutes here, mostly generating them and
  // refreshing the naive views over them: a 120 s cycle halves both and changes no ratio.
  full: { stations: 1_471, cycleSeconds: 120, days: [1, 7, 30] },
};

/** The target: the largest history's time at most this many times the smallest's. */
const TARGET_FACTOR = 2;

/** Issue 15's target for the daily refresh and the ranking after a batch, in ms. */
const TARGET_MS = 200;

/** Cycles of the new batch: one load every 5 minutes of 60 s cycles. */
const BATCH_CYCLES = 5;

/**
 * Where the history starts: 23:55 in Paris, so that each size's batch (the 5 minutes after its
 * history) is the last of a local day. Its hour and its day are then full: the daily refresh's
 * worst case.
 */
const HISTORY_START = new Date("2024-06-01T21:55:00Z");

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

/** The ranking step, which the history's prefill also runs once. */
const RANKING_STEP = {
  name: "compute ranking",
  call: "mart.compute_station_ranking",
  args: { window_length: "24 hours", max_gap: "15 minutes", keep: 1 },
  targetMs: TARGET_MS,
} as const;

/** The gold steps as `pipeline.config.ts` configures them: function and named arguments. */
const GOLD_STEPS = [
  {
    name: "refresh hourly",
    call: "mart.refresh_hourly_stats",
    args: { time_zone: "Europe/Paris" },
  },
  {
    name: "refresh daily",
    call: "mart.refresh_daily_stats",
    args: { time_zone: "Europe/Paris" },
    targetMs: TARGET_MS,
  },
  RANKING_STEP,
] as const;

/** The bench's own tables: the stations the history is generated for, and the naive views. */
const CREATE_BENCH_SCHEMA = `
  CREATE SCHEMA bench;
  CREATE TABLE bench.stations (
    station_code text PRIMARY KEY, station_name text NOT NULL, capacity int NOT NULL,
    is_installed boolean NOT NULL, is_renting boolean NOT NULL, is_returning boolean NOT NULL,
    latitude double precision NOT NULL, longitude double precision NOT NULL,
    commune text NULL, code_insee text NULL,
    -- The captured counts, kept for stations of capacity 0, as the synthetic backlog does.
    bikes_available int NOT NULL, mechanical_bikes int NOT NULL, electric_bikes int NOT NULL,
    docks_available int NOT NULL,
    -- The enrich transform's rule, from the flags.
    station_status text GENERATED ALWAYS AS (CASE
      WHEN NOT is_installed THEN 'hors_service'
      WHEN NOT is_renting AND NOT is_returning THEN 'fermée'
      ELSE 'en_service' END) STORED)`;

/** `$1`…`$14`: one array per column of `bench.stations`. */
const INSERT_STATIONS = `
  INSERT INTO bench.stations (station_code, station_name, capacity, is_installed, is_renting,
    is_returning, latitude, longitude, commune, code_insee, bikes_available, mechanical_bikes,
    electric_bikes, docks_available)
  SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::boolean[], $5::boolean[],
    $6::boolean[], $7::float8[], $8::float8[], $9::text[], $10::text[], $11::int[], $12::int[],
    $13::int[], $14::int[])`;

/** The naive alternative: the gold functions' aggregates over all of raw, in Paris time. */
const MEASURES = `
    (array_agg(s.station_name ORDER BY s.collected_at DESC))[1] AS station_name,
    round(avg(s.bikes_available), 2) AS avg_bikes,
    round(avg(s.mechanical_bikes), 2) AS avg_mechanical,
    round(avg(s.electric_bikes), 2) AS avg_electric,
    round(avg(s.docks_available), 2) AS avg_docks,
    round(avg(s.occupancy_rate), 4) AS avg_occupancy_rate,
    min(s.bikes_available) AS min_bikes,
    max(s.bikes_available) AS max_bikes,
    count(*) AS snapshot_count,
    count(*) FILTER (WHERE s.docks_available = 0) AS saturated_count,
    count(*) FILTER (WHERE s.bikes_available = 0) AS empty_count,
    count(*) FILTER (WHERE s.station_status <> 'en_service') AS out_of_service_count,
    (array_agg(s.capacity ORDER BY s.collected_at DESC))[1] AS capacity`;
const CREATE_NAIVE_VIEWS = `
  CREATE MATERIALIZED VIEW bench.hourly_station_stats AS
  SELECT s.station_code, date_trunc('hour', s.collected_at, 'Europe/Paris') AS bucket_start,
    date_trunc('hour', s.collected_at, 'Europe/Paris') AT TIME ZONE 'Europe/Paris' AS bucket_local,
    ${MEASURES}
  FROM raw.station_snapshots AS s GROUP BY 1, 2 WITH NO DATA;
  CREATE MATERIALIZED VIEW bench.daily_station_stats AS
  SELECT s.station_code, (s.collected_at AT TIME ZONE 'Europe/Paris')::date AS day, ${MEASURES}
  FROM raw.station_snapshots AS s GROUP BY 1, 2 WITH NO DATA`;
const NAIVE_REFRESHES = [
  {
    name: "naive: REFRESH MATERIALIZED VIEW hourly",
    sql: "REFRESH MATERIALIZED VIEW bench.hourly_station_stats",
  },
  {
    name: "naive: REFRESH MATERIALIZED VIEW daily",
    sql: "REFRESH MATERIALIZED VIEW bench.daily_station_stats",
  },
] as const;

/** History is loaded as a backfill: no queued instants (the gold tables get filled below). */
const DISABLE_QUEUE_TRIGGER =
  "ALTER TABLE raw.station_snapshots DISABLE TRIGGER station_snapshots_queue_refreshes";
const ENABLE_QUEUE_TRIGGER =
  "ALTER TABLE raw.station_snapshots ENABLE TRIGGER station_snapshots_queue_refreshes";

/** Seeds random() for the next statement: the same history every time. `$1` in [-1, 1]. */
const SET_SEED = "SELECT setseed($1)";

/**
 * Synthetic cycles of every bench station at `$1` ≤ collected_at < `$2`, one per `$3` seconds,
 * in time order as loads write them: bikes within the capacity, split at random into mechanical
 * and electric, docks the rest. One statement: with the trigger on, it queues its instants once.
 */
const INSERT_CYCLES = `
  INSERT INTO raw.station_snapshots (schema_version, station_code, station_name,
    bikes_available, mechanical_bikes, electric_bikes, docks_available, capacity, is_installed,
    is_renting, is_returning, latitude, longitude, last_reported, commune, code_insee,
    collected_at, occupancy_rate, station_status)
  SELECT 1, s.station_code, s.station_name, c.bikes, c.bikes - c.electric, c.electric,
    CASE WHEN s.capacity = 0 THEN s.docks_available ELSE s.capacity - c.bikes END,
    s.capacity, s.is_installed, s.is_renting, s.is_returning, s.latitude, s.longitude, t.at,
    s.commune, s.code_insee, t.at,
    CASE WHEN s.capacity > 0 THEN round(c.bikes::numeric / s.capacity, 4) END,
    s.station_status
  FROM generate_series($1::timestamptz, $2::timestamptz - interval '1 microsecond',
    make_interval(secs => $3)) AS t (at)
  CROSS JOIN bench.stations AS s
  CROSS JOIN LATERAL (
    SELECT b.bikes,
      CASE WHEN s.capacity = 0 THEN s.electric_bikes
        ELSE floor(random() * (b.bikes + 1))::int END AS electric
    FROM (SELECT CASE WHEN s.capacity = 0 THEN s.bikes_available
      ELSE floor(random() * (s.capacity + 1))::int END AS bikes) AS b
  ) AS c
  ORDER BY t.at, s.station_code`;

/**
 * What the gold refreshes left for the hours and days of `$1` ≤ t < `$2` (Paris time), with
 * synthetic values: the gold tables' size is what matters to the refreshes' writes.
 */
const PREFILL_HOURLY = `
  INSERT INTO mart.hourly_station_stats (station_code, bucket_start, bucket_local,
    station_name, avg_bikes, avg_mechanical, avg_electric, avg_docks, avg_occupancy_rate,
    min_bikes, max_bikes, snapshot_count, saturated_count, empty_count, out_of_service_count,
    capacity, refreshed_at)
  SELECT s.station_code, h.at, h.at AT TIME ZONE 'Europe/Paris', s.station_name,
    s.capacity / 2.0, s.capacity / 4.0, s.capacity / 4.0, s.capacity / 2.0,
    CASE WHEN s.capacity > 0 THEN 0.5 END, 0, s.capacity, 60, 1, 1, 0, s.capacity, now()
  FROM generate_series(date_trunc('hour', $1::timestamptz, 'Europe/Paris'),
    $2::timestamptz - interval '1 microsecond', interval '1 hour') AS h (at)
  CROSS JOIN bench.stations AS s
  ON CONFLICT DO NOTHING`;
const PREFILL_DAILY = `
  INSERT INTO mart.daily_station_stats (station_code, day, day_start, station_name, avg_bikes,
    avg_mechanical, avg_electric, avg_docks, avg_occupancy_rate, min_bikes, max_bikes,
    snapshot_count, saturated_count, empty_count, out_of_service_count, capacity, refreshed_at)
  SELECT s.station_code, d.day, d.day::timestamp AT TIME ZONE 'Europe/Paris', s.station_name,
    s.capacity / 2.0, s.capacity / 4.0, s.capacity / 4.0, s.capacity / 2.0,
    CASE WHEN s.capacity > 0 THEN 0.5 END, 0, s.capacity, 1440, 24, 24, 0, s.capacity, now()
  FROM generate_series(($1::timestamptz AT TIME ZONE 'Europe/Paris')::date,
    (($2::timestamptz - interval '1 microsecond') AT TIME ZONE 'Europe/Paris')::date,
    interval '1 day') AS g (day_ts)
  CROSS JOIN LATERAL (SELECT g.day_ts::date AS day) AS d
  CROSS JOIN bench.stations AS s
  ON CONFLICT DO NOTHING`;

/**
 * The daily refresh's parts of the UTC hours of `$1` ≤ t < `$2`, `$1` on an hour: computed from
 * the history, as the migration computes them, after those of the hours from `$1` on are
 * deleted (the batches measured before left theirs in the hour the history goes on from).
 */
const DELETE_DAILY_PARTS = "DELETE FROM mart_state.daily_station_parts WHERE hour_start >= $1";
const INSERT_DAILY_PARTS = `
  INSERT INTO mart_state.daily_station_parts
  SELECT * FROM mart_state.daily_station_parts_of('Europe/Paris', $1, $2)`;

/** What autovacuum would have done to the new history by the time the next batch comes. */
const VACUUM_ANALYZE = `VACUUM (ANALYZE) raw.station_snapshots, mart.hourly_station_stats,
  mart.daily_station_stats, mart_state.daily_station_parts, mart_state.station_ranking_parts`;

/** Removes a batch after it is measured. `$1` its first collected_at. */
const DELETE_BATCH = "DELETE FROM raw.station_snapshots WHERE collected_at >= $1";

/**
 * The ranking's parts as the history left them, put back after each run's batch is deleted: the
 * next run's batch is then new to them, as a warehouse's next batch is, not a late reload of
 * rows they have counted (which recomputes the batch's hour whole).
 */
const SAVE_RANKING_PARTS = `
  CREATE TEMP TABLE saved_ranking_parts AS SELECT * FROM mart_state.station_ranking_parts;
  CREATE TEMP TABLE saved_ranking_scope AS SELECT * FROM mart_state.station_ranking_parts_scope`;
const RESTORE_RANKING_PARTS = `
  DELETE FROM mart_state.station_ranking_parts;
  INSERT INTO mart_state.station_ranking_parts SELECT * FROM saved_ranking_parts;
  DELETE FROM mart_state.station_ranking_parts_scope;
  INSERT INTO mart_state.station_ranking_parts_scope SELECT * FROM saved_ranking_scope`;
const VACUUM_RANKING_PARTS = "VACUUM mart_state.station_ranking_parts";
const DROP_SAVED_RANKING_PARTS = "DROP TABLE saved_ranking_parts, saved_ranking_scope";

const ROW_COUNT = "SELECT count(*)::bigint AS rows FROM raw.station_snapshots";
const TABLE_SIZE = "SELECT pg_total_relation_size('raw.station_snapshots')::bigint AS bytes";

/**
 * The gold-scaling benchmark at the size of `context`.
 *
 * @example
 * ```ts ignore
 * import { goldScaling } from "./gold_scaling.ts";
 *
 * const section = await goldScaling({ size: "small", runs: 3, env, log: console.error });
 * ```
 */
export const goldScaling: Bench = (context) =>
  measureGoldScaling(context, GOLD_SCALES[context.size]);

/**
 * The gold-scaling benchmark on the history `scale` describes, whatever `context.size` says.
 *
 * @example
 * ```ts ignore
 * import { measureGoldScaling } from "./gold_scaling.ts";
 *
 * const section = await measureGoldScaling(context, { stations: 100, cycleSeconds: 60, days: [1, 2] });
 * ```
 */
export async function measureGoldScaling(
  context: BenchContext,
  scale: GoldScale,
): Promise<BenchSection> {
  await using database = await scratchDatabase(context.env.DATABASE_URL);
  await migrate({ url: database.url, migrations: MIGRATIONS });
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    await client.query(CREATE_BENCH_SCHEMA);
    const stations = await insertStations(client, scale.stations);
    await client.query(CREATE_NAIVE_VIEWS);

    const figures = new Map<string, Figure>();
    const figure = (name: string, days: number) => {
      const key = `${name}, ${days} d`;
      if (!figures.has(key)) figures.set(key, { name: key, unit: "ms", samples: [] });
      return figures.get(key)!;
    };
    const sizes: string[] = [];
    let historyEnd = HISTORY_START;
    for (const days of scale.days) {
      const target = new Date(HISTORY_START.getTime() + days * DAY_MS);
      const generated = performance.now();
      await generateHistory(client, historyEnd, target, scale.cycleSeconds, context);
      historyEnd = target;
      const rows = Number((await client.query(ROW_COUNT)).rows[0].rows);
      const bytes = Number((await client.query(TABLE_SIZE)).rows[0].bytes);
      sizes.push(
        `${days} d: ${rows.toLocaleString("en")} rows, ${(bytes / 2 ** 30).toFixed(2)} GiB ` +
          `(history added in ${((performance.now() - generated) / 1000).toFixed(0)} s)`,
      );
      context.log(`gold scaling: ${days} d of history, ${rows} rows; measuring`);

      await client.query(SAVE_RANKING_PARTS);
      for (let run = 0; run < context.runs; run++) {
        await client.query(INSERT_CYCLES, [historyEnd, batchEnd(historyEnd), 60]);
        for (const step of GOLD_STEPS) {
          const at = performance.now();
          await runStep(client, step);
          figure(step.name, days).samples.push(performance.now() - at);
        }
        await client.query(DELETE_BATCH, [historyEnd]);
        await client.query(RESTORE_RANKING_PARTS);
        await client.query(VACUUM_RANKING_PARTS);
      }
      await client.query(DROP_SAVED_RANKING_PARTS);
      for (let run = 0; run < context.runs; run++) {
        for (const refresh of NAIVE_REFRESHES) {
          const at = performance.now();
          await client.query(refresh.sql);
          figure(refresh.name, days).samples.push(performance.now() - at);
        }
      }
    }
    return {
      title: "Gold-layer scaling with history",
      figures: [...figures.values()],
      targets: targets(figures, scale.days),
      notes: notes(scale, stations, sizes, figures),
    };
  } finally {
    await client.end();
  }
}

/** The end of the batch that follows a history ending at `historyEnd`. */
function batchEnd(historyEnd: Date): Date {
  return new Date(historyEnd.getTime() + BATCH_CYCLES * 60_000);
}

/** Copies the first `count` stations of the capture into `bench.stations`; returns how many. */
async function insertStations(client: pg.Client, count: number): Promise<number> {
  const stations = (await captureSnapshots(CAPTURE_MOMENT)).slice(0, count);
  const column = <K extends keyof (typeof stations)[number]>(key: K) =>
    stations.map((station) => station[key]);
  await client.query(INSERT_STATIONS, [
    column("station_code"),
    column("station_name"),
    column("capacity"),
    column("is_installed"),
    column("is_renting"),
    column("is_returning"),
    column("latitude"),
    column("longitude"),
    column("commune"),
    column("code_insee"),
    column("bikes_available"),
    column("mechanical_bikes"),
    column("electric_bikes"),
    column("docks_available"),
  ]);
  return stations.length;
}

/** Generates the history of `from` ≤ t < `to` a day per statement, and its gold rows. */
async function generateHistory(
  client: pg.Client,
  from: Date,
  to: Date,
  cycleSeconds: number,
  context: BenchContext,
): Promise<void> {
  await client.query(DISABLE_QUEUE_TRIGGER);
  try {
    for (let start = from.getTime(); start < to.getTime(); start += DAY_MS) {
      const end = new Date(Math.min(start + DAY_MS, to.getTime()));
      // A seed per day: the same day has the same counts whichever size asked for it.
      await client.query(SET_SEED, [((start / DAY_MS) % 1000) / 1000]);
      await client.query(INSERT_CYCLES, [new Date(start), end, cycleSeconds]);
      context.log(`gold scaling: history up to ${end.toISOString()}`);
    }
  } finally {
    await client.query(ENABLE_QUEUE_TRIGGER);
  }
  await client.query(PREFILL_HOURLY, [from, to]);
  await client.query(PREFILL_DAILY, [from, to]);
  const firstHour = Math.floor(from.getTime() / HOUR_MS) * HOUR_MS;
  await client.query(DELETE_DAILY_PARTS, [new Date(firstHour)]);
  // A day of hours per statement, starting on an hour so that no hour is cut in two: 24 hours
  // within two local days, as the function takes them.
  for (let start = firstHour; start < to.getTime(); start += DAY_MS) {
    await client.query(INSERT_DAILY_PARTS, [
      new Date(start),
      new Date(Math.min(start + DAY_MS, to.getTime())),
    ]);
  }
  // The ranking's parts: a computation builds them for its window from raw, as a warehouse that
  // kept up has them. Rows newer than its last window are new to it, queued or not.
  await runStep(client, RANKING_STEP);
  await client.query(VACUUM_ANALYZE);
}

/** Calls a gold step's function with its named arguments, as the step does. */
async function runStep(client: pg.Client, step: (typeof GOLD_STEPS)[number]): Promise<void> {
  await client.query(callStatement(step.call, Object.keys(step.args)).text, [
    ...Object.values(step.args),
  ]);
}

/**
 * One target per gold step, the largest history's median within a factor of the smallest's;
 * then, for the steps with a time target, the largest history's median within it.
 */
function targets(figures: Map<string, Figure>, days: number[]): Target[] {
  const first = days[0];
  const last = days[days.length - 1];
  const medianOf = (name: string, at: number) => median(figures.get(`${name}, ${at} d`)!.samples);
  const ratios = GOLD_STEPS.map((step) => {
    const ratio = medianOf(step.name, last) / medianOf(step.name, first);
    return {
      name: `${step.name}: ${last} d ≤ ${TARGET_FACTOR} × ${first} d`,
      observed: `${ratio.toFixed(2)} × (median)`,
      met: ratio <= TARGET_FACTOR,
    };
  });
  const times = GOLD_STEPS.flatMap((step) => {
    if (!("targetMs" in step)) return [];
    const observed = medianOf(step.name, last);
    return [{
      name: `${step.name}, ${last} d ≤ ${step.targetMs} ms`,
      observed: `${observed.toFixed(1)} ms (median)`,
      met: observed <= step.targetMs,
    }];
  });
  return [...ratios, ...times];
}

/** The ratio of two figures' medians at `days` of history, e.g. `8.3 ×`. */
function ratioOf(figures: Map<string, Figure>, over: string, under: string, days: number): string {
  const medianAt = (name: string) => median(figures.get(`${name}, ${days} d`)!.samples);
  return `${(medianAt(over) / medianAt(under)).toFixed(1)} ×`;
}

/** The setup, and how the naive refresh grew, one sentence each. */
function notes(
  scale: GoldScale,
  stations: number,
  sizes: string[],
  figures: Map<string, Figure>,
): string[] {
  const first = scale.days[0];
  const last = scale.days[scale.days.length - 1];
  const growth = NAIVE_REFRESHES.map((refresh) => {
    const ratio = median(figures.get(`${refresh.name}, ${last} d`)!.samples) /
      median(figures.get(`${refresh.name}, ${first} d`)!.samples);
    return `${refresh.name.replace("naive: ", "")} ${ratio.toFixed(1)} ×`;
  });
  return [
    `History: ${stations} real stations of the 2024-05-28 capture with synthetic (seeded) ` +
    `counts, one cycle every ${scale.cycleSeconds} s, from 2024-06-01 23:55 Paris time; ` +
    `generated with generate_series into a fresh migrated database, the refresh-queue trigger ` +
    `off, the gold tables pre-filled with synthetic rows for its hours and days, the daily ` +
    `refresh's parts computed from it and the ranking computed once (its parts), then VACUUM ` +
    `ANALYZE.`,
    `Sizes: ${sizes.join("; ")}.`,
    `Each run inserts one batch of ${BATCH_CYCLES} cycles × ${stations} stations at 60 s ` +
    `(the last 5 minutes of a local day: full hour and day to recompute) in one INSERT with the ` +
    `trigger on, calls the three step functions with pipeline.config.ts's arguments, each in ` +
    `its own transaction, then deletes the batch and puts the ranking's parts back as they ` +
    `were before it, so that the next run's batch is new to them, not a reload.`,
    `The naive alternative is a materialized view per table with the same aggregates over all ` +
    `of raw; from ${first} d to ${last} d of history its full refresh grew ` +
    `${growth.join(", ")} (history ${(last / first).toFixed(0)} ×); the naive refresh ÷ the ` +
    `incremental one (hourly, daily) at ${
      scale.days.map((days) =>
        `${days} d: ${ratioOf(figures, NAIVE_REFRESHES[0].name, "refresh hourly", days)}, ` +
        ratioOf(figures, NAIVE_REFRESHES[1].name, "refresh daily", days)
      ).join("; ")
    }.`,
    "Found and fixed: the refreshes read their buckets through an array, so the planner " +
    "estimates a ninth of raw per bucket; as the history grew, that estimate set off JIT " +
    "compilation, about 120 ms for an hour read in about 50 ms (hourly refresh on 30 d: 248 ms " +
    "before, 52–65 ms after); migration 0009 turns JIT off for the two refreshes.",
    "Found and fixed (issue 15): the daily refresh and the ranking read a day of raw at each " +
    "batch, 1,307 ms and 1,265 ms on 30 d (bench/RESULTS.md before 0012); migration 0012 " +
    "keeps exact per-hour parts of each and reads from raw only what the batch changed.",
    "The daily refresh recomputes from raw the UTC hours of the batch and rolls the local day up " +
    "from its hours' parts: its cost follows the time of day (the worst case, 23:55, is measured " +
    "here), not the history. The ranking adds to its parts the batch and the change it makes " +
    "to the 15 minutes before it, and reads from raw the rows of the hour where the window " +
    "starts on the window's side or the other, the fewer: here a minute, at most half an hour. " +
    "A batch collected before the last ranking's window end (late) recomputes its hours whole.",
  ];
}
