// Each hazard of the sink suite, proved caught: a sink broken in exactly that way fails the case,
// and the in-memory sink, or a sink fixed the right way, passes it.
import assert from "node:assert/strict";
import { BatchError, PipelineError } from "../errors.ts";
import { memorySink, type MemorySinkOptions } from "../memory.ts";
import type { Reject, Sink, SinkBatch } from "../types.ts";
import { caseById, sinkCases, type SinkHarness, type SinkSuiteOptions } from "../testing.ts";

interface Row {
  n: number;
  label: string | null;
}

/** A harness over a memory sink; `sink` replaces the sink the suite talks to, when given. */
function harnessOf(
  options: MemorySinkOptions = {},
  wrap: (sink: Sink<Row>) => Sink<Row> = (sink) => sink,
): () => Promise<SinkHarness<Row>> {
  return () => {
    const memory = memorySink<Row>(options);
    return Promise.resolve({
      sink: wrap(memory),
      stored: () => Promise.resolve(memory.written.map((message) => message.value)),
      storedRejects: () => Promise.resolve([...memory.rejects]),
      [Symbol.asyncDispose]: () => Promise.resolve(),
    });
  };
}

/** Refuses rows whose label is null, naming each in a BatchError with `failure`. */
function refusingNulls(failure: (message: string) => Error): MemorySinkOptions {
  return {
    beforeWrite: (batch) => {
      const error = new BatchError("Some rows have no label.");
      batch.messages.forEach((message, index) => {
        const row = message.value as Row;
        if (row.label === null) error.failed(index, failure("label must not be null"));
      });
      if (error.failures.size > 0) throw error;
    },
  };
}

function casesFor(options: Partial<SinkSuiteOptions<Row>>) {
  return sinkCases<Row>({
    name: "broken sink",
    make: harnessOf(),
    record: (n) => ({ n, label: `synthetic row ${n}` }),
    poison: (n) => ({ n, label: null }),
    ...options,
  });
}

const run = (options: Partial<SinkSuiteOptions<Row>>, id: string) =>
  caseById(casesFor(options), id).run();

Deno.test("sink suite fails a sink that names a refused record with a plain Error", async () => {
  const make = harnessOf(refusingNulls((message) => new Error(message)));
  await assert.rejects(run({ make }, "refused-named"), /not a PipelineError/);
});

Deno.test("sink suite fails a sink that marks a record the store refuses as transient", async () => {
  const make = harnessOf(
    refusingNulls((message) => new PipelineError(message, { transient: true })),
  );
  await assert.rejects(run({ make }, "refused-named"), /marked transient/);
});

Deno.test("sink suite passes a sink that names a refused record with a terminal PipelineError", async () => {
  const make = harnessOf(refusingNulls((message) => new PipelineError(message)));
  await run({ make }, "refused-named");
});

Deno.test("sink suite fails a sink that drops the rejects it is given", async () => {
  const dropsRejects = (sink: Sink<Row>): Sink<Row> => ({
    write: (batch, signal) => sink.write({ ...batch, rejects: [] }, signal),
    close: () => sink.close?.() ?? Promise.resolve(),
  });
  await assert.rejects(
    run({ make: harnessOf({}, dropsRejects) }, "rejects-stored"),
    /did not store the rejects/,
  );
});

Deno.test("sink suite fails a dead-letter sink whose harness cannot show its rejects", async () => {
  const make = async () => {
    const { storedRejects: _, ...rest } = await harnessOf()();
    return rest;
  };
  await assert.rejects(run({ make }, "rejects-stored"), /no storedRejects\(\)/);
});

Deno.test("sink suite fails a sink said to keep no dead letters that takes rejects anyway", async () => {
  await assert.rejects(run({ deadLetters: false }, "rejects-refused"), /drop them silently/);
  const refuses = (sink: Sink<Row>): Sink<Row> => ({
    write: (batch: SinkBatch<Row>, signal) => {
      if (batch.rejects.length > 0) {
        return Promise.reject(new PipelineError("This sink keeps no dead letters."));
      }
      return sink.write(batch, signal);
    },
  });
  await run({ deadLetters: false, make: harnessOf({}, refuses) }, "rejects-refused");
});

Deno.test("sink suite fails a sink that claims to be idempotent and stores a replay twice", async () => {
  await assert.rejects(run({ idempotent: true }, "replay-once"), /stored twice/);
});

Deno.test("sink suite passes a sink that is idempotent, rejects included", async () => {
  // Keyed by origin, as the postgres sink keys rows and dead letters.
  const keyed = (sink: Sink<Row>): Sink<Row> => {
    const seen = new Set<string>();
    const fresh = <M extends { origin?: unknown }>(items: M[]) =>
      items.filter((item) => {
        const key = JSON.stringify(item.origin) + ("reason" in item ? " reject" : "");
        return !seen.has(key) && seen.add(key);
      });
    return {
      write: (batch, signal) =>
        sink.write(
          { ...batch, messages: fresh(batch.messages), rejects: fresh<Reject>(batch.rejects) },
          signal,
        ),
    };
  };
  await run({ idempotent: true, make: harnessOf({}, keyed) }, "replay-once");
});

Deno.test("sink suite fails a sink whose close() throws the second time", async () => {
  const closesOnce = (sink: Sink<Row>): Sink<Row> => {
    let closed = false;
    return {
      write: (batch, signal) => sink.write(batch, signal),
      close: () => {
        if (closed) return Promise.reject(new Error("The pool is already closed."));
        closed = true;
        return Promise.resolve();
      },
    };
  };
  await assert.rejects(run({ make: harnessOf({}, closesOnce) }, "close-twice"), /already closed/);
});

Deno.test("sink suite fails a sink that stores a record twice", async () => {
  const twice = (sink: Sink<Row>): Sink<Row> => ({
    write: async (batch, signal) => {
      await sink.write(batch, signal);
      await sink.write({ ...batch, messages: batch.messages.slice(0, 1), rejects: [] }, signal);
    },
  });
  await assert.rejects(run({ make: harnessOf({}, twice) }, "stores-once"));
});

Deno.test("sink suite has the cases its options call for", () => {
  const ids = (options: Partial<SinkSuiteOptions<Row>>) => casesFor(options).map((c) => c.id);
  assert.deepEqual(ids({}), ["stores-once", "refused-named", "rejects-stored", "close-twice"]);
  assert.deepEqual(ids({ poison: undefined, idempotent: true, deadLetters: false }), [
    "stores-once",
    "replay-once",
    "rejects-refused",
    "close-twice",
  ]);
});
