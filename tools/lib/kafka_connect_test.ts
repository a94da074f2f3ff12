import assert from "node:assert/strict";
import { requiredEnv, uniqueName } from "../../core/testing.ts";
import { ServiceError } from "./errors.ts";
import { startKafkaConnect, waitForConnector } from "./kafka_connect.ts";
import { isProcessAlive, pathExists, randomHex } from "./proc.ts";

Deno.test("startKafkaConnect() keeps a secret out of its files and log, reports a failed task, and leaves no JVM", async () => {
  const brokers = requiredEnv("KAFKA_BROKERS", "a Kafka broker");
  const server = new URL(requiredEnv("DATABASE_URL", "a PostgreSQL server"));
  // A wrong password: the task fails when it connects, and the failure names no password.
  const secret = `not-the-password-${randomHex(8)}`;
  const worker = await startKafkaConnect({
    brokers,
    connector: {
      "name": `velib-test-${randomHex(4)}`,
      "connector.class": "io.debezium.connector.jdbc.JdbcSinkConnector",
      "tasks.max": "1",
      "topics": uniqueName("kafka_connect_test"),
      "connection.url": `jdbc:postgresql://${server.host}${server.pathname}`,
      "connection.username": decodeURIComponent(server.username),
      "connection.password": "${env:VELIB_TEST_PASSWORD}",
      "insert.mode": "insert",
    },
    secrets: { VELIB_TEST_PASSWORD: secret },
    heap: "256m",
    log: () => {},
  });
  const { pid, dir } = worker;
  try {
    const failure = await waitForConnector(worker, () => Promise.resolve(false), {
      timeoutMs: 120_000,
    }).then(() => undefined, (error: unknown) => error);
    assert.ok(failure instanceof ServiceError, String(failure));
    assert.match(failure.message, /connector failed/);
    assert.match(failure.details ?? "", /password authentication failed|HibernateException/);
    assert.ok(!(failure.details ?? "").includes(secret));
    for await (const entry of Deno.readDir(dir)) {
      const text = await Deno.readTextFile(`${dir}/${entry.name}`).catch(() => "");
      assert.ok(!text.includes(secret), `${entry.name} holds the secret`);
    }
  } finally {
    await worker[Symbol.asyncDispose]();
  }
  assert.equal(isProcessAlive(pid), false);
  assert.equal(await pathExists(dir), false);
});
