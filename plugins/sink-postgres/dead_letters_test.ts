import assert from "node:assert/strict";
import { join } from "node:path";
import pg from "pg";
import {
  type Batch,
  BatchError,
  type ComponentContext,
  type Cursor,
  END_OF_INPUT,
  type Message,
  PipelineError,
  type Reject,
  runPipeline,
  type Source,
  type SourceContext,
} from "../../mod.ts";
import { memoryPipeline, rejectingTransform, testContext } from "../../testing.ts";
import { configSchema } from "./config.ts";
import { DEAD_LETTER_STREAM } from "./dead_letters.ts";
import { PostgresSink } from "./sink.ts";
import { scratchDatabase } from "./testing.ts";

const PIPELINE = "letters";
const never = () => new AbortController().signal;
const at = (minute: number) => `2024-05-01T10:${String(minute).padStart(2, "0")}:00.000Z`;

/** A synthetic snapshot row; the station codes are made up. */
const row = (code: string, minute: number, bikes: number) => ({
  station_code: code,
  collected_at: at(minute),
  bikes,
});

const letterOrigin = (id: string): Cursor => ({
  stream: DEAD_LETTER_STREAM,
  partition: 0,
  offset: id,
});

const sourceContext = (ctx: ComponentContext): SourceContext => ({
  ...ctx,
  loadCursors: () => Promise.resolve([]),
});

interface LetterRow {
  id: string;
  stage: string;
  reason: string;
  payload: string | null;
  source_stream: string | null;
  replayed_at: Date | null;
  replay_run_id: string | null;
}

/** A fresh database with a snapshots table, sinks on it, and a client to look inside. */
async function letterSetup() {
  const database = await scratchDatabase();
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  await client.query(`CREATE SCHEMA raw;
    CREATE TABLE raw.snapshots (
      station_code text NOT NULL,
      collected_at timestamptz NOT NULL,
      bikes int CONSTRAINT bikes_not_negative CHECK (bikes >= 0),
      PRIMARY KEY (station_code, collected_at))`);
  const sinks: PostgresSink[] = [];
  const newSink = () => {
    const sink = new PostgresSink(configSchema.parse({
      url: database.url,
      writes: [{ table: "raw.snapshots", mode: "insert", key: ["station_code", "collected_at"] }],
    }));
    sinks.push(sink);
    return sink;
  };
  return {
    newSink,
    /** A sink of the pipeline, connected with `ctx`. */
    async sink(ctx: ComponentContext = testContext(PIPELINE)) {
      const sink = newSink();
      await sink.connect(ctx);
      return sink;
    },
    async query<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]> {
      return (await client.query(text, params)).rows as T[];
    },
    /** The pipeline's letters, in id order. */
    async letters(pipeline = PIPELINE): Promise<LetterRow[]> {
      const { rows } = await client.query(
        `SELECT d.id::text AS id, d.stage, d.reason, d.payload, d.source_stream, d.replayed_at,
           d.replay_run_id
         FROM pipeline.dead_letters AS d WHERE d.pipeline = $1 ORDER BY d.id`,
        [pipeline],
      );
      return rows;
    },
    async stored(): Promise<string[]> {
      const { rows } = await client.query(
        "SELECT station_code FROM raw.snapshots ORDER BY station_code, collected_at",
      );
      return rows.map((r) => r.station_code);
    },
    async [Symbol.asyncDispose]() {
      for (const sink of sinks) await sink.close();
      await client.end();
      await database[Symbol.asyncDispose]();
    },
  };
}

/** Stores `rejects` as letters through `sink`, and returns their ids in order. */
async function setAside(
  setup: Awaited<ReturnType<typeof letterSetup>>,
  sink: PostgresSink,
  rejects: Reject[],
): Promise<string[]> {
  const before = new Set((await setup.letters()).map((letter) => letter.id));
  await sink.write({ messages: [], rejects, cursors: [] }, never());
  return (await setup.letters()).map((letter) => letter.id).filter((id) => !before.has(id));
}

const reject = (payload: unknown, reason: string, origin?: Cursor): Reject => ({
  payload,
  reason,
  stage: "transform strict",
  ...origin === undefined ? {} : { origin },
});

/** Every batch of a replay source, until it ends. */
async function readAll(source: Source, ctx: ComponentContext): Promise<Batch[]> {
  await source.connect?.(sourceContext(ctx));
  const batches: Batch[] = [];
  for (;;) {
    const batch = await source.read(never());
    if (batch === END_OF_INPUT) return batches;
    batches.push(batch);
  }
}

Deno.test("listDeadLetters() gives the pipeline's letters oldest first, filtered by since and by reason ignoring case", async () => {
  await using setup = await letterSetup();
  const sink = await setup.sink();
  const kafka = { stream: "velib-stations", partition: 0, offset: "5" };
  const [a, b, c] = await setAside(setup, sink, [
    reject(row("90001", 0, 31), "Bikes over the strict limit of 30", kafka),
    reject("{not json", "Value is not valid JSON"),
    reject(row("90003", 0, 2), "100% full_station"),
  ]);
  // Set aside in the opposite order of their ids: the order is by time.
  for (const [id, minute] of [[a, 10], [b, 5], [c, 0]] as const) {
    await setup.query("UPDATE pipeline.dead_letters SET failed_at = $2 WHERE id = $1", [
      id,
      at(minute),
    ]);
  }
  const other = await setup.sink(testContext("another-pipeline"));
  await setAside(setup, other, [reject("{}", "Bikes over the strict limit of 30")]);

  const all = await sink.listDeadLetters({}, never());
  assert.deepEqual(all.map((letter) => letter.id), [c, b, a]);
  assert.deepEqual(all[2], {
    id: a,
    stage: "transform strict",
    reason: "Bikes over the strict limit of 30",
    payload: JSON.stringify(row("90001", 0, 31)),
    origin: kafka,
    failedAt: at(10),
  });
  assert.equal(all[1].payload, "{not json");
  assert.equal(all[1].origin, undefined, "a letter without an origin has none");

  const ids = async (filter: Parameters<PostgresSink["listDeadLetters"]>[0]) =>
    (await sink.listDeadLetters(filter, never())).map((letter) => letter.id);
  assert.deepEqual(await ids({ since: new Date(at(5)) }), [b, a], "since includes its instant");
  assert.deepEqual(await ids({ reason: "BIKES OVER" }), [a]);
  assert.deepEqual(await ids({ reason: "%" }), [c], "% is a character, not a wildcard");
  assert.deepEqual(await ids({ reason: "f_ll" }), [], "_ is a character, not a wildcard");
  assert.deepEqual(await ids({ reason: "full_" }), [c]);
  assert.deepEqual(await ids({ since: new Date(at(1)), reason: "json" }), [b]);
  assert.deepEqual(await ids({ since: new Date(at(11)) }), []);
});

Deno.test("replayDeadLetters() reads the waiting letters in pages of 1,000 as their records, with the letter as origin, then ends", async () => {
  await using setup = await letterSetup();
  const sink = await setup.sink();
  const count = 2_345;
  const ids = await setAside(
    setup,
    sink,
    Array.from({ length: count }, (_, n) =>
      reject(
        row(`9${String(n).padStart(4, "0")}`, n % 60, 40),
        n === 7 ? "capacity" : "Bikes over the strict limit of 30",
        { stream: "velib-stations", partition: 0, offset: String(n) },
      )),
  );
  // Letters that do not wait, or do not match, are left out.
  await setup.query("UPDATE pipeline.dead_letters SET replayed_at = now() WHERE id = $1", [ids[3]]);

  const ctx = testContext(PIPELINE);
  const source = sink.replayDeadLetters({ reason: "strict" });
  await source.connect?.(sourceContext(ctx));
  // Set aside once the replay started: it waits for the next one.
  await setAside(setup, sink, [reject(row("99999", 0, 40), "Bikes over the strict limit of 30")]);
  const batches: Batch[] = [];
  for (;;) {
    const batch = await source.read(never());
    if (batch === END_OF_INPUT) break;
    batches.push(batch);
  }
  assert.deepEqual(batches.map((batch) => batch.messages.length), [1_000, 1_000, count - 2_002]);
  assert.equal(await source.read(never()), END_OF_INPUT, "and stays ended");
  const messages = batches.flatMap((batch) => batch.messages);
  const expected = ids.filter((_, n) => n !== 3 && n !== 7);
  assert.deepEqual(messages.map((m) => m.origin?.offset), expected);
  const first = messages[0];
  assert.deepEqual(first, {
    value: row("90000", 0, 40),
    arrived: row("90000", 0, 40),
    origin: { stream: DEAD_LETTER_STREAM, partition: 0, offset: ids[0] },
  });
  for (const batch of batches) {
    assert.deepEqual(batch.cursors, []);
    assert.equal(batch.rejects, undefined);
    await batch.ack(); // does nothing: the write marks
  }
  assert.equal((await setup.letters()).filter((l) => l.replayed_at !== null).length, 1);
  assert.equal(source.seekable, undefined);
});

Deno.test("a replay source refuses to connect before its sink", async () => {
  await using setup = await letterSetup();
  const source = setup.newSink().replayDeadLetters({});
  await assert.rejects(
    source.connect!(sourceContext(testContext(PIPELINE))),
    (error: PipelineError) => {
      assert.equal(error.transient, false);
      assert.match(error.message, /reads through its sink's connection, which is not open/);
      return true;
    },
  );
});

Deno.test("a replay's payloads come back as the records they were: JSON parsed, other text as it is, and without an origin too", async () => {
  await using setup = await letterSetup();
  const sink = await setup.sink();
  const ids = await setAside(setup, sink, [
    reject({ nested: [1, { two: null }] }, "object"),
    reject("{not json", "text"),
    reject("42", "a number as text"),
    reject(undefined, "no payload"),
  ]);
  const batches = await readAll(sink.replayDeadLetters({}), testContext(PIPELINE));
  assert.deepEqual(
    batches.flatMap((batch) => batch.messages).map((m) => [m.value, m.arrived, m.origin]),
    [
      [{ nested: [1, { two: null }] }, { nested: [1, { two: null }] }, letterOrigin(ids[0])],
      ["{not json", "{not json", letterOrigin(ids[1])],
      [42, 42, letterOrigin(ids[2])],
      [null, null, letterOrigin(ids[3])],
    ],
  );
});

Deno.test("writing replayed records marks their letters replayed with the run id in the same transaction, and a failed write marks nothing", async () => {
  await using setup = await letterSetup();
  const ctx = testContext(PIPELINE);
  const sink = await setup.sink(ctx);
  const ids = await setAside(setup, sink, [
    reject(row("90001", 0, 31), "strict", { stream: "velib-stations", partition: 0, offset: "1" }),
    reject(row("90002", 0, 32), "strict"), // no origin: it replays too
    reject(row("90003", 0, -1), "strict", { stream: "velib-stations", partition: 0, offset: "3" }),
  ]);
  const [batch] = await readAll(sink.replayDeadLetters({}), ctx);
  const cursors: Cursor[] = [];

  await assert.rejects(
    sink.write({ messages: batch.messages, rejects: [], cursors }, never()),
    (error: BatchError) => {
      assert.ok(error instanceof BatchError, String(error));
      assert.deepEqual([...error.failures.keys()], [2]);
      return true;
    },
  );
  assert.deepEqual(await setup.stored(), []);
  assert.ok((await setup.letters()).every((letter) => letter.replayed_at === null));
  // A statement failing after the marks (a position PostgreSQL cannot store) undoes them too.
  await assert.rejects(
    sink.write({
      messages: batch.messages.slice(0, 2),
      rejects: [],
      cursors: [{ stream: "s", partition: 0, offset: "not a number" }],
    }, never()),
    PipelineError,
  );
  assert.deepEqual(await setup.stored(), []);
  assert.ok((await setup.letters()).every((letter) => letter.replayed_at === null));

  await sink.write({ messages: batch.messages.slice(0, 2), rejects: [], cursors }, never());
  assert.deepEqual(await setup.stored(), ["90001", "90002"]);
  const letters = await setup.letters();
  assert.deepEqual(letters.map((l) => l.replay_run_id), [ctx.runId, ctx.runId, null]);
  assert.ok(letters[0].replayed_at instanceof Date && letters[1].replayed_at instanceof Date);
  const listed = await sink.listDeadLetters({}, never());
  assert.equal(listed[0].replayed?.runId, ctx.runId);
  assert.equal(listed[0].replayed?.at, letters[0].replayed_at!.toISOString());
  assert.equal(listed[2].replayed, undefined);

  // Written again (a redelivered batch, a replay alongside): no row twice, the first mark stays.
  const later = await setup.sink(testContext(PIPELINE));
  later.replayDeadLetters({});
  await later.write({ messages: batch.messages.slice(0, 2), rejects: [], cursors }, never());
  assert.deepEqual(await setup.stored(), ["90001", "90002"]);
  assert.deepEqual((await setup.letters()).map((l) => l.replay_run_id), [
    ctx.runId,
    ctx.runId,
    null,
  ]);

  const next = await readAll(sink.replayDeadLetters({}), testContext(PIPELINE));
  assert.deepEqual(next.flatMap((b) => b.messages).map((m) => m.origin?.offset), [ids[2]]);
});

Deno.test("a replayed letter rejected again gets the new stage and reason, keeps its payload and origin, and no letter is added", async () => {
  await using setup = await letterSetup();
  const sink = await setup.sink();
  const kafka = { stream: "velib-stations", partition: 0, offset: "9" };
  const [id, other] = await setAside(setup, sink, [
    reject(row("90001", 0, 31), "Bikes over the strict limit of 30", kafka),
    reject(row("90002", 0, 32), "Bikes over the strict limit of 30"),
  ]);
  const [before] = await sink.listDeadLetters({}, never());
  const [batch] = await readAll(sink.replayDeadLetters({}), testContext(PIPELINE));
  const [first, second] = batch.messages;
  await sink.write({
    messages: [second],
    rejects: [{
      payload: { ...first.value as object, occupancy_rate: 1.55 }, // what a transform made of it
      reason: "Rejected by constraint bikes_not_negative",
      stage: "sink postgres",
      origin: first.origin,
    }],
    cursors: [],
  }, never());
  const letters = await sink.listDeadLetters({}, never());
  assert.equal(letters.length, 2);
  assert.deepEqual(letters[0], {
    ...before,
    stage: "sink postgres",
    reason: "Rejected by constraint bikes_not_negative",
  });
  assert.equal(letters[1].id, other);
  assert.ok(letters[1].replayed !== undefined);
  assert.equal(letters[0].id, id);

  // A letter one sink wrote and a later one refused waits again, with the later one's reason.
  await sink.write({
    messages: [],
    rejects: [{
      payload: null,
      reason: "Refused downstream",
      stage: "sink other",
      origin: second.origin,
    }],
    cursors: [],
  }, never());
  const [, again] = await sink.listDeadLetters({}, never());
  assert.equal(again.reason, "Refused downstream");
  assert.equal(again.replayed, undefined);
  assert.equal(again.payload, JSON.stringify(row("90002", 0, 32)));
});

Deno.test("a sink that is not replaying treats a dead-letter origin as any other", async () => {
  await using setup = await letterSetup();
  const sink = await setup.sink();
  const [id] = await setAside(setup, sink, [reject(row("90001", 0, 31), "strict")]);
  // Another database's sink would see ids that mean nothing there: it must not mark by them.
  const bystander = await setup.sink();
  await bystander.write({
    messages: [{ value: row("90001", 0, 31), origin: letterOrigin(id) }],
    rejects: [reject("{}", "refused", letterOrigin("123"))],
    cursors: [],
  }, never());
  const letters = await setup.letters();
  assert.equal(letters[0].replayed_at, null);
  assert.deepEqual(
    letters.map((l) => [l.source_stream, l.reason]),
    [[null, "strict"], [DEAD_LETTER_STREAM, "refused"]],
  );
});

Deno.test("a replay through the runner writes the letters a transform now takes, keeps the others waiting with the new reason, and a second replay writes nothing", async () => {
  await using setup = await letterSetup();
  const setAsideBy = await setup.sink(testContext("memory"));
  const letters: Reject[] = [31, 32, 33, 34].map((bikes, n) =>
    reject(row(`9000${n}`, 0, bikes), "Bikes over the strict limit of 30", {
      stream: "velib-stations",
      partition: 0,
      offset: String(n),
    })
  );
  await setAsideBy.write({ messages: [], rejects: letters, cursors: [] }, never());

  const replay = async () => {
    const sink = setup.newSink();
    const pipeline = memoryPipeline({
      source: sink.replayDeadLetters({}),
      transforms: [
        rejectingTransform<{ bikes: number }>((v) => v.bikes > 32, "Still over 32 bikes"),
      ],
      sinks: [sink],
    });
    return await runPipeline(pipeline, { mode: "batch", runId: crypto.randomUUID() });
  };
  const first = await replay();
  assert.equal(first.exitCode, 0, JSON.stringify(first.error));
  assert.deepEqual([first.counters.read, first.counters.written, first.counters.rejected], [
    4,
    2,
    2,
  ]);
  assert.deepEqual(await setup.stored(), ["90000", "90001"]);
  const stored = await setup.letters("memory");
  assert.equal(stored.length, 4);
  assert.deepEqual(stored.map((l) => l.replay_run_id), [first.runId, first.runId, null, null]);
  assert.deepEqual(stored.map((l) => [l.stage, l.reason]).slice(2), [
    ["transform memory", "Still over 32 bikes"],
    ["transform memory", "Still over 32 bikes"],
  ]);

  const second = await replay();
  assert.equal(second.exitCode, 0, JSON.stringify(second.error));
  assert.deepEqual([second.counters.read, second.counters.written], [2, 0]);
  assert.deepEqual(await setup.stored(), ["90000", "90001"]);
  assert.equal((await setup.letters("memory")).length, 4);
});

Deno.test("on the embedded PostgreSQL, the replay migration applies and a replay marks its letters", async () => {
  const root = await Deno.makeTempDir({ prefix: "dead_letters_test_" });
  try {
    const migrations = join(root, "migrations");
    await Deno.mkdir(migrations);
    await Deno.writeTextFile(
      join(migrations, "0001_items.sql"),
      "CREATE SCHEMA raw; CREATE TABLE raw.items (id int PRIMARY KEY, label text NOT NULL);",
    );
    const sink = new PostgresSink(configSchema.parse({
      url: `pglite:${join(root, "data")}`,
      migrations,
      writes: [{ table: "raw.items", mode: "insert", key: ["id"] }],
    }));
    const ctx = testContext(PIPELINE);
    const source = sink.replayDeadLetters({ reason: "LABEL" });
    await sink.connect(ctx);
    try {
      await sink.write({
        messages: [],
        rejects: [
          { payload: { id: 1, label: "one" }, reason: "label too short", stage: "t" },
          { payload: { id: 2 }, reason: "label missing", stage: "t" },
          { payload: "x", reason: "not an item", stage: "t" },
        ],
        cursors: [],
      }, never());
      const [batch] = await readAll(source, ctx);
      assert.deepEqual(batch.messages.map((m: Message) => m.value), [
        { id: 1, label: "one" },
        { id: 2 },
      ]);
      await sink.write({
        messages: [batch.messages[0]],
        rejects: [{ ...reject({}, "label is required"), origin: batch.messages[1].origin }],
        cursors: [],
      }, never());
      const listed = await sink.listDeadLetters({}, never());
      assert.deepEqual(listed.map((l) => [l.reason, l.replayed?.runId ?? "waiting"]), [
        ["label too short", ctx.runId],
        ["label is required", "waiting"],
        ["not an item", "waiting"],
      ]);
    } finally {
      await sink.close();
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
