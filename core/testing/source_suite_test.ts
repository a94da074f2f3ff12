// Each hazard of the source suite, proved caught: a source broken in exactly that way fails the
// case, and the same source unbroken passes every case.
import assert from "node:assert/strict";
import {
  type Batch,
  type Cursor,
  END_OF_INPUT,
  type EndOfInput,
  type RunMode,
  type Source,
} from "../types.ts";
import { caseById, sourceCases, type SourceHarness, type SourceSuiteOptions } from "../testing.ts";

/** How a {@linkcode listSource} is broken; nothing set is a correct source. */
interface Breakage {
  /** Starts from the beginning whatever the stored cursors say. */
  ignoresCursors?: boolean;
  /** Gives the offset of the batch's last record as its cursor, not the next one. */
  cursorOnLast?: boolean;
  /** Gives every batch a cursor of another partition too, lower in the second than the first. */
  cursorGoesBack?: boolean;
  /** Never reports END_OF_INPUT, even in batch mode. */
  neverEnds?: boolean;
  /** Moves on after a nack, as if it were a commit. */
  ignoresNacks?: boolean;
  /** Throws when closed a second time. */
  closesOnce?: boolean;
}

const STREAM = "list";

/** A source of `{ n }` records in batches of 3, with offsets, broken as `breakage` says. */
function listSource(records: number[], breakage: Breakage): Source<{ n: number }> {
  let next = 0;
  let mode: RunMode = "batch";
  let closed = 0;
  let batches = 0;
  const wait = (signal: AbortSignal) =>
    new Promise<never>((_, reject) => {
      if (signal.aborted) reject(signal.reason);
      signal.addEventListener("abort", () => reject(signal.reason), { once: true });
    });
  return {
    async connect(ctx) {
      mode = ctx.mode;
      const stored = (await ctx.loadCursors()).find((cursor) => cursor.stream === STREAM);
      if (stored !== undefined && !breakage.ignoresCursors) next = Number(stored.offset);
    },
    read(signal): Promise<Batch<{ n: number }> | EndOfInput> {
      if (next >= records.length) {
        return mode === "batch" && !breakage.neverEnds
          ? Promise.resolve(END_OF_INPUT)
          : wait(signal);
      }
      const from = next;
      const taken = records.slice(from, from + 3);
      next = from + taken.length;
      batches++;
      let offset = next;
      if (breakage.cursorOnLast) offset = next - 1;
      const cursors: Cursor[] = [{ stream: STREAM, partition: 0, offset: String(offset) }];
      if (breakage.cursorGoesBack) {
        cursors.push({ stream: STREAM, partition: 1, offset: batches === 2 ? "2" : "5" });
      }
      return Promise.resolve({
        messages: taken.map((n, i) => ({
          value: { n },
          origin: { stream: STREAM, partition: 0, offset: String(from + i) },
        })),
        cursors,
        ack: (error) => {
          if (error && !breakage.ignoresNacks) next = from;
          return Promise.resolve();
        },
      });
    },
    close() {
      if (breakage.closesOnce && closed > 0) {
        return Promise.reject(new Error("The source is already closed."));
      }
      closed++;
      return Promise.resolve();
    },
  };
}

function harnessOf(breakage: Breakage): () => Promise<SourceHarness<{ n: number }>> {
  return () => {
    const records = Array.from({ length: 10 }, (_, n) => n);
    return Promise.resolve({
      get records() {
        return records.length;
      },
      source: () => listSource(records, breakage),
      add: (count: number) => {
        const from = records.length;
        records.push(...Array.from({ length: count }, (_, i) => from + i));
        return Promise.resolve();
      },
      [Symbol.asyncDispose]: () => Promise.resolve(),
    });
  };
}

const casesFor = (breakage: Breakage, options: Partial<SourceSuiteOptions<{ n: number }>> = {}) =>
  sourceCases({ name: "list source", make: harnessOf(breakage), timeoutMs: 500, ...options });

const run = (breakage: Breakage, id: string) => caseById(casesFor(breakage), id).run();

Deno.test("source suite passes the list source unbroken", async () => {
  for (const { run } of casesFor({})) await run();
});

Deno.test("source suite fails a source that ignores the stored cursors", async () => {
  await assert.rejects(run({ ignoresCursors: true }, "resumes"), /delivered again 10 record/);
});

Deno.test("source suite fails a source whose cursor is its last record, not the next", async () => {
  await assert.rejects(run({ cursorOnLast: true }, "cursors"), /not past the record at 2/);
  await assert.rejects(run({ cursorOnLast: true }, "resumes"), /delivered again 1 record/);
});

Deno.test("source suite fails a source whose cursors go back", async () => {
  await assert.rejects(
    run({ cursorGoesBack: true }, "cursors"),
    /partition 1 of list went back from 5 to 2/,
  );
});

Deno.test("source suite fails a source that never ends a batch run", async () => {
  await assert.rejects(
    run({ neverEnds: true }, "drains"),
    /did not reach END_OF_INPUT after 10 item\(s\) within 500 ms/,
  );
});

Deno.test("source suite fails a source that does not deliver a nacked batch again", async () => {
  await assert.rejects(
    run({ ignoresNacks: true }, "nack"),
    /3 of the 3 nacked item\(s\) never came again/,
  );
});

Deno.test("source suite fails a source whose close() throws the second time", async () => {
  await assert.rejects(run({ closesOnce: true }, "close-twice"), /already closed/);
});

Deno.test("source suite leaves out the resume case for a source without positions", () => {
  const ids = casesFor({}, { resumable: false }).map((c) => c.id);
  assert.deepEqual(ids, ["drains", "cursors", "nack", "close-twice"]);
});

/** A poller of snapshots: every read is the whole store, with no positions; `shrinks` breaks it. */
function snapshotHarness(shrinks: boolean): () => Promise<SourceHarness<{ n: number }>> {
  return () => {
    let mode: RunMode = "batch";
    let reads = 0;
    const source: Source<{ n: number }> = {
      connect: (ctx) => Promise.resolve(void (mode = ctx.mode)),
      read: () => {
        if (mode === "batch" && reads > 0) return Promise.resolve(END_OF_INPUT);
        const size = shrinks && reads > 0 ? 4 : 10;
        reads++;
        return Promise.resolve({
          messages: Array.from({ length: size }, (_, n) => ({ value: { n } })),
          cursors: [],
          ack: () => Promise.resolve(),
        });
      },
    };
    return Promise.resolve({
      records: 10,
      source: () => (reads = 0, source),
      [Symbol.asyncDispose]: () => Promise.resolve(),
    });
  };
}

Deno.test("source suite takes a new snapshot after a nack for a source that supersedes", async () => {
  const options = { resumable: false, afterNack: "supersede" as const, timeoutMs: 500 };
  const cases = sourceCases({ name: "snapshots", make: snapshotHarness(false), ...options });
  for (const { run } of cases) await run();
  const broken = sourceCases({ name: "snapshots", make: snapshotHarness(true), ...options });
  await assert.rejects(caseById(broken, "nack").run(), /A new read is the whole store/);
});
