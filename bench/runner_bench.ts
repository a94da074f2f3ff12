/**
 * The runner's own overhead per batch, with in-memory components: the ceiling any real source
 * and sink pair works under. Run with `deno task bench`. Synthetic records.
 *
 * @module
 */
import { memoryPipeline, memorySink, memorySource } from "../core/memory.ts";
import { runPipeline } from "../core/runner.ts";
import type { Message } from "../core/types.ts";

const BATCHES = 100;

for (const size of [100, 5_000]) {
  const batches: Message[][] = Array.from(
    { length: BATCHES },
    (_, b) => Array.from({ length: size }, (_, i) => ({ value: { synthetic: b * size + i } })),
  );
  Deno.bench(`runner: ${BATCHES} batches of ${size} synthetic records, memory to memory`, {
    group: `batch size ${size}`,
  }, async () => {
    const pipeline = memoryPipeline({ source: memorySource(batches), sinks: [memorySink()] });
    const result = await runPipeline(pipeline, { mode: "batch" });
    if (result.exitCode !== 0) throw new Error(result.error?.message);
  });
}
