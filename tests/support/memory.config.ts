/**
 * A pipeline config of in-memory plugins for the CLI tests: no services needed.
 *
 * @module
 */
import { z } from "zod";
import { defineConfig, definePlugin, memorySink, memorySinkPlugin, sleep } from "../../mod.ts";
import { syntheticSource } from "./synthetic.ts";

const slowSink = definePlugin({
  kind: "sink",
  name: "slow",
  description: "Takes `delayMs` per write and gives up when the run is stopped.",
  config: z.strictObject({ delayMs: z.int().min(0) }),
  example: { delayMs: 0 },
  create: ({ delayMs }) => {
    let started = false;
    return memorySink({
      beforeWrite: async (_batch, signal) => {
        if (!started) console.error("slow sink: first write started");
        started = true;
        await sleep(delayMs, signal);
      },
    });
  },
});

const quick = memorySinkPlugin({ label: "what quick writes" });
const slow = slowSink({ delayMs: 60_000 });

export default defineConfig({
  pipelines: {
    quick: {
      description: "Three batches into memory.",
      source: syntheticSource({ batches: 3, size: 5 }),
      sinks: [quick],
      deadLetter: quick,
    },
    slow: {
      description: "A write that only a signal ends.",
      source: syntheticSource({ batches: 1, size: 5 }),
      sinks: [slow],
      deadLetter: slow,
    },
  },
});
