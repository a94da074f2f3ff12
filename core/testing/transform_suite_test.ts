// Each hazard of the transform suite, proved caught: a transform broken in exactly that way
// fails the case, and a correct one passes every case.
import assert from "node:assert/strict";
import type { Message, Reject, Transform } from "../types.ts";
import { caseById, transformCases, type TransformSuiteOptions } from "../testing.ts";

interface Count {
  n: number;
}

const reject = (message: Message<Count>, payload: unknown = message.arrived): Reject => ({
  payload,
  reason: "negative count",
  stage: "transform doubler",
  origin: message.origin,
});

/** Doubles counts and rejects negative ones, correctly. */
const doubler: Transform<Count, Count> = {
  apply: (messages) => ({
    messages: messages.filter((m) => m.value.n >= 0).map((m) => ({
      ...m,
      value: { n: m.value.n * 2 },
    })),
    rejects: messages.filter((m) => m.value.n < 0).map((m) => reject(m)),
  }),
};

const casesFor = (
  apply: Transform<Count, Count>["apply"],
  options: Partial<TransformSuiteOptions<Count>> = {},
) =>
  transformCases<Count>({
    name: "doubler",
    make: () => ({ apply }),
    valid: (n) => ({ n }),
    invalid: (n) => ({ n: -1 - n }),
    ...options,
  });

const run = (apply: Transform<Count, Count>["apply"], id: string) =>
  caseById(casesFor(apply), id).run();

Deno.test("transform suite passes a correct transform", async () => {
  for (const { run } of casesFor(doubler.apply)) await run();
});

Deno.test("transform suite fails a transform that drops bad records instead of rejecting them", async () => {
  const drops: Transform<Count, Count>["apply"] = (messages) => ({
    ...doubler.apply(messages) as { messages: Message<Count>[] },
    rejects: [],
  });
  await assert.rejects(run(drops, "one-each"), /Input 1 \(invalid\) became \[\], not one reject/);
  await assert.rejects(caseById(casesFor(drops, { filters: true }), "one-each").run(), /Input 1/);
});

Deno.test("transform suite fails a transform that filters without saying so", async () => {
  const filters: Transform<Count, Count>["apply"] = (messages) => {
    const result = doubler.apply(messages) as { messages: Message<Count>[]; rejects: Reject[] };
    return { ...result, messages: result.messages.filter((m) => m.value.n % 4 === 0) };
  };
  await assert.rejects(run(filters, "one-each"), /filters: true/);
  await caseById(casesFor(filters, { filters: true }), "one-each").run();
});

Deno.test("transform suite fails a transform that splits a record in two", async () => {
  const splits: Transform<Count, Count>["apply"] = (messages) => {
    const result = doubler.apply(messages) as { messages: Message<Count>[]; rejects: Reject[] };
    return { ...result, messages: [...result.messages, ...result.messages.slice(0, 1)] };
  };
  await assert.rejects(run(splits, "one-each"), /Input 0 \(valid\) became \[record, record\]/);
});

Deno.test("transform suite fails a transform whose rejects carry the transformed value", async () => {
  const transformed: Transform<Count, Count>["apply"] = (messages) => ({
    messages: [],
    rejects: messages.map((m) => reject(m, { n: m.value.n * 2 })),
  });
  await assert.rejects(run(transformed, "rejects-keep"), /value as it arrived/);
});

Deno.test("transform suite fails a transform whose rejects lose their origin", async () => {
  const noOrigin: Transform<Count, Count>["apply"] = (messages) => ({
    messages: [],
    rejects: messages.map((m) => ({ ...reject(m), origin: undefined })),
  });
  await assert.rejects(run(noOrigin, "rejects-keep"), /origin undefined, not its input's/);
});

Deno.test("transform suite fails a transform that builds records without origin and arrived", async () => {
  const fresh: Transform<Count, Count>["apply"] = (messages) => ({
    messages: messages.map((m) => ({ value: { n: m.value.n * 2 }, origin: m.origin })),
    rejects: [],
  });
  await assert.rejects(run(fresh, "records-keep"), /lost \(or changed\) `arrived`/);
  const lost: Transform<Count, Count>["apply"] = (messages) => ({
    messages: messages.map((m) => ({ value: m.value })),
    rejects: [],
  });
  await assert.rejects(run(lost, "records-keep"), /origin undefined/);
});

Deno.test("transform suite fails a transform that changes its input in place", async () => {
  const inPlace: Transform<Count, Count>["apply"] = (messages) => {
    for (const m of messages) m.value.n *= 2;
    return { messages, rejects: [] };
  };
  await assert.rejects(run(inPlace, "records-keep"), /do not change the input/);
});

Deno.test("transform suite fails a transform that throws for a bad record", async () => {
  const throws: Transform<Count, Count>["apply"] = (messages) => {
    if (messages.some((m) => m.value.n < 0)) throw new TypeError("negative count");
    return doubler.apply(messages);
  };
  await assert.rejects(run(throws, "one-each"), /negative count/);
});
