import { memorySink } from "./memory.ts";
import { sinkSuite } from "./testing.ts";

sinkSuite({
  name: "memory sink",
  make: () => {
    const sink = memorySink<{ n: number }>();
    return Promise.resolve({
      sink,
      stored: () => Promise.resolve(sink.written.map((message) => message.value)),
      [Symbol.asyncDispose]: () => Promise.resolve(),
    });
  },
  record: (n) => ({ n }),
});
