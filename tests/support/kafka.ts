/**
 * Reading back what a test published, with the project's own Kafka source.
 *
 * @module
 */
import { memoryPipeline, memorySink } from "../../core/memory.ts";
import { runPipeline } from "../../core/runner.ts";
import type { Message } from "../../core/types.ts";
import { kafkaSource } from "../../plugins/kafka/mod.ts";
import { requiredEnv, uniqueName } from "../../core/testing.ts";

/**
 * Every message of `topic` from the earliest retained offset to the end, in a fresh group.
 *
 * @example
 * ```ts ignore
 * const messages = await readTopic("velib-stations");
 * ```
 */
export async function readTopic(topic: string): Promise<Message[]> {
  const sink = memorySink();
  const source = kafkaSource({
    brokers: requiredEnv("KAFKA_BROKERS", "a Kafka broker"),
    topic,
    groupId: uniqueName("read-back"),
  }).build({});
  const result = await runPipeline(memoryPipeline({ source, sinks: [sink] }), { mode: "batch" });
  if (result.exitCode !== 0) {
    throw new Error(`Could not read ${topic} back: ${result.error?.message}`);
  }
  return sink.written;
}

/**
 * The messages of `topic` published since `before` (what {@linkcode readTopic} returned then).
 *
 * @example
 * ```ts ignore
 * const before = await readTopic(topic);
 * // … publish …
 * const published = await readTopicSince(topic, before);
 * ```
 */
export async function readTopicSince(topic: string, before: Message[]): Promise<Message[]> {
  const seen = new Set(before.map((m) => `${m.origin!.partition}@${m.origin!.offset}`));
  return (await readTopic(topic)).filter((m) =>
    !seen.has(`${m.origin!.partition}@${m.origin!.offset}`)
  );
}
