/**
 * The charting library's browser bundles, read from Deno's npm cache, to inline in the page:
 * d3 and Observable Plot, at the versions `deno.json` imports. Nothing is fetched here.
 *
 * @module
 */
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

/** The scripts a page inlines, in the order they must run. */
export interface Assets {
  /** d3's UMD bundle, which defines the global `d3` that Plot's needs. */
  d3: string;
  /** Observable Plot's UMD bundle: the global `Plot`. */
  plot: string;
  /** The report's own script, which draws the charts from the embedded data. */
  client: string;
}

const require = createRequire(import.meta.url);

/**
 * The UMD bundle of `pkg` at `bundle` inside it. The packages export only their ES modules to
 * resolvers, so the bundle is found from the module's place in the package.
 */
function bundleOf(pkg: string, bundle: string): Promise<string> {
  const entry = require.resolve(pkg); // <package>/src/index.js
  return Deno.readTextFile(join(dirname(dirname(entry)), bundle));
}

/**
 * Reads the three scripts.
 *
 * @example
 * ```ts
 * import { readAssets } from "./assets.ts";
 * import assert from "node:assert/strict";
 *
 * const { plot } = await readAssets();
 * assert.match(plot, /observablehq/);
 * ```
 */
export async function readAssets(): Promise<Assets> {
  // Imported here, not at the top: so Deno fetches them into the npm cache, where the bundles
  // are read from, when a report is made, and no other command loads them.
  await Promise.all([import("d3"), import("@observablehq/plot")]);
  const [d3, plot, client] = await Promise.all([
    bundleOf("d3", "dist/d3.min.js"),
    bundleOf("@observablehq/plot", "dist/plot.umd.min.js"),
    Deno.readTextFile(new URL("./client.js", import.meta.url)),
  ]);
  return { d3, plot, client };
}
