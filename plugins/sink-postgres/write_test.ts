import assert from "node:assert/strict";
import pg from "pg";
import { BatchError, type Message, PipelineError, type SinkBatch } from "../../mod.ts";
import { type Scratch, scratch } from "./testing.ts";

interface Snapshot {
  station_code: string;
  collected_at: string;
  bikes: number | null;
}

const at = (minute: number) => `2024-05-01T10:${String(minute).padStart(2, "0")}:00.000Z`;

/** A record from offset `offset` of partition 0 of stream `snapshots`. */
const snapshot = (offset: number, code: string, minute: number, bikes: number): Message => ({
  value: { station_code: code, collected_at: at(minute), bikes },
  origin: { stream: "snapshots", partition: 0, offset: String(offset) },
});

const batchOf = (messages: Message[], extra: Partial<SinkBatch> = {}): SinkBatch => ({
  messages,
  rejects: [],
  cursors: [{ stream: "snapshots", partition: 0, offset: String(messages.length) }],
  ...extra,
});

const never = () => new AbortController().signal;

/** An append-only table, like raw.station_snapshots. */
async function snapshotsTable(db: Scratch): Promise<string> {
  const table = db.table("snapshots");
  await db.query(`CREATE TABLE ${table} (
    station_code varchar(10) NOT NULL,
    collected_at timestamptz NOT NULL,
    bikes int CONSTRAINT bikes_not_negative CHECK (bikes >= 0),
    note text DEFAULT 'none',
    UNIQUE (station_code, collected_at))`);
  return table;
}

/** One row per station, like mart.station_latest. */
async function latestTable(db: Scratch): Promise<string> {
  const table = db.table("latest");
  await db.query(`CREATE TABLE ${table} (
    station_code varchar(10) PRIMARY KEY,
    collected_at timestamptz NOT NULL,
    bikes int)`);
  return table;
}

const insertInto = (table: string) => ({
  table,
  mode: "insert",
  key: ["station_code", "collected_at"],
});
const upsertInto = (table: string) => ({
  table,
  mode: "upsert",
  key: ["station_code"],
  newerThan: "collected_at",
});

async function rowsOf(db: Scratch, table: string): Promise<Snapshot[]> {
  const rows = await db.query<Snapshot & { collected_at: Date }>(
    `SELECT station_code, collected_at, bikes FROM ${table} ORDER BY station_code, collected_at`,
  );
  return rows.map((row) => ({ ...row, collected_at: row.collected_at.toISOString() }));
}

async function countOf(db: Scratch, from: string, params: unknown[] = []): Promise<number> {
  const [row] = await db.query<{ count: string }>(`SELECT count(*) FROM ${from}`, params);
  return Number(row.count);
}

/** Waits until the sink's connection is blocked on a lock held by another transaction. */
async function untilBlocked(db: Scratch): Promise<number> {
  for (let tries = 0; tries < 500; tries++) {
    const rows = await db.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity
       WHERE application_name = $1 AND wait_event_type = 'Lock'`,
      [`pipeline ${db.pipeline}`],
    );
    if (rows.length > 0) return rows[0].pid;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error("The sink never waited on the lock.");
}

/** Holds, in an open transaction, the key that record `code`@`minute` of `table` needs. */
async function holdKey(db: Scratch, table: string, code: string, minute: number) {
  const blocker = new pg.Client({ connectionString: db.url });
  await blocker.connect();
  await blocker.query("BEGIN");
  await blocker.query(`INSERT INTO ${table} (station_code, collected_at) VALUES ($1, $2)`, [
    code,
    at(minute),
  ]);
  return {
    async release() {
      await blocker.query("ROLLBACK");
      await blocker.end();
    },
  };
}

Deno.test("postgres sink writes a batch, its dead letters and its cursors in one transaction", async () => {
  await using db = await scratch();
  const snapshots = await snapshotsTable(db);
  const latest = await latestTable(db);
  const sink = await db.sink({ writes: [insertInto(snapshots), upsertInto(latest)] });
  await sink.write(
    batchOf([snapshot(0, "16107", 0, 3), snapshot(1, "16107", 5, 4), snapshot(3, "9020", 5, 0)], {
      rejects: [{
        payload: "{not json",
        reason: "not JSON",
        stage: "source kafka",
        origin: { stream: "snapshots", partition: 0, offset: "2" },
      }],
      cursors: [{ stream: "snapshots", partition: 0, offset: "4" }],
    }),
    never(),
  );
  assert.deepEqual(await rowsOf(db, snapshots), [
    { station_code: "16107", collected_at: at(0), bikes: 3 },
    { station_code: "16107", collected_at: at(5), bikes: 4 },
    { station_code: "9020", collected_at: at(5), bikes: 0 },
  ]);
  assert.deepEqual(await rowsOf(db, latest), [
    { station_code: "16107", collected_at: at(5), bikes: 4 },
    { station_code: "9020", collected_at: at(5), bikes: 0 },
  ]);
  assert.deepEqual(
    await db.query(
      `SELECT stage, reason, payload, source_stream, source_partition, source_offset::int
       FROM pipeline.dead_letters WHERE pipeline = $1`,
      [db.pipeline],
    ),
    [{
      stage: "source kafka",
      reason: "not JSON",
      payload: "{not json",
      source_stream: "snapshots",
      source_partition: 0,
      source_offset: 2,
    }],
  );
  assert.deepEqual(await sink.loadCursors(), [{ stream: "snapshots", partition: 0, offset: "4" }]);
  // Rows written by one transaction carry its id in xmin, except those the COPY into the
  // insert target wrote: they carry the id of its savepoint, a subtransaction that commits only
  // with the transaction (the next test shows a failure after it leaves nothing).
  const transactions = await db.query(
    `SELECT DISTINCT xmin::text FROM (
       SELECT xmin FROM ${snapshots} UNION ALL SELECT xmin FROM ${latest}
       UNION ALL SELECT xmin FROM pipeline.dead_letters WHERE pipeline = $1
       UNION ALL SELECT xmin FROM pipeline.source_positions WHERE pipeline = $1) AS written`,
    [db.pipeline],
  );
  assert.equal(transactions.length, 2);
});

Deno.test("postgres sink rolls back the whole batch when the transaction fails", async () => {
  await using db = await scratch();
  const snapshots = await snapshotsTable(db);
  const sink = await db.sink({ writes: [insertInto(snapshots)] });
  const batch = batchOf([snapshot(0, "16107", 0, 3)], {
    rejects: [{ payload: "x", reason: "bad", stage: "transform enrich" }],
    // The positions are written last; this offset is not a number, so that statement fails.
    cursors: [{ stream: "snapshots", partition: 0, offset: "not a number" }],
  });
  await assert.rejects(sink.write(batch, never()), (error: PipelineError) => {
    assert.ok(!(error instanceof BatchError));
    assert.equal(error.transient, false);
    assert.match(error.message, /invalid input syntax for type bigint/);
    return true;
  });
  assert.equal(await countOf(db, snapshots), 0);
  assert.equal(await countOf(db, "pipeline.dead_letters WHERE pipeline = $1", [db.pipeline]), 0);
  assert.deepEqual(await sink.loadCursors(), []);
});

Deno.test("postgres sink rolls back and throws the signal's reason when aborted mid-write", async () => {
  await using db = await scratch();
  const snapshots = await snapshotsTable(db);
  const sink = await db.sink({ writes: [insertInto(snapshots)] });
  const blocker = await holdKey(db, snapshots, "16107", 1);
  const controller = new AbortController();
  const writing = sink.write(
    batchOf([snapshot(0, "16107", 0, 3), snapshot(1, "16107", 1, 4)]),
    controller.signal,
  );
  await untilBlocked(db);
  const reason = new Error("stop requested");
  controller.abort(reason);
  const stopped = assert.rejects(writing, (error) => error === reason);
  await blocker.release();
  await stopped;
  assert.equal(await countOf(db, snapshots), 0);
  assert.deepEqual(await sink.loadCursors(), []);
});

Deno.test("postgres sink reports a dropped connection as transient and writes on the next try", async () => {
  await using db = await scratch();
  const snapshots = await snapshotsTable(db);
  const sink = await db.sink({ writes: [insertInto(snapshots)], poolSize: 1 });
  const blocker = await holdKey(db, snapshots, "16107", 0);
  const batch = batchOf([snapshot(0, "16107", 0, 3)]);
  const writing = sink.write(batch, never());
  const pid = await untilBlocked(db);
  const failed = assert.rejects(writing, (error: PipelineError) => error.transient === true);
  await db.query("SELECT pg_terminate_backend($1)", [pid]);
  await failed;
  await blocker.release();
  await sink.write(batch, never()); // on a new connection: the broken one was not reused
  assert.equal(await countOf(db, snapshots), 1);
});

Deno.test("postgres sink ignores a replayed batch", async () => {
  await using db = await scratch();
  const snapshots = await snapshotsTable(db);
  const sink = await db.sink({ writes: [insertInto(snapshots)] });
  const batch = batchOf([snapshot(0, "16107", 0, 3), snapshot(1, "9020", 0, 7)]);
  await sink.write(batch, never());
  const first = await rowsOf(db, snapshots);
  await sink.write(batch, never());
  assert.deepEqual(await rowsOf(db, snapshots), first);
  assert.equal(first.length, 2);
});

Deno.test("postgres sink upsert never regresses a row to an older value", async () => {
  await using db = await scratch();
  const latest = await latestTable(db);
  const sink = await db.sink({ writes: [upsertInto(latest)] });
  await sink.write(batchOf([snapshot(0, "16107", 5, 5)]), never());
  await sink.write(batchOf([snapshot(1, "16107", 0, 1)]), never());
  assert.deepEqual(await rowsOf(db, latest), [
    { station_code: "16107", collected_at: at(5), bikes: 5 },
  ]);
  await sink.write(batchOf([snapshot(2, "16107", 10, 7)]), never());
  assert.deepEqual(await rowsOf(db, latest), [
    { station_code: "16107", collected_at: at(10), bikes: 7 },
  ]);
});

Deno.test("postgres sink upsert keeps the newest of duplicate keys within one batch", async () => {
  await using db = await scratch();
  const latest = await latestTable(db);
  const sink = await db.sink({ writes: [upsertInto(latest)] });
  await sink.write(
    batchOf([
      snapshot(0, "16107", 5, 5),
      snapshot(1, "16107", 10, 10),
      snapshot(2, "16107", 1, 1),
      // Equal timestamps: the later record in the batch wins.
      snapshot(3, "9020", 3, 1),
      snapshot(4, "9020", 3, 2),
    ]),
    never(),
  );
  assert.deepEqual(await rowsOf(db, latest), [
    { station_code: "16107", collected_at: at(10), bikes: 10 },
    { station_code: "9020", collected_at: at(3), bikes: 2 },
  ]);
});

Deno.test("postgres sink names the poison record in a BatchError and writes nothing", async () => {
  await using db = await scratch();
  const snapshots = await snapshotsTable(db);
  const sink = await db.sink({ writes: [insertInto(snapshots)] });
  const messages = Array.from({ length: 50 }, (_, i) => snapshot(i, `s${i}`, 0, i));
  messages[37] = snapshot(37, "a-code-far-too-long", 0, 1);
  await assert.rejects(sink.write(batchOf(messages), never()), (error: BatchError) => {
    assert.ok(error instanceof BatchError);
    assert.deepEqual([...error.failures.keys()], [37]);
    const cause = error.failures.get(37) as PipelineError;
    assert.equal(cause.transient, false);
    assert.match(cause.message, /column station_code \(character varying\(10\)\)/);
    assert.match(cause.message, /value too long/);
    return true;
  });
  assert.equal(await countOf(db, snapshots), 0);
  assert.deepEqual(await sink.loadCursors(), []);
});

Deno.test("postgres sink names the column or constraint each poison record breaks", async () => {
  await using db = await scratch();
  const snapshots = await snapshotsTable(db);
  const sink = await db.sink({ writes: [insertInto(snapshots)] });
  const messages = Array.from({ length: 20 }, (_, i) => snapshot(i, `s${i}`, 0, i));
  messages[3] = snapshot(3, "s3", 0, -1);
  messages[11] = { value: { station_code: "s11", bikes: 2 } };
  messages[15] = { value: { station_code: "s15", collected_at: at(0), bikes: "many" } };
  await assert.rejects(sink.write(batchOf(messages), never()), (error: BatchError) => {
    assert.deepEqual([...error.failures.keys()].sort((a, b) => a - b), [3, 11, 15]);
    assert.match(error.failures.get(3)!.message, /constraint bikes_not_negative/);
    assert.match(error.failures.get(11)!.message, /column collected_at .*not-null/);
    assert.match(error.failures.get(15)!.message, /column bikes \(integer\).*"many"/);
    return true;
  });
  assert.equal(await countOf(db, snapshots), 0);
});

Deno.test("postgres sink names records that are not objects of columns without writing", async () => {
  await using db = await scratch();
  const snapshots = await snapshotsTable(db);
  const sink = await db.sink({ writes: [insertInto(snapshots)] });
  const messages = [snapshot(0, "16107", 0, 3), { value: 42 }, { value: { colour: "red" } }];
  await assert.rejects(sink.write(batchOf(messages), never()), (error: BatchError) => {
    assert.deepEqual([...error.failures.keys()], [1, 2]);
    assert.match(error.failures.get(2)!.message, /none of the columns of .*snapshots/);
    return true;
  });
  assert.equal(await countOf(db, snapshots), 0);
});

Deno.test("postgres sink gives absent columns their default and ignores unknown fields", async () => {
  await using db = await scratch();
  const snapshots = await snapshotsTable(db);
  const sink = await db.sink({ writes: [insertInto(snapshots)] });
  await sink.write(
    batchOf([
      { value: { station_code: "16107", collected_at: at(0), colour: "red" } },
      { value: { station_code: "9020", collected_at: at(0), bikes: 2, note: "checked" } },
    ]),
    never(),
  );
  assert.deepEqual(
    await db.query(`SELECT station_code, bikes, note FROM ${snapshots} ORDER BY station_code`),
    [
      { station_code: "16107", bikes: null, note: "none" },
      { station_code: "9020", bikes: 2, note: "checked" },
    ],
  );
});

Deno.test("postgres sink stores a replayed reject once", async () => {
  await using db = await scratch();
  const snapshots = await snapshotsTable(db);
  const sink = await db.sink({ writes: [insertInto(snapshots)] });
  const batch = batchOf([], {
    rejects: [
      {
        payload: { station_code: 7 },
        reason: "station_code is not text",
        stage: "transform enrich",
        origin: { stream: "snapshots", partition: 0, offset: "12" },
      },
      // Without an origin, a reject cannot be told from a new one: it is stored every time.
      { payload: "a\0b", reason: "no origin", stage: "source http" },
    ],
  });
  await sink.write(batch, never());
  await sink.write(batch, never());
  assert.deepEqual(
    await db.query(
      `SELECT payload, source_offset::int FROM pipeline.dead_letters
       WHERE pipeline = $1 ORDER BY id`,
      [db.pipeline],
    ),
    [
      { payload: '{"station_code":7}', source_offset: 12 },
      { payload: "a\uFFFDb", source_offset: null },
      { payload: "a\uFFFDb", source_offset: null },
    ],
  );
});

Deno.test("postgres sink hands back the cursors it stored, and never moves one back", async () => {
  await using db = await scratch();
  const snapshots = await snapshotsTable(db);
  const sink = await db.sink({ writes: [insertInto(snapshots)] });
  const cursors = [
    { stream: "snapshots", partition: 0, offset: "120" },
    { stream: "snapshots", partition: 1, offset: "9007199254740993" },
  ];
  await sink.write(batchOf([], { cursors }), never());
  await sink.write(batchOf([], { cursors: [{ ...cursors[0], offset: "100" }] }), never());
  assert.deepEqual(await sink.loadCursors(), cursors);
});

Deno.test("postgres sink writes objects and lists to a jsonb column as JSON", async () => {
  await using db = await scratch();
  const table = db.table("events");
  await db.query(`CREATE TABLE ${table} (id int PRIMARY KEY, payload jsonb)`);
  const sink = await db.sink({ writes: [{ table, mode: "insert", key: ["id"] }] });
  await sink.write(
    batchOf([
      { value: { id: 1, payload: { bikes: [1, 2], name: "Synthetic 'quoted' \\ name" } } },
      { value: { id: 2, payload: [1, "two"] } },
      { value: { id: 3, payload: null } },
    ]),
    never(),
  );
  assert.deepEqual(await db.query(`SELECT id, payload FROM ${table} ORDER BY id`), [
    { id: 1, payload: { bikes: [1, 2], name: "Synthetic 'quoted' \\ name" } },
    { id: 2, payload: [1, "two"] },
    { id: 3, payload: null },
  ]);
});

Deno.test("postgres sink refuses at connect a table with an array column, with a hint", async () => {
  await using db = await scratch();
  const table = db.table("tagged");
  await db.query(`CREATE TABLE ${table} (id int PRIMARY KEY, tags text[])`);
  await assert.rejects(
    db.sink({ writes: [{ table, mode: "insert", key: ["id"] }] }),
    (error: PipelineError) => {
      assert.match(error.message, /array column\(s\) tags \(text\[\]\)/);
      assert.match(error.hint!, /jsonb/);
      return true;
    },
  );
});
