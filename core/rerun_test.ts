import assert from "node:assert/strict";
import { z } from "zod";
import { validateConfig } from "./config.ts";
import { BadRequest, BatchError, ConfigError, PipelineError } from "./errors.ts";
import { memoryPipeline, memorySink, memorySource } from "./memory.ts";
import { definePlugin } from "./plugin.ts";
import { parseInstant, planRerun, positionSchema } from "./range.ts";
import { runPipeline } from "./runner.ts";
import type { Message, Source, SourceContext, Step, StepScope, Transform } from "./types.ts";

const records = (...values: number[]): Message<number>[] => values.map((value) => ({ value }));

/** A memory source that can seek, and what the runner handed it at connect. */
function seekableSource(batches: Message[][]) {
  const inner = memorySource(batches);
  const seen: SourceContext[] = [];
  const source: Source = {
    seekable: true,
    connect: (ctx) => {
      seen.push(ctx);
      return inner.connect!(ctx);
    },
    read: (signal) => inner.read(signal),
  };
  return { source, seen, inner };
}

/** A step that records the scopes it was run with. */
function recordingStep(accepts?: Step["accepts"]) {
  const scopes: Array<StepScope | undefined> = [];
  const step: Step = {
    ...(accepts === undefined ? {} : { accepts }),
    run: (_signal, scope) => {
      scopes.push(scope);
      return Promise.resolve({ rows: 0 });
    },
  };
  return { step, scopes };
}

const HOUR = { from: new Date("2025-10-18T01:00:00Z"), to: new Date("2025-10-18T02:00:00Z") };

Deno.test("a rerun hands the source its range and keeps its positions under <pipeline>:rerun", async () => {
  const { source, seen } = seekableSource([records(1)]);
  const sink = memorySink();
  let positions: string | undefined;
  sink.connect = (ctx) => Promise.resolve(void (positions = ctx.positions));
  const range = { from: { time: HOUR.from.toISOString() } };
  const result = await runPipeline(memoryPipeline({ source, sinks: [sink] }), {
    mode: "batch",
    range,
  });
  assert.equal(result.exitCode, 0);
  assert.deepEqual(seen[0].range, range);
  assert.equal(seen[0].positions, "memory:rerun");
  assert.equal(positions, "memory:rerun");
});

Deno.test("a live run keeps its positions under the pipeline's name and gives the source no range", async () => {
  const { source, seen } = seekableSource([records(1)]);
  const result = await runPipeline(memoryPipeline({ source, sinks: [memorySink()] }), {
    mode: "batch",
  });
  assert.equal(result.exitCode, 0);
  assert.equal(seen[0].range, undefined);
  assert.equal(seen[0].positions, "memory");
});

Deno.test("a rerun of a source that cannot seek exits 2 and writes nothing", async () => {
  const sink = memorySink();
  const result = await runPipeline(
    memoryPipeline({ source: memorySource([records(1)]), sinks: [sink] }),
    { mode: "batch", range: { from: "earliest" } },
  );
  assert.equal(result.exitReason, "bad_request");
  assert.equal(result.exitCode, 2);
  assert.match(result.error!.message, /cannot read a range/);
  assert.equal(sink.written.length, 0);
});

Deno.test("a source refusing the range at connect exits 2 without a retry", async () => {
  let attempts = 0;
  const source: Source = {
    seekable: true,
    connect: () => {
      attempts++;
      return Promise.reject(new BadRequest("The window is older than the topic.", { hint: "h" }));
    },
    read: () => Promise.reject(new Error("never read")),
  };
  const result = await runPipeline(memoryPipeline({ source, sinks: [memorySink()] }), {
    mode: "batch",
    range: { from: "earliest" },
  });
  assert.equal(result.exitCode, 2);
  assert.equal(attempts, 1);
  assert.equal(result.error!.message, "The window is older than the topic.");
});

Deno.test("the steps that accept a window get the run's scope; the others run as usual", async () => {
  const windowed = recordingStep(["window"]);
  const atOnly = recordingStep(["at"]);
  const plain = recordingStep();
  const { source } = seekableSource([records(1)]);
  const pipeline = memoryPipeline({
    source,
    sinks: [memorySink()],
    steps: { windowed: windowed.step, "at-only": atOnly.step, plain: plain.step },
  });
  const result = await runPipeline(pipeline, {
    mode: "batch",
    range: { from: { time: HOUR.from.toISOString() } },
    scope: { window: HOUR },
  });
  assert.equal(result.exitCode, 0);
  assert.deepEqual(windowed.scopes, [{ window: HOUR }]);
  assert.deepEqual(atOnly.scopes, [undefined]);
  assert.deepEqual(plain.scopes, [undefined]);
});

Deno.test("a record a sink refuses is dead-lettered as it arrived, not as a transform made it", async () => {
  // Like the Vélib' API poller: records without an origin.
  const doubling: Transform<number, number> = {
    apply: (messages) => ({
      messages: messages.map((message) => ({ ...message, value: message.value * 2 })),
      rejects: [],
    }),
  };
  const refusing = memorySink<number>({
    beforeWrite: (batch) => {
      const index = batch.messages.findIndex((message) => message.value === 4);
      if (index >= 0) {
        throw new BatchError("refused").failed(index, new PipelineError("4 is not allowed"));
      }
    },
  });
  const result = await runPipeline(
    memoryPipeline({
      source: memorySource([records(1, 2, 3)]),
      transforms: [doubling],
      sinks: [refusing],
    }),
    { mode: "batch" },
  );
  assert.equal(result.exitCode, 0);
  assert.deepEqual(refusing.rejects.map((reject) => reject.payload), [2]);
  assert.deepEqual(refusing.written.map((message) => message.value), [2, 6]);
});

Deno.test("parseInstant takes ISO-8601 with a zone and refuses a time without one", () => {
  assert.equal(
    parseInstant("2025-10-18T00:00:00.5Z", "--from").toISOString(),
    "2025-10-18T00:00:00.500Z",
  );
  for (const text of ["2025-10-18T00:00:00", "2025-10-18", "yesterday", "2025-13-40T00:00:00Z"]) {
    assert.throws(() => parseInstant(text, "--to"), BadRequest, text);
  }
});

Deno.test("a rerun's steps work on [from, to), or on [from, now) without to", () => {
  const now = new Date("2025-10-18T12:00:00Z");
  const bounded = planRerun({
    from: { time: HOUR.from.toISOString() },
    to: { time: HOUR.to.toISOString() },
  }, now);
  assert.deepEqual(bounded.scope, { window: HOUR });
  const open = planRerun({ from: { time: HOUR.from.toISOString() } }, now);
  assert.deepEqual(open.scope, { window: { from: HOUR.from, to: now } });
  assert.equal(planRerun({ from: "earliest" }, now).scope, undefined);
});

Deno.test("a window that is empty or starts in the future is a bad request", () => {
  const now = new Date("2025-10-18T12:00:00Z");
  const at = (iso: string) => ({ time: iso });
  assert.throws(
    () => planRerun({ from: at("2025-10-18T02:00:00Z"), to: at("2025-10-18T01:00:00Z") }, now),
    /is not before --to/,
  );
  assert.throws(
    () => planRerun({ from: at("2025-10-18T02:00:00Z"), to: at("2025-10-18T02:00:00Z") }, now),
    /is not before --to/,
  );
  assert.throws(() => planRerun({ from: at("2025-10-18T12:00:00Z") }, now), /in the future/);
});

Deno.test("a position in a config is earliest, latest, an instant or offsets by partition", () => {
  assert.equal(positionSchema.parse("earliest"), "earliest");
  assert.deepEqual(positionSchema.parse("2025-10-18T02:00:00+02:00"), {
    time: "2025-10-18T00:00:00.000Z",
  });
  assert.equal(positionSchema.safeParse({ offsets: { "0": -1 } }).success, false);
  assert.equal(positionSchema.safeParse("2025-10-18").success, false);
});

const seekablePlugin = definePlugin({
  kind: "source",
  name: "seekable",
  description: "Can seek.",
  config: z.strictObject({}),
  example: {},
  create: () => seekableSource([]).source,
});

const plainPlugin = definePlugin({
  kind: "source",
  name: "plain",
  description: "Cannot seek.",
  config: z.strictObject({}),
  example: {},
  create: () => memorySource([]),
});

const sinkPlugin = definePlugin({
  kind: "sink",
  name: "memory",
  description: "Keeps records.",
  config: z.strictObject({}),
  example: {},
  create: () => memorySink(),
});

const stepPlugin = definePlugin({
  kind: "step",
  name: "noop",
  description: "Does nothing.",
  config: z.strictObject({}),
  example: {},
  create: () => recordingStep().step,
});

function configWith(reruns: Record<string, unknown>) {
  const sink = sinkPlugin({});
  const pipeline = (source: ReturnType<typeof seekablePlugin>) => ({
    description: "d",
    source,
    sinks: [sink],
    deadLetter: sink,
    steps: { refresh: stepPlugin({}) },
  });
  return {
    pipelines: { load: pipeline(seekablePlugin({})), poll: pipeline(plainPlugin({})) },
    reruns,
  };
}

Deno.test("a declared rerun is validated and listed", () => {
  const config = validateConfig(
    configWith({
      "last-day": {
        description: "The day again.",
        pipeline: "load",
        from: "2025-10-18T00:00:00Z",
        steps: ["refresh"],
      },
    }),
    {},
    "inline",
  );
  assert.deepEqual(config.reruns, [{
    name: "last-day",
    description: "The day again.",
    pipeline: "load",
    from: { time: "2025-10-18T00:00:00.000Z" },
    steps: ["refresh"],
    checks: true,
  }]);
});

Deno.test("a rerun of an unknown pipeline or step, or of a source that cannot seek, is a config error", () => {
  const issues = (rerun: Record<string, unknown>) => {
    try {
      validateConfig(configWith({ r: { description: "d", from: "earliest", ...rerun } }), {}, "x");
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      return error.issues.map((issue) => `${issue.path}: ${issue.message}`);
    }
    assert.fail("expected a config error");
  };
  assert.deepEqual(issues({ pipeline: "lod" }), ["reruns.r.pipeline: no such pipeline"]);
  assert.deepEqual(issues({ pipeline: "load", steps: ["refesh"] }), [
    "reruns.r.steps: no step refesh; the steps are: refresh",
  ]);
  assert.deepEqual(issues({ pipeline: "poll" }), [
    "reruns.r.pipeline: the source of poll (plain) cannot seek",
  ]);
});
