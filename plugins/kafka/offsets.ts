/**
 * Which offsets may be committed when batches are acknowledged out of order or not at all.
 *
 * @module
 */
import type { Cursor } from "../../mod.ts";

type State = "pending" | "acked";

/** A batch's cursor for one partition, and what became of the batch. */
interface Entry {
  key: string;
  offset: string;
  state: State;
}

/**
 * Tracks batches handed out and their acknowledgements, and says, per partition, how far the
 * source may commit: up to the cursor of the last batch such that it and every earlier batch
 * touching that partition are acknowledged. A nacked batch, and every batch handed out after it,
 * is forgotten: the source delivers their records again, as new batches.
 *
 * @example Acknowledged out of order
 * ```ts
 * import { OffsetTracker } from "./offsets.ts";
 * import assert from "node:assert/strict";
 *
 * const tracker = new OffsetTracker();
 * tracker.register(1, [{ stream: "t", partition: 0, offset: "10" }]);
 * tracker.register(2, [{ stream: "t", partition: 0, offset: "20" }]);
 * tracker.ack(2);
 * assert.deepEqual(tracker.committable(), []);
 * tracker.ack(1);
 * assert.deepEqual(tracker.committable(), [{ stream: "t", partition: 0, offset: "20" }]);
 * ```
 */
export class OffsetTracker {
  /** Per partition, the batches not yet known to be committable, oldest first. */
  readonly #queues = new Map<string, { cursor: Cursor; entries: Entry[] }>();
  /** Per partition, the cursor that everything before is acknowledged up to. */
  readonly #contiguous = new Map<string, Cursor>();
  /** The entries of each batch handed out and not yet settled. */
  readonly #batches = new Map<number, Entry[]>();

  /** Records that the batch `seq` was handed out, with its cursors (one per partition). */
  register(seq: number, cursors: Cursor[]): void {
    const entries = cursors.map((cursor): Entry => {
      const key = keyOf(cursor);
      const entry: Entry = { key, offset: cursor.offset, state: "pending" };
      const queue = this.#queues.get(key);
      if (queue) queue.entries.push(entry);
      else this.#queues.set(key, { cursor, entries: [entry] });
      return entry;
    });
    this.#batches.set(seq, entries);
  }

  /** Records that the batch `seq` was durably written. */
  ack(seq: number): void {
    this.#settle(seq, "acked");
  }

  /**
   * Records that the batch `seq` failed. It and every later batch are forgotten, so that their
   * records, delivered again, are tracked afresh; earlier acknowledgements still count.
   */
  nack(seq: number): void {
    for (const [later, entries] of this.#batches) {
      if (later < seq) continue;
      for (const entry of entries) {
        const queue = this.#queues.get(entry.key);
        if (queue) queue.entries = queue.entries.filter((queued) => queued !== entry);
      }
      this.#batches.delete(later);
    }
  }

  /** Per partition, the furthest cursor that may be committed; partitions with none are left out. */
  committable(): Cursor[] {
    for (const [key, queue] of this.#queues) {
      let last: string | undefined;
      while (queue.entries[0]?.state === "acked") last = queue.entries.shift()!.offset;
      if (last !== undefined) this.#contiguous.set(key, { ...queue.cursor, offset: last });
      if (queue.entries.length === 0) this.#queues.delete(key);
    }
    return [...this.#contiguous.values()];
  }

  #settle(seq: number, state: State): void {
    for (const entry of this.#batches.get(seq) ?? []) entry.state = state;
    this.#batches.delete(seq);
  }
}

function keyOf(cursor: Cursor): string {
  return `${cursor.stream}\u0000${cursor.partition}`;
}
