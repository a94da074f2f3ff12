/**
 * The Vélib' Métropole pipelines, wired from plugins by explicit import.
 *
 * - `ingest` (stream): the Vélib' API → the `velib-stations` Kafka topic.
 * - `load` (batch, from Airflow): the topic → enrich → the warehouse, then the gold steps.
 * - `local` (`deno task pipeline run`): the API → enrich → the warehouse, gold and a summary, with
 *   no Kafka; without `DATABASE_URL` the warehouse is embedded PostgreSQL in `.data/warehouse`.
 * - `gbfs` (`GBFS_URL=… deno task pipeline run gbfs`): one cycle of any GBFS bike-share system
 *   into the same warehouse, gold and checks as `local`, as the system `GBFS_SYSTEM_ID` names
 *   when its feed has no `system_information`.
 * - `load-clickhouse` (batch, from Airflow): the same topic, its own consumer group, the same
 *   enrich → the ClickHouse warehouse, its gold scripts and the same checks in ClickHouse's SQL.
 * - the rerun `reload-retained` (`deno task pipeline rerun reload-retained [--from] [--to]`): part
 *   of the topic again into the warehouse, never moving the live group or positions; and
 *   `reload-clickhouse`, the same into the ClickHouse warehouse.
 *
 * `KAFKA_BROKERS`, `DATABASE_URL`, `CLICKHOUSE_URL` and `VELIB_API_URL` override the addresses below;
 * `VELIB_ANALYST_PASSWORD` lets the read-only role `velib_analyst` log in; `VELIB_DATA_DIR`
 * moves the embedded warehouse.
 *
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig } from "./mod.ts";
import { qualityCheck } from "./plugins/checks-quality/mod.ts";
import { kafkaSink, kafkaSource } from "./plugins/kafka/mod.ts";
import { clickhouseSink, clickhouseStep } from "./plugins/sink-clickhouse/mod.ts";
import { postgresSink, postgresStep } from "./plugins/sink-postgres/mod.ts";
import { gbfsSource } from "./plugins/source-gbfs/mod.ts";
import { velibSource } from "./plugins/source-velib/mod.ts";
import { enrich } from "./plugins/transform-enrich/mod.ts";

/** A path next to this file, so that commands work from any directory. */
const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

const HOUR_MS = 3_600_000;
const GIB = 1024 ** 3;
const LOCAL_BROKER = "localhost:9092";
/** How the pipelines name themselves to the brokers, in their logs, quotas and ACLs. */
const CLIENT_ID = "velib-pipeline";

/**
 * One message per station and cycle, keyed by station code; Kafka keeps a day of them. Each
 * cycle is one transaction (id `velib-pipeline.velib-stations`), so the loaders see it whole or
 * not at all; a second ingest instance needs a `transactional: { id }` of its own.
 */
const stations = kafkaSink({
  brokers: LOCAL_BROKER,
  clientId: CLIENT_ID,
  topic: "velib-stations",
  key: "station_code",
  compression: "gzip",
  transactional: true,
  createTopic: {
    partitions: 1,
    configs: { "retention.ms": String(24 * HOUR_MS), "retention.bytes": String(GIB) },
  },
});

/** Where the embedded warehouse keeps its files: `VELIB_DATA_DIR`, or `.data/` here. */
const dataDir = Deno.env.get("VELIB_DATA_DIR") || here(".data");

/** A station that none of this many cycles in a row reported is stale. */
const STALE_AFTER_CYCLES = 3;

/** The warehouse, and what creates its tables, gold functions and analyst role. */
const warehouse = {
  url: `pglite:${join(dataDir, "warehouse")}`,
  migrations: here("sql/migrations"),
  migrationSettings: {
    "velib.analyst_password": Deno.env.get("VELIB_ANALYST_PASSWORD") ?? "",
    // Read once, when migration 0014 applies; afterwards it is in mart_state.stale_settings.
    "velib.stale_after_cycles": String(STALE_AFTER_CYCLES),
  },
};

/**
 * Every snapshot once in `raw`, the newest per station in `mart`; rejects and the Kafka
 * positions go in the same transaction.
 */
const snapshots = postgresSink({
  ...warehouse,
  // A station is its system and its code: two systems may use the same codes.
  writes: [
    {
      table: "raw.station_snapshots",
      mode: "insert",
      key: ["system_id", "station_code", "collected_at"],
    },
    {
      table: "mart.station_latest",
      mode: "upsert",
      key: ["system_id", "station_code"],
      newerThan: "collected_at",
    },
  ],
});

/** Local time for the hour and day buckets. */
const TIME_ZONE = "Europe/Paris";

/**
 * The gold layer, each refresh touching only what was loaded since the last; in a rerun, the
 * refreshes recompute the hours and days of its window, and the ranking is rebuilt as of `--at`.
 */
const gold = {
  "refresh-hourly": postgresStep({
    ...warehouse,
    call: "mart.refresh_hourly_stats",
    args: { time_zone: TIME_ZONE },
    window: { from: "window_start", to: "window_end" },
  }),
  "refresh-daily": postgresStep({
    ...warehouse,
    call: "mart.refresh_daily_stats",
    args: { time_zone: TIME_ZONE },
    window: { from: "window_start", to: "window_end" },
  }),
  "rank-stations": postgresStep({
    ...warehouse,
    call: "mart.compute_station_ranking",
    args: { window_length: "24 hours", max_gap: "15 minutes", keep: 1 },
    at: "at",
  }),
};

/** The analysts' queries the `run` summary is made of. */
const summary = {
  overview: postgresStep({ ...warehouse, query: here("sql/analysis/network_overview.sql") }),
  "top-saturated": postgresStep({ ...warehouse, query: here("sql/analysis/top_saturated.sql") }),
  "top-empty": postgresStep({ ...warehouse, query: here("sql/analysis/top_empty.sql") }),
};

/** A ranking of stations for the summary: the first five rows of a step of `summary`. */
const ranking = (step: string, title: string, minutes: string) => ({
  step,
  title: `${title}:`,
  row: [`  {rank:2}. {station_name} ({station_code}) {${minutes}:rounded} min`],
  limit: 5,
  empty: "  none yet: the minutes come from the spacing of snapshots, so it takes two cycles.",
});

/** What `deno task pipeline run` prints after `local`: the network now, from `summary`. */
const networkReport = {
  timeZone: TIME_ZONE,
  sections: [
    {
      step: "overview",
      row: [
        "Vélib' Métropole, as of {as_of:time} (Paris time)",
        "  stations   {stations:number}: {in_service:number} in service, {closed:number} closed, " +
        "{out_of_service:number} out of service, {stale_stations:number} not seen lately",
        "  bikes      {bikes:number}: {mechanical:number} mechanical, {electric:number} " +
        "electric; {docks:number} free docks",
        "  empty      {empty_stations:number} stations in service have no bike",
        "  saturated  {saturated_stations:number} stations in service have no dock",
        "  occupancy  {avg_occupancy_rate:percent} on average",
      ],
      limit: 1,
      empty: "Vélib' Métropole, no data yet",
    },
    ranking(
      "top-saturated",
      "Most often saturated (minutes without a dock, last 24 h)",
      "minutes_saturated",
    ),
    ranking("top-empty", "Most often empty (minutes without a bike, last 24 h)", "minutes_empty"),
  ],
};

/**
 * A check of the default set: its query is `sql/checks/<name>.sql`, run on the pipeline's
 * `warehouse`, where it records its result.
 */
const check = (
  name: string,
  severity: "info" | "warn" | "error",
  threshold: number,
  description: string,
) => ({ name, severity, threshold, description });

/**
 * The data-quality checks. What real captures always have (bikes over capacity, capacity 0) is a
 * warning or information, so that an error means something broke.
 */
const checkSet = [
  check("freshness", "error", 600, "Seconds since the newest snapshot was collected."),
  check("station_count", "error", 20, "Percent fewer stations in the newest cycle than usual."),
  check("duplicates", "error", 0, "Snapshots stored twice in the last hour of data."),
  check("negative_counts", "error", 0, "Snapshots with a negative count in the last hour."),
  check("bikes_mismatch", "warn", 0, "Stations whose mechanical + electric ≠ bikes."),
  check("bikes_over_capacity", "warn", 0, "Stations with more bikes than capacity."),
  check("capacity_zero", "info", 0, "Stations reporting a capacity of 0."),
  check("dead_letters", "warn", 0, "Records set aside in the last hour."),
];

/** The checks with their queries in `folder`, one `<name>.sql` each: one per warehouse's SQL. */
const checksIn = (folder: string) =>
  checkSet.map((spec) => qualityCheck({ ...spec, query: here(`${folder}/${spec.name}.sql`) }));

/** PostgreSQL's, and the stale stations, which only its warehouse marks (migration 0014). */
const checks = [
  ...checksIn("sql/checks"),
  qualityCheck({
    ...check("stale_stations", "warn", 0, "Stations none of the last cycles reported."),
    query: here("sql/checks/stale_stations.sql"),
  }),
];

/**
 * The ClickHouse warehouse: the same raw and mart tables as PostgreSQL's, created by its own
 * migrations. Replays collapse on read (ReplacingMergeTree, FINAL).
 */
const clickhouse = {
  url: "http://pipeline@127.0.0.1:8123",
  migrations: here("sql/clickhouse/migrations"),
};

/** Every snapshot once in `raw`, the newest per station in `mart`, then the positions. */
const clickhouseSnapshots = clickhouseSink({
  ...clickhouse,
  writes: [{ table: "raw.station_snapshots" }, { table: "mart.station_latest" }],
});

/** The gold scripts of the ClickHouse warehouse: the same buckets as PostgreSQL's. */
const clickhouseGold = {
  "refresh-hourly": clickhouseStep({
    ...clickhouse,
    script: here("sql/clickhouse/gold/refresh_hourly_stats.sql"),
    args: { time_zone: TIME_ZONE },
    window: { from: "window_start", to: "window_end" },
  }),
  "refresh-daily": clickhouseStep({
    ...clickhouse,
    script: here("sql/clickhouse/gold/refresh_daily_stats.sql"),
    args: { time_zone: TIME_ZONE },
    window: { from: "window_start", to: "window_end" },
  }),
  "rank-stations": clickhouseStep({
    ...clickhouse,
    script: here("sql/clickhouse/gold/compute_station_ranking.sql"),
    args: { window_seconds: 24 * 3600, max_gap_seconds: 15 * 60 },
    at: "at",
  }),
};

/** Records the API sent that could not be normalized, with the reason; kept a week. */
const rejectedStations = kafkaSink({
  brokers: LOCAL_BROKER,
  clientId: CLIENT_ID,
  topic: "velib-stations-rejected",
  createTopic: { partitions: 1, configs: { "retention.ms": String(7 * 24 * HOUR_MS) } },
});

export default defineConfig({
  // `deno task pipeline run` with no name: the main job, on the embedded default.
  run: { pipeline: "local" },
  // Freshness, in the metrics: a snapshot's age at the commit, from the API's answer it came in.
  runtime: { metrics: { eventTimeField: "collected_at" } },
  pipelines: {
    ingest: {
      description:
        "Polls the Vélib' API every 60 s and publishes one message per station to Kafka.",
      source: velibSource({ fetch: "exports", intervalMs: 60_000, timeoutMs: 10_000 }),
      sinks: [stations],
      deadLetter: rejectedStations,
      // A cycle is a snapshot: reading one ahead while another is published buys nothing.
      runtime: { maxInFlight: 1 },
    },
    load: {
      description: "Loads the stations topic into the warehouse, exactly once in effect, then " +
        "refreshes the gold tables.",
      source: kafkaSource({
        brokers: LOCAL_BROKER,
        clientId: CLIENT_ID,
        topic: "velib-stations",
        groupId: "velib-warehouse",
        // A rerun's window is by collection time, the time every table is keyed on.
        eventTimeField: "collected_at",
      }),
      transforms: [enrich({})],
      sinks: [snapshots],
      deadLetter: snapshots,
      steps: gold,
      warehouse: snapshots,
      checks,
    },
    "load-clickhouse": {
      description: "Loads the stations topic into the ClickHouse warehouse, as a second " +
        "consumer with its own group, then refreshes its gold tables.",
      source: kafkaSource({
        brokers: LOCAL_BROKER,
        clientId: CLIENT_ID,
        topic: "velib-stations",
        groupId: "velib-clickhouse",
        eventTimeField: "collected_at",
      }),
      transforms: [enrich({})],
      sinks: [clickhouseSnapshots],
      deadLetter: clickhouseSnapshots,
      steps: clickhouseGold,
      warehouse: clickhouseSnapshots,
      checks: checksIn("sql/clickhouse/checks"),
    },
    local: {
      description: "One cycle from the Vélib' API straight into the warehouse, gold and a " +
        "summary: no Kafka, and an embedded database unless DATABASE_URL is set.",
      source: velibSource({ fetch: "exports", intervalMs: 60_000, timeoutMs: 10_000 }),
      transforms: [enrich({})],
      sinks: [snapshots],
      deadLetter: snapshots,
      steps: { ...gold, ...summary },
      warehouse: snapshots,
      checks,
      report: networkReport,
    },
    gbfs: {
      description: "One cycle of a GBFS bike-share system (GBFS_URL, its gbfs.json) straight " +
        "into the warehouse, gold and checks, as `local` does for Vélib': no Kafka, and an " +
        "embedded database unless DATABASE_URL is set.",
      source: gbfsSource({ intervalMs: 60_000, timeoutMs: 10_000 }),
      transforms: [enrich({})],
      sinks: [snapshots],
      deadLetter: snapshots,
      steps: gold,
      warehouse: snapshots,
      checks,
    },
  },
  reruns: {
    "reload-retained": {
      description: "Reloads everything the stations topic still holds (a day) into the " +
        "warehouse, adding what is missing (after a restore from a backup), then refreshes the " +
        "gold buckets that received rows. --from/--to narrow it to a window.",
      pipeline: "load",
      from: "earliest",
    },
    "reload-clickhouse": {
      description: "Reloads everything the stations topic still holds into the ClickHouse " +
        "warehouse: what it holds already collapses on read, what is missing is added; then " +
        "refreshes the gold buckets of the window. --from/--to narrow it.",
      pipeline: "load-clickhouse",
      from: "earliest",
    },
  },
});
