/**
 * A stream run of the Vélib' source through the replay server's faults, one cycle at a time:
 * what the API fault tests share.
 *
 * @module
 */
import { ShutdownRequested } from "../../core/errors.ts";
import { memoryPipeline } from "../../core/memory.ts";
import { runPipeline } from "../../core/runner.ts";
import type { RunResult, Sink } from "../../core/types.ts";
import type { VelibSource } from "../../plugins/source-velib/mod.ts";
import type { ReplayFault, ReplayServer } from "./velib_replay.ts";

/**
 * Streams `source` into `sink`, with fault `i` injected into the cycle after the `i`-th clean
 * one (fault, clean, fault, clean…), and stops once as many cycles were clean as there are
 * faults. Resolves with the run's result.
 *
 * @example
 * ```ts ignore
 * const result = await streamThroughFaults(replay, source, sink, [{ kind: "truncated" }]);
 * assert.equal(source.counters.cyclesFailed, 1);
 * ```
 */
export async function streamThroughFaults(
  replay: ReplayServer,
  source: VelibSource,
  sink: Sink,
  faults: readonly ReplayFault[],
): Promise<RunResult> {
  const controller = new AbortController();
  let injected = 1;
  replay.injectFault(faults[0]);
  const watcher = setInterval(() => {
    const { cyclesOk } = source.counters;
    if (cyclesOk >= faults.length) controller.abort(new ShutdownRequested("SIGTERM"));
    else if (cyclesOk === injected) replay.injectFault(faults[injected++]);
  }, 20);
  try {
    const pipeline = memoryPipeline({ source, sinks: [sink] });
    return await runPipeline(pipeline, { mode: "stream", signal: controller.signal });
  } finally {
    clearInterval(watcher);
  }
}
