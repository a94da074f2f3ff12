/**
 * Reruns' requests, checked before anything connects: instants, positions and windows.
 *
 * @module
 */
import { z } from "zod";
import { BadRequest } from "./errors.ts";
import type { Position, ReadRange, StepScope, TimeWindow } from "./types.ts";

// A date, a time to the second at least, and a zone: a time without a zone would be read in the
// local zone of whoever runs the command.
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

const EXAMPLE_INSTANT = "2025-10-18T00:00:00Z";

/**
 * Parses an ISO-8601 instant with its zone, or throws a {@linkcode BadRequest} naming `what`.
 *
 * @example
 * ```ts
 * import { parseInstant } from "./range.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(parseInstant("2025-10-18T02:00:00+02:00", "--from").toISOString(), "2025-10-18T00:00:00.000Z");
 * assert.throws(() => parseInstant("2025-10-18 02:00", "--from"), /--from is not an ISO-8601 time/);
 * ```
 */
export function parseInstant(text: string, what: string): Date {
  const instant = new Date(text);
  if (!INSTANT.test(text) || Number.isNaN(instant.getTime())) {
    throw new BadRequest(`${what} is not an ISO-8601 time with a zone: "${text}".`, {
      hint: `Write it as ${EXAMPLE_INSTANT} (UTC) or 2025-10-18T02:00:00+02:00.`,
    });
  }
  return instant;
}

/**
 * A {@linkcode Position} as a config writes it: `"earliest"`, `"latest"`, an ISO-8601 instant
 * with its zone, or `{ offsets: { "<partition>": "<offset>" } }`.
 *
 * @example
 * ```ts
 * import { positionSchema } from "./range.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(positionSchema.parse("2025-10-18T00:00:00Z"), { time: "2025-10-18T00:00:00.000Z" });
 * assert.deepEqual(positionSchema.parse({ offsets: { "0": "42" } }), { offsets: { "0": "42" } });
 * assert.equal(positionSchema.safeParse("yesterday").success, false);
 * ```
 */
export const positionSchema = z.union([
  z.enum(["earliest", "latest"]),
  z.string().regex(INSTANT, {
    error: `expected "earliest", "latest" or an ISO-8601 time with a zone, e.g. ${EXAMPLE_INSTANT}`,
  }).transform((text) => ({ time: new Date(text).toISOString() })),
  z.strictObject({
    offsets: z.record(
      z.string().regex(/^\d+$/, { error: "expected a partition number" }),
      z.string().regex(/^\d+$/, { error: "expected an offset, as a string of digits" }),
    ),
  }),
]) satisfies z.ZodType<Position, unknown>;

/** What a rerun reads, and what its steps work on afterwards. */
export interface Rerun {
  /** The source's range. */
  range: ReadRange;
  /** The data time the range covers, when it is given by time: the steps' window. */
  scope?: StepScope;
}

/**
 * Checks a rerun's range against the clock and works out the window its steps recompute: a
 * range by time is `[from, to)`, or `[from, now)` without `to`. Throws a
 * {@linkcode BadRequest} for a window that ends before it starts, or starts in the future.
 *
 * @example
 * ```ts
 * import { planRerun } from "./range.ts";
 * import assert from "node:assert/strict";
 *
 * const now = new Date("2025-10-18T12:00:00Z");
 * const rerun = planRerun({ from: { time: "2025-10-18T01:00:00Z" }, to: { time: "2025-10-18T02:00:00Z" } }, now);
 * assert.equal(rerun.scope?.window?.to.toISOString(), "2025-10-18T02:00:00.000Z");
 * assert.throws(() => planRerun({ from: { time: "2025-10-19T00:00:00Z" } }, now), /in the future/);
 * ```
 */
export function planRerun(range: ReadRange, now: Date): Rerun {
  const from = timeOf(range.from);
  const to = range.to === undefined ? undefined : timeOf(range.to);
  if (from !== undefined && from >= now) {
    throw new BadRequest(
      `The window starts in the future (${from.toISOString()}; it is now ${now.toISOString()}).`,
      { hint: "A rerun reads what the source holds already: give a --from in the past." },
    );
  }
  if (from !== undefined && to !== undefined && from >= to) {
    throw new BadRequest(
      `The window is empty: --from ${from.toISOString()} is not before --to ${to.toISOString()}.`,
      { hint: "The window includes --from and excludes --to: give a --to after --from." },
    );
  }
  if (from === undefined) return { range };
  const window: TimeWindow = { from, to: to ?? now };
  return { range, scope: { window } };
}

function timeOf(position: Position): Date | undefined {
  return typeof position === "object" && "time" in position ? new Date(position.time) : undefined;
}

// An event time as a record holds it: ISO-8601 with its zone (the seconds may be left out); a
// time without a zone would be read in the zone of whoever reads it.
const EVENT_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;

/**
 * The event time, in ms since the epoch, that the top-level `field` of a record's `value` holds:
 * an ISO-8601 time with its zone, or a number of ms since the epoch. Undefined when it holds
 * neither.
 *
 * @example
 * ```ts
 * import { eventTimeOf } from "./range.ts";
 * import assert from "node:assert/strict";
 *
 * const at = Date.parse("2025-10-18T01:00:00Z");
 * assert.equal(eventTimeOf({ collected_at: "2025-10-18T01:00:00.000Z" }, "collected_at"), at);
 * assert.equal(eventTimeOf({ collected_at: at }, "collected_at"), at);
 * assert.equal(eventTimeOf({ collected_at: "2025-10-18T01:00:00" }, "collected_at"), undefined);
 * ```
 */
export function eventTimeOf(value: unknown, field: string): number | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const time = (value as Record<string, unknown>)[field];
  const ms = typeof time === "number"
    ? time
    : typeof time === "string" && EVENT_TIME.test(time)
    ? Date.parse(time)
    : NaN;
  return Number.isFinite(ms) ? ms : undefined;
}
