// The source suite on a real broker: a 3-partition topic of JSON records and one value that is
// not JSON (a reject), read in batches of 4; each source joins a group of its own, so that only
// the stored cursors tell it where to resume.
import { sourceSuite } from "../../testing.ts";
import { kafkaSource } from "./mod.ts";
import {
  createTestTopic,
  produce,
  testBrokers,
  uniqueName,
  withTestAdmin,
} from "./test_support.ts";

const PARTITIONS = 3;

sourceSuite({
  name: "kafka source",
  make: async () => {
    const topic = await createTestTopic("source-suite", PARTITIONS);
    let records = 0;
    const add = async (count: number) => {
      const from = records;
      records += count;
      await produce(
        topic,
        Array.from({ length: count }, (_, i) => {
          const n = from + i;
          // The second record of the store is not JSON: the source rejects it with its origin.
          const value = n === 1 ? `not json ${n}` : JSON.stringify({ id: `r${n}`, n });
          return { key: `r${n}`, value, partition: n % PARTITIONS };
        }),
      );
    };
    await add(14);
    return {
      get records() {
        return records;
      },
      source: () =>
        kafkaSource({
          brokers: testBrokers(),
          topic,
          groupId: uniqueName("source-suite"),
          maxBatchSize: 4,
          maxWaitMs: 50,
        }).build({}),
      add,
      [Symbol.asyncDispose]: () =>
        withTestAdmin((admin) => admin.deleteTopics({ topics: [topic] })),
    };
  },
});
