/**
 * The source suite: what every source must do, for plugin authors' tests.
 *
 * @module
 */
import assert from "node:assert/strict";
import { retry } from "../retry.ts";
import {
  type Batch,
  type Cursor,
  END_OF_INPUT,
  type RunMode,
  type Source,
  type SourceContext,
} from "../types.ts";
import { canonical, registerCases, type SuiteCase } from "./case.ts";
import { testContext } from "./context.ts";

/** A store of known records, with a way to make sources over it. */
export interface SourceHarness<T> extends AsyncDisposable {
  /**
   * How many items (records and rejects) the store holds now: a full read delivers that many.
   * Their values (or payloads) must be distinct, since the suite tells them apart by value.
   */
  readonly records: number;
  /**
   * A new source over the store, not connected: the suite connects it as the runner would.
   * Each call is a fresh instance, as after a restart, that keeps no position of its own (give a
   * consumer group a new name on each call), so that only `loadCursors` tells it where to resume.
   */
  source(): Source<T>;
  /**
   * Adds `count` records after those there, with values unlike any before. Needed for a
   * `resumable` source.
   */
  add?(count: number): Promise<void>;
}

/** What {@linkcode sourceSuite} needs to know about a source. */
export interface SourceSuiteOptions<T> {
  /** Names the tests, e.g. `kafka source`. */
  name: string;
  /**
   * A fresh store holding `records` known records; keep its batches small (a few records), so
   * that a full read is several batches.
   */
  make(): Promise<SourceHarness<T>>;
  /**
   * Whether the source has positions: its batches carry cursors, and it resumes from the ones a
   * sink stored. `false` for a source with none, such as a poller of snapshots.
   * @default {true}
   */
  resumable?: boolean;
  /**
   * What comes after a nack: `redeliver`, the nacked records again; `supersede`, a new read of
   * the whole store instead, for a source whose newer data supersedes the old (a snapshot).
   * @default {"redeliver"}
   */
  afterNack?: "redeliver" | "supersede";
  /**
   * The longest a case waits for the source, connecting and reading included.
   * @default {30000}
   */
  timeoutMs?: number;
}

/**
 * The cases of {@linkcode sourceSuite}, to run one by one. Their ids: `drains`, `cursors`,
 * `resumes` (when `resumable`), `nack` and `close-twice`.
 *
 * @example A source that ignores stored cursors fails `resumes`
 * ```ts
 * import { caseById, sourceCases } from "../testing.ts";
 * import { memorySource } from "../memory.ts";
 * import type { Message } from "../types.ts";
 * import assert from "node:assert/strict";
 *
 * const batches: Message<number>[][] = [[{ value: 0 }, { value: 1 }], [{ value: 2 }]];
 * const cases = sourceCases({
 *   name: "forgetful source",
 *   make: () => Promise.resolve({
 *     get records() { return batches.flat().length; },
 *     source: () => {
 *       const source = memorySource(batches);
 *       return { read: source.read, connect: (ctx) => source.connect!({ ...ctx, loadCursors: () => Promise.resolve([]) }) };
 *     },
 *     add: (count) => {
 *       const from = batches.flat().length;
 *       batches.push(Array.from({ length: count }, (_, i) => ({ value: from + i })));
 *       return Promise.resolve();
 *     },
 *     [Symbol.asyncDispose]: () => Promise.resolve(),
 *   }),
 * });
 * await caseById(cases, "drains").run();
 * await assert.rejects(caseById(cases, "resumes").run(), /delivered again/);
 * ```
 */
export function sourceCases<T>(options: SourceSuiteOptions<T>): SuiteCase[] {
  const { make, resumable = true, afterNack = "redeliver", timeoutMs = 30_000 } = options;
  const run = (fn: (deadline: Deadline) => Promise<void>) => () => fn(deadline(timeoutMs));
  const open = (harness: SourceHarness<T>, mode: RunMode, at: Deadline, stored: Cursor[] = []) =>
    connected(options.name, harness.source(), { mode, deadline: at, stored });
  const cases: SuiteCase[] = [
    {
      id: "drains",
      name: "in batch mode, delivers every record once, then END_OF_INPUT",
      run: run(async (at) => {
        await using harness = await make();
        await using source = await open(harness, "batch", at);
        const items = itemsOf(await readAll(source, at));
        assert.equal(items.length, harness.records, "A full read delivers every item once.");
        assert.equal(new Set(items.map((i) => i.id)).size, items.length, "Items came twice.");
      }),
    },
    {
      id: "cursors",
      name: "batches carry one cursor per partition touched, past its records, never going back",
      run: run(async (at) => {
        await using harness = await make();
        await using source = await open(harness, "batch", at);
        checkCursors(await readAll(source, at), resumable);
      }),
    },
  ];
  if (resumable) {
    cases.push({
      id: "resumes",
      name: "resumed from stored cursors, delivers nothing they cover",
      run: run(async (at) => {
        await using harness = await make();
        assert.ok(harness.add, "A resumable source's harness needs add() for this case.");
        let before: Batch<T>[];
        {
          await using first = await open(harness, "batch", at);
          before = await readAll(first, at);
        }
        const added = 5;
        await harness.add(added);
        await using second = await open(harness, "batch", at, latestCursors(before));
        const after = itemsOf(await readAll(second, at));
        const seen = new Set(itemsOf(before).map((item) => item.id));
        const again = after.filter((item) => seen.has(item.id));
        assert.deepEqual(
          again.map((item) => item.id),
          [],
          `Resumed from the cursors of a full read, the source delivered again ${again.length} ` +
            "record(s) they cover: it must start where the stored cursors say.",
        );
        assert.equal(after.length, added, `Resumed, it delivers the ${added} records added.`);
      }),
    });
  }
  cases.push(
    {
      id: "nack",
      name: afterNack === "redeliver"
        ? "a nacked batch is delivered again"
        : "after a nack, the next read takes the whole store anew",
      run: run(async (at) => {
        await using harness = await make();
        await using source = await open(harness, "stream", at);
        const first = await at.guard(source.read(at.signal), "The source delivered nothing");
        assert.notEqual(first, END_OF_INPUT, "A stream-mode source does not end.");
        if (first === END_OF_INPUT) return;
        const nacked = itemsOf([first]);
        await first.ack(new Error("Synthetic failure: the suite nacks this batch."));
        if (afterNack === "supersede") {
          const next = await at.guard(source.read(at.signal), "Nothing came after the nack");
          assert.notEqual(next, END_OF_INPUT, "A stream-mode source does not end.");
          if (next !== END_OF_INPUT) {
            assert.equal(itemsOf([next]).length, harness.records, "A new read is the whole store.");
          }
          return;
        }
        const missing = new Set(nacked.map((item) => item.id));
        while (missing.size > 0) {
          const next = await at.guard(
            source.read(at.signal),
            `${missing.size} of the ${nacked.length} nacked item(s) never came again`,
          );
          assert.notEqual(next, END_OF_INPUT, "A stream-mode source does not end.");
          if (next === END_OF_INPUT) return;
          for (const item of itemsOf([next])) missing.delete(item.id);
          await next.ack();
        }
      }),
    },
    {
      id: "close-twice",
      name: "close() may be called twice, and before connect",
      run: run(async (at) => {
        await using harness = await make();
        const idle = harness.source();
        await idle.close?.();
        const source = await open(harness, "batch", at);
        await source.close();
        await source.close();
      }),
    },
  );
  return cases;
}

/**
 * The behaviours every source must have, as `Deno.test` cases: the test kit for plugin authors.
 * In `batch` mode it delivers every record once and then `END_OF_INPUT`; its batches carry one
 * cursor per partition touched, the next offset to read, never going back; resumed from stored
 * cursors it delivers nothing they cover; a nacked batch comes again (or, for a snapshot source,
 * a new snapshot); `close()` may be called twice. See {@linkcode sourceCases}.
 *
 * Two real uses: `plugins/kafka/source_suite_test.ts` (positions, a topic as the store) and
 * `plugins/source-velib/source_suite_test.ts` (a poller of snapshots: `resumable: false`,
 * `afterNack: "supersede"`, the replay of the API as the store).
 *
 * @example The in-memory source passes it
 * ```ts ignore
 * import type { Message } from "@velib/pipeline";
 * import { memorySource, sourceSuite } from "@velib/pipeline/testing";
 *
 * sourceSuite({
 *   name: "memory source",
 *   make: () => {
 *     const batches: Message<number>[][] = [];
 *     const add = (count: number) => {
 *       const from = batches.flat().length;
 *       for (let n = from; n < from + count; n += 3) {
 *         batches.push(Array.from({ length: Math.min(3, from + count - n) }, (_, i) => ({ value: n + i })));
 *       }
 *       return Promise.resolve();
 *     };
 *     add(12);
 *     return Promise.resolve({
 *       get records() { return batches.flat().length; },
 *       source: () => memorySource(batches),
 *       add,
 *       [Symbol.asyncDispose]: () => Promise.resolve(),
 *     });
 *   },
 * });
 * ```
 */
export function sourceSuite<T>(options: SourceSuiteOptions<T>): void {
  registerCases(options.name, "source suite", sourceCases(options));
}

/** A case's time limit: a signal for the source, and a way to fail with a message at it. */
interface Deadline {
  readonly signal: AbortSignal;
  readonly ms: number;
  /** Resolves as `promise`, or fails with `what` once the time is up. */
  guard<R>(promise: Promise<R>, what: string): Promise<R>;
}

function deadline(ms: number): Deadline {
  const signal = AbortSignal.timeout(ms);
  return {
    signal,
    ms,
    guard: async (promise, what) => {
      try {
        return await promise;
      } catch (error) {
        if (signal.aborted) assert.fail(`${what} within ${ms} ms.`);
        throw error;
      }
    },
  };
}

/** A source connected as the runner connects one; `await using` it to close it. */
interface Connected<T> extends AsyncDisposable {
  read: Source<T>["read"];
  close(): Promise<void>;
}

async function connected<T>(
  pipeline: string,
  source: Source<T>,
  { mode, deadline, stored }: { mode: RunMode; deadline: Deadline; stored: Cursor[] },
): Promise<Connected<T>> {
  const ctx: SourceContext = {
    ...testContext(pipeline, { mode, signal: deadline.signal }),
    loadCursors: () => Promise.resolve(stored.map((cursor) => ({ ...cursor }))),
  };
  const close = () => source.close?.() ?? Promise.resolve();
  try {
    // As the runner does: connecting is retried, e.g. while a new topic elects its leader.
    await deadline.guard(
      retry(() => source.connect?.(ctx) ?? Promise.resolve(), {
        attempts: 5,
        initialDelayMs: 200,
        maxDelayMs: 2_000,
      }, { signal: deadline.signal }),
      "The source did not connect",
    );
  } catch (error) {
    await close();
    throw error;
  }
  return { read: (signal) => source.read(signal), close, [Symbol.asyncDispose]: close };
}

/** Reads in batch mode until `END_OF_INPUT`, acknowledging every batch. */
async function readAll<T>(source: Connected<T>, at: Deadline): Promise<Batch<T>[]> {
  const batches: Batch<T>[] = [];
  for (;;) {
    const next = await at.guard(
      source.read(at.signal),
      `The source did not reach END_OF_INPUT after ${itemsOf(batches).length} item(s)`,
    );
    if (next === END_OF_INPUT) return batches;
    batches.push(next);
    await next.ack();
  }
}

interface Item {
  /** The item told apart by its value: `record <json>` or `reject <json>`. */
  id: string;
  origin?: Cursor;
}

function itemsOf<T>(batches: Batch<T>[]): Item[] {
  return batches.flatMap((batch) => [
    ...batch.messages.map((m) => ({ id: `record ${canonical(m.value)}`, origin: m.origin })),
    ...(batch.rejects ?? []).map((r) => ({
      id: `reject ${canonical(r.payload)}`,
      origin: r.origin,
    })),
  ]);
}

const partitionOf = (cursor: Cursor) => `partition ${cursor.partition} of ${cursor.stream}`;

/** Fails unless every batch's cursors follow the rules of {@linkcode Batch.cursors}. */
function checkCursors<T>(batches: Batch<T>[], resumable: boolean): void {
  const latest = new Map<string, bigint>();
  batches.forEach((batch, index) => {
    const at = `Batch ${index + 1}`;
    const partitions = batch.cursors.map(partitionOf);
    assert.equal(
      new Set(partitions).size,
      partitions.length,
      `${at} has two cursors for a partition.`,
    );
    const items = itemsOf([batch]);
    if (resumable && items.length > 0) {
      assert.ok(batch.cursors.length > 0, `${at} has records but no cursor to resume from.`);
    }
    for (const { origin } of items) {
      if (origin === undefined) continue;
      const cursor = batch.cursors.find((c) => partitionOf(c) === partitionOf(origin));
      if (cursor === undefined) {
        assert.ok(!resumable, `${at} touches ${partitionOf(origin)} but has no cursor for it.`);
        continue;
      }
      assert.ok(
        BigInt(cursor.offset) > BigInt(origin.offset),
        `${at}: the cursor of ${partitionOf(origin)} is ${cursor.offset}, not past the record at ` +
          `${origin.offset}. A cursor is the next offset to read: resumed there, the source ` +
          "would deliver that record again.",
      );
    }
    for (const cursor of batch.cursors) {
      const before = latest.get(partitionOf(cursor));
      assert.ok(
        before === undefined || BigInt(cursor.offset) >= before,
        `${at}: the cursor of ${partitionOf(cursor)} went back from ${before} to ${cursor.offset}.`,
      );
      latest.set(partitionOf(cursor), BigInt(cursor.offset));
    }
  });
}

/** The last cursor of each partition over `batches`, as a sink would have stored them. */
function latestCursors<T>(batches: Batch<T>[]): Cursor[] {
  const latest = new Map<string, Cursor>();
  for (const cursor of batches.flatMap((batch) => batch.cursors)) {
    latest.set(partitionOf(cursor), cursor);
  }
  return [...latest.values()];
}
