/**
 * A config with mistakes, for the CLI's error-reporting tests.
 *
 * @module
 */
import { defineConfig } from "../../mod.ts";

export default defineConfig({
  pipelines: {
    // deno-lint-ignore no-explicit-any -- deliberately wrong, as a user might write it
    load: {
      description: "No source, and a number where a list of sinks belongs.",
      sinks: 3,
    } as any,
  },
});
