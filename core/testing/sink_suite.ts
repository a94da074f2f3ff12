/**
 * The sink suite: what every sink must do, for plugin authors' tests.
 *
 * @module
 */
import assert from "node:assert/strict";
import { BatchError, PipelineError } from "../errors.ts";
import type { DeadLetter, Reject, Sink, SinkBatch } from "../types.ts";
import { canonical, registerCases, type SuiteCase } from "./case.ts";

/** A sink under test, with a way to look into what it stored. */
export interface SinkHarness<T> extends AsyncDisposable {
  /** The sink, connected. */
  sink: Sink<T>;
  /** The records the sink's store holds, in any order. */
  stored(): Promise<T[]>;
  /**
   * The rejects the sink's store holds, in any order, each as it was written: its `payload` as
   * given (parse it back when the store keeps it as text), `reason`, `stage` and `origin`.
   * Required unless the suite's `deadLetters` is false.
   */
  storedRejects?(): Promise<Reject[]>;
}

/**
 * A dead letter as the reject it was, for a harness's `storedRejects` over a sink that lists its
 * letters: its payload parsed back when it was stored as JSON text.
 *
 * @example
 * ```ts
 * import { letterAsReject } from "./sink_suite.ts";
 * import assert from "node:assert/strict";
 *
 * const reject = letterAsReject({
 *   id: "1",
 *   stage: "enrich",
 *   reason: "capacity is negative",
 *   payload: '{"n":1}',
 *   failedAt: "2026-12-02T10:00:00Z",
 * });
 * assert.deepEqual(reject.payload, { n: 1 });
 * ```
 */
export function letterAsReject(letter: DeadLetter): Reject {
  let payload: unknown = letter.payload;
  try {
    payload = letter.payload === null ? null : JSON.parse(letter.payload);
  } catch {
    // Stored as the text it was.
  }
  return { payload, reason: letter.reason, stage: letter.stage, origin: letter.origin };
}

/** What {@linkcode sinkSuite} needs to know about a sink. */
export interface SinkSuiteOptions<T> {
  /** Names the tests, e.g. `postgres sink`. */
  name: string;
  /** A fresh, connected sink over a fresh store. */
  make(): Promise<SinkHarness<T>>;
  /** The nth valid record; distinct n give distinct records. */
  record(n: number): T;
  /**
   * A record the store refuses on its own (a constraint it breaks), for the partial-failure
   * cases; leave it out for a sink that accepts anything.
   */
  poison?(n: number): T;
  /**
   * Whether a replayed batch leaves the store as it was, which an exactly-once effect needs
   * from a sink the runner may redeliver to (after a crash before the acknowledgement). A sink
   * that stores positions (`loadCursors`) must be.
   * @default {false}
   */
  idempotent?: boolean;
  /**
   * Whether the sink keeps the rejects it is given. Any sink may be made a pipeline's
   * dead-letter sink, so every sink should; one that cannot says `false`, and must then refuse
   * (throw on) a batch that carries rejects rather than drop them, and never be a `deadLetter`.
   * @default {true}
   */
  deadLetters?: boolean;
}

/**
 * The cases of {@linkcode sinkSuite}, to run one by one. Their ids: `stores-once`,
 * `replay-once` (with `idempotent`), `refused-named` (with `poison`), `rejects-stored` (or
 * `rejects-refused` when `deadLetters` is false) and `close-twice`.
 *
 * @example A sink that loses rejects fails `rejects-stored`
 * ```ts
 * import { caseById, sinkCases } from "../testing.ts";
 * import { memorySink } from "../memory.ts";
 * import assert from "node:assert/strict";
 *
 * const cases = sinkCases({
 *   name: "forgetful sink",
 *   make: () => {
 *     const sink = memorySink<number>();
 *     return Promise.resolve({
 *       sink,
 *       stored: () => Promise.resolve(sink.written.map((message) => message.value)),
 *       storedRejects: () => Promise.resolve([]),
 *       [Symbol.asyncDispose]: () => Promise.resolve(),
 *     });
 *   },
 *   record: (n) => n,
 * });
 * await caseById(cases, "stores-once").run();
 * await assert.rejects(caseById(cases, "rejects-stored").run(), /rejects/);
 * ```
 */
export function sinkCases<T>(options: SinkSuiteOptions<T>): SuiteCase[] {
  const { make, record, poison, idempotent = false, deadLetters = true } = options;
  const cases: SuiteCase[] = [{
    id: "stores-once",
    name: "stores every record of a batch once",
    run: async () => {
      await using harness = await make();
      const records = Array.from({ length: 25 }, (_, n) => record(n));
      await harness.sink.write(batch(records), signal());
      assert.deepEqual(sorted(await harness.stored()), sorted(records));
    },
  }];
  if (idempotent) {
    cases.push({
      id: "replay-once",
      name: "a replayed batch leaves the store as it was",
      run: async () => {
        await using harness = await make();
        const records = Array.from({ length: 10 }, (_, n) => record(n));
        const replayed = batch(records, deadLetters ? suiteRejects(10, 3) : []);
        await harness.sink.write(replayed, signal());
        const once = await snapshot(harness, deadLetters);
        await harness.sink.write(replayed, signal());
        assert.deepEqual(
          await snapshot(harness, deadLetters),
          once,
          "The sink says it is idempotent, but writing the same batch again changed its store: " +
            "a batch the runner redelivers after a crash would be stored twice.",
        );
      },
    });
  }
  if (poison !== undefined) {
    cases.push({
      id: "refused-named",
      name: "a refused record is named with a PipelineError and the batch stores nothing",
      run: async () => {
        await using harness = await make();
        const records = Array.from({ length: 12 }, (_, n) => n === 7 ? poison(n) : record(n));
        await assert.rejects(harness.sink.write(batch(records), signal()), (error: unknown) => {
          assertNamesRecord7(error);
          return true;
        });
        assert.deepEqual(
          await harness.stored(),
          [],
          "A batch with a refused record stores nothing.",
        );
      },
    });
  }
  cases.push(deadLetters ? rejectsStored(make, record) : rejectsRefused(make, record));
  cases.push({
    id: "close-twice",
    name: "close() may be called twice",
    run: async () => {
      await using harness = await make();
      await harness.sink.close?.();
      await harness.sink.close?.();
    },
  });
  return cases;
}

/**
 * The behaviours every sink must have, as `Deno.test` cases: the test kit for plugin authors.
 * A batch is stored once, and (for an `idempotent` sink) a replayed batch leaves the store as
 * it was; a batch with a record the store refuses stores nothing and names that record in a
 * `BatchError` with a terminal `PipelineError`; the rejects a batch carries are stored (as the
 * dead-letter sink gets them); `close()` may be called twice. See {@linkcode sinkCases}.
 *
 * @example The in-memory sink passes it
 * ```ts ignore
 * import { memorySink, sinkSuite } from "@velib/pipeline/testing";
 *
 * sinkSuite({
 *   name: "memory sink",
 *   make: () => {
 *     const sink = memorySink<{ n: number }>();
 *     return Promise.resolve({
 *       sink,
 *       stored: () => Promise.resolve(sink.written.map((message) => message.value)),
 *       storedRejects: () => Promise.resolve([...sink.rejects]),
 *       [Symbol.asyncDispose]: () => Promise.resolve(),
 *     });
 *   },
 *   record: (n) => ({ n }),
 * });
 * ```
 */
export function sinkSuite<T>(options: SinkSuiteOptions<T>): void {
  registerCases(options.name, "sink suite", sinkCases(options));
}

function rejectsStored<T>(make: SinkSuiteOptions<T>["make"], record: (n: number) => T): SuiteCase {
  return {
    id: "rejects-stored",
    name: "stores the rejects of a batch, with or without records, as the dead-letter sink",
    run: async () => {
      await using harness = await make();
      const { storedRejects } = harness;
      assert.ok(
        storedRejects !== undefined,
        "The harness has no storedRejects(): any sink may be a pipeline's dead-letter sink, so " +
          "the suite checks that it keeps rejects. Add storedRejects(), or set deadLetters: " +
          "false for a sink that refuses them.",
      );
      const records = Array.from({ length: 5 }, (_, n) => record(n));
      const withRecords = suiteRejects(5, 2);
      const alone = suiteRejects(7, 2);
      // As the runner writes them: with the batch's records, or alone and without cursors.
      await harness.sink.write(batch(records, withRecords), signal());
      await harness.sink.write({ messages: [], rejects: alone, cursors: [] }, signal());
      assert.deepEqual(
        sortedRejects(await storedRejects.call(harness)),
        sortedRejects([...withRecords, ...alone]),
        "The sink did not store the rejects it was given: as a dead-letter sink, it would " +
          "lose every record set aside.",
      );
      assert.deepEqual(sorted(await harness.stored()), sorted(records));
    },
  };
}

function rejectsRefused<T>(make: SinkSuiteOptions<T>["make"], record: (n: number) => T): SuiteCase {
  return {
    id: "rejects-refused",
    name: "refuses a batch that carries rejects, since it cannot keep them",
    run: async () => {
      await using harness = await make();
      await assert.rejects(
        harness.sink.write(batch([record(0)], suiteRejects(1, 1)), signal()),
        "The sink says it keeps no dead letters (deadLetters: false) but accepted a batch with " +
          "rejects: made a dead-letter sink, it would drop them silently.",
      );
    },
  };
}

/** Fails unless `error` is a `BatchError` naming record 7 alone with a terminal PipelineError. */
function assertNamesRecord7(error: unknown): void {
  assert.ok(error instanceof BatchError, `Expected a BatchError naming the record, got ${error}`);
  assert.deepEqual([...error.failures.keys()], [7], "The BatchError must name record 7 alone.");
  const failure = error.failures.get(7);
  assert.ok(
    failure instanceof PipelineError,
    `Record 7 is named with a ${failure?.name ?? typeof failure}, not a PipelineError. Whether ` +
      "a retry may help is decided where the error is created, and only a PipelineError says " +
      "it (transient): with another class the runner has to guess. Name each failure with " +
      "new PipelineError(message, { transient: false }) for a record the store refuses.",
  );
  assert.equal(
    failure.transient,
    false,
    "Record 7 is refused by the store itself, but its error is marked transient: the runner " +
      "would write it again and again instead of dead-lettering it.",
  );
}

const signal = () => new AbortController().signal;

function batch<T>(values: T[], rejects: Reject[] = []): SinkBatch<T> {
  return {
    messages: values.map((value, n) => ({
      value,
      origin: { stream: "suite", partition: 0, offset: String(n) },
    })),
    rejects,
    cursors: [{ stream: "suite", partition: 0, offset: String(values.length + rejects.length) }],
  };
}

/** `count` rejects from offset `from` on: JSON payloads, and text that is not JSON. */
function suiteRejects(from: number, count: number): Reject[] {
  return Array.from({ length: count }, (_, i) => {
    const n = from + i;
    return {
      payload: n % 2 === 0 ? { n, label: `synthetic reject ${n}` } : `not json {${n}`,
      reason: `synthetic reason ${n}`,
      stage: "transform suite",
      origin: { stream: "suite", partition: 0, offset: String(n) },
    };
  });
}

async function snapshot<T>(harness: SinkHarness<T>, withRejects: boolean) {
  return {
    records: sorted(await harness.stored()),
    rejects: withRejects && harness.storedRejects
      ? sortedRejects(await harness.storedRejects())
      : [],
  };
}

function sorted(values: unknown[]): string[] {
  return values.map(canonical).sort();
}

function sortedRejects(rejects: Reject[]): string[] {
  return sorted(rejects.map(({ payload, reason, stage, origin }) => ({
    payload,
    reason,
    stage,
    origin: origin ?? null,
  })));
}
