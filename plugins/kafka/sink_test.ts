import assert from "node:assert/strict";
import { testContext } from "../../testing.ts";
import {
  BatchError,
  type ComponentContext,
  ConnectionError,
  type Message,
  type Reject,
  type SinkBatch,
} from "../../mod.ts";
import { sinkConfigSchema } from "./config.ts";
import { KafkaSink } from "./sink.ts";
import { readBack, testBrokers, uniqueName, withTestAdmin } from "./test_support.ts";

const context: ComponentContext = testContext("kafka-test");
const signal = new AbortController().signal;

function sinkFor(config: Record<string, unknown>): KafkaSink {
  return new KafkaSink(sinkConfigSchema.parse({ brokers: testBrokers(), ...config }));
}

function batchOf(messages: Message[], rejects: Reject[] = []): SinkBatch {
  return { messages, rejects, cursors: [] };
}

async function highWatermarks(topic: string): Promise<number[]> {
  const offsets = await withTestAdmin((admin) => admin.fetchTopicOffsets(topic));
  return offsets.sort((a, b) => a.partition - b.partition).map((p) => Number(p.high));
}

Deno.test("kafka sink creates its topic with the configured partitions and configs", async () => {
  const topic = uniqueName("sink-create");
  const sink = sinkFor({
    topic,
    createTopic: {
      partitions: 3,
      configs: { "retention.ms": "3600000", "retention.bytes": "1048576" },
    },
  });
  try {
    await sink.connect(context);
  } finally {
    await sink.close();
  }
  const { ConfigResourceTypes } = await import("kafkajs");
  const [metadata, described] = await withTestAdmin((admin) =>
    Promise.all([
      admin.fetchTopicMetadata({ topics: [topic] }),
      admin.describeConfigs({
        includeSynonyms: false,
        resources: [{
          type: ConfigResourceTypes.TOPIC,
          name: topic,
          configNames: ["retention.ms", "retention.bytes"],
        }],
      }),
    ])
  );
  assert.equal(metadata.topics[0].partitions.length, 3);
  const configs = Object.fromEntries(
    described.resources[0].configEntries.map((entry) => [entry.configName, entry.configValue]),
  );
  assert.deepEqual(configs, { "retention.ms": "3600000", "retention.bytes": "1048576" });
});

Deno.test("kafka sink leaves an existing topic as it is", async () => {
  const topic = uniqueName("sink-existing");
  const first = sinkFor({ topic, createTopic: { partitions: 2 } });
  await first.connect(context);
  await first.close();
  const second = sinkFor({ topic, createTopic: { partitions: 5 } });
  await second.connect(context);
  await second.close();
  assert.deepEqual(await highWatermarks(topic), [0, 0]);
});

Deno.test("kafka sink keys each message by the configured field and gzips it", async () => {
  const topic = uniqueName("sink-keyed");
  const sink = sinkFor({ topic, key: "station_code", createTopic: { partitions: 3 } });
  const records = [
    { station_code: "16107", bikes: 3 },
    { station_code: 31104, bikes: 0 },
    { station_code: "9020", bikes: 12 },
  ];
  const { CompressionCodecs, CompressionTypes } = await import("kafkajs");
  const gzip = CompressionCodecs[CompressionTypes.GZIP];
  let compressed = 0;
  CompressionCodecs[CompressionTypes.GZIP] = () => {
    const codec = gzip();
    const compress = (encoder: unknown) => {
      compressed++;
      return codec.compress(encoder);
    };
    return { ...codec, compress };
  };
  try {
    await sink.connect(context);
    await sink.write(batchOf(records.map((value) => ({ value }))), signal);
  } finally {
    CompressionCodecs[CompressionTypes.GZIP] = gzip;
    await sink.close();
  }
  assert.ok(compressed > 0, "expected the producer to gzip the request");
  const messages = await readBack(topic, 3);
  const byKey = Object.fromEntries(messages.map((m) => [m.key, JSON.parse(m.value!)]));
  assert.deepEqual(byKey, {
    "16107": records[0],
    "31104": records[1],
    "9020": records[2],
  });
});

Deno.test("kafka sink sends the same key to the same partition", async () => {
  const topic = uniqueName("sink-partitioned");
  const sink = sinkFor({ topic, key: "station_code", createTopic: { partitions: 3 } });
  const records = Array.from({ length: 30 }, (_, i) => ({ station_code: `s${i % 5}`, i }));
  try {
    await sink.connect(context);
    await sink.write(batchOf(records.map((value) => ({ value }))), signal);
  } finally {
    await sink.close();
  }
  const messages = await readBack(topic, 30);
  const partitionsByKey = new Map<string | null, Set<number>>();
  for (const { key, partition } of messages) {
    partitionsByKey.set(key, (partitionsByKey.get(key) ?? new Set()).add(partition));
  }
  assert.equal(partitionsByKey.size, 5);
  for (const partitions of partitionsByKey.values()) assert.equal(partitions.size, 1);
});

Deno.test("kafka sink fails the records that lack the key field with a BatchError", async () => {
  const topic = uniqueName("sink-missing-key");
  const sink = sinkFor({ topic, key: "station_code" });
  try {
    await sink.connect(context);
    const error = await sink.write(
      batchOf([
        { value: { station_code: "16107" } },
        { value: { bikes: 3 } },
        { value: { station_code: null } },
      ]),
      signal,
    ).catch((error) => error);
    assert.ok(error instanceof BatchError, `expected a BatchError, got ${error}`);
    assert.deepEqual([...error.failures.keys()], [1, 2]);
    for (const cause of error.failures.values()) {
      assert.match(cause.message, /station_code/);
      assert.equal((cause as BatchError).transient, false);
    }
  } finally {
    await sink.close();
  }
  assert.deepEqual(await highWatermarks(topic), [0], "nothing of the batch may be sent");
});

Deno.test("kafka sink writes rejects to its topic as dead-letter envelopes", async () => {
  const topic = uniqueName("sink-dead-letters");
  const sink = sinkFor({ topic, key: "station_code" });
  const reject: Reject = {
    payload: "{not json",
    reason: "Value is not valid JSON: unexpected token",
    stage: "source kafka",
    origin: { stream: "velib-stations", partition: 2, offset: "41" },
  };
  try {
    await sink.connect(context);
    await sink.write(batchOf([], [reject]), signal);
  } finally {
    await sink.close();
  }
  const [message] = await readBack(topic, 1);
  const envelope = JSON.parse(message.value!);
  assert.equal(message.key, null);
  assert.deepEqual({ ...envelope, rejected_at: undefined }, { ...reject, rejected_at: undefined });
  assert.ok(!Number.isNaN(Date.parse(envelope.rejected_at)));
});

Deno.test("kafka sink sends nothing once the run is stopping", async () => {
  const topic = uniqueName("sink-aborted");
  const sink = sinkFor({ topic });
  const stop = new AbortController();
  stop.abort(new Error("stopping"));
  try {
    await sink.connect(context);
    await assert.rejects(sink.write(batchOf([{ value: { n: 1 } }]), stop.signal), /stopping/);
  } finally {
    await sink.close();
  }
  assert.deepEqual(await highWatermarks(topic), [0]);
});

Deno.test("kafka sink reports the cluster and its topic in its health check", async () => {
  const topic = uniqueName("sink-health");
  const sink = sinkFor({ topic, createTopic: { partitions: 2 } });
  try {
    await sink.connect(context);
    const health = await sink.health(AbortSignal.timeout(5_000));
    assert.equal(
      health,
      `Kafka ${testBrokers()}: 1 broker(s), topic ${topic} has 2 partition(s)`,
    );
  } finally {
    await sink.close();
    await sink.close();
  }
});

Deno.test("kafka sink reports an unreachable broker as a ConnectionError with a hint", async () => {
  const sink = new KafkaSink(sinkConfigSchema.parse({ brokers: "127.0.0.1:1", topic: "t" }));
  const error = await sink.connect(context).catch((error) => error);
  await sink.close();
  assert.ok(error instanceof ConnectionError, `expected a ConnectionError, got ${error}`);
  assert.match(error.message, /^Could not reach Kafka at 127\.0\.0\.1:1: connect ECONNREFUSED/);
  assert.match(error.hint!, /KAFKA_BROKERS/);
  assert.equal(error.transient, true);
});
