/**
 * The secrets drill's config: the `load` pipeline of tests/support/load.config.ts (the test's own
 * topic, `LOAD_TOPIC`; failing fast; hanging after the warehouse commit when `HANG_MARKER` is
 * set), with the data-quality checks of pipeline.config.ts put back, so that `check load` runs
 * them.
 *
 * @module
 */
import { defineConfig } from "../../mod.ts";
import config from "../../pipeline.config.ts";
import loadTest from "../support/load.config.ts";

export default defineConfig({
  runtime: loadTest.runtime,
  pipelines: {
    load: { ...loadTest.pipelines.load, checks: config.pipelines.load.checks },
  },
});
