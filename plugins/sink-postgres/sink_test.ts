import assert from "node:assert/strict";
import { ConnectionError, PipelineError } from "../../mod.ts";
import { serverOf } from "./database.ts";
import { configSchema } from "./config.ts";
import { PostgresSink } from "./sink.ts";
import { contextFor, databaseUrl, scratch } from "./testing.ts";

const sinkAt = (url: string) =>
  new PostgresSink(configSchema.parse({
    url,
    writes: [{ table: "raw.t", mode: "insert", key: ["id"] }],
    connectTimeoutMs: 2_000,
  }));

const withPassword = (url: string, password: string) => {
  const changed = new URL(url);
  changed.password = password;
  return changed.href;
};

Deno.test("postgres sink reports an unreachable server as a ConnectionError without the password", async () => {
  const sink = sinkAt("postgres://pipeline:hunter2@127.0.0.1:1/velib");
  await assert.rejects(sink.connect(contextFor("test")), (error: ConnectionError) => {
    assert.ok(error instanceof ConnectionError);
    assert.equal(error.transient, true);
    assert.match(error.message, /127\.0\.0\.1:1\/velib/);
    assert.equal(error.hint, "Check that PostgreSQL is running and DATABASE_URL points at it.");
    assert.doesNotMatch(`${error.message} ${error.hint}`, /hunter2/);
    return true;
  });
  await sink.close();
});

Deno.test("postgres sink reports a refused login as terminal, with a hint", async () => {
  const sink = sinkAt(withPassword(databaseUrl(), "hunter2"));
  await assert.rejects(sink.connect(contextFor("test")), (error: PipelineError) => {
    assert.ok(!(error instanceof ConnectionError));
    assert.equal(error.transient, false);
    assert.match(error.message, /password authentication failed/);
    assert.match(error.hint!, /user and password in DATABASE_URL/);
    assert.doesNotMatch(error.message, /hunter2/);
    return true;
  });
  await sink.close();
});

Deno.test("postgres sink reports a missing database as terminal, with a hint", async () => {
  const url = new URL(databaseUrl());
  url.pathname = "/no_such_database";
  const sink = sinkAt(url.href);
  await assert.rejects(sink.connect(contextFor("test")), (error: PipelineError) => {
    assert.equal(error.transient, false);
    assert.match(error.message, /"no_such_database" does not exist/);
    assert.match(error.hint!, /Create the database/);
    return true;
  });
});

Deno.test("postgres sink refuses at connect a table that does not exist", async () => {
  await using db = await scratch();
  await assert.rejects(
    db.sink({ writes: [{ table: db.table("missing"), mode: "insert", key: ["id"] }] }),
    (error: PipelineError) => {
      assert.equal(error.transient, false);
      assert.equal(error.message, `Table ${db.table("missing")} does not exist.`);
      return true;
    },
  );
});

Deno.test("postgres sink refuses at connect a key that is not a unique constraint", async () => {
  await using db = await scratch();
  const table = db.table("t");
  await db.query(`CREATE TABLE ${table} (id int, code text, UNIQUE (id, code))`);
  await assert.rejects(
    db.sink({ writes: [{ table, mode: "upsert", key: ["id"] }] }),
    (error: PipelineError) => {
      assert.equal(error.transient, false);
      assert.match(error.message, /has no unique constraint on \(id\)/);
      return true;
    },
  );
  await db.sink({ writes: [{ table, mode: "upsert", key: ["code", "id"] }] });
});

Deno.test("postgres sink health names the server version", async () => {
  const sink = sinkAt(databaseUrl());
  const health = await sink.health(AbortSignal.timeout(5_000));
  const server = serverOf(databaseUrl()).replaceAll(".", "\\.");
  assert.match(health, new RegExp(`^PostgreSQL \\d+\\.\\d+ at ${server}$`));
});

Deno.test("postgres sink health gives up when its signal aborts", async () => {
  // A server that accepts connections and never answers.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) accepted.push(conn);
  })();
  const sink = sinkAt(`postgres://pipeline:pw@127.0.0.1:${listener.addr.port}/velib`);
  const started = performance.now();
  await assert.rejects(
    sink.health(AbortSignal.timeout(100)),
    (error: Error) => error.name === "TimeoutError",
  );
  assert.ok(performance.now() - started < 1_000);
  listener.close();
  await accepting;
  for (const conn of accepted) conn.close();
});

Deno.test("postgres sink close is idempotent, and safe before connect", async () => {
  await using db = await scratch();
  const table = db.table("t");
  await db.query(`CREATE TABLE ${table} (id int PRIMARY KEY)`);
  const unconnected = sinkAt(db.url);
  await unconnected.close();
  const sink = await db.sink({ writes: [{ table, mode: "insert", key: ["id"] }] });
  await sink.close();
  await sink.close();
  await assert.rejects(
    sink.write({ messages: [], rejects: [], cursors: [] }, new AbortController().signal),
    /not connected/,
  );
});
