/**
 * A sink that stops the world after a batch is written elsewhere: for killing a run at an
 * exact moment, between the warehouse's commit and the source's acknowledgement.
 *
 * @module
 */
import { z } from "zod";
import { definePlugin } from "../../core/plugin.ts";

/**
 * On its first write it creates the file `marker`, then never returns (until the run is
 * aborted). Placed after the warehouse sink, the file means "committed, not acknowledged".
 *
 * @example
 * ```ts
 * import { hangingSink } from "./hang.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(hangingSink({ marker: "/tmp/committed" }).validate({}), []);
 * ```
 */
export const hangingSink = definePlugin({
  kind: "sink",
  name: "hang",
  description: "Marks a file on its first write, then waits forever.",
  config: z.strictObject({ marker: z.string().min(1) }),
  example: { marker: "/tmp/committed" },
  create: ({ marker }) => ({
    async write(_batch, signal) {
      await Deno.writeTextFile(marker, "committed\n");
      await new Promise((_, reject) => signal.addEventListener("abort", reject, { once: true }));
    },
  }),
});
