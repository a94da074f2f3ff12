import assert from "node:assert/strict";
import { requiredEnv } from "../core/testing.ts";
import { ServiceError } from "./lib/errors.ts";
import { definedSettings, formatEnvFile, readEnvFile, startServices } from "./services.ts";

Deno.test("CLICKHOUSE_URL is taken from the environment and round-trips through the env file", async () => {
  const env = {
    KAFKA_BROKERS: "127.0.0.1:39092",
    DATABASE_URL: "postgres://pipeline:pw@127.0.0.1:39432/velib",
    CLICKHOUSE_URL: " http://pipeline:pw@127.0.0.1:38123 ",
    UNRELATED: "x",
  };
  const settings = definedSettings(env);
  assert.deepEqual(settings, {
    KAFKA_BROKERS: "127.0.0.1:39092",
    DATABASE_URL: "postgres://pipeline:pw@127.0.0.1:39432/velib",
    CLICKHOUSE_URL: "http://pipeline:pw@127.0.0.1:38123",
  });
  assert.deepEqual(definedSettings({ CLICKHOUSE_URL: "  " }), {});
  const path = await Deno.makeTempFile({ prefix: "velib-services-env-" });
  try {
    await Deno.writeTextFile(path, formatEnvFile(settings));
    assert.deepEqual(await readEnvFile(path), settings);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("an unusable DATABASE_URL is reported without any part of its password", async () => {
  const existing = {
    KAFKA_BROKERS: requiredEnv("KAFKA_BROKERS", "a broker"),
    CLICKHOUSE_URL: requiredEnv("CLICKHOUSE_URL", "a ClickHouse server"),
  };
  // A password with '@' in it, and a port nothing listens on.
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (closed.addr as Deno.NetAddr).port;
  closed.close();
  const stateDir = await Deno.makeTempDir({ prefix: "velib-services-" });
  try {
    await assert.rejects(
      startServices({
        existing: { ...existing, DATABASE_URL: `postgres://u:p@ss@127.0.0.1:${port}/velib` },
        stateDir,
        ephemeral: true,
        log: () => {},
      }),
      (error: Error) => {
        assert.ok(error instanceof ServiceError);
        assert.match(error.message, /postgres:\/\/u:\*\*\*@127\.0\.0\.1/);
        assert.doesNotMatch(error.message, /p@ss|ss@/);
        return true;
      },
    );
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});
