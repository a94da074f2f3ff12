/**
 * The reference the pipeline is held against: the consumer people usually write by hand. One
 * message at a time, one INSERT into raw and one upsert into mart per message, a commit every
 * 100 messages, the consumer group's offset committed after each database commit. Same topic,
 * same rows (the same enrichment), same tables and indexes as the pipeline.
 *
 * @module
 */
import { enrichSnapshot, validateSnapshot } from "../plugins/transform-enrich/mod.ts";
import { SNAPSHOT_COLUMNS } from "../tests/warehouse/support.ts";
import { handLoad, type HandLoadOptions } from "./hand_loader.ts";

const COMMIT_EVERY = 100;

const INSERT_RAW = `
  INSERT INTO raw.station_snapshots (${SNAPSHOT_COLUMNS.join(", ")})
  VALUES (${SNAPSHOT_COLUMNS.map((_, i) => `$${i + 1}`).join(", ")})
  ON CONFLICT (system_id, station_code, collected_at) DO NOTHING`;

const UPSERT_LATEST = `
  INSERT INTO mart.station_latest (${SNAPSHOT_COLUMNS.join(", ")})
  VALUES (${SNAPSHOT_COLUMNS.map((_, i) => `$${i + 1}`).join(", ")})
  ON CONFLICT (system_id, station_code) DO UPDATE SET
    ${
  SNAPSHOT_COLUMNS.filter((c) => c !== "station_code" && c !== "system_id").map((c) =>
    `${c} = EXCLUDED.${c}`
  ).join(", ")
}
  WHERE mart.station_latest.collected_at < EXCLUDED.collected_at`;

/**
 * Loads the first `limit` messages of `topic` the naive way and resolves with the time it took
 * from the first message to the last commit.
 *
 * @example
 * ```ts ignore
 * import { naiveLoad } from "./naive_loader.ts";
 *
 * const ms = await naiveLoad({ brokers, topic, groupId: "naive-1", databaseUrl, limit: 10_000 });
 * ```
 */
export function naiveLoad(options: HandLoadOptions): Promise<number> {
  let loaded = 0;
  let started = 0;
  return handLoad(options, "naive-loader", async (consumer, client, end) => {
    await client.query("BEGIN");
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        if (loaded >= options.limit) return;
        try {
          if (loaded === 0) started = performance.now();
          const checked = validateSnapshot(JSON.parse(message.value!.toString()));
          if (!checked.ok) throw new Error(checked.reason);
          const row = enrichSnapshot(checked.snapshot);
          const values = SNAPSHOT_COLUMNS.map((column) => row[column]);
          await client.query(INSERT_RAW, values);
          await client.query(UPSERT_LATEST, values);
          loaded++;
          if (loaded % COMMIT_EVERY === 0 || loaded === options.limit) {
            await client.query("COMMIT");
            const offset = String(BigInt(message.offset) + 1n);
            await consumer.commitOffsets([{ topic: options.topic, partition, offset }]);
            if (loaded === options.limit) end.finish(performance.now() - started);
            else await client.query("BEGIN");
          }
        } catch (error) {
          end.fail(error);
        }
      },
    });
  });
}
