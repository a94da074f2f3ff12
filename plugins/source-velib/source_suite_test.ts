// The source suite on the replay of the Vélib' API (the real 2024-05-28 capture): a poller of
// snapshots has no positions, and after a nack it takes the next snapshot instead.
import { sourceSuite } from "../../testing.ts";
import { startReplayServer } from "../../tests/support/velib_replay.ts";
import { velibSource } from "./mod.ts";

sourceSuite({
  name: "velib source",
  resumable: false,
  afterNack: "supersede",
  make: async () => {
    const replay = await startReplayServer();
    return {
      // Every station of the capture, as a record or, when it does not normalize, a reject.
      records: replay.stations,
      source: () =>
        velibSource({ baseUrl: replay.baseUrl, fetch: "exports", intervalMs: 10, timeoutMs: 5_000 })
          .build({}),
      [Symbol.asyncDispose]: () => replay.close(),
    };
  },
});
