/**
 * Catch-up after an outage: Kafka keeps 24 h, so a warehouse that was down for a day finds about
 * 2.1 M messages waiting. Times `pipeline batch load` over such a backlog, beside references
 * measured on the same rows, tables and indexes in the same run: `psql \copy` of the enriched
 * rows (the ceiling), the naive per-message loader (`naive_loader.ts`), a loader in the seed's
 * style (`seed_style_loader.ts`), and the peer users would run instead, Kafka Connect with
 * Debezium's JDBC sink (`kafka_connect.ts`). Also records the run's peak memory, at a tenth of
 * the backlog and at all of it, and every other loader's (each runs as a process of its own),
 * and times `pipeline batch load-clickhouse` over the same backlog into a new ClickHouse
 * warehouse, beside PostgreSQL's load of the same run.
 *
 * @module
 */
import pg from "pg";
import { join } from "node:path";
import { uniqueName } from "../core/testing.ts";
import { scratchWarehouse } from "../plugins/sink-clickhouse/testing.ts";
import { scratchDatabase } from "../plugins/sink-postgres/testing.ts";
import { type Backlog, publishBacklog } from "../tests/support/backlog.ts";
import { SNAPSHOT_COLUMNS } from "../tests/warehouse/support.ts";
import { kafkaConnectNote, kafkaConnectOnce, publishSchemaCopy } from "./kafka_connect.ts";
import { type HandLoaderKind, type HandLoaderRun, runHandLoader } from "./hand_loader_main.ts";
import { type MeasuredRun, runPipeline } from "./process.ts";
import { type Bench, type BenchContext, type Figure, median } from "./report.ts";

/** The real load pipeline, reading the topic named by `LOAD_TOPIC`. */
const LOAD_CONFIG = new URL("./pipelines.config.ts", import.meta.url).pathname;

const SIZES = {
  // 24 h of 60 s cycles, and a tenth of it for the memory comparison.
  full: { cycles: 1_440, smallerCycles: 144, naiveMessages: 50_000, seedMessages: 200_000 },
  small: { cycles: 30, smallerCycles: 5, naiveMessages: 3_000, seedMessages: 10_000 },
};

const TARGET_COPY_RATIO = 0.6;
const TARGET_NAIVE_RATIO = 10;
const TARGET_KAFKA_CONNECT_RATIO = 2;
const TARGET_PEAK_MB = 256;
/** "Flat": the whole backlog's peak within this factor of a tenth's. */
const FLAT_FACTOR = 1.25;

const EXPORTED_COLUMNS = SNAPSHOT_COLUMNS.join(", ");

/**
 * The catch-up benchmark.
 *
 * @example
 * ```ts ignore
 * import { catchUp } from "./catch_up.ts";
 *
 * const section = await catchUp({ size: "small", runs: 3, env, log: console.error });
 * ```
 */
export const catchUp: Bench = async (context) => {
  const size = SIZES[context.size];
  const brokers = context.env.KAFKA_BROKERS;
  const topic = uniqueName("bench_catchup");
  const smallerTopic = uniqueName("bench_catchup_tenth");
  context.log(`publishing ${size.cycles} cycles of synthetic counts to ${topic}`);
  const published = performance.now();
  const backlog = await publishBacklog({ brokers, topic, cycles: size.cycles, seed: 6 });
  const publishMs = performance.now() - published;
  const schemaTopic = `${topic}_with_schema`;
  const copied = performance.now();
  await publishSchemaCopy({ brokers, from: topic, to: schemaTopic, messages: backlog.messages });
  const copyMs = performance.now() - copied;
  const smaller = await publishBacklog({
    brokers,
    topic: smallerTopic,
    cycles: size.smallerCycles,
    seed: 6,
  });
  const workDir = await Deno.makeTempDir({ prefix: "velib-bench-catchup-" });
  const csv = join(workDir, "enriched.csv");

  const pipelineRate: number[] = [];
  const clickhouseRate: number[] = [];
  const clickhousePeak: number[] = [];
  const copyRate: number[] = [];
  const naiveRate: number[] = [];
  const naivePeak: number[] = [];
  const seedRate: number[] = [];
  const seedPeak: number[] = [];
  const connectRate: number[] = [];
  const connectPeak: number[] = [];
  const peakFull: number[] = [];
  const peakSmaller: number[] = [];
  try {
    for (let run = 1; run <= context.runs; run++) {
      const load = await loadOnce(context, topic, backlog, run === 1 ? csv : undefined);
      pipelineRate.push(backlog.messages / (load.run.wallMs / 1000));
      peakFull.push(load.run.peakRssMb);
      context.log(
        `run ${run}: pipeline ${Math.round(load.run.wallMs)} ms, peak ${
          load.run.peakRssMb.toFixed(0)
        } MB`,
      );
      copyRate.push(backlog.messages / (await copyOnce(load.url, csv) / 1000));
      await load.dispose();
      const clickhouse = await loadClickhouseOnce(context, topic, backlog);
      clickhouseRate.push(backlog.messages / (clickhouse.wallMs / 1000));
      clickhousePeak.push(clickhouse.peakRssMb);
      context.log(
        `run ${run}: load-clickhouse ${Math.round(clickhouse.wallMs)} ms, peak ${
          clickhouse.peakRssMb.toFixed(0)
        } MB`,
      );
      const connect = await kafkaConnectOnce({
        brokers,
        topic: schemaTopic,
        messages: backlog.messages,
        databaseUrl: context.env.DATABASE_URL,
        log: context.log,
      });
      connectRate.push(backlog.messages / (connect.wallMs / 1000));
      connectPeak.push(connect.peakRssMb);
      context.log(
        `run ${run}: kafka connect ${Math.round(connect.wallMs)} ms, peak ${
          connect.peakRssMb.toFixed(0)
        } MB`,
      );

      const naive = await handLoaderOnce(context, topic, size.naiveMessages, "naive");
      naiveRate.push(size.naiveMessages / (naive.ms / 1000));
      naivePeak.push(naive.run.peakRssMb);
      const seed = await handLoaderOnce(context, topic, size.seedMessages, "seed-style");
      seedRate.push(size.seedMessages / (seed.ms / 1000));
      seedPeak.push(seed.run.peakRssMb);
      context.log(
        `run ${run}: naive loader ${Math.round(naive.run.wallMs)} ms spawn to exit, peak ${
          naive.run.peakRssMb.toFixed(0)
        } MB; seed-style ${Math.round(seed.run.wallMs)} ms, peak ${
          seed.run.peakRssMb.toFixed(0)
        } MB`,
      );
      const tenth = await loadOnce(context, smallerTopic, smaller);
      peakSmaller.push(tenth.run.peakRssMb);
      await tenth.dispose();
      context.log(
        `run ${run}: copy ${copyRate.at(-1)!.toFixed(0)} msg/s, naive ${
          naiveRate.at(-1)!.toFixed(0)
        } msg/s, seed-style ${seedRate.at(-1)!.toFixed(0)} msg/s`,
      );
    }
  } finally {
    await Deno.remove(workDir, { recursive: true });
  }

  const copyRatio = median(pipelineRate) / median(copyRate);
  const naiveRatio = median(pipelineRate) / median(naiveRate);
  const connectRatio = median(pipelineRate) / median(connectRate);
  const flatRatio = median(peakFull) / median(peakSmaller);
  const figures: Figure[] = [
    {
      name: `pipeline batch load (${count(backlog.messages)} msgs)`,
      unit: "msg/s",
      samples: pipelineRate,
    },
    { name: "ceiling: psql \\copy of the enriched rows", unit: "msg/s", samples: copyRate },
    {
      name: `naive loader (first ${count(size.naiveMessages)} msgs)`,
      unit: "msg/s",
      samples: naiveRate,
    },
    {
      name: `kafka connect (debezium jdbc sink, ${
        count(backlog.messages)
      } msgs, JSON-with-schema copy)`,
      unit: "msg/s",
      samples: connectRate,
    },
    {
      name: `pipeline batch load-clickhouse (${count(backlog.messages)} msgs)`,
      unit: "msg/s",
      samples: clickhouseRate,
    },
    { name: "pipeline ÷ copy", unit: "ratio", samples: ratios(pipelineRate, copyRate) },
    {
      name: "load-clickhouse ÷ load (PostgreSQL)",
      unit: "ratio",
      samples: ratios(clickhouseRate, pipelineRate),
    },
    {
      name: "load-clickhouse ÷ copy",
      unit: "ratio",
      samples: ratios(clickhouseRate, copyRate),
    },
    {
      name: `seed-style loader, ours (first ${count(size.seedMessages)} msgs)`,
      unit: "msg/s",
      samples: seedRate,
    },
    { name: "pipeline ÷ naive", unit: "ratio", samples: ratios(pipelineRate, naiveRate) },
    {
      name: "pipeline ÷ seed-style loader",
      unit: "ratio",
      samples: ratios(pipelineRate, seedRate),
    },
    {
      name: "pipeline ÷ kafka connect",
      unit: "ratio",
      samples: ratios(pipelineRate, connectRate),
    },
    { name: `peak RSS, ${count(backlog.messages)} msgs`, unit: "MB", samples: peakFull },
    { name: `peak RSS, ${count(smaller.messages)} msgs`, unit: "MB", samples: peakSmaller },
    {
      name: `peak RSS, kafka connect, ${count(backlog.messages)} msgs`,
      unit: "MB",
      samples: connectPeak,
    },
    {
      name: `peak RSS, naive loader, ${count(size.naiveMessages)} msgs`,
      unit: "MB",
      samples: naivePeak,
    },
    {
      name: `peak RSS, seed-style loader, ${count(size.seedMessages)} msgs`,
      unit: "MB",
      samples: seedPeak,
    },
    {
      name: `peak RSS, load-clickhouse, ${count(backlog.messages)} msgs`,
      unit: "MB",
      samples: clickhousePeak,
    },
  ];
  return {
    title: `Catch-up: a backlog of ${count(backlog.messages)} messages, and memory`,
    figures,
    targets: [
      {
        name: `pipeline ≥ ${TARGET_COPY_RATIO} × the COPY ceiling`,
        observed: `${copyRatio.toFixed(2)} ×`,
        met: copyRatio >= TARGET_COPY_RATIO,
      },
      {
        name: `pipeline ≥ ${TARGET_NAIVE_RATIO} × the naive loader`,
        observed: `${naiveRatio.toFixed(1)} ×`,
        met: naiveRatio >= TARGET_NAIVE_RATIO,
      },
      {
        name: `pipeline ≥ ${TARGET_KAFKA_CONNECT_RATIO} × Kafka Connect`,
        observed: `${connectRatio.toFixed(2)} ×`,
        met: connectRatio >= TARGET_KAFKA_CONNECT_RATIO,
      },
      {
        name: `peak RSS ≤ ${TARGET_PEAK_MB} MB`,
        observed: `${median(peakFull).toFixed(0)} MB`,
        met: median(peakFull) <= TARGET_PEAK_MB,
      },
      {
        name: `peak RSS flat: ${count(backlog.messages)} msgs ≤ ${FLAT_FACTOR} × ${
          count(smaller.messages)
        } msgs`,
        observed: `${flatRatio.toFixed(2)} ×`,
        met: flatRatio <= FLAT_FACTOR,
      },
    ],
    notes: [
      `Backlog: ${size.cycles} cycles × ${backlog.stations} stations (the real stations of the ` +
      "2024-05-28 capture, synthetic seeded counts), JSON keyed by station_code, gzip, one " +
      `partition, published by the pipeline's Kafka sink in ${(publishMs / 1000).toFixed(0)} s.`,
      "Pipeline: `deno task pipeline batch load --load-only` (process start, migrations of a new " +
      "database, consume, validate, enrich, write raw + mart + positions, exit), timed from " +
      "spawn to exit; peak RSS is the kernel's VmHWM of that process.",
      "Ceiling: `psql \\copy` of the same rows, exported from raw after the pipeline's run, into " +
      "a new table LIKE raw.station_snapshots INCLUDING ALL (same columns, unique key and index).",
      "ClickHouse: `deno task pipeline batch load-clickhouse --load-only` over the same topic " +
      "(a new group) into a new warehouse (its own database prefix) on the ClickHouse 18.16 " +
      "server: migrations, consume, validate, enrich, insert raw + mart, then positions; timed " +
      "from spawn to exit, and compared with PostgreSQL's load of the same run; peak RSS is the " +
      "kernel's VmHWM of that process.",
      `Naive: one INSERT into raw and one upsert into mart per message, COMMIT every 100, ` +
      `kafkajs eachMessage; its rate is per message, so it is measured on the first ` +
      `${count(size.naiveMessages)} messages of the same topic, into a new migrated database.`,
      "Seed-style (our own, in the seed project's style, not its code): kafkajs eachBatch, " +
      "each message validated and enriched, then raw and mart written with multi-row INSERTs " +
      "of 100 rows (mart deduplicated per page), one COMMIT per fetched batch, the group's " +
      `offset after it; measured on the first ${count(size.seedMessages)} messages.`,
      "Both hand-written loaders run as a process of their own (`bench/hand_loader_main.ts`, " +
      "started with `deno run`, like the pipeline): their rates are messages ÷ the loader's own " +
      "time from its first message to its last commit, which it prints on exit, so process " +
      "start-up, connecting and joining the group stay out of them as before; their peak RSS " +
      "is the kernel's VmHWM of that process, sampled from spawn to exit like the pipeline's.",
      `${kafkaConnectNote()} The copy took ${(copyMs / 1000).toFixed(0)} s.`,
    ],
  };
};

interface LoadedDatabase {
  run: MeasuredRun;
  url: string;
  dispose(): PromiseLike<void>;
}

/** One `batch load` of `topic` into a new database; exports its raw rows to `csv` if given. */
async function loadOnce(
  context: BenchContext,
  topic: string,
  backlog: Backlog,
  csv?: string,
): Promise<LoadedDatabase> {
  const database = await scratchDatabase(context.env.DATABASE_URL);
  try {
    const run = await runPipeline(["batch", "load", "--load-only", "--config", LOAD_CONFIG], {
      KAFKA_BROKERS: context.env.KAFKA_BROKERS,
      DATABASE_URL: database.url,
      LOAD_TOPIC: topic,
      LOAD_GROUP: uniqueName("bench_load"),
    });
    const [raw, latest] = await queryCounts(database.url);
    if (raw !== backlog.messages || latest !== backlog.stations) {
      throw new Error(
        `The load left ${raw} raw rows and ${latest} latest rows; expected ${backlog.messages} ` +
          `and ${backlog.stations}.`,
      );
    }
    if (csv) {
      await psql(
        database.url,
        `\\copy (SELECT ${EXPORTED_COLUMNS} FROM raw.station_snapshots) TO '${csv}' WITH (FORMAT csv)`,
      );
    }
    return { run, url: database.url, dispose: () => database[Symbol.asyncDispose]() };
  } catch (error) {
    await database[Symbol.asyncDispose]();
    throw error;
  }
}

/** One `batch load-clickhouse` of `topic` into a new ClickHouse warehouse, checked and dropped. */
async function loadClickhouseOnce(
  context: BenchContext,
  topic: string,
  backlog: Backlog,
): Promise<MeasuredRun> {
  await using warehouse = await scratchWarehouse(
    new URL("../sql/clickhouse/migrations", import.meta.url).pathname,
    context.env.CLICKHOUSE_URL,
  );
  const run = await runPipeline(
    ["batch", "load-clickhouse", "--load-only", "--config", LOAD_CONFIG],
    {
      KAFKA_BROKERS: context.env.KAFKA_BROKERS,
      LOAD_TOPIC: topic,
      LOAD_GROUP: uniqueName("bench_load_clickhouse"),
      ...warehouse.env,
    },
  );
  const [counts] = await warehouse.query<{ raw: string; latest: string }>(
    `SELECT (SELECT count() FROM raw.station_snapshots FINAL) AS raw,
            (SELECT count() FROM mart.station_latest FINAL) AS latest`,
  );
  if (Number(counts.raw) !== backlog.messages || Number(counts.latest) !== backlog.stations) {
    throw new Error(
      `load-clickhouse left ${counts.raw} raw rows and ${counts.latest} latest rows; expected ` +
        `${backlog.messages} and ${backlog.stations}.`,
    );
  }
  return run;
}

/** The time `psql \copy` takes to load `csv` into a new table shaped like raw. */
async function copyOnce(url: string, csv: string): Promise<number> {
  await psql(
    url,
    "CREATE TABLE raw.copy_target (LIKE raw.station_snapshots INCLUDING ALL)",
  );
  const started = performance.now();
  await psql(url, `\\copy raw.copy_target (${EXPORTED_COLUMNS}) FROM '${csv}' WITH (FORMAT csv)`);
  return performance.now() - started;
}

/**
 * One run of a hand-written loader, in a process of its own, over the first `limit` messages of
 * `topic` into a new migrated database; checks that it stored them all.
 */
async function handLoaderOnce(
  context: BenchContext,
  topic: string,
  limit: number,
  loader: HandLoaderKind,
): Promise<HandLoaderRun> {
  await using database = await scratchDatabase(context.env.DATABASE_URL);
  await runPipeline(["migrate", "load", "--config", LOAD_CONFIG], {
    KAFKA_BROKERS: context.env.KAFKA_BROKERS,
    DATABASE_URL: database.url,
    LOAD_TOPIC: topic,
  });
  const loaded = await runHandLoader({
    loader,
    brokers: context.env.KAFKA_BROKERS,
    topic,
    databaseUrl: database.url,
    limit,
  });
  const [raw] = await queryCounts(database.url);
  if (raw !== limit) throw new Error(`The ${loader} loader left ${raw} raw rows, not ${limit}.`);
  return loaded;
}

async function queryCounts(url: string): Promise<[number, number]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ raw: string; latest: string }>(
      `SELECT (SELECT count(*) FROM raw.station_snapshots) AS raw,
              (SELECT count(*) FROM mart.station_latest) AS latest`,
    );
    return [Number(rows[0].raw), Number(rows[0].latest)];
  } finally {
    await client.end();
  }
}

/** Runs one psql command; the URL (and its password) stays out of any message. */
async function psql(url: string, command: string): Promise<void> {
  const { code, stderr } = await new Deno.Command("psql", {
    args: ["--no-psqlrc", "--quiet", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", command],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (code !== 0) {
    throw new Error(`psql failed on "${command}": ${new TextDecoder().decode(stderr).trim()}`);
  }
}

function ratios(numerators: number[], denominators: number[]): number[] {
  return numerators.map((value, i) => value / denominators[i]);
}

function count(value: number): string {
  return value.toLocaleString("en-US");
}
