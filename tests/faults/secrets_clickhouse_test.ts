/**
 * Failure drill 8 on ClickHouse, secrets: a ClickHouse server of the drill's own, whose password
 * (random, no other run's) is searched for in the CLI's whole output (stdout and stderr, JSON and
 * pretty logs at debug level, the JSON summary) across `load-clickhouse`'s success path and its
 * failure paths. It must never appear.
 *
 * @module
 */
import assert from "node:assert/strict";
import { requiredEnv, uniqueName } from "../../core/testing.ts";
import { createTestTopic, produce } from "../../plugins/kafka/test_support.ts";
import { runCli } from "../support/cli.ts";
import { syntheticSnapshot } from "../support/synthetic.ts";
import { startOwnClickhouse } from "./clickhouse_server.ts";
import { drillSeed, recordDrill } from "./report.ts";

const CONFIG = ["--config", "tests/faults/secrets_clickhouse.config.ts"];
const LOG_FORMATS = [
  ["--log-format", "json", "--log-level", "debug"],
  ["--log-format", "pretty", "--log-level", "debug"],
];

Deno.test("secrets on ClickHouse: migrate, batch, step, check, health, validate and their failures never print the password", async () => {
  const seed = drillSeed();
  await using clickhouse = await startOwnClickhouse();
  const url = new URL(clickhouse.url);
  const password = decodeURIComponent(url.password);
  assert.ok(password.length >= 16, "a password long enough to be unique");
  const topic = await createTestTopic("secrets_ch", 1);
  // Collected now: synthetic stations, not real ones.
  await produce(
    topic,
    [1, 2, 3].map((n) => {
      const snapshot = syntheticSnapshot({ station_code: `9910${n}_synthetic` });
      return { key: snapshot.station_code, value: JSON.stringify(snapshot) };
    }),
  );
  const env = {
    KAFKA_BROKERS: requiredEnv("KAFKA_BROKERS", "a Kafka broker"),
    LOAD_TOPIC: topic,
    CLICKHOUSE_URL: clickhouse.url,
    CLICKHOUSE_DATABASE_PREFIX: `${uniqueName("secrets")}_`,
  };
  const withUrl = (href: string) => ({ ...env, CLICKHOUSE_URL: href });
  const wrong = new URL(url);
  wrong.password = `${password}wrong`;
  const closed = new URL(url);
  closed.port = "1";

  const cases: Array<[string[], Record<string, string>, number[]]> = [
    [["migrate", "load-clickhouse"], env, [0]],
    [["batch", "load-clickhouse"], env, [0]],
    [["step", "load-clickhouse", "refresh-hourly"], env, [0]],
    [["check", "load-clickhouse"], env, [0, 3]],
    [["health", "load-clickhouse", "clickhouse"], env, [0]],
    [["validate"], env, [0]],
    [["batch", "load-clickhouse"], withUrl(wrong.href), [1]],
    [["health", "load-clickhouse", "clickhouse"], withUrl(wrong.href), [1]],
    [["batch", "load-clickhouse"], withUrl(closed.href), [1]],
  ];
  let runs = 0;
  for (const [args, runEnv, codes] of cases) {
    for (const format of LOG_FORMATS) {
      const run = await runCli([...args, ...CONFIG, ...format], { env: runEnv });
      runs++;
      const label = `${args.join(" ")} ${format[1]} (${
        runEnv.CLICKHOUSE_URL === env.CLICKHOUSE_URL ? "right" : "other"
      } URL)`;
      assert.ok(codes.includes(run.code), `${label}: exit ${run.code}\n${run.stderr}`);
      const printed = run.stdout + run.stderr;
      assert.ok(!printed.includes(password), `${label} printed the password`);
      assert.ok(!printed.includes(encodeURIComponent(password)), `${label}, URL-encoded`);
    }
  }
  await recordDrill({
    scenario: "secrets on ClickHouse (password never printed)",
    seed,
    faults: 3 * LOG_FORMATS.length,
    messagesIn: runs,
    rowsOut: runs,
    lost: 0,
    duplicated: 0,
  });
});
