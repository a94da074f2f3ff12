/**
 * Where a rerun of the Kafka source starts and stops in each partition, which of the records in
 * between it hands out, and when the window it asks for is older than anything the topic holds.
 *
 * @module
 */
import { BadRequest, eventTimeOf, type Position, type ReadRange } from "../../mod.ts";

/** The offsets a partition held when the run started. */
export interface Watermarks {
  /** The partition. */
  partition: number;
  /** Its earliest retained offset. */
  low: bigint;
  /** The offset the next record will get. */
  high: bigint;
}

/** The offsets a rerun reads in one partition. */
export interface Span {
  /** The first offset read. */
  start: bigint;
  /** The first offset not read; at least `start`. */
  end: bigint;
}

/** The event times a rerun hands out, in epoch milliseconds; an unset end is unbounded. */
export interface EventWindow {
  /** The earliest time handed out. */
  from?: number;
  /** The first time no longer handed out. */
  to?: number;
}

/** What a rerun reads, worked out from its range and the topic's watermarks. */
export interface RangePlan {
  /** The partitions read, with their spans; a partition not in it is not read. */
  spans: Map<number, Span>;
  /** The records of the spans that are handed out, by event time. */
  window: EventWindow;
  /**
   * The partitions whose earliest record decides whether the window ends before anything the
   * topic retains (see {@linkcode retentionError}); unset when it cannot, because the window
   * ends at no time or starts within what some partition retains.
   */
  probe?: number[];
}

/** What {@linkcode planRange} works from. */
export interface PlanOptions {
  /** The topic, for messages. */
  topic: string;
  /** The range asked for. */
  range: ReadRange;
  /** Every partition of the topic, as it was when the run started. */
  watermarks: Watermarks[];
  /**
   * Per partition, the first offset whose record timestamp is at or after `ms`, or the high
   * watermark where there is none, as kafkajs's `admin.fetchTopicOffsetsByTimestamp` answers.
   */
  offsetsAt(ms: number): Promise<Array<{ partition: number; offset: string }>>;
}

/**
 * Works out where a rerun starts and stops in each partition. It stops at the high watermarks
 * the run started with, unless `to` gives offsets: a record is stamped when it is published,
 * after it was collected, so a record collected before a `to` time may lie after the offset
 * of that time; the {@linkcode EventWindow} makes the result exact. Throws a `BadRequest` for
 * offsets the topic does not hold, or a window that ends before it starts.
 *
 * @example Five minutes of a one-partition topic
 * ```ts
 * import { planRange } from "./range.ts";
 * import assert from "node:assert/strict";
 *
 * const plan = await planRange({
 *   topic: "velib-stations",
 *   range: { from: { time: "2025-10-18T01:00:00.000Z" }, to: { time: "2025-10-18T01:05:00.000Z" } },
 *   watermarks: [{ partition: 0, low: 0n, high: 100n }],
 *   offsetsAt: () => Promise.resolve([{ partition: 0, offset: "40" }]),
 * });
 * assert.deepEqual(plan.spans.get(0), { start: 40n, end: 100n });
 * assert.equal(plan.window.to, Date.parse("2025-10-18T01:05:00.000Z"));
 * ```
 */
export async function planRange(options: PlanOptions): Promise<RangePlan> {
  const { topic, range, watermarks } = options;
  const window: EventWindow = { from: timeOf(range.from, "start") };
  if (range.to !== undefined) window.to = timeOf(range.to, "end");
  if (window.from !== undefined && window.to !== undefined && window.to <= window.from) {
    throw new BadRequest(
      `The window is empty: it starts at ${iso(window.from)} and ends at ${iso(window.to)}.`,
      { hint: "A window includes its start and excludes its end: give an end after the start." },
    );
  }
  const starts = await startsOf(range.from, options);
  const ends = endsOf(range.to ?? "latest", topic, watermarks);
  const spans = new Map<number, Span>();
  for (const { partition } of watermarks) {
    const start = starts.get(partition);
    const end = ends.get(partition);
    if (start === undefined || end === undefined) continue;
    if (end < start && isOffsets(range.from) && isOffsets(range.to)) {
      throw new BadRequest(
        `The range ends before it starts in partition ${partition} of ${topic}: from offset ` +
          `${start} to offset ${end}.`,
        { hint: "A range includes its first offset and excludes its last: swap the two." },
      );
    }
    spans.set(partition, { start, end: end > start ? end : start });
  }
  const plan: RangePlan = { spans, window };
  const probe = probeOf(spans, watermarks, window);
  if (probe) plan.probe = probe;
  return plan;
}

/**
 * Where each partition starts; partitions left out are not read. A start by time is clamped
 * to what the partition held at the start of the run.
 */
async function startsOf(from: Position, options: PlanOptions): Promise<Map<number, bigint>> {
  const { topic, watermarks, offsetsAt } = options;
  if (from === "earliest") return new Map(watermarks.map((w) => [w.partition, w.low]));
  if (from === "latest") return new Map(watermarks.map((w) => [w.partition, w.high]));
  if ("offsets" in from) return explicitOffsets(from.offsets, topic, watermarks);
  // Seeking by the record timestamp loses nothing of a window by event time: a record is
  // published after it is collected, so its timestamp is at or after its event time, and every
  // record whose event time is at or after `from` lies at or after the offset found for `from`.
  const found = await offsetsAt(timeOf(from, "start")!);
  return new Map(watermarks.map(({ partition, low, high }) => {
    const answer = found.find((p) => p.partition === partition)?.offset;
    const offset = answer === undefined || BigInt(answer) < 0n ? high : BigInt(answer);
    return [partition, offset < low ? low : offset > high ? high : offset];
  }));
}

/** Where each partition stops (excluded); partitions left out are not read. */
function endsOf(to: Position, topic: string, watermarks: Watermarks[]): Map<number, bigint> {
  if (to === "earliest") return new Map(watermarks.map((w) => [w.partition, w.low]));
  if (typeof to === "object" && "offsets" in to) {
    return explicitOffsets(to.offsets, topic, watermarks);
  }
  return new Map(watermarks.map((w) => [w.partition, w.high]));
}

/** Offsets given by partition, each checked against what its partition holds. */
function explicitOffsets(
  offsets: Record<string, string>,
  topic: string,
  watermarks: Watermarks[],
): Map<number, bigint> {
  const result = new Map<number, bigint>();
  for (const [key, value] of Object.entries(offsets)) {
    const held = /^\d+$/.test(key)
      ? watermarks.find((w) => w.partition === Number(key))
      : undefined;
    if (!held) {
      throw new BadRequest(`${topic} has no partition ${JSON.stringify(key)}.`, {
        hint: `Name partitions by number, from 0 to ${watermarks.length - 1}.`,
      });
    }
    if (!/^\d+$/.test(value)) {
      throw new BadRequest(
        `The offset ${JSON.stringify(value)} given for partition ${key} of ${topic} is not a ` +
          "number.",
        { hint: 'Give offsets as strings of digits, e.g. { "0": "42" }.' },
      );
    }
    const offset = BigInt(value);
    if (offset < held.low) {
      throw new BadRequest(
        `Offset ${offset} of partition ${key} of ${topic} is no longer retained: its earliest ` +
          `retained offset is ${held.low}.`,
        {
          hint: "Kafka keeps a topic only for its retention period: start at that offset or " +
            "later, or reload older data from a backup.",
        },
      );
    }
    if (offset > held.high) {
      throw new BadRequest(
        `Offset ${offset} of partition ${key} of ${topic} is past its end: its next record ` +
          `will get offset ${held.high}.`,
        { hint: `Give an offset up to ${held.high}, or "latest".` },
      );
    }
    result.set(held.partition, offset);
  }
  return result;
}

/**
 * A window that ends at a time can only end before what the topic retains when every
 * partition read starts at its earliest retained record; the earliest records then decide.
 */
function probeOf(
  spans: Map<number, Span>,
  watermarks: Watermarks[],
  window: EventWindow,
): number[] | undefined {
  if (window.to === undefined) return undefined;
  const probe: number[] = [];
  for (const { partition, low, high } of watermarks) {
    const span = spans.get(partition);
    if (!span || low === high) continue;
    if (span.start > low) return undefined;
    probe.push(partition);
  }
  return probe;
}

/** What {@linkcode retentionError} judges. */
export interface RetentionFacts {
  /** The topic, for the message. */
  topic: string;
  /** The window asked for. */
  window: EventWindow;
  /**
   * The event time of the earliest record of each partition the plan's `probe` names, where
   * it could be read; none when the topic holds no record.
   */
  earliest: Array<number | undefined>;
  /** The value field event times are read from; the Kafka timestamp when unset. */
  eventTimeField?: string;
}

/**
 * The `BadRequest` for a window that ends before anything the topic retains, so that a rerun
 * refuses at once instead of loading nothing; undefined when some of the window may be there.
 * An earliest record whose event time could not be read does not count as too late.
 *
 * @example
 * ```ts
 * import { retentionError } from "./range.ts";
 * import assert from "node:assert/strict";
 *
 * const error = retentionError({
 *   topic: "velib-stations",
 *   window: { to: Date.parse("2025-10-18T01:00:00Z") },
 *   earliest: [Date.parse("2025-10-19T03:12:00Z")],
 *   eventTimeField: "collected_at",
 * });
 * assert.match(error!.message, /earliest record was collected at 2025-10-19T03:12:00\.000Z/);
 * ```
 */
export function retentionError(facts: RetentionFacts): BadRequest | undefined {
  const { topic, window: { to }, earliest } = facts;
  if (to === undefined) return undefined;
  if (earliest.some((time) => time === undefined || time < to)) return undefined;
  const hint = `Kafka keeps ${topic} only for its retention period (its retention.ms); reload ` +
    "older data from a backup.";
  if (earliest.length === 0) {
    return new BadRequest(
      `The window ends at ${iso(to)}, before anything ${topic} retains: it holds no record.`,
      { hint },
    );
  }
  const oldest = Math.min(...earliest as number[]);
  const when = facts.eventTimeField === undefined ? "published" : "collected";
  return new BadRequest(
    `The window ends at ${iso(to)}, before anything ${topic} retains: its earliest record was ` +
      `${when} at ${iso(oldest)}.`,
    { hint },
  );
}

/**
 * The event time of a record in epoch milliseconds: the ISO-8601 time with a zone in the
 * top-level `field` of its decoded JSON `value`, or, without a field, its Kafka `timestamp`.
 * Undefined when it cannot be read; such a record is handed out for the transforms to judge.
 *
 * @example
 * ```ts
 * import { eventTime } from "./range.ts";
 * import assert from "node:assert/strict";
 *
 * const value = { collected_at: "2025-10-18T01:00:00.000Z" };
 * assert.equal(eventTime("collected_at", "0", value), Date.parse("2025-10-18T01:00:00Z"));
 * assert.equal(eventTime(undefined, "1760749200000", value), 1760749200000);
 * assert.equal(eventTime("collected_at", "0", { collected_at: "yesterday" }), undefined);
 * ```
 */
export function eventTime(
  field: string | undefined,
  timestamp: string,
  value: unknown,
): number | undefined {
  if (field === undefined) {
    const ms = Number(timestamp);
    return Number.isFinite(ms) ? ms : undefined;
  }
  return eventTimeOf(value, field);
}

/**
 * Whether a record of event time `time` falls outside `window`; one whose time is unknown
 * does not.
 *
 * @example
 * ```ts
 * import { outsideWindow } from "./range.ts";
 * import assert from "node:assert/strict";
 *
 * const window = { from: 10, to: 20 };
 * assert.deepEqual([9, 10, 19, 20].map((t) => outsideWindow(window, t)), [true, false, false, true]);
 * assert.equal(outsideWindow(window, undefined), false);
 * ```
 */
export function outsideWindow(window: EventWindow, time: number | undefined): boolean {
  if (time === undefined) return false;
  return (window.from !== undefined && time < window.from) ||
    (window.to !== undefined && time >= window.to);
}

/**
 * The window as `[from, to)`, for logs.
 *
 * @example
 * ```ts
 * import { describeWindow } from "./range.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(describeWindow({ from: 0 }), "[1970-01-01T00:00:00.000Z, +∞)");
 * ```
 */
export function describeWindow(window: EventWindow): string {
  const from = window.from === undefined ? "-∞" : iso(window.from);
  const to = window.to === undefined ? "+∞" : iso(window.to);
  return `[${from}, ${to})`;
}

function timeOf(position: Position, which: "start" | "end"): number | undefined {
  if (typeof position !== "object" || !("time" in position)) return undefined;
  const ms = Date.parse(position.time);
  if (Number.isNaN(ms)) {
    throw new BadRequest(
      `The rerun's ${which} is not an ISO-8601 time: ${JSON.stringify(position.time)}.`,
      { hint: "Write it as 2025-10-18T00:00:00Z." },
    );
  }
  return ms;
}

function isOffsets(position: Position | undefined): boolean {
  return typeof position === "object" && "offsets" in position;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
