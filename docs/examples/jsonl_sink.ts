/**
 * A complete sink plugin, as a team outside this repository would write it: JSON lines appended
 * to a file, rejects to a second file. It imports only the package's public entry point.
 *
 * @module
 */
import {
  BatchError,
  definePlugin,
  PipelineError,
  type Sink,
  type SinkBatch,
} from "@velib/pipeline";
import { z } from "zod";

/** The config: the schema is the one source of truth for its type. */
export const jsonlConfigSchema = z.strictObject({
  /** The file records are appended to; rejects go to `<path>.rejects`. */
  path: z.string().endsWith(".jsonl", { error: "expected a .jsonl file" }),
});

/** One JSON line per value; a record that cannot be one is named, with a terminal error. */
function encode(values: unknown[]): string | BatchError {
  const failures = new BatchError("Some records cannot be written as JSON lines.");
  const lines = values.map((value, index) => {
    try {
      return JSON.stringify(value) + "\n";
    } catch (error) {
      // A PipelineError says, where it is made, that retrying cannot help: the runner
      // dead-letters this record and writes the others.
      failures.failed(index, new PipelineError(`Not JSON: ${error}`, { hint: "Fix the record." }));
      return "";
    }
  });
  return failures.failures.size > 0 ? failures : lines.join("");
}

/** The component: connect, write, close. */
class JsonlSink implements Sink {
  #file?: Deno.FsFile;
  #rejects?: Deno.FsFile;

  constructor(readonly path: string) {}

  async connect(): Promise<void> {
    // Tried once: the runner retries a failed connect with backoff.
    const options = { append: true, create: true };
    this.#file = await Deno.open(this.path, options);
    this.#rejects = await Deno.open(`${this.path}.rejects`, options);
  }

  /**
   * Every line is encoded before the first byte is written, so a bad record fails the batch with
   * nothing stored. Appending is not idempotent: a batch the runner delivers again is appended
   * again, so this sink must not store source positions, and its suite says `idempotent: false`.
   */
  async write(batch: SinkBatch): Promise<void> {
    const records = encode(batch.messages.map((message) => message.value));
    if (records instanceof BatchError) throw records;
    const rejects = encode(batch.rejects);
    if (rejects instanceof BatchError) throw new PipelineError("A reject is not JSON.");
    const bytes = new TextEncoder();
    await this.#file!.write(bytes.encode(records));
    await this.#rejects!.write(bytes.encode(rejects));
  }

  /** Safe to call twice, and after a failed connect. */
  close(): Promise<void> {
    this.#file?.close();
    this.#rejects?.close();
    this.#file = this.#rejects = undefined;
    return Promise.resolve();
  }
}

/**
 * The plugin: a name, a config schema with an example, and a factory that does no I/O.
 *
 * @example
 * ```ts
 * import { jsonlSink } from "./jsonl_sink.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(jsonlSink({ path: "out.jsonl" }).validate({}), []);
 * assert.equal(jsonlSink({ path: "out.csv" }).validate({})[0].path, "path");
 * ```
 */
export const jsonlSink = definePlugin({
  kind: "sink",
  name: "jsonl",
  description: "Appends each record to a file as a line of JSON, and rejects to <path>.rejects.",
  config: jsonlConfigSchema,
  example: { path: "records.jsonl" },
  create: ({ path }) => new JsonlSink(path),
});
