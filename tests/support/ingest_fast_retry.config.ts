/**
 * The real pipelines, with connection retries that wait milliseconds instead of seconds, so a
 * test can watch all ten attempts.
 *
 * @module
 */
import config from "../../pipeline.config.ts";
import { defineConfig } from "../../mod.ts";

export default defineConfig({
  ...config,
  runtime: { connectRetry: { attempts: 10, initialDelayMs: 20, maxDelayMs: 60_000 } },
});
