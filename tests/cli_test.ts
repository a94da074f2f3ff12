import assert from "node:assert/strict";
import { runCli, startCli } from "./support/cli.ts";

const MEMORY = ["--config", "tests/support/memory.config.ts"];
const COMMAND_NAMES = [
  "stream",
  "batch",
  "rerun",
  "dead-letters",
  "plugins",
  "validate",
  "run",
  "step",
  "migrate",
  "check",
  "health",
];

Deno.test("pipeline --help lists the commands and the exit codes", async () => {
  // --help prints help, not a JSON summary, so it runs without the summary parser.
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", "cli/main.ts", "--help"],
  }).output();
  const text = new TextDecoder().decode(output.stdout);
  assert.equal(output.code, 0);
  for (const word of [...COMMAND_NAMES, "143", "KAFKA_BROKERS"]) {
    assert.ok(text.includes(word), `--help should mention ${word}`);
  }
});

Deno.test("every command answers --help with exit code 0", async () => {
  for (const command of COMMAND_NAMES) {
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", "cli/main.ts", command, "--help"],
    }).output();
    assert.equal(output.code, 0, command);
    assert.match(
      new TextDecoder().decode(output.stdout),
      new RegExp(`Usage: deno task pipeline ${command}`),
    );
  }
});

Deno.test("plugins lists each pipeline's plugins and where, then each plugin's schema and example", async () => {
  const run = await runCli(["plugins", ...MEMORY]);
  assert.equal(run.code, 0, run.stderr);
  for (
    const text of [
      "Pipeline quick:\n  source  synthetic  source: Yields",
      "  sink    memory     sinks[0], deadLetter: Keeps the records",
      "sink plugin slow: Takes `delayMs` per write and gives up when the run is stopped.\n" +
      "  config:\n    delayMs  integer (required)",
      '  example:\n    {\n      "label": "out"\n    }',
    ]
  ) assert.ok(run.stdout.includes(text), `stdout should include:\n${text}\n\n${run.stdout}`);
  const summary = run.summary as {
    pipelines: Array<{ name: string; plugins: Array<Record<string, unknown>> }>;
    plugins: Array<
      { kind: string; name: string; schema: Record<string, unknown>; example: unknown }
    >;
  };
  assert.deepEqual(summary.pipelines.map((p) => p.name), ["quick", "slow"]);
  assert.deepEqual(summary.pipelines[0].plugins[1], {
    kind: "sink",
    plugin: "memory",
    description: "Keeps the records and rejects it is given in memory.",
    usedAt: ["sinks[0]", "deadLetter"],
  });
  // Each plugin once, though both pipelines use the synthetic source.
  assert.deepEqual(summary.plugins.map((p) => `${p.kind} ${p.name}`), [
    "source synthetic",
    "sink memory",
    "sink slow",
  ]);
  const slow = summary.plugins[2];
  assert.deepEqual(slow.example, { delayMs: 0 });
  assert.equal(slow.schema.type, "object");
  assert.deepEqual(slow.schema.required, ["delayMs"]);
});

Deno.test("plugins for one pipeline lists only its plugins, and refuses an unknown one", async () => {
  const run = await runCli(["plugins", "slow", ...MEMORY]);
  assert.equal(run.code, 0, run.stderr);
  const summary = run.summary as { pipelines: Array<{ name: string }>; plugins: unknown[] };
  assert.deepEqual(summary.pipelines.map((p) => p.name), ["slow"]);
  assert.equal(summary.plugins.length, 2);
  const unknown = await runCli(["plugins", "lod", ...MEMORY]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /There is no pipeline lod.*\nHint: The pipelines are: quick, slow/);
});

Deno.test("plugins gives every plugin of pipeline.config.ts its config as JSON Schema", async () => {
  const run = await runCli(["plugins"]);
  assert.equal(run.code, 0, run.stderr);
  const { plugins } = run.summary as {
    plugins: Array<{ name: string; schema: { type?: string; properties?: object } }>;
  };
  assert.ok(plugins.length >= 5);
  for (const plugin of plugins) {
    assert.equal(plugin.schema.type, "object", plugin.name);
    assert.ok(plugin.schema.properties, plugin.name);
  }
});

Deno.test("an unknown command exits 2 and says which commands exist", async () => {
  const run = await runCli(["lod"]);
  assert.equal(run.code, 2);
  assert.match(run.stderr, /Unknown command "lod"/);
  assert.match(run.stderr, /Hint: The commands are: stream, batch/);
  assert.equal(run.summary.exitCode, 2);
});

Deno.test("an invalid config exits 2 naming each bad path and what was expected", async () => {
  const run = await runCli(["validate", "--config", "tests/support/broken.config.ts"]);
  assert.equal(run.code, 2);
  assert.match(run.stderr, /pipelines\.load\.source: expected a source plugin/);
  assert.match(
    run.stderr,
    /pipelines\.load\.sinks: Invalid input: expected array, received number/,
  );
  assert.match(run.stderr, /Hint: /);
  assert.doesNotMatch(run.stderr, /^\s+at /m, "no stack trace");
});

Deno.test("a batch run prints a one-line JSON summary last, with counts and timings", async () => {
  const run = await runCli(["batch", "quick", ...MEMORY]);
  assert.equal(run.code, 0);
  const summary = run.summary as {
    exitReason: string;
    counters: Record<string, number>;
    timings: object;
  };
  assert.equal(summary.exitReason, "drained");
  assert.equal(summary.counters.read, 15);
  assert.equal(summary.counters.acknowledged, 15);
  assert.ok("write" in summary.timings);
});

Deno.test("logs are JSON lines on stderr when it is not a terminal", async () => {
  const run = await runCli(["batch", "quick", ...MEMORY, "--log-level", "debug"]);
  const lines = run.stderr.split("\n").filter((line) => line.startsWith("{")).map((line) =>
    JSON.parse(line)
  );
  const finished = lines.find((line) => /^Finished quick/.test(line.message));
  assert.equal(finished?.level, "INFO");
  assert.deepEqual(finished?.logger, "pipeline.quick");
  assert.equal(finished?.properties.counters.read, 15);
});

Deno.test("SIGTERM during a write exits 143 and acknowledges nothing", async () => {
  const cli = startCli(["batch", "slow", ...MEMORY]);
  while (!cli.stderr().includes("first write started")) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  cli.child.kill("SIGTERM");
  const run = await cli.finished;
  assert.equal(run.code, 143);
  const summary = run.summary as { exitReason: string; counters: Record<string, number> };
  assert.equal(summary.exitReason, "signal");
  assert.equal(summary.counters.read, 5);
  assert.equal(summary.counters.acknowledged, 0);
});

Deno.test("stream --once runs one bounded cycle and exits 0", async () => {
  const run = await runCli(["stream", "quick", "--once", ...MEMORY]);
  assert.equal(run.code, 0);
  assert.equal(run.summary.command, "stream --once");
  assert.equal((run.summary.counters as Record<string, number>).written, 15);
});

Deno.test("step exits 2 naming the pipeline's steps when the step is unknown", async () => {
  const run = await runCli(["step", "load", "refresh-weekly"]);
  assert.equal(run.code, 2);
  assert.match(run.stderr, /Pipeline load has no step refresh-weekly/);
  assert.match(run.stderr, /Hint: Its steps are: refresh-hourly, refresh-daily, rank-stations/);
});

Deno.test("--load-only goes with batch only, and exits 2 elsewhere", async () => {
  const run = await runCli(["stream", "ingest", "--load-only"]);
  assert.equal(run.code, 2);
  assert.match(run.stderr, /--load-only goes with the batch command/);
});

Deno.test("migrate on the embedded default applies the warehouse migrations once", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "migrate_test_" });
  try {
    const env = { VELIB_DATA_DIR: dataDir };
    const first = await runCli(["migrate", "local"], { env, unset: ["DATABASE_URL"] });
    assert.equal(first.code, 0, first.stderr);
    const applied = first.summary.applied as string[];
    assert.ok(applied.includes("pipeline/0001_pipeline.sql"));
    assert.ok(applied.includes("app/0001_raw.sql"));
    const again = await runCli(["migrate", "local"], { env, unset: ["DATABASE_URL"] });
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(again.summary.applied, []);
    assert.match(again.stdout, /Up to date\./);
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("health answers per component, and exits 1 naming the one that is down, without its password", async () => {
  const run = await runCli(["health", "load", "postgres"], {
    env: { DATABASE_URL: "postgres://pipeline:hunter2@127.0.0.1:1/velib" },
  });
  assert.equal(run.code, 1);
  assert.match(
    run.stderr,
    /postgres: FAILED, Could not connect to PostgreSQL at 127\.0\.0\.1:1\/velib/,
  );
  assert.match(run.stderr, /Hint: Check that PostgreSQL is running/);
  assert.doesNotMatch(run.stdout + run.stderr, /hunter2/);
  assert.equal(run.summary.exitReason, "unhealthy");
});

Deno.test("health load postgres answers with the server's version when it is up", async () => {
  const run = await runCli(["health", "load", "postgres"]);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /postgres: ok, PostgreSQL \d+\.\d+ at /);
});

Deno.test("health exits 2 naming the components it knows when asked for another", async () => {
  const run = await runCli(["health", "load", "clickhouse"]);
  assert.equal(run.code, 2);
  assert.match(run.stderr, /Its components with one are: kafka, postgres/);
});

Deno.test("validate lists the reruns declared in pipeline.config.ts with their window and steps", async () => {
  const run = await runCli(["validate", "--config", "pipeline.config.ts"]);
  assert.equal(run.code, 0, run.stderr);
  assert.match(
    run.stdout,
    /^rerun reload-retained\tload, from earliest to the end, then every step/m,
  );
  assert.match(
    run.stdout,
    /^rerun reload-clickhouse\tload-clickhouse, from earliest to the end, then every step/m,
  );
  assert.deepEqual(run.summary.reruns, ["reload-retained", "reload-clickhouse"]);
});

Deno.test("rerun with an unknown name exits 2 and lists the declared reruns", async () => {
  const run = await runCli(["rerun", "reload-everything", "--config", "pipeline.config.ts"]);
  assert.equal(run.code, 2);
  assert.match(run.stderr, /No rerun named reload-everything/);
  assert.match(
    run.stderr,
    /Hint: Reruns in pipeline.config.ts: reload-retained, reload-clickhouse/,
  );
});
