import { memorySink, memorySource, rejectingTransform } from "./memory.ts";
import { sinkSuite, sourceSuite, transformSuite } from "./testing.ts";
import type { Message } from "./types.ts";

sinkSuite({
  name: "memory sink",
  make: () => {
    const sink = memorySink<{ n: number }>();
    return Promise.resolve({
      sink,
      stored: () => Promise.resolve(sink.written.map((message) => message.value)),
      storedRejects: () => Promise.resolve([...sink.rejects]),
      [Symbol.asyncDispose]: () => Promise.resolve(),
    });
  },
  record: (n) => ({ n }),
});

sourceSuite({
  name: "memory source",
  make: () => {
    const batches: Message<{ n: number }>[][] = [];
    const add = (count: number) => {
      const from = batches.flat().length;
      for (let n = from; n < from + count; n += 3) {
        const size = Math.min(3, from + count - n);
        batches.push(Array.from({ length: size }, (_, i) => ({ value: { n: n + i } })));
      }
      return Promise.resolve();
    };
    add(14);
    return Promise.resolve({
      get records() {
        return batches.flat().length;
      },
      source: () => memorySource(batches),
      add,
      [Symbol.asyncDispose]: () => Promise.resolve(),
    });
  },
});

transformSuite({
  name: "rejecting transform",
  make: () => rejectingTransform((value: number) => value < 0, "negative count"),
  valid: (n) => n,
  invalid: (n) => -1 - n,
});
