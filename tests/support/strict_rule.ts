/**
 * A stricter rule for station snapshots, as a data team might bring in and then relax: a
 * station reporting more than `maxBikes` bikes is rejected. Tests of dead-letter replays use it
 * to set records aside on purpose, then replay them once the rule is relaxed.
 *
 * @module
 */
import { z } from "zod";
import { definePlugin, type Plugin } from "../../core/plugin.ts";
import type { Reject, Transform } from "../../core/types.ts";

/** How its rejects name it. */
export const STRICT_RULE_STAGE = "transform strict-rule";

const configSchema = z.strictObject({
  /** The most bikes a station may report; without it, the rule lets everything through. */
  maxBikes: z.int().min(0).optional(),
});

/**
 * The reason a station over the limit is rejected with.
 *
 * @example
 * ```ts
 * import { strictRuleReason } from "./strict_rule.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(strictRuleReason(31, 30), "bikes_available 31 is over the strict limit of 30");
 * ```
 */
export function strictRuleReason(bikes: unknown, maxBikes: number): string {
  return `bikes_available ${bikes} is over the strict limit of ${maxBikes}`;
}

/**
 * Rejects snapshots with more than `maxBikes` bikes available; with no `maxBikes`, it passes
 * every record on. A reject carries the record as it arrived, as every transform's must.
 *
 * @example
 * ```ts
 * import { strictRule } from "./strict_rule.ts";
 * import assert from "node:assert/strict";
 *
 * const transform = strictRule.spec.create({ maxBikes: 30 });
 * // A synthetic record, not a real station.
 * const result = await transform.apply([{ value: { bikes_available: 31 }, arrived: "as sent" }]);
 * assert.equal(result.messages.length, 0);
 * assert.equal(result.rejects[0].payload, "as sent");
 * ```
 */
export const strictRule: Plugin<"transform", typeof configSchema, Transform> = definePlugin({
  kind: "transform",
  name: "strict-rule",
  description: "Rejects station snapshots with more bikes available than a limit.",
  config: configSchema,
  example: { maxBikes: 30 },
  create: ({ maxBikes }): Transform => ({
    apply(messages) {
      if (maxBikes === undefined) return { messages, rejects: [] };
      const kept = [];
      const rejects: Reject[] = [];
      for (const message of messages) {
        const bikes = (message.value as { bikes_available?: unknown }).bikes_available;
        if (typeof bikes === "number" && bikes > maxBikes) {
          rejects.push({
            payload: message.arrived ?? message.value,
            reason: strictRuleReason(bikes, maxBikes),
            stage: STRICT_RULE_STAGE,
            origin: message.origin,
          });
        } else {
          kept.push(message);
        }
      }
      return { messages: kept, rejects };
    },
  }),
});
