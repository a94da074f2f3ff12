// The source suite on a replay of a real GBFS capture (Lillestrøm bysykkel, 6 stations): a poller
// of snapshots has no positions, and after a nack it takes the next snapshot instead.
import { sourceSuite } from "../../testing.ts";
import { gbfsCapture } from "../../tests/support/gbfs_fixtures.ts";
import { startGbfsReplay } from "../../tests/support/gbfs_replay.ts";
import { gbfsSource } from "./mod.ts";

const capture = await gbfsCapture("lillestrom-bysykkel_2021-09-10");

sourceSuite({
  name: "gbfs source",
  resumable: false,
  afterNack: "supersede",
  make: async () => {
    const replay = await startGbfsReplay(capture);
    return {
      // Every station of its station_status, each in its station_information.
      records: 6,
      source: () => gbfsSource({ url: replay.url, intervalMs: 10, timeoutMs: 5_000 }).build({}),
      [Symbol.asyncDispose]: () => replay.close(),
    };
  },
});
