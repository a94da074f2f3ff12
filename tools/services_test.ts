import assert from "node:assert/strict";
import { definedSettings, formatEnvFile, readEnvFile, redactDatabaseUrl } from "./services.ts";

Deno.test("redactDatabaseUrl() hides the password of a ClickHouse URL as of a PostgreSQL one", () => {
  assert.equal(
    redactDatabaseUrl("http://pipeline:0123abcd@127.0.0.1:38123"),
    "http://pipeline:***@127.0.0.1:38123",
  );
  assert.equal(
    redactDatabaseUrl("CLICKHOUSE_URL (http://pipeline:s3cret@127.0.0.1:38123/) is not usable"),
    "CLICKHOUSE_URL (http://pipeline:***@127.0.0.1:38123/) is not usable",
  );
  assert.equal(
    redactDatabaseUrl("postgres://pipeline:s3cret@127.0.0.1:5432/velib"),
    "postgres://pipeline:***@127.0.0.1:5432/velib",
  );
});

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
