/**
 * The failure drills' `load` (see `tests/faults/drill.config.ts`) with the metrics settings its
 * tests need: freshness from `collected_at`, and writes that give up quickly, so that a stopped
 * warehouse turns `/readyz` unready and a restarted one is written again within seconds.
 *
 * @module
 */
import { defineConfig } from "../../mod.ts";
import drill from "../faults/drill.config.ts";

export default defineConfig({
  ...drill,
  runtime: {
    ...drill.runtime,
    writeRetry: { attempts: 2, initialDelayMs: 100, maxDelayMs: 1_000 },
    metrics: { eventTimeField: "collected_at" },
  },
});
