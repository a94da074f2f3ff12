import assert from "node:assert/strict";
import { BatchError, PipelineError, ShutdownRequested } from "./errors.ts";
import { reset } from "@logtape/logtape";
import { configureLogging } from "./log.ts";
import { memoryPipeline, memorySink, memorySource, rejectingTransform } from "./memory.ts";
import { runPipeline } from "./runner.ts";
import { type Check, type CheckResult, END_OF_INPUT, type Message, type Source } from "./types.ts";

const records = (...values: number[]): Message<number>[] => values.map((value) => ({ value }));

Deno.test("runner acknowledges a batch only after every sink has written it", async () => {
  const source = memorySource([records(1, 2), records(3)]);
  const ackedWhenSecondSinkWrote: number[][] = [];
  const first = memorySink();
  const second = memorySink({
    beforeWrite: () => void ackedWhenSecondSinkWrote.push([...source.acked]),
  });
  const result = await runPipeline(memoryPipeline({ source, sinks: [first, second] }), {
    mode: "batch",
  });
  assert.equal(result.exitCode, 0);
  assert.deepEqual(ackedWhenSecondSinkWrote, [[], [0]]);
  assert.deepEqual(source.acked, [0, 1]);
  assert.equal(result.counters.acknowledged, 3);
});

Deno.test("runner retries a failing sink with backoff, then fails non-zero without committing", async () => {
  const source = memorySource([records(1)]);
  const sink = memorySink({
    beforeWrite: () => {
      throw new PipelineError("The warehouse is down.", { transient: true });
    },
  });
  const pipeline = memoryPipeline({
    source,
    sinks: [sink],
    runtime: { writeRetry: { attempts: 4, initialDelayMs: 5, maxDelayMs: 50 } },
  });
  const result = await runPipeline(pipeline, { mode: "batch" });
  assert.equal(result.exitReason, "failed");
  assert.equal(result.exitCode, 1);
  assert.equal(sink.attempts, 4);
  assert.equal(result.counters.retries, 3);
  assert.deepEqual(source.acked, []);
  assert.equal(source.nacked.length, 1);
  assert.match(result.error!.message, /warehouse is down/);
});

Deno.test("runner does not retry a sink error marked terminal", async () => {
  const sink = memorySink({
    beforeWrite: () => {
      throw new PipelineError("Table raw.x does not exist.", { hint: "Run migrate." });
    },
  });
  const result = await runPipeline(
    memoryPipeline({ source: memorySource([records(1)]), sinks: [sink] }),
    { mode: "batch" },
  );
  assert.equal(result.exitCode, 1);
  assert.equal(sink.attempts, 1);
  assert.equal(result.error!.hint, "Run migrate.");
});

Deno.test("runner sends rejects to the dead-letter sink with their reason", async () => {
  const sink = memorySink();
  const deadLetter = memorySink();
  const source = memorySource([records(1, -1, 2)]);
  const result = await runPipeline(
    memoryPipeline({
      source,
      sinks: [sink],
      deadLetter,
      transforms: [rejectingTransform((value: number) => value < 0, "negative count")],
    }),
    { mode: "batch" },
  );
  assert.equal(result.exitCode, 0);
  assert.deepEqual(sink.written.map((m) => m.value), [1, 2]);
  assert.deepEqual(deadLetter.rejects.map((r) => [r.payload, r.reason]), [[-1, "negative count"]]);
  assert.equal(result.counters.rejected, 1);
  assert.deepEqual(source.acked, [0]);
});

Deno.test("runner writes rejects in the same call when the dead-letter sink is a pipeline sink", async () => {
  const writes: Array<{ messages: number; rejects: number }> = [];
  const sink = memorySink({
    beforeWrite: (batch) =>
      void writes.push({ messages: batch.messages.length, rejects: batch.rejects.length }),
  });
  await runPipeline(
    memoryPipeline({
      source: memorySource([records(1, -1)]),
      sinks: [sink],
      transforms: [rejectingTransform((value: number) => value < 0, "negative count")],
    }),
    { mode: "batch" },
  );
  assert.deepEqual(writes, [{ messages: 1, rejects: 1 }]);
});

Deno.test("runner dead-letters the records a sink names in a BatchError and writes the rest", async () => {
  const sink = memorySink({
    beforeWrite: (batch) => {
      const poison = batch.messages.findIndex((m) => m.value === 13);
      if (poison >= 0) {
        throw new BatchError("1 record failed.").failed(poison, new PipelineError("too long"));
      }
    },
  });
  const source = memorySource([records(12, 13, 14)]);
  const result = await runPipeline(memoryPipeline({ source, sinks: [sink] }), { mode: "batch" });
  assert.equal(result.exitCode, 0);
  assert.deepEqual(sink.written.map((m) => m.value), [12, 14]);
  assert.deepEqual(sink.rejects.map((r) => [r.payload, r.reason]), [[13, "too long"]]);
  assert.deepEqual(source.acked, [0]);
});

Deno.test("runner dead-letters a record a BatchError names with a plain Error", async () => {
  const sink = memorySink({
    beforeWrite: (batch) => {
      const poison = batch.messages.findIndex((m) => m.value === 13);
      if (poison >= 0) {
        throw new BatchError("1 record failed.").failed(poison, new Error("value too long"));
      }
    },
  });
  const source = memorySource([records(12, 13, 14)]);
  const result = await runPipeline(memoryPipeline({ source, sinks: [sink] }), { mode: "batch" });
  assert.equal(result.exitCode, 0, JSON.stringify(result.error));
  assert.deepEqual(sink.written.map((m) => m.value), [12, 14]);
  assert.deepEqual(sink.rejects.map((r) => [r.payload, r.reason]), [[13, "value too long"]]);
  assert.equal(result.counters.rejected, 1);
});

Deno.test("runner writes again a record a BatchError names with a transient PipelineError", async () => {
  let failures = 0;
  const sink = memorySink({
    beforeWrite: (batch) => {
      const index = batch.messages.findIndex((m) => m.value === 13);
      if (index >= 0 && failures++ === 0) {
        const busy = new PipelineError("row locked by another writer", { transient: true });
        throw new BatchError("1 record failed.").failed(index, busy);
      }
    },
  });
  const source = memorySource([records(12, 13, 14)]);
  const result = await runPipeline(memoryPipeline({ source, sinks: [sink] }), { mode: "batch" });
  assert.equal(result.exitCode, 0, JSON.stringify(result.error));
  assert.equal(sink.attempts, 2);
  assert.deepEqual(sink.written.map((m) => m.value), [12, 13, 14]);
  assert.deepEqual(sink.rejects, []);
  assert.equal(result.counters.retries, 1);
});

Deno.test("runner resumes the source from the lowest position any sink stored", async () => {
  const ahead = memorySink({ storesCursors: true });
  const behind = memorySink({ storesCursors: true });
  // As a crash between the two sinks' writes leaves them: `ahead` wrote a batch `behind` lacks.
  ahead.cursors.push(
    { stream: "memory", partition: 0, offset: "5" },
    { stream: "memory", partition: 1, offset: "7" },
    { stream: "other", partition: 0, offset: "2" },
  );
  behind.cursors.push(
    { stream: "memory", partition: 0, offset: "3" },
    { stream: "memory", partition: 1, offset: "12" },
  );
  const source = memorySource<number>([]);
  const plain = memorySink();
  const result = await runPipeline(
    memoryPipeline({ source, sinks: [plain, ahead, behind, ahead] }),
    { mode: "batch" },
  );
  assert.equal(result.exitCode, 0, JSON.stringify(result.error));
  // The lowest per partition; a partition one of them has no position for starts afresh.
  assert.deepEqual(source.resumedFrom, [
    { stream: "memory", partition: 0, offset: "3" },
    { stream: "memory", partition: 1, offset: "7" },
  ]);
});

Deno.test("runner ends a batch run when the source is drained", async () => {
  const source = memorySource([records(1), records(2), records(3)]);
  const sink = memorySink();
  const result = await runPipeline(memoryPipeline({ source, sinks: [sink] }), { mode: "batch" });
  assert.equal(result.exitReason, "drained");
  assert.equal(result.counters.batches, 3);
  assert.equal(result.counters.written, 3);
  assert.equal(sink.closed, 1);
});

Deno.test("runner keeps a stream run going after the source is idle until a signal stops it", async () => {
  const controller = new AbortController();
  const sink = memorySink({
    beforeWrite: () => void setTimeout(() => controller.abort(new ShutdownRequested("SIGINT")), 20),
  });
  const source = memorySource([records(1)]);
  const result = await runPipeline(memoryPipeline({ source, sinks: [sink] }), {
    mode: "stream",
    signal: controller.signal,
  });
  assert.equal(result.exitReason, "signal");
  assert.equal(result.exitCode, 130);
  assert.deepEqual(source.acked, [0]);
});

Deno.test("runner leaves the batch in flight unacknowledged on SIGTERM", async () => {
  const controller = new AbortController();
  const source = memorySource([records(1), records(2)]);
  const sink = memorySink({
    beforeWrite: (batch, signal) => {
      if (batch.messages[0].value !== 2) return;
      controller.abort(new ShutdownRequested("SIGTERM"));
      // A real sink rolls its transaction back when the signal aborts.
      if (signal.aborted) throw signal.reason;
    },
  });
  const result = await runPipeline(memoryPipeline({ source, sinks: [sink] }), {
    mode: "stream",
    signal: controller.signal,
  });
  assert.equal(result.exitReason, "signal");
  assert.equal(result.exitCode, 143);
  assert.deepEqual(source.acked, [0]);
  assert.deepEqual(source.nacked, []);
  assert.equal(sink.closed, 1);
});

Deno.test("runner does not acknowledge a batch whose write finished after SIGTERM", async () => {
  const controller = new AbortController();
  const source = memorySource([records(1)]);
  const sink = memorySink({
    beforeWrite: () => controller.abort(new ShutdownRequested("SIGTERM")),
  });
  const result = await runPipeline(memoryPipeline({ source, sinks: [sink] }), {
    mode: "batch",
    signal: controller.signal,
  });
  assert.equal(result.exitCode, 143);
  assert.deepEqual(source.acked, []);
});

Deno.test("runner bounds the batches in flight with maxInFlight", async () => {
  const batches = Array.from({ length: 20 }, (_, i) => records(i));
  for (const maxInFlight of [1, 3]) {
    const source = memorySource(batches);
    const sink = memorySink({
      beforeWrite: () => new Promise((resolve) => setTimeout(resolve, 1)),
    });
    const pipeline = memoryPipeline({ source, sinks: [sink], runtime: { maxInFlight } });
    const result = await runPipeline(pipeline, { mode: "batch" });
    assert.equal(result.counters.acknowledged, 20);
    assert.equal(source.maxInFlight, maxInFlight);
  }
});

Deno.test("runner hands the source the cursors a sink stored with its rows", async () => {
  const sink = memorySink({ storesCursors: true });
  await runPipeline(
    memoryPipeline({ source: memorySource([records(1), records(2)]), sinks: [sink] }),
    {
      mode: "batch",
    },
  );
  const again = memorySource<number>([]);
  await runPipeline(memoryPipeline({ source: again, sinks: [sink] }), { mode: "batch" });
  assert.deepEqual(again.resumedFrom, [{ stream: "memory", partition: 0, offset: "2" }]);
});

Deno.test("runner runs steps and then checks after a drained batch run", async () => {
  const order: string[] = [];
  const check = (severity: CheckResult["severity"], passed: boolean): Check => ({
    run: () => {
      order.push(`check ${severity}`);
      return Promise.resolve({
        name: severity,
        severity,
        passed,
        observed: 1,
        threshold: 0,
        message: "",
      });
    },
  });
  const result = await runPipeline(
    memoryPipeline({
      source: memorySource([records(1)]),
      sinks: [memorySink()],
      steps: {
        "refresh-hourly": { run: () => (order.push("step"), Promise.resolve({ rows: 7 })) },
      },
      checks: [check("warn", false), check("info", true)],
    }),
    { mode: "batch" },
  );
  assert.deepEqual(order, ["step", "check warn", "check info"]);
  assert.equal(result.exitCode, 0);
  assert.equal(result.steps[0].rows, 7);
  assert.equal(result.checks.length, 2);
});

Deno.test("runner with parts.load false runs only the named step and never connects the source", async () => {
  let connected = false;
  const source: Source = {
    connect: () => (connected = true, Promise.resolve()),
    read: () => Promise.resolve(END_OF_INPUT),
  };
  const ran: string[] = [];
  const step = (name: string) => ({ run: () => (ran.push(name), Promise.resolve({ rows: 1 })) });
  const result = await runPipeline(
    memoryPipeline({
      source,
      sinks: [memorySink()],
      steps: { "refresh-hourly": step("hourly"), "refresh-daily": step("daily") },
    }),
    { mode: "batch", parts: { load: false, steps: ["refresh-daily"], checks: false } },
  );
  assert.equal(result.exitCode, 0);
  assert.deepEqual(ran, ["daily"]);
  assert.equal(result.counters.read, 0);
  assert.equal(connected, false);
});

Deno.test("runner with parts.steps empty and checks false loads and runs nothing after", async () => {
  const ran: string[] = [];
  const sink = memorySink();
  const result = await runPipeline(
    memoryPipeline({
      source: memorySource([records(1, 2)]),
      sinks: [sink],
      steps: { "refresh-hourly": { run: () => (ran.push("step"), Promise.resolve({ rows: 1 })) } },
    }),
    { mode: "batch", parts: { load: true, steps: [], checks: false } },
  );
  assert.equal(result.exitCode, 0);
  assert.equal(sink.written.length, 2);
  assert.deepEqual(ran, []);
  assert.deepEqual(result.steps, []);
});

Deno.test("runner exits 3 when an error-severity check fails", async () => {
  const failing: Check = {
    run: () =>
      Promise.resolve({
        name: "freshness",
        severity: "error",
        passed: false,
        observed: 900,
        threshold: 600,
        message: "The latest snapshot is 15 minutes old.",
      }),
  };
  const result = await runPipeline(
    memoryPipeline({
      source: memorySource([records(1)]),
      sinks: [memorySink()],
      checks: [failing],
    }),
    { mode: "batch" },
  );
  assert.equal(result.exitReason, "check_failed");
  assert.equal(result.exitCode, 3);
});

Deno.test("runner retries connecting and reports the last error after the last attempt", async () => {
  let tries = 0;
  const source = memorySource([]);
  source.connect = () => {
    tries++;
    return Promise.reject(new Error("connect ECONNREFUSED 127.0.0.1:1"));
  };
  const result = await runPipeline(
    memoryPipeline({
      source,
      sinks: [memorySink()],
      runtime: { connectRetry: { attempts: 3, initialDelayMs: 1 } },
    }),
    { mode: "batch" },
  );
  assert.equal(tries, 3);
  assert.equal(result.exitCode, 1);
  assert.match(
    result.error!.message,
    /Could not connect memory-source after 3 attempt\(s\): .*ECONNREFUSED/,
  );
});

Deno.test("runner does not retry a terminal connect error, nor say it did", async () => {
  let tries = 0;
  const source = memorySource([]);
  source.connect = () => {
    tries++;
    return Promise.reject(
      new PipelineError("Wrong password for user pipeline", { hint: "Fix it." }),
    );
  };
  const result = await runPipeline(
    memoryPipeline({
      source,
      sinks: [memorySink()],
      runtime: { connectRetry: { attempts: 3, initialDelayMs: 1 } },
    }),
    { mode: "batch" },
  );
  assert.equal(tries, 1);
  assert.equal(
    result.error!.message,
    "Could not connect memory-source: Wrong password for user pipeline",
  );
  assert.equal(result.error!.hint, "Fix it.");
});

Deno.test("runner fails the run when a transform throws instead of rejecting", async () => {
  const source = memorySource([records(1)]);
  const result = await runPipeline(
    memoryPipeline({
      source,
      sinks: [memorySink()],
      transforms: [{
        apply: () => {
          throw new TypeError("boom");
        },
      }],
    }),
    { mode: "batch" },
  );
  assert.equal(result.exitCode, 1);
  assert.match(result.error!.message, /threw instead of rejecting: boom/);
  assert.deepEqual(source.acked, []);
});

Deno.test("a stream run hands a batch that still fails back to the source and goes on", async () => {
  const controller = new AbortController();
  let failuresLeft = 2;
  const source = memorySource([records(0), records(1), records(2)]);
  const sink = memorySink({
    beforeWrite: (batch) => {
      if (batch.messages[0].value === 0 && failuresLeft-- > 0) {
        throw new PipelineError("Kafka is down.", { transient: true });
      }
      if (batch.messages[0].value === 2) {
        setTimeout(() => controller.abort(new ShutdownRequested("SIGTERM")), 10);
      }
    },
  });
  const pipeline = memoryPipeline({
    source,
    sinks: [sink],
    runtime: { maxInFlight: 3, writeRetry: { attempts: 2, initialDelayMs: 1 } },
  });
  const result = await runPipeline(pipeline, { mode: "stream", signal: controller.signal });
  assert.equal(result.exitCode, 143);
  assert.deepEqual(source.nacked.map((n) => n.batch), [0]);
  // The batches read ahead of the failed one were dropped, not written before it.
  assert.deepEqual(sink.written.map((m) => m.value), [0, 1, 2]);
  assert.deepEqual(source.acked, [0, 1, 2]);
  assert.equal(result.counters.nacked, 1);
});

Deno.test("a stream run waits longer after each batch handed back in a row, and starts over once one is written", async () => {
  const lines: string[] = [];
  await configureLogging({ format: "json", level: "error", write: (line) => lines.push(line) });
  const controller = new AbortController();
  // Batch 0 fails three times in a row; batch 1, after batch 0 was written, once.
  const failuresLeft = [3, 1];
  const sink = memorySink({
    beforeWrite: (batch) => {
      const value = batch.messages[0].value as number;
      if (value < 2 && failuresLeft[value]-- > 0) {
        throw new PipelineError("The warehouse is down.", { transient: true });
      }
      if (batch.messages[0].value === 2) controller.abort(new ShutdownRequested("SIGTERM"));
    },
  });
  const pipeline = memoryPipeline({
    source: memorySource([records(0), records(1), records(2)]),
    sinks: [sink],
    runtime: { writeRetry: { attempts: 1, initialDelayMs: 20, maxDelayMs: 60 } },
  });
  try {
    await runPipeline(pipeline, { mode: "stream", signal: controller.signal });
  } finally {
    await reset();
  }
  const pauses = lines.map((line) => JSON.parse(line)).filter((log) =>
    /handed back/.test(log.message)
  ).map((log) => log.properties.delayMs);
  // 20, 40, then 60 ms (the cap) instead of 80, each less up to 10 % of jitter; then 20 again.
  assert.deepEqual(pauses.map((ms: number) => Math.ceil(ms / 10) * 10), [20, 40, 60, 20]);
});

Deno.test("a stream run stops on a sink error that retrying cannot fix", async () => {
  const sink = memorySink({
    beforeWrite: () => {
      throw new PipelineError("Relation raw.x does not exist.");
    },
  });
  const source = memorySource([records(1)]);
  const result = await runPipeline(memoryPipeline({ source, sinks: [sink] }), { mode: "stream" });
  assert.equal(result.exitCode, 1);
  assert.deepEqual(source.nacked.map((n) => n.batch), [0]);
});

Deno.test("runner logs an error message with braces as it is", async () => {
  const lines: string[] = [];
  await configureLogging({ format: "json", level: "warning", write: (line) => lines.push(line) });
  const sink = memorySink({
    beforeWrite: () => {
      throw new PipelineError('The server said {"code":"57P01"}.', { transient: true });
    },
  });
  try {
    await runPipeline(
      memoryPipeline({ source: memorySource([records(1)]), sinks: [sink] }),
      { mode: "batch" },
    );
  } finally {
    await reset();
  }
  const retried = lines.map((line) => JSON.parse(line)).find((log) =>
    /^Could not write/.test(log.message)
  );
  assert.match(retried.message, /The server said \{"code":"57P01"\}\./);
});
