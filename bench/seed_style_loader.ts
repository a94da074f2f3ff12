/**
 * A loader in the seed project's style, written here (not the seed's code): a Kafka consumer
 * that validates and enriches each message, then writes each fetched batch with multi-row
 * INSERTs of 100 rows into raw and mart, commits once per batch, and commits the group's offset
 * after it. What a team writes when it batches by hand, the rung above the naive loader. Same
 * topic, same rows (the same enrichment), same tables and indexes as the pipeline.
 *
 * @module
 */
import { enrichSnapshot, validateSnapshot } from "../plugins/transform-enrich/mod.ts";
import { SNAPSHOT_COLUMNS } from "../tests/warehouse/support.ts";
import { handLoad, type HandLoadOptions } from "./hand_loader.ts";

/** Rows per INSERT, as psycopg2's `execute_batch` pages them by default. */
const PAGE_SIZE = 100;

const COLUMNS = SNAPSHOT_COLUMNS.join(", ");
const SYSTEM = SNAPSHOT_COLUMNS.indexOf("system_id");
const CODE = SNAPSHOT_COLUMNS.indexOf("station_code");

/** `($1, …, $k), ($k+1, …)` for `rows` rows of every column. */
const valuesList = (rows: number) =>
  Array.from(
    { length: rows },
    (_, r) =>
      `(${SNAPSHOT_COLUMNS.map((_, c) => `$${r * SNAPSHOT_COLUMNS.length + c + 1}`).join(", ")})`,
  ).join(", ");

const insertRaw = (rows: number) => `
  INSERT INTO raw.station_snapshots (${COLUMNS}) VALUES ${valuesList(rows)}
  ON CONFLICT (system_id, station_code, collected_at) DO NOTHING`;

const upsertLatest = (rows: number) => `
  INSERT INTO mart.station_latest AS latest (${COLUMNS}) VALUES ${valuesList(rows)}
  ON CONFLICT (system_id, station_code) DO UPDATE SET ${
  SNAPSHOT_COLUMNS.filter((c) => c !== "station_code" && c !== "system_id").map((c) =>
    `${c} = EXCLUDED.${c}`
  ).join(", ")
}
  WHERE latest.collected_at < EXCLUDED.collected_at`;

/**
 * Loads the first `limit` messages of `topic` in the seed's style and resolves with the time it
 * took from the first batch to the last commit.
 *
 * @example
 * ```ts ignore
 * import { seedStyleLoad } from "./seed_style_loader.ts";
 *
 * const ms = await seedStyleLoad({ brokers, topic, groupId: "seed-1", databaseUrl, limit: 10_000 });
 * ```
 */
export function seedStyleLoad(options: HandLoadOptions): Promise<number> {
  let loaded = 0;
  let started = 0;
  return handLoad(options, "seed-style-loader", (consumer, client, end) =>
    consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        if (loaded >= options.limit) return;
        try {
          if (loaded === 0) started = performance.now();
          const messages = batch.messages.slice(0, options.limit - loaded);
          const rows = messages.map((message) => {
            const checked = validateSnapshot(JSON.parse(message.value!.toString()));
            if (!checked.ok) throw new Error(checked.reason);
            const row = enrichSnapshot(checked.snapshot);
            return SNAPSHOT_COLUMNS.map((column) => row[column]);
          });
          await client.query("BEGIN");
          for (let at = 0; at < rows.length; at += PAGE_SIZE) {
            const page = rows.slice(at, at + PAGE_SIZE);
            await client.query(insertRaw(page.length), page.flat());
            // One statement may not update a row twice: the page's last snapshot per station.
            const latest = [
              ...new Map(page.map((row) => [`${row[SYSTEM]}/${row[CODE]}`, row])).values(),
            ];
            await client.query(upsertLatest(latest.length), latest.flat());
          }
          await client.query("COMMIT");
          loaded += messages.length;
          const offset = String(BigInt(messages.at(-1)!.offset) + 1n);
          await consumer.commitOffsets([
            { topic: options.topic, partition: batch.partition, offset },
          ]);
          if (loaded >= options.limit) end.finish(performance.now() - started);
        } catch (error) {
          end.fail(error);
        }
      },
    }));
}
