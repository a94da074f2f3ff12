import assert from "node:assert/strict";
import { sinkConfigSchema, sinkExample, sourceConfigSchema, sourceExample } from "./config.ts";
import { kafkaSink, kafkaSource } from "./mod.ts";

Deno.test("kafka config takes brokers as a comma-separated string or as an array", () => {
  const fromString = sourceConfigSchema.parse({ ...sourceExample, brokers: " a:9092, b:9093 ," });
  const fromArray = sourceConfigSchema.parse({ ...sourceExample, brokers: ["a:9092", "b:9093"] });
  assert.deepEqual(fromString.brokers, ["a:9092", "b:9093"]);
  assert.deepEqual(fromArray.brokers, ["a:9092", "b:9093"]);
});

Deno.test("kafka config rejects no broker, and a broker without a port", () => {
  for (const brokers of ["", " , ", [], "kafka"]) {
    const issues = kafkaSource({ ...sourceExample, brokers }).validate({});
    assert.match(issues[0]?.path ?? "", /^brokers/, `brokers ${JSON.stringify(brokers)}`);
    assert.match(issues[0].message, /host:port/);
  }
});

Deno.test("kafka plugins take their brokers from KAFKA_BROKERS", () => {
  const env = { KAFKA_BROKERS: "kafka1:9092,kafka2:9092" };
  const issues = kafkaSink({ ...sinkExample, brokers: "not a broker" }).validate(env);
  assert.deepEqual(issues, []);
  const bad = kafkaSink(sinkExample).validate({ KAFKA_BROKERS: "kafka1" });
  assert.equal(bad[0].path, "brokers[0] (from KAFKA_BROKERS)");
});

Deno.test("kafka sink config defaults to gzip and to creating a one-partition topic", () => {
  const config = sinkConfigSchema.parse({ brokers: "k:9092", topic: "t" });
  assert.equal(config.compression, "gzip");
  assert.equal(config.key, undefined);
  assert.deepEqual(config.createTopic, { partitions: 1, replicationFactor: 1, configs: {} });
  assert.equal(config.clientId, "pipeline");
  assert.equal(config.connectionTimeoutMs, 3_000);
  assert.equal(config.requestTimeoutMs, 30_000);
  const partial = sinkConfigSchema.parse({ brokers: "k:9092", topic: "t", createTopic: {} });
  assert.deepEqual(partial.createTopic, { partitions: 1, replicationFactor: 1, configs: {} });
  assert.equal(
    sinkConfigSchema.parse({ brokers: "k:9092", topic: "t", createTopic: false }).createTopic,
    false,
  );
});

Deno.test("kafka sink config publishes outside transactions unless told to, and may name its transactional id", () => {
  const parse = (transactional?: unknown) =>
    sinkConfigSchema.parse({ brokers: "k:9092", topic: "t", transactional }).transactional;
  assert.equal(parse(), false);
  assert.equal(parse(true), true);
  assert.deepEqual(parse({ id: "ingest-a" }), { id: "ingest-a" });
  assert.equal(
    sinkConfigSchema.safeParse({ brokers: "k:9092", topic: "t", transactional: { id: "" } })
      .success,
    false,
  );
});

Deno.test("kafka source config requires a group and defaults its batching", () => {
  const withoutGroup = sourceConfigSchema.safeParse({ brokers: "k:9092", topic: "t" });
  assert.deepEqual(withoutGroup.error?.issues.map((issue) => issue.path), [["groupId"]]);
  const config = sourceConfigSchema.parse(sourceExample);
  assert.equal(config.maxBatchSize, 5_000);
  assert.equal(config.maxWaitMs, 500);
  assert.equal(config.format, "json");
  assert.equal(config.eventTimeField, undefined);
  const withField = { ...sourceExample, eventTimeField: "collected_at" };
  assert.equal(sourceConfigSchema.parse(withField).eventTimeField, "collected_at");
  const empty = sourceConfigSchema.safeParse({ ...sourceExample, eventTimeField: "" });
  assert.deepEqual(empty.error?.issues.map((issue) => issue.path), [["eventTimeField"]]);
});

Deno.test("kafka config rejects a topic name Kafka would refuse", () => {
  const issues = kafkaSink({ ...sinkExample, topic: "velib stations" }).validate({});
  assert.equal(issues[0].path, "topic");
});
