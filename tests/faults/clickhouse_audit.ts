/**
 * The drills on the ClickHouse warehouse: a topic and a warehouse of the drill's own, the
 * `load-clickhouse` pipeline run on them through the CLI, and an audit of the warehouse against
 * what was published, read as the README documents (with FINAL).
 *
 * @module
 */
import { requiredEnv, uniqueName } from "../../core/testing.ts";
import { committedOffsets } from "../../plugins/kafka/test_support.ts";
import { type ScratchWarehouse, scratchWarehouse } from "../../plugins/sink-clickhouse/testing.ts";
import { startCli } from "../support/cli.ts";
import type { Offsets, Published, RawAudit } from "./warehouse_audit.ts";

const DRILL_CONFIG = ["--config", "tests/faults/drill_clickhouse.config.ts"];

/** A drill's topic and ClickHouse warehouse, and the means to run the load and look inside. */
export interface ClickhouseDrill extends AsyncDisposable {
  readonly topic: string;
  readonly partitions: number;
  readonly groupId: string;
  readonly brokers: string;
  readonly warehouse: ScratchWarehouse;
  /** Starts `pipeline <mode> load-clickhouse` on the drill's topic and warehouse. */
  start(mode: "batch" | "stream"): ReturnType<typeof startCli>;
}

/**
 * A fresh topic of `partitions` partitions named after `prefix`, loaded into a warehouse of the
 * drill's own on the server at `url` (the test server unless given); disposing of it drops the
 * warehouse.
 *
 * @example
 * ```ts ignore
 * await using drill = await clickhouseDrill("crash_ch", 3);
 * const run = drill.start("batch");
 * ```
 */
export async function clickhouseDrill(
  prefix: string,
  partitions: number,
  url?: string,
): Promise<ClickhouseDrill> {
  const brokers = requiredEnv("KAFKA_BROKERS", "a Kafka broker");
  const topic = uniqueName(prefix);
  const warehouse = await scratchWarehouse("sql/clickhouse/migrations", url);
  const env = { KAFKA_BROKERS: brokers, LOAD_TOPIC: topic, ...warehouse.env };
  return {
    topic,
    partitions,
    groupId: `${topic}-clickhouse`,
    brokers,
    warehouse,
    start: (mode) => startCli([mode, "load-clickhouse", ...DRILL_CONFIG], { env }),
    [Symbol.asyncDispose]: () => warehouse[Symbol.asyncDispose](),
  };
}

/** The furthest positions the load stored for the drill's topic, by partition. */
export async function storedClickhousePositions(drill: ClickhouseDrill): Promise<Offsets> {
  const [exists] = await drill.warehouse.query<{ n: string }>(
    "SELECT count() AS n FROM system.tables WHERE database = $1 AND name = 'source_positions'",
    [`${drill.warehouse.env.CLICKHOUSE_DATABASE_PREFIX}pipeline`],
  );
  if (Number(exists.n) === 0) return {};
  const rows = await drill.warehouse.query<{ partition: number; position: string }>(
    "SELECT partition, toString(max(next_offset)) AS position FROM pipeline.source_positions " +
      "WHERE pipeline = 'load-clickhouse' AND stream = $1 GROUP BY partition",
    [drill.topic],
  );
  return Object.fromEntries(rows.map((row) => [row.partition, Number(row.position)]));
}

/** The offsets the drill's group committed, by partition; -1 for none. */
export function clickhouseGroupOffsets(drill: ClickhouseDrill): Promise<Offsets> {
  return committedOffsets(drill.topic, drill.groupId);
}

/**
 * Counts every published pair in raw as the documented queries read it (FINAL): present once,
 * missing, seen twice, or seen without being published.
 */
export async function auditClickhouseRaw(
  drill: ClickhouseDrill,
  published: Published,
): Promise<RawAudit> {
  const codes = published.codes;
  const times = published.collectedAts.map((at) => Math.floor(Date.parse(at) / 1000));
  const [counts] = await drill.warehouse.query<Record<string, string>>(
    `SELECT count() AS rows,
            uniqExact(station_code, collected_at) AS pairs,
            uniqExactIf((station_code, collected_at),
              has($1, station_code) AND has($2, toUInt32(collected_at))) AS expected
       FROM raw.station_snapshots FINAL`,
    [codes, times],
  );
  const perCycle = await drill.warehouse.query<{ at: string; rows: string }>(
    "SELECT formatDateTime(collected_at, '%Y-%m-%dT%H:%M:%S.000Z', 'UTC') AS at, " +
      "count() AS rows FROM raw.station_snapshots FINAL GROUP BY at ORDER BY at",
  );
  const [dead] = await drill.warehouse.query<{ n: string }>(
    "SELECT count() AS n FROM pipeline.dead_letters FINAL",
  );
  const rows = Number(counts.rows);
  const pairs = Number(counts.pairs);
  const expected = Number(counts.expected);
  return {
    rows,
    deadLetters: Number(dead.n),
    lost: codes.length * times.length - expected,
    duplicated: rows - pairs,
    unexpected: pairs - expected,
    perCycle: perCycle.map((row) => [row.at, Number(row.rows)]),
  };
}
