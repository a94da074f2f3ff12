/**
 * The ClickHouse secrets drill's config: `load-clickhouse` of tests/support/load_clickhouse.config.ts
 * (the test's own topic, `LOAD_TOPIC`; failing fast), with the data-quality checks of
 * pipeline.config.ts put back, so that `check load-clickhouse` runs them.
 *
 * @module
 */
import { defineConfig } from "../../mod.ts";
import config from "../../pipeline.config.ts";
import loadTest from "../support/load_clickhouse.config.ts";

export default defineConfig({
  runtime: loadTest.runtime,
  pipelines: {
    "load-clickhouse": {
      ...loadTest.pipelines["load-clickhouse"],
      checks: config.pipelines["load-clickhouse"].checks,
    },
  },
});
