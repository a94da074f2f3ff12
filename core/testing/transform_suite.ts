/**
 * The transform suite: what every transform must do, for plugin authors' tests.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Message, Transform, TransformResult } from "../types.ts";
import { registerCases, type SuiteCase } from "./case.ts";
import { testContext } from "./context.ts";

/** What {@linkcode transformSuite} needs to know about a transform. */
export interface TransformSuiteOptions<I> {
  /** Names the tests, e.g. `enrich transform`. */
  name: string;
  /** A new transform, not connected: the suite connects it as the runner would, and closes it. */
  make(): Transform<I, unknown> | Promise<Transform<I, unknown>>;
  /** The nth input the transform passes on as a record; distinct n give distinct inputs. */
  valid(n: number): I;
  /** The nth input it rejects; leave it out for a transform that rejects nothing. */
  invalid?(n: number): I;
  /**
   * Whether it drops records on purpose (a filter): then a valid input may also become
   * nothing. Never more than one output per input either way, and an invalid input is still a
   * reject: a filter must not hide bad records.
   * @default {false}
   */
  filters?: boolean;
}

/**
 * The cases of {@linkcode transformSuite}, to run one by one. Their ids: `one-each`,
 * `records-keep`, `rejects-keep` (with `invalid`), `empty` and `close-twice`.
 *
 * @example A transform that loses `arrived` fails `records-keep`
 * ```ts
 * import { caseById, transformCases } from "../testing.ts";
 * import assert from "node:assert/strict";
 *
 * const cases = transformCases<number>({
 *   name: "careless doubler",
 *   make: () => ({
 *     apply: (messages) => ({
 *       messages: messages.map((m) => ({ value: m.value * 2, origin: m.origin })),
 *       rejects: [],
 *     }),
 *   }),
 *   valid: (n) => n,
 * });
 * await caseById(cases, "one-each").run();
 * await assert.rejects(caseById(cases, "records-keep").run(), /arrived/);
 * ```
 */
export function transformCases<I>(options: TransformSuiteOptions<I>): SuiteCase[] {
  const { invalid, filters = false } = options;
  const withTransform =
    (check: (transform: Transform<I, unknown>) => Promise<void>) => async () => {
      const transform = await options.make();
      await transform.connect?.(testContext(options.name));
      try {
        await check(transform);
      } finally {
        await transform.close?.();
      }
    };
  const cases: SuiteCase[] = [
    {
      id: "one-each",
      name: filters
        ? "every input becomes at most one record or one reject, a bad one a reject"
        : "every input becomes exactly one record or one reject",
      run: withTransform(async (transform) => {
        const batch = inputs(options);
        const result = await transform.apply(batch.messages);
        const outputs = outputsByInput(result, batch.messages.length);
        batch.messages.forEach((_, n) => {
          const got = outputs.get(n) ?? [];
          const expected = batch.bad[n] ? "reject" : "record";
          if (filters && !batch.bad[n] && got.length === 0) return;
          assert.deepEqual(
            got,
            [expected],
            `Input ${n} (${expected === "reject" ? "invalid" : "valid"}) became ` +
              `[${got.join(", ")}], not one ${expected}. A record dropped silently is ` +
              "acknowledged with nothing written and nothing dead-lettered: it is lost." +
              (filters ? "" : " A transform that filters on purpose says filters: true."),
          );
        });
      }),
    },
    {
      id: "records-keep",
      name: "records keep the origin and the value as it arrived",
      run: withTransform(async (transform) => {
        const batch = inputs(options);
        const result = await transform.apply(batch.messages);
        for (const record of result.messages) {
          const n = indexOf(record.origin, batch.messages.length, "A record");
          assert.deepEqual(record.origin, batch.messages[n].origin);
          assert.deepEqual(
            record.arrived,
            batch.arrived[n],
            `The record of input ${n} lost (or changed) \`arrived\`, the value as the source ` +
              "delivered it, which a sink's dead letter stores so it can be replayed. Build " +
              "each output from its input, `{ ...message, value }`, and do not change the input.",
          );
        }
      }),
    },
  ];
  if (invalid !== undefined) {
    cases.push({
      id: "rejects-keep",
      name: "a reject keeps the payload as it arrived and the origin, with a reason and stage",
      run: withTransform(async (transform) => {
        const batch = inputs(options);
        const result = await transform.apply(batch.messages);
        assert.ok(result.rejects.length > 0, "The invalid inputs were not rejected.");
        for (const reject of result.rejects) {
          const n = indexOf(reject.origin, batch.messages.length, "A reject");
          assert.deepEqual(
            reject.payload,
            batch.arrived[n],
            `The reject of input ${n} does not carry the value as it arrived: a dead letter ` +
              "must be what the source delivered, so that it can be replayed.",
          );
          assert.ok(reject.reason.trim() !== "", `The reject of input ${n} gives no reason.`);
          assert.ok(reject.stage.trim() !== "", `The reject of input ${n} names no stage.`);
        }
      }),
    });
  }
  cases.push(
    {
      id: "empty",
      name: "an empty batch gives nothing",
      run: withTransform(async (transform) => {
        const result = await transform.apply([]);
        assert.deepEqual({ messages: result.messages, rejects: result.rejects }, {
          messages: [],
          rejects: [],
        });
      }),
    },
    {
      id: "close-twice",
      name: "close() may be called twice",
      run: withTransform(async (transform) => {
        await transform.close?.();
      }),
    },
  );
  return cases;
}

/**
 * The behaviours every transform must have, as `Deno.test` cases: the test kit for plugin
 * authors. Every input becomes exactly one record or one reject (at most one, for a declared
 * filter); a record keeps its `origin` and `arrived`; a reject carries the payload as it arrived,
 * the origin, a reason and a stage; an empty batch gives nothing; `close()` may be called twice.
 * Inputs come as the runner hands them to a pipeline's first transform: `arrived` is the value.
 * See {@linkcode transformCases}.
 *
 * @example The in-memory rejecting transform passes it
 * ```ts ignore
 * import { rejectingTransform, transformSuite } from "@velib/pipeline/testing";
 *
 * transformSuite({
 *   name: "rejecting transform",
 *   make: () => rejectingTransform((value: number) => value < 0, "negative"),
 *   valid: (n) => n,
 *   invalid: (n) => -1 - n,
 * });
 * ```
 */
export function transformSuite<I>(options: TransformSuiteOptions<I>): void {
  registerCases(options.name, "transform suite", transformCases(options));
}

/** Twelve inputs, every third one invalid when there are invalid ones, as the runner hands them. */
function inputs<I>(options: TransformSuiteOptions<I>) {
  const messages: Message<I>[] = [];
  const arrived: unknown[] = [];
  const bad: boolean[] = [];
  for (let n = 0; n < 12; n++) {
    const isBad = options.invalid !== undefined && n % 3 === 1;
    const value = isBad ? options.invalid!(n) : options.valid(n);
    // The runner sets `arrived` to the value itself: a transform that changes its input in
    // place changes what the dead letter would keep, which the copy here catches.
    messages.push({
      value,
      key: `suite-${n}`,
      origin: { stream: "suite", partition: 0, offset: String(n) },
      arrived: value,
    });
    arrived.push(copyOf(value));
    bad.push(isBad);
  }
  return { messages, arrived, bad };
}

function copyOf(value: unknown): unknown {
  try {
    return structuredClone(value);
  } catch {
    return value; // not cloneable (a function, a proxy): compared as it is
  }
}

/** Which input each output came from, by its origin, as `record` or `reject` per input. */
function outputsByInput(result: TransformResult<unknown>, inputs: number): Map<number, string[]> {
  const outputs = new Map<number, string[]>();
  const note = (origin: Message["origin"], kind: string) => {
    const n = indexOf(origin, inputs, `A ${kind}`);
    outputs.set(n, [...outputs.get(n) ?? [], kind]);
  };
  for (const record of result.messages) note(record.origin, "record");
  for (const reject of result.rejects) note(reject.origin, "reject");
  return outputs;
}

/** The input an output's origin points at; fails when it points at none. */
function indexOf(origin: Message["origin"], inputs: number, what: string): number {
  const n = Number(origin?.offset);
  assert.ok(
    origin?.stream === "suite" && Number.isInteger(n) && n >= 0 && n < inputs,
    `${what} has the origin ${JSON.stringify(origin)}, not its input's: each output keeps the ` +
      "origin of the record it came from, so that a dead letter points back at it.",
  );
  return n;
}
