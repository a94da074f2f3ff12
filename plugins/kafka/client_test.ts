import assert from "node:assert/strict";
import { configure, type LogRecord, reset } from "@logtape/logtape";
import { ConnectionError, PipelineError } from "../../mod.ts";
import { createKafka, kafkaError } from "./client.ts";
import { connectionSchema } from "./config.ts";

/** An error shaped as kafkajs makes them: a name, flags, and a cause. */
function kafkajsError(name: string, message: string, fields: Record<string, unknown> = {}) {
  return Object.assign(new Error(message), { name, ...fields });
}

Deno.test("kafka errors: an unreachable broker becomes a transient ConnectionError with a hint", () => {
  const refused = kafkajsError(
    "KafkaJSConnectionError",
    "Connection error: connect ECONNREFUSED 127.0.0.1:1",
  );
  const exhausted = kafkajsError("KafkaJSNumberOfRetriesExceeded", refused.message, {
    retriable: false,
    cause: refused,
  });
  const error = kafkaError(exhausted, ["127.0.0.1:1", "kafka2:9092"], "connect");
  assert.ok(error instanceof ConnectionError);
  assert.equal(
    error.message,
    "Could not reach Kafka at 127.0.0.1:1,kafka2:9092: connect ECONNREFUSED 127.0.0.1:1",
  );
  assert.match(error.hint!, /KAFKA_BROKERS/);
  assert.equal(error.transient, true);
});

Deno.test("kafka errors: a coordinator no broker answered for is a transient ConnectionError", () => {
  const notFound = kafkajsError(
    "KafkaJSGroupCoordinatorNotFound",
    "Failed to find group coordinator",
    {
      retriable: false,
    },
  );
  const error = kafkaError(notFound, ["k:9092"], "write to topic t");
  assert.ok(error instanceof ConnectionError);
  assert.equal(error.message, "Could not reach Kafka at k:9092: Failed to find group coordinator");
  assert.equal(error.transient, true);
});

Deno.test("kafka errors: a request to a broker kafkajs could not connect to is a transient ConnectionError", () => {
  const error = kafkaError(new Error("Broker not connected"), ["k:9092"], "write to topic t");
  assert.ok(error instanceof ConnectionError);
  assert.equal(error.transient, true);
});

Deno.test("kafka errors: a producer fenced by a newer one of its transactional id is terminal, with a hint", () => {
  const fenced = kafkajsError(
    "KafkaJSProtocolError",
    "Producer attempted an operation with an old epoch",
    {
      retriable: false,
      type: "INVALID_PRODUCER_EPOCH",
    },
  );
  const error = kafkaError(fenced, ["k:9092"], "write to topic t");
  assert.equal(error.transient, false);
  assert.match(error.hint!, /its own transactional id/);
});

Deno.test("kafka errors: a broker answer kafkajs gave up retrying stays transient", () => {
  const notLeader = kafkajsError("KafkaJSProtocolError", "This server is not the leader", {
    retriable: true,
    type: "NOT_LEADER_FOR_PARTITION",
  });
  const exhausted = kafkajsError("KafkaJSNumberOfRetriesExceeded", notLeader.message, {
    retriable: false,
    cause: notLeader,
  });
  const error = kafkaError(exhausted, ["k:9092"], "write to topic t");
  assert.equal(
    error.message,
    "Kafka at k:9092 failed to write to topic t: This server is not the leader",
  );
  assert.equal(error.transient, true);
});

Deno.test("kafka errors: a topic kafkajs could not create is terminal, with every reason and a hint", () => {
  const aggregate = kafkajsError("KafkaJSAggregateError", "Topic creation errors", {
    errors: [
      kafkajsError("KafkaJSCreateTopicError", "Replication-factor is invalid", {
        retriable: false,
        type: "INVALID_REPLICATION_FACTOR",
      }),
    ],
  });
  const bailed = kafkajsError("KafkaJSNonRetriableError", aggregate.message, {
    retriable: false,
    cause: aggregate,
  });
  const error = kafkaError(bailed, ["k:9092"], "prepare topic t");
  assert.equal(
    error.message,
    "Kafka at k:9092 failed to prepare topic t: Topic creation errors: Replication-factor is invalid",
  );
  assert.match(error.hint!, /replicationFactor/);
  assert.equal(error.transient, false);
});

Deno.test("kafka errors: a framework error passes unchanged", () => {
  const original = new PipelineError("Could not load the positions the sink stored.");
  assert.equal(kafkaError(original, ["k:9092"], "consume"), original);
});

Deno.test("kafkajs logs go to logtape under pipeline.kafka, routine ones at debug level", async () => {
  const records: LogRecord[] = [];
  await configure({
    reset: true,
    sinks: { memory: (record) => records.push(record) },
    loggers: [
      { category: ["pipeline", "kafka"], lowestLevel: "debug", sinks: ["memory"] },
      { category: ["logtape", "meta"], lowestLevel: "error", sinks: [] },
    ],
  });
  try {
    const kafka = await createKafka(connectionSchema.parse({ brokers: "127.0.0.1:9092" }));
    const logger = kafka.logger();
    logger.info("Starting", { groupId: "g" });
    logger.warn("Something unexpected", { groupId: "g", stack: "at ext:deno_node/net.ts" });
    logger.namespace("Runner").warn("The group is rebalancing, re-joining", { groupId: "g" });
    logger.namespace("Connection").error("Connection error: connect ECONNREFUSED 127.0.0.1:1");
    assert.deepEqual(
      records.map((r) => [r.category.join("."), r.level, r.properties.message]),
      [
        ["pipeline.kafka", "warning", "Something unexpected"],
        ["pipeline.kafka", "debug", "The group is rebalancing, re-joining"],
        ["pipeline.kafka", "debug", "Connection error: connect ECONNREFUSED 127.0.0.1:1"],
      ],
    );
    assert.equal(records[0].properties.groupId, "g");
    assert.equal(records[0].properties.stack, undefined);
  } finally {
    await reset();
  }
});
