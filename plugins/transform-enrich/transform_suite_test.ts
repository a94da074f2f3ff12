// The transform suite on `enrich`, with synthetic snapshots (codes ending in `_synthetic`, not
// real stations); an invalid one has a negative bike count.
import { transformSuite } from "../../testing.ts";
import { syntheticSnapshot } from "../../tests/support/synthetic.ts";
import { enrich } from "./mod.ts";

/** The nth synthetic snapshot: a station of its own, in or out of service. */
const snapshot = (n: number) =>
  syntheticSnapshot({
    station_code: `${99000 + n}_synthetic`,
    station_name: `Synthetic station ${n}`,
    bikes_available: n % 7,
    mechanical_bikes: n % 7,
    electric_bikes: 0,
    docks_available: 10 - (n % 7),
    is_installed: n % 5 !== 0,
    is_returning: n % 2 === 0,
    collected_at: "2024-05-28T20:07:00.000Z",
  });

transformSuite<unknown>({
  name: "enrich transform",
  make: () => enrich({}).build({}),
  valid: snapshot,
  invalid: (n) => ({ ...snapshot(n), bikes_available: -n }),
});
