import assert from "node:assert/strict";
import { sinkSuite } from "@velib/pipeline/testing";
import { runCli } from "../../tests/support/cli.ts";
import { jsonlSink } from "./jsonl_sink.ts";

/** The lines of a file, parsed; none when it does not exist. */
async function lines(path: string): Promise<unknown[]> {
  const text = await Deno.readTextFile(path).catch(() => "");
  return text.split("\n").filter((line) => line !== "").map((line) => JSON.parse(line));
}

sinkSuite<Record<string, unknown>>({
  name: "jsonl sink (docs example)",
  make: async () => {
    const dir = await Deno.makeTempDir();
    const path = `${dir}/records.jsonl`;
    const sink = jsonlSink({ path }).build({});
    await sink.connect();
    return {
      sink,
      stored: () => lines(path) as Promise<Record<string, unknown>[]>,
      storedRejects: () => lines(`${path}.rejects`) as never,
      async [Symbol.asyncDispose]() {
        await sink.close();
        await Deno.remove(dir, { recursive: true });
      },
    };
  },
  record: (n) => ({ n, label: `synthetic ${n}` }),
  poison: (n) => ({ n, big: BigInt(n) }),
});

Deno.test("the docs example sink runs in a pipeline from its config", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/out.jsonl`;
    const run = await runCli(["batch", "demo", "--config", "docs/examples/jsonl.config.ts"], {
      env: { JSONL_PATH: path },
    });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(await lines(path), [{ n: 1 }, { n: 2 }, { n: 3 }]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("docs/plugins.md shows the example sink as it is tested", async () => {
  const guide = await Deno.readTextFile(new URL("../plugins.md", import.meta.url));
  const source = await Deno.readTextFile(new URL("./jsonl_sink.ts", import.meta.url));
  assert.ok(
    guide.includes("```ts\n" + source + "```"),
    "paste docs/examples/jsonl_sink.ts into the guide",
  );
  assert.ok(source.split("\n").length <= 101, "the example stays under 100 lines");
});
