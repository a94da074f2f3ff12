/**
 * Kafka plugins: `kafkaSink` writes records to a topic as JSON messages, and `kafkaSource` reads
 * them back as a member of a consumer group, committing only what every sink has written.
 *
 * @example Producing to and consuming from the stations topic
 * ```ts
 * import { kafkaSink, kafkaSource } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const sink = kafkaSink({ brokers: "127.0.0.1:9092", topic: "velib-stations", key: "station_code" });
 * const source = kafkaSource({
 *   brokers: "127.0.0.1:9092",
 *   topic: "velib-stations",
 *   groupId: "velib-warehouse",
 * });
 * assert.deepEqual([...sink.validate({}), ...source.validate({})], []);
 * ```
 *
 * @module
 */
export { kafkaSink } from "./sink.ts";
export { kafkaSource } from "./source.ts";
export type { KafkaConnectionConfig, KafkaSinkConfig, KafkaSourceConfig } from "./config.ts";
