/**
 * A pipeline of the example sink, from a config as a user writes one: synthetic in-memory
 * records into the JSON-lines file `JSONL_PATH` names.
 *
 * @module
 */
import { defineConfig, memorySourcePlugin } from "@velib/pipeline";
import { jsonlSink } from "./jsonl_sink.ts";

const out = jsonlSink({ path: Deno.env.get("JSONL_PATH") ?? "records.jsonl" });

export default defineConfig({
  pipelines: {
    demo: {
      description: "Synthetic records into a JSON-lines file.",
      source: memorySourcePlugin({ batches: [[{ n: 1 }, { n: 2 }], [{ n: 3 }]] }),
      sinks: [out],
      deadLetter: out,
    },
  },
});
