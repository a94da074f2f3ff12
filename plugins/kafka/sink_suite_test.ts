// The sink suite on a real broker: records keyed by `id`, a record without one is refused,
// and rejects go to the same topic as JSON envelopes (see `toDeadLetter` in sink.ts).
import { type Reject, retry } from "../../mod.ts";
import { sinkSuite, testContext } from "../../testing.ts";
import { kafkaSink } from "./mod.ts";
import { readBack, testBrokers, uniqueName, withTestAdmin } from "./test_support.ts";

interface Row {
  id?: string;
  n: number;
}

interface Envelope {
  reason: string;
  stage: string;
  origin: Reject["origin"] | null;
  payload: unknown;
  rejected_at: string;
}

/** Every message of `topic`, parsed, read back with a consumer of its own. */
async function messagesOf(topic: string): Promise<unknown[]> {
  const offsets = await withTestAdmin((admin) => admin.fetchTopicOffsets(topic));
  const count = offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
  if (count === 0) return [];
  return (await readBack(topic, count)).map((message) => JSON.parse(message.value ?? "null"));
}

const isEnvelope = (value: unknown): value is Envelope =>
  typeof value === "object" && value !== null && "rejected_at" in value;

sinkSuite<Row>({
  name: "kafka sink",
  make: async () => {
    const topic = uniqueName("sink-suite");
    const sink = kafkaSink({
      brokers: testBrokers(),
      topic,
      key: "id",
      createTopic: { partitions: 2 },
    })
      .build({});
    // As the runner does: a topic just created may briefly have no leader.
    const policy = { attempts: 5, initialDelayMs: 100, maxDelayMs: 1_000 };
    await retry(() => sink.connect(testContext("kafka-sink-suite")), policy);
    return {
      sink,
      stored: async () => (await messagesOf(topic)).filter((v) => !isEnvelope(v)) as Row[],
      storedRejects: async () =>
        (await messagesOf(topic)).filter(isEnvelope).map((envelope) => ({
          payload: envelope.payload,
          reason: envelope.reason,
          stage: envelope.stage,
          ...(envelope.origin === null ? {} : { origin: envelope.origin }),
        })),
      [Symbol.asyncDispose]: async () => {
        await sink.close();
        await withTestAdmin((admin) => admin.deleteTopics({ topics: [topic] }));
      },
    };
  },
  record: (n) => ({ id: `r${n}`, n }),
  // No `id` to key it by: the sink names it before sending anything.
  poison: (n) => ({ n }),
});
