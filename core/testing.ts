/**
 * Helpers for tests of plugins that talk to real services: the services' addresses from the
 * environment, and names no other test run uses.
 *
 * @module
 */
import assert from "node:assert/strict";
import { getLogger } from "@logtape/logtape";
import { BatchError } from "./errors.ts";
import type { ComponentContext, Sink, SinkBatch } from "./types.ts";

/**
 * The value of the environment variable `name`, or an error that says what the test needs and
 * how to get it. An integration test fails without its service; it never skips.
 *
 * @example
 * ```ts
 * import { requiredEnv } from "./testing.ts";
 * import assert from "node:assert/strict";
 *
 * assert.throws(() => requiredEnv("UNSET_FOR_THIS_EXAMPLE", "a broker"), /deno task test/);
 * ```
 */
export function requiredEnv(name: string, needs: string): string {
  const value = Deno.env.get(name);
  if (value) return value;
  throw new Error(
    `${name} is not set, and this test needs ${needs}. Run it with \`deno task test\`, which ` +
      "starts PostgreSQL and Kafka, or start them with `deno task services up` and load " +
      "`deno task services env`.",
  );
}

/**
 * A name no other test run uses, valid as a Kafka topic, a consumer group and a SQL identifier.
 *
 * @example
 * ```ts
 * import { uniqueName } from "./testing.ts";
 * import assert from "node:assert/strict";
 *
 * assert.match(uniqueName("orders"), /^orders_[0-9a-f]{8}$/);
 * ```
 */
export function uniqueName(prefix: string): string {
  return `${prefix}_${crypto.randomUUID().slice(0, 8)}`;
}

/**
 * The context the runner would hand a component of `pipeline` in a live `batch` run, for
 * connecting one by hand in a test; `overrides` replaces any part of it.
 *
 * @example
 * ```ts
 * import { testContext } from "./testing.ts";
 * import assert from "node:assert/strict";
 *
 * const ctx = testContext("load", { mode: "stream" });
 * assert.equal(ctx.positions, "load");
 * assert.equal(ctx.mode, "stream");
 * ```
 */
export function testContext(
  pipeline: string,
  overrides: Partial<ComponentContext> = {},
): ComponentContext {
  return {
    pipeline,
    mode: "batch",
    runId: `test-${crypto.randomUUID()}`,
    positions: pipeline,
    logger: getLogger(["pipeline", pipeline]),
    signal: new AbortController().signal,
    ...overrides,
  };
}

/** A sink under test, with a way to look into what it stored. */
export interface SinkHarness<T> extends AsyncDisposable {
  /** The sink, connected. */
  sink: Sink<T>;
  /** The records the sink's store holds, in any order. */
  stored(): Promise<T[]>;
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
   * from a sink the runner may redeliver to (after a crash before the acknowledgement).
   * @default {false}
   */
  idempotent?: boolean;
}

/**
 * The behaviours every sink must have, as `Deno.test` cases: the test kit for plugin authors.
 * A batch is stored once, and (for an `idempotent` sink) still once when it is replayed; a
 * batch with a record the store refuses stores nothing and names that record in a `BatchError`;
 * `close()` may be called twice.
 *
 * @example
 * ```ts ignore
 * import { sinkSuite } from "../../core/testing.ts";
 *
 * sinkSuite({
 *   name: "clickhouse sink",
 *   make: async () => ({ sink, stored: () => readAll(), [Symbol.asyncDispose]: dropAll }),
 *   record: (n) => ({ id: n, label: `synthetic ${n}` }),
 *   poison: (n) => ({ id: n, label: null }),
 *   idempotent: true,
 * });
 * ```
 */
export function sinkSuite<T>(options: SinkSuiteOptions<T>): void {
  const { name, make, record, poison, idempotent = false } = options;
  const batch = (values: T[]): SinkBatch<T> => ({
    messages: values.map((value, n) => ({
      value,
      origin: { stream: "suite", partition: 0, offset: String(n) },
    })),
    rejects: [],
    cursors: [{ stream: "suite", partition: 0, offset: String(values.length) }],
  });
  const sorted = (values: T[]) => values.map((v) => JSON.stringify(v)).sort();
  const signal = () => new AbortController().signal;

  Deno.test(`${name} (sink suite): stores every record of a batch once`, async () => {
    await using harness = await make();
    const records = Array.from({ length: 25 }, (_, n) => record(n));
    await harness.sink.write(batch(records), signal());
    assert.deepEqual(sorted(await harness.stored()), sorted(records));
  });

  if (idempotent) {
    Deno.test(`${name} (sink suite): a replayed batch is stored once`, async () => {
      await using harness = await make();
      const records = Array.from({ length: 10 }, (_, n) => record(n));
      await harness.sink.write(batch(records), signal());
      await harness.sink.write(batch(records), signal());
      assert.deepEqual(sorted(await harness.stored()), sorted(records));
    });
  }

  if (poison !== undefined) {
    Deno.test(`${name} (sink suite): a refused record is named and the batch stores nothing`, async () => {
      await using harness = await make();
      const records = Array.from({ length: 12 }, (_, n) => n === 7 ? poison(n) : record(n));
      await assert.rejects(harness.sink.write(batch(records), signal()), (error: BatchError) => {
        assert.ok(error instanceof BatchError, `expected a BatchError, got ${error}`);
        assert.deepEqual([...error.failures.keys()], [7]);
        return true;
      });
      assert.deepEqual(await harness.stored(), []);
    });
  }

  Deno.test(`${name} (sink suite): close() may be called twice`, async () => {
    await using harness = await make();
    await harness.sink.close?.();
    await harness.sink.close?.();
  });
}
