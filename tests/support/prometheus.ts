/**
 * Reads the Prometheus text format with Prometheus's own Python client parser, as a scraper
 * would, instead of trusting the exposition code to parse what it wrote.
 *
 * @module
 */
import { ensurePythonTools } from "../../tools/lib/python_tools.ts";

/** One sample, as `prometheus_client.parser` reads it. */
export interface Sample {
  /** The family it belongs to (a counter's without `_total`). */
  family: string;
  /** The family's type, e.g. `counter`. */
  type: string;
  /** The sample's own name, e.g. `x_bucket`. */
  name: string;
  /** Its labels. */
  labels: Record<string, string>;
  /** Its value. */
  value: number;
}

const PARSE = `
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        out.append({"family": family.name, "type": family.type, "name": s.name,
                    "labels": s.labels, "value": s.value})
print(json.dumps(out))
`;

/**
 * Parses `text` with `prometheus_client.parser.text_string_to_metric_families`; throws with the
 * parser's error when it is not valid.
 *
 * @example
 * ```ts ignore
 * const samples = await parsePrometheus("# TYPE up gauge\nup 1\n");
 * ```
 */
export async function parsePrometheus(text: string): Promise<Sample[]> {
  const { python } = await ensurePythonTools();
  const child = new Deno.Command(python, {
    args: ["-c", PARSE],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const { code, stdout, stderr } = await child.output();
  const decoder = new TextDecoder();
  if (code !== 0) throw new Error(`prometheus_client refused the text:\n${decoder.decode(stderr)}`);
  return JSON.parse(decoder.decode(stdout));
}

/**
 * The sum of the samples named `name` whose labels include `labels`.
 *
 * @example
 * ```ts
 * import { sumOf } from "./prometheus.ts";
 * import assert from "node:assert/strict";
 *
 * const sample = { family: "x", type: "counter", name: "x_total", labels: { a: "1" }, value: 2 };
 * assert.equal(sumOf([sample, sample], "x_total"), 4);
 * ```
 */
export function sumOf(
  samples: Sample[],
  name: string,
  labels: Record<string, string> = {},
): number {
  return samples
    .filter((sample) => sample.name === name)
    .filter((sample) => Object.entries(labels).every(([k, v]) => sample.labels[k] === v))
    .reduce((sum, sample) => sum + sample.value, 0);
}
