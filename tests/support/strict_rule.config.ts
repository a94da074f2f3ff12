/**
 * The real `load` pipeline of `pipeline.config.ts` (enrich, the warehouse sink, which is also its
 * dead-letter sink, and the gold steps) with a stricter rule after enrich (`./strict_rule.ts`),
 * reading a topic of the test's own, named by `STRICT_TOPIC`. `STRICT_MAX_BIKES` sets the rule's
 * limit; unset, the rule is relaxed and lets everything through. So a test can set records
 * aside with the rule, then replay them without it: the pipeline, hence its dead letters and
 * positions, stay the same.
 *
 * `strict-apart` is the same pipeline with its dead letters in a sink of their own, which a
 * replay must refuse.
 *
 * @module
 */
import { defineConfig } from "../../mod.ts";
import config from "../../pipeline.config.ts";
import { kafkaSource } from "../../plugins/kafka/mod.ts";
import { postgresSink } from "../../plugins/sink-postgres/mod.ts";
import { enrich } from "../../plugins/transform-enrich/mod.ts";
import { strictRule } from "./strict_rule.ts";

const topic = Deno.env.get("STRICT_TOPIC") ?? "velib-stations-strict-test";
const maxBikes = Deno.env.get("STRICT_MAX_BIKES");
const load = config.pipelines.load;

const strict = {
  description: "The stations topic, enriched and held to a stricter rule, into the warehouse.",
  source: kafkaSource({
    brokers: "set-by-KAFKA_BROKERS:9092",
    topic,
    groupId: `${topic}-warehouse`,
  }),
  transforms: [enrich({}), strictRule(maxBikes ? { maxBikes: Number(maxBikes) } : {})],
  sinks: load.sinks,
  deadLetter: load.deadLetter,
  steps: load.steps,
  // The synthetic cycles are from 2024: freshness would fail every run.
  checks: [],
};

export default defineConfig({
  // Fail fast when a service is missing: the tests check messages, not patience.
  runtime: { connectRetry: { attempts: 3, initialDelayMs: 100, maxDelayMs: 400 } },
  pipelines: {
    strict,
    "strict-apart": {
      ...strict,
      description: "The same, with its dead letters in a sink that writes no records.",
      deadLetter: postgresSink({
        url: "pglite:.data/unused",
        writes: [{ table: "pipeline.dead_letters", mode: "insert", key: ["id"] }],
      }),
    },
  },
});
