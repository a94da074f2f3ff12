/**
 * A config with mistakes, for the CLI's error-reporting tests.
 *
 * @module
 */
import { defineConfig } from "../../mod.ts";

const asAUserMightWriteIt = {
  description: "No source, and a number where a list of sinks belongs.",
  sinks: 3,
} as unknown as Parameters<typeof defineConfig>[0]["pipelines"][string];

export default defineConfig({ pipelines: { load: asAUserMightWriteIt } });
