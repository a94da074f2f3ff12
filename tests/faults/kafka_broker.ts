/**
 * A Kafka broker of a drill's own, which the drill may stop and start again: same port, same
 * data. The shared test broker must never go down, so an outage needs a broker nobody else uses.
 *
 * @module
 */
import { memoryPipeline, memorySink } from "../../core/memory.ts";
import { runPipeline } from "../../core/runner.ts";
import { uniqueName } from "../../core/testing.ts";
import type { Message } from "../../core/types.ts";
import { kafkaSource } from "../../plugins/kafka/mod.ts";
import {
  type KafkaBroker,
  kafkaDirStatus,
  restartKafka,
  startKafka,
  stopKafkaDir,
} from "../../tools/lib/kafka.ts";
import { removePath, reserveFreePorts } from "../../tools/lib/proc.ts";
import { SERVICE_DIR_PARENT } from "../../tools/lib/state.ts";

/** A running drill broker. */
export interface DrillBroker extends AsyncDisposable {
  /** `127.0.0.1:<port>`, for `KAFKA_BROKERS`; it stays the same across restarts. */
  readonly brokers: string;
  /** Stops the broker (SIGTERM, as an operator or an orchestrator would) and waits for it. */
  stop(): Promise<void>;
  /** Starts the stopped broker again on the same port with its data, and waits until it serves. */
  start(): Promise<void>;
  /**
   * Freezes the broker (SIGSTOP), as a long GC pause or a partition would: connections stay
   * open, and what is sent to it waits, unanswered, until {@linkcode DrillBroker.thaw}.
   */
  freeze(): void;
  /** Lets a frozen broker go on (SIGCONT): it then handles what was sent to it meanwhile. */
  thaw(): void;
  /** Every message of `topic` from the earliest offset to the end, in a fresh group. */
  readTopic(topic: string): Promise<Message[]>;
}

/**
 * Starts a single-node KRaft broker on free loopback ports (as `deno task test` does for its
 * own), for one drill. Disposing of it stops it and removes its files.
 *
 * @example
 * ```ts ignore
 * import { startDrillBroker } from "./kafka_broker.ts";
 *
 * await using broker = await startDrillBroker();
 * await broker.stop(); // the outage
 * await broker.start(); // and its end
 * broker.freeze(); // requests hang, unanswered
 * broker.thaw();
 * ```
 */
export async function startDrillBroker(): Promise<DrillBroker> {
  const log = (line: string) => console.error(`[drill broker] ${line}`);
  // Its owner is this process: if the drill dies, the next `deno task test` reaps the broker.
  const stateDir = await Deno.makeTempDir({ dir: SERVICE_DIR_PARENT, prefix: "velib-drill-" });
  const [port, controllerPort] = reserveFreePorts(2);
  let dir: string | undefined;
  let broker: KafkaBroker;
  try {
    broker = await startKafka({
      owner: { stateDir, ephemeral: true },
      port,
      controllerPort,
      log,
      onDir: (created) => Promise.resolve(void (dir = created)),
      onPid: () => Promise.resolve(),
    });
  } catch (error) {
    if (dir !== undefined) await stopKafkaDir(dir).finally(() => removePath(dir!));
    await removePath(stateDir);
    throw error;
  }
  const brokers = `127.0.0.1:${port}`;
  return {
    brokers,
    async stop() {
      log(`stopping the broker on ${brokers}: ${await stopKafkaDir(broker.dir)}`);
    },
    async start() {
      broker = await restartKafka(broker, { log });
    },
    freeze() {
      log(`freezing the broker on ${brokers} (SIGSTOP)`);
      Deno.kill(broker.pid, "SIGSTOP");
    },
    thaw() {
      log(`thawing the broker on ${brokers} (SIGCONT)`);
      Deno.kill(broker.pid, "SIGCONT");
    },
    async readTopic(topic) {
      const sink = memorySink();
      const source = kafkaSource({ brokers, topic, groupId: uniqueName("read-back") }).build({});
      const result = await runPipeline(memoryPipeline({ source, sinks: [sink] }), {
        mode: "batch",
      });
      if (result.exitCode !== 0) {
        throw new Error(`Could not read ${topic} back: ${result.error?.message}`);
      }
      return sink.written;
    },
    async [Symbol.asyncDispose]() {
      // A frozen broker would sit on its SIGTERM until the SIGKILL.
      const { running } = await kafkaDirStatus(broker.dir);
      if (running) Deno.kill(broker.pid, "SIGCONT");
      await stopKafkaDir(broker.dir);
      await removePath(broker.dir);
      await removePath(stateDir);
    },
  };
}
