import assert from "node:assert/strict";
import type { Cursor } from "../../mod.ts";
import { OffsetTracker } from "./offsets.ts";

const at = (partition: number, offset: number): Cursor => ({
  stream: "t",
  partition,
  offset: String(offset),
});

Deno.test("offset tracker commits nothing before the first batch is acknowledged", () => {
  const tracker = new OffsetTracker();
  tracker.register(1, [at(0, 10)]);
  assert.deepEqual(tracker.committable(), []);
});

Deno.test("offset tracker commits an acknowledged batch's cursor", () => {
  const tracker = new OffsetTracker();
  tracker.register(1, [at(0, 10)]);
  tracker.ack(1);
  assert.deepEqual(tracker.committable(), [at(0, 10)]);
});

Deno.test("offset tracker holds a later acknowledgement until every earlier batch is acknowledged", () => {
  const tracker = new OffsetTracker();
  tracker.register(1, [at(0, 10)]);
  tracker.register(2, [at(0, 20)]);
  tracker.register(3, [at(0, 30)]);
  tracker.ack(3);
  tracker.ack(2);
  assert.deepEqual(tracker.committable(), []);
  tracker.ack(1);
  assert.deepEqual(tracker.committable(), [at(0, 30)]);
});

Deno.test("offset tracker commits up to the gap when a middle batch is still pending", () => {
  const tracker = new OffsetTracker();
  tracker.register(1, [at(0, 10)]);
  tracker.register(2, [at(0, 20)]);
  tracker.register(3, [at(0, 30)]);
  tracker.ack(1);
  tracker.ack(3);
  assert.deepEqual(tracker.committable(), [at(0, 10)]);
  tracker.ack(2);
  assert.deepEqual(tracker.committable(), [at(0, 30)]);
});

Deno.test("offset tracker forgets a nacked batch and every later one until they come again", () => {
  const tracker = new OffsetTracker();
  tracker.register(1, [at(0, 10)]);
  tracker.register(2, [at(0, 20)]);
  tracker.register(3, [at(0, 30)]);
  tracker.ack(1);
  tracker.nack(2);
  tracker.ack(3); // void: the runner never acknowledges a batch read after a nacked one
  assert.deepEqual(tracker.committable(), [at(0, 10)]);
  tracker.register(4, [at(0, 20)]);
  tracker.ack(4);
  assert.deepEqual(tracker.committable(), [at(0, 20)]);
});

Deno.test("offset tracker keeps partitions independent: a pending batch holds back only its own", () => {
  const tracker = new OffsetTracker();
  tracker.register(1, [at(0, 10), at(1, 5)]);
  tracker.register(2, [at(1, 8)]);
  tracker.register(3, [at(0, 12), at(2, 3)]);
  tracker.ack(2);
  tracker.ack(3);
  assert.deepEqual(tracker.committable(), [at(2, 3)]);
  tracker.ack(1);
  assert.deepEqual(tracker.committable(), [at(2, 3), at(0, 12), at(1, 8)]);
});

Deno.test("offset tracker lets partitions untouched by a nacked batch keep their commits", () => {
  const tracker = new OffsetTracker();
  tracker.register(1, [at(1, 5)]);
  tracker.register(2, [at(0, 10)]);
  tracker.ack(1);
  tracker.nack(2);
  assert.deepEqual(tracker.committable(), [at(1, 5)]);
});

Deno.test("offset tracker keeps reporting the committed position once its queue is empty", () => {
  const tracker = new OffsetTracker();
  tracker.register(1, [at(0, 10)]);
  tracker.ack(1);
  tracker.committable();
  tracker.register(2, [at(0, 20)]);
  assert.deepEqual(tracker.committable(), [at(0, 10)]);
  tracker.ack(2);
  assert.deepEqual(tracker.committable(), [at(0, 20)]);
});

Deno.test("offset tracker tells streams apart", () => {
  const tracker = new OffsetTracker();
  const other = { stream: "u", partition: 0, offset: "7" };
  tracker.register(1, [at(0, 10)]);
  tracker.register(2, [other]);
  tracker.ack(2);
  assert.deepEqual(tracker.committable(), [other]);
});

Deno.test("offset tracker ignores an acknowledgement of a batch it never handed out", () => {
  const tracker = new OffsetTracker();
  tracker.register(1, [at(0, 10)]);
  tracker.ack(99);
  assert.deepEqual(tracker.committable(), []);
});
