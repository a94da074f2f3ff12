/**
 * The `enrich` transform plugin: its name, config schema, example and factory.
 *
 * @module
 */
import { definePlugin, type Plugin, type Transform } from "../../mod.ts";
import { configSchema, example } from "./config.ts";
import { createEnrichTransform, type EnrichedSnapshot } from "./enrich.ts";

/**
 * Checks each station snapshot against the snapshot contract and adds its occupancy rate and
 * service status; a value that is not a valid snapshot becomes a reject with the reason. It has
 * no options: configure it as `enrich({})`.
 *
 * @example In a pipeline config: the stations topic, enriched, to another topic
 * ```ts
 * import { defineConfig } from "../../mod.ts";
 * import { kafkaSink, kafkaSource } from "../kafka/mod.ts";
 * import { enrich } from "./plugin.ts";
 * import assert from "node:assert/strict";
 *
 * const brokers = "127.0.0.1:9092";
 * const rejected = kafkaSink({ brokers, topic: "velib-stations-rejected" });
 * const config = defineConfig({
 *   pipelines: {
 *     enrich: {
 *       description: "Station snapshots with their occupancy rate and status.",
 *       source: kafkaSource({ brokers, topic: "velib-stations", groupId: "velib-enrich" }),
 *       transforms: [enrich({})],
 *       sinks: [kafkaSink({ brokers, topic: "velib-stations-enriched", key: "station_code" })],
 *       deadLetter: rejected,
 *     },
 *   },
 * });
 * assert.deepEqual(config.pipelines.enrich.transforms?.[0].validate({}), []);
 * ```
 */
export const enrich: Plugin<
  "transform",
  typeof configSchema,
  Transform<unknown, EnrichedSnapshot>
> = definePlugin({
  kind: "transform",
  name: "enrich",
  description: "Checks station snapshots against their schema and adds the occupancy rate " +
    "and service status; invalid ones become rejects with the reason.",
  config: configSchema,
  example,
  create: () => createEnrichTransform(),
});
