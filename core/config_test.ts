import assert from "node:assert/strict";
import { z } from "zod";
import { defineConfig, validateConfig } from "./config.ts";
import { ConfigError } from "./errors.ts";
import { memorySink, memorySource } from "./memory.ts";
import { definePlugin } from "./plugin.ts";

const testSource = definePlugin({
  kind: "source",
  name: "test-source",
  description: "Yields nothing.",
  config: z.strictObject({ brokers: z.string().min(1), topic: z.string() }),
  example: { brokers: "127.0.0.1:9092", topic: "t" },
  env: { brokers: "KAFKA_BROKERS" },
  create: () => memorySource([]),
});

const testSink = definePlugin({
  kind: "sink",
  name: "test-sink",
  description: "Keeps records in memory.",
  config: z.strictObject({ url: z.url(), batchSize: z.int().positive().default(100) }),
  example: { url: "postgres://127.0.0.1/velib" },
  env: { url: "DATABASE_URL" },
  create: () => memorySink(),
});

function issuesOf(run: () => unknown): ConfigError["issues"] {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${error}`);
    return error.issues;
  }
  assert.fail("expected the config to be rejected");
}

/** A config with one pipeline, `load`, whose only sink is also its dead-letter sink. */
function loadPipelineInto(
  sink: ReturnType<typeof testSink>,
  runtime?: { pipeline?: Record<string, unknown>; config?: Record<string, unknown> },
) {
  return defineConfig({
    ...(runtime?.config ? { runtime: runtime.config } : {}),
    pipelines: {
      load: {
        description: "d",
        source: testSource(testSource.spec.example),
        sinks: [sink],
        deadLetter: sink,
        ...(runtime?.pipeline ? { runtime: runtime.pipeline } : {}),
      },
    },
  });
}

Deno.test("config error names the path of a bad plugin field and what was expected", () => {
  const sink = testSink({ url: "postgres://127.0.0.1/velib", batchSize: -5 });
  const config = loadPipelineInto(sink);
  const issues = issuesOf(() => validateConfig(config, {}, "pipeline.config.ts"));
  assert.deepEqual(issues.map((i) => i.path), [
    "pipelines.load.sinks[0].batchSize",
  ]);
  assert.match(issues[0].message, /expected number to be >0/);
});

Deno.test("config error names a missing component and the kind of plugin expected", () => {
  const issues = issuesOf(() =>
    validateConfig({ pipelines: { load: { description: "d", sinks: [] } } }, {}, "inline")
  );
  const byPath = Object.fromEntries(issues.map((i) => [i.path, i.message]));
  assert.match(byPath["pipelines.load.source"], /expected a source plugin/);
  assert.match(byPath["pipelines.load.sinks"], /expected array to have >=1 items/);
  assert.match(byPath["pipelines.load.deadLetter"], /expected a sink plugin/);
});

Deno.test("config error points at a sink given where a source belongs", () => {
  const sink = testSink({ url: "postgres://127.0.0.1/velib" });
  const issues = issuesOf(() =>
    validateConfig(
      { pipelines: { load: { description: "d", source: sink, sinks: [sink], deadLetter: sink } } },
      {},
      "x",
    )
  );
  assert.deepEqual(issues, [{
    path: "pipelines.load.source",
    message: "expected a source plugin such as kafkaSource({...})",
  }]);
});

Deno.test("config error reports a misspelt key", () => {
  const issues = issuesOf(() =>
    validateConfig(defineConfig({ pipelines: {}, runtime: { maxInFlite: 2 } as never }), {}, "x")
  );
  assert.equal(issues[0].path, "runtime");
  assert.match(issues[0].message, /Unrecognized key: "maxInFlite"/);
});

Deno.test("config error message lists every problem with a hint", () => {
  const error = new ConfigError("pipeline.config.ts", [
    { path: "pipelines.load.sinks[0].url", message: "Invalid URL" },
    { path: "pipelines.load.source.topic", message: "expected string, received undefined" },
  ]);
  assert.equal(
    error.message,
    "Invalid configuration in pipeline.config.ts:\n" +
      "  - pipelines.load.sinks[0].url: Invalid URL\n" +
      "  - pipelines.load.source.topic: expected string, received undefined",
  );
  assert.match(error.hint!, /deno task pipeline validate/);
});

Deno.test("environment variables override the config and are named when invalid", () => {
  const sink = testSink({ url: "postgres://127.0.0.1/velib" });
  const config = loadPipelineInto(sink);
  const issues = issuesOf(() => validateConfig(config, { DATABASE_URL: "not a url" }, "x"));
  assert.equal(issues[0].path, "pipelines.load.sinks[0].url (from DATABASE_URL)");
  assert.doesNotThrow(() => validateConfig(config, { DATABASE_URL: "postgres://db/velib" }, "x"));
});

Deno.test("a component used as sink and dead-letter sink is built once", () => {
  const sink = testSink({ url: "postgres://127.0.0.1/velib" });
  const config = loadPipelineInto(sink);
  const pipeline = validateConfig(config, {}, "x").pipeline("load");
  assert.equal(pipeline.deadLetter.component, pipeline.sinks[0].component);
  assert.equal(pipeline.sinks[0].name, "test-sink");
});

Deno.test("asking for an unknown pipeline lists the ones that exist", () => {
  const config = validateConfig(defineConfig({ pipelines: {} }), {}, "x");
  assert.throws(
    () => config.pipeline("lod"),
    (error: ConfigError) => /defined are: $|none/.test(error.hint!),
  );
});

Deno.test("a pipeline's runtime overrides only the settings it names", () => {
  const sink = testSink({ url: "postgres://127.0.0.1/velib" });
  const config = loadPipelineInto(sink, {
    config: { connectRetry: { attempts: 3, initialDelayMs: 20 } },
    pipeline: { maxInFlight: 1 },
  });
  const { runtime } = validateConfig(config, {}, "x").pipeline("load");
  assert.equal(runtime.maxInFlight, 1);
  assert.deepEqual(runtime.connectRetry, { attempts: 3, initialDelayMs: 20, maxDelayMs: 30_000 });
});
