/**
 * A throwaway Apache Kafka broker: KRaft combined mode (broker + controller), single node,
 * on 127.0.0.1, from jars resolved once from Maven Central and cached outside the repo.
 */

import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { Kafka, logLevel } from "kafkajs";
import { ServiceError } from "./errors.ts";
import { moveIntoPlace, removeStaleDownloads, runMaven } from "./maven.ts";
import {
  daemonStatus,
  isProcessAlive,
  lastLines,
  pathExists,
  type PidFileDaemon,
  randomHex,
  removePath,
  runCommand,
  sleep,
  stopDaemon,
  tailFile,
  throwIfAborted,
} from "./proc.ts";
import { createServiceDir, type ServiceOwner } from "./state.ts";

/** The broker version we run. */
export const KAFKA_VERSION = "3.9.1";
const BROKER_JAR = `kafka_2.13-${KAFKA_VERSION}.jar`;
const TOOLS_KAFKA_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "kafka");
const READY_TIMEOUT_MS = 90_000;
/** Downloads being assembled in the cache dir, renamed into place once complete. */
const STAGING_PREFIX = ".libs-partial-";
const JAVA_HINT = "install Java 17+ and Maven: apt-get install -y openjdk-17-jre-headless maven";

/** A running Kafka broker we started. */
export interface KafkaBroker {
  dir: string;
  pid: number;
  port: number;
  controllerPort: number;
  logPath: string;
  /** e.g. "Apache Kafka 3.9.1". */
  version: string;
}

/** Options for {@link startKafka}. */
export interface StartKafkaOptions {
  owner: ServiceOwner;
  port: number;
  controllerPort: number;
  log: (line: string) => void;
  /** Called as soon as the service dir exists, so it can be recorded before anything runs. */
  onDir: (dir: string) => Promise<void>;
  /** Called as soon as the broker process exists. */
  onPid: (pid: number) => Promise<void>;
  signal?: AbortSignal;
}

/** Paths inside a Kafka service dir (fixed, so `down` can find them from the dir alone). */
function layout(dir: string) {
  return {
    dataDir: join(dir, "data"),
    logPath: join(dir, "kafka.log"),
    pidFile: join(dir, "kafka.pid"),
    propertiesPath: join(dir, "server.properties"),
    log4jPath: join(dir, "log4j.properties"),
  };
}

/**
 * Starts a single-node KRaft broker on 127.0.0.1:`port` (controller on `controllerPort`),
 * detached so it outlives this process, and waits until it serves admin requests.
 */
export async function startKafka(options: StartKafkaOptions): Promise<KafkaBroker> {
  const { port, controllerPort, signal } = options;
  await requireJava17();
  const libsDir = await ensureKafkaJars(options.log, signal);
  throwIfAborted(signal);

  const dir = await createServiceDir("kafka", options.owner);
  await options.onDir(dir);
  const paths = layout(dir);
  await Deno.writeTextFile(paths.propertiesPath, serverProperties(dir, port, controllerPort));
  await Deno.copyFile(join(TOOLS_KAFKA_DIR, "log4j.properties"), paths.log4jPath);

  options.log(`Kafka: formatting KRaft storage in ${paths.dataDir}`);
  await formatStorage(libsDir, dir, signal);
  throwIfAborted(signal);

  options.log(`Kafka: starting broker on 127.0.0.1:${port} (controller :${controllerPort})`);
  const pid = await spawnDetachedBroker(libsDir, dir);
  await options.onPid(pid);
  await waitUntilServing(`127.0.0.1:${port}`, pid, paths.logPath, signal);

  const version = await brokerVersion(paths.logPath);
  return { dir, pid, port, controllerPort, logPath: paths.logPath, version };
}

/**
 * Starts again the stopped broker of a dir made by {@link startKafka}, on the same ports and with
 * the data it had, and waits until it serves admin requests: an outage and its end, for drills.
 *
 * @example
 * ```ts ignore
 * await stopKafkaDir(broker.dir);
 * broker = await restartKafka(broker, { log: console.error });
 * ```
 */
export async function restartKafka(
  broker: KafkaBroker,
  options: { log: (line: string) => void; signal?: AbortSignal },
): Promise<KafkaBroker> {
  const { running } = await kafkaDirStatus(broker.dir);
  if (running) {
    throw new ServiceError(
      `the Kafka broker of ${broker.dir} is still running`,
      "stop it first (stopKafkaDir)",
    );
  }
  const libsDir = await ensureKafkaJars(options.log, options.signal);
  options.log(`Kafka: starting the broker of ${broker.dir} again on 127.0.0.1:${broker.port}`);
  const pid = await spawnDetachedBroker(libsDir, broker.dir);
  await waitUntilServing(`127.0.0.1:${broker.port}`, pid, broker.logPath, options.signal);
  return { ...broker, pid };
}

/** `${XDG_CACHE_HOME:-$HOME/.cache}/velib-pipeline/kafka-3.9.1`: outside any clone. */
export function kafkaCacheDir(): string {
  const xdg = Deno.env.get("XDG_CACHE_HOME");
  const base = xdg ? xdg : join(Deno.env.get("HOME") ?? "/tmp", ".cache");
  return join(base, "velib-pipeline", `kafka-${KAFKA_VERSION}`);
}

/** The `java -version` line of `java` on PATH; fails clearly if it is missing or older than 17. */
export async function requireJava17(): Promise<string> {
  const result = await runCommand("java", ["-version"], { installHint: JAVA_HINT });
  // `java -version` prints to stderr: openjdk version "17.0.15" 2025-04-15
  const output = result.stderr + result.stdout;
  const match = output.match(/version "(\d+)(?:\.(\d+))?/);
  const major = match ? Number(match[1] === "1" ? match[2] : match[1]) : 0;
  if (result.code !== 0 || major < 17) {
    throw new ServiceError(
      `Kafka ${KAFKA_VERSION} needs Java 17+, but \`java -version\` says: ` +
        (output.split("\n")[0]?.trim() || `exit ${result.code}`),
      JAVA_HINT,
    );
  }
  return output.split("\n")[0].trim();
}

/**
 * Returns the cached libs dir, resolving the jars with Maven on first use. The jars are
 * downloaded into a temp dir next to the cache and renamed into place, so an interrupted
 * download is never mistaken for a complete cache.
 */
export async function ensureKafkaJars(
  log: (line: string) => void,
  signal?: AbortSignal,
): Promise<string> {
  const cacheDir = kafkaCacheDir();
  const libsDir = join(cacheDir, "libs");
  if (await pathExists(join(libsDir, BROKER_JAR))) return libsDir;

  log(`Resolving Kafka ${KAFKA_VERSION} jars from Maven Central (first run only)…`);
  await Deno.mkdir(cacheDir, { recursive: true });
  await removeStaleDownloads(cacheDir, STAGING_PREFIX);
  const staging = await Deno.makeTempDir({ dir: cacheDir, prefix: STAGING_PREFIX });
  try {
    await runMaven({
      pom: join(TOOLS_KAFKA_DIR, "pom.xml"),
      goal: ["dependency:copy-dependencies", `-DoutputDirectory=${staging}`],
      what: `the Kafka ${KAFKA_VERSION} jars`,
      signal,
    });
    if (!(await pathExists(join(staging, BROKER_JAR)))) {
      throw new ServiceError(
        `Maven finished but ${BROKER_JAR} is not among the resolved jars`,
        `check ${join(TOOLS_KAFKA_DIR, "pom.xml")}`,
      );
    }
    // A libs dir without the broker jar is debris from an older layout: it is replaced.
    await moveIntoPlace(staging, libsDir, BROKER_JAR);
  } finally {
    await removePath(staging);
  }
  log(`Kafka ${KAFKA_VERSION} jars cached in ${libsDir}`);
  return libsDir;
}

function serverProperties(dir: string, port: number, controllerPort: number): string {
  const properties: Record<string, string | number> = {
    "process.roles": "broker,controller",
    "node.id": 1,
    "controller.quorum.voters": `1@127.0.0.1:${controllerPort}`,
    "listeners": `PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    "advertised.listeners": `PLAINTEXT://127.0.0.1:${port}`,
    "controller.listener.names": "CONTROLLER",
    "inter.broker.listener.name": "PLAINTEXT",
    "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
    "log.dirs": layout(dir).dataDir,
    "offsets.topic.replication.factor": 1,
    "offsets.topic.num.partitions": 5,
    "transaction.state.log.replication.factor": 1,
    "transaction.state.log.min.isr": 1,
    "group.initial.rebalance.delay.ms": 0,
    "auto.create.topics.enable": "false",
    "num.partitions": 1,
  };
  const lines = Object.entries(properties).map(([key, value]) => `${key}=${value}`);
  return `# Generated by tools/services.ts for a throwaway single-node test broker.\n${
    lines.join("\n")
  }\n`;
}

/**
 * A random KRaft cluster id: 16 bytes, base64url without padding (22 chars), like Kafka's. Like
 * Kafka's, never one that starts with "-": `kafka-storage format -t -…` takes it for an option
 * and fails (1 start in 64).
 */
function randomClusterId(): string {
  for (;;) {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    const id = btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_")
      .replace(/=+$/, "");
    if (!id.startsWith("-")) return id;
  }
}

async function formatStorage(libsDir: string, dir: string, signal?: AbortSignal): Promise<void> {
  const { propertiesPath, log4jPath } = layout(dir);
  const result = await runCommand("java", [
    `-Dlog4j.configuration=file:${log4jPath}`,
    "-cp",
    `${libsDir}/*`,
    "kafka.tools.StorageTool",
    "format",
    "-t",
    randomClusterId(),
    "-c",
    propertiesPath,
  ], { cwd: dir, signal, installHint: JAVA_HINT });
  if (result.code !== 0) {
    throw new ServiceError(
      `Kafka storage format failed (exit ${result.code}) for ${propertiesPath}`,
      `read the output above; if the jars in ${libsDir} look damaged, delete ` +
        `${kafkaCacheDir()} and run again`,
      undefined,
      lastLines(result.stdout + result.stderr),
    );
  }
}

/**
 * Starts the broker in its own session (setsid + nohup, stdin from /dev/null) through bash,
 * so it keeps running after `deno task services up` exits, and returns its pid.
 * bash's `$!` is java's pid: in a non-interactive shell the background child is not a
 * process-group leader, so setsid does not fork, and nohup execs.
 */
async function spawnDetachedBroker(libsDir: string, dir: string): Promise<number> {
  const { logPath, pidFile, propertiesPath, log4jPath } = layout(dir);
  const javaArgs = [
    "java",
    "-Xmx512m",
    "-Xms256m",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
    `-Dlog4j.configuration=file:${log4jPath}`,
    "-cp",
    `${libsDir}/*`,
    "kafka.Kafka",
    propertiesPath,
  ];
  const script = 'setsid nohup "$@" </dev/null >"$KAFKA_LOG" 2>&1 & echo "$!" >"$KAFKA_PID_FILE"';
  const result = await runCommand("bash", ["-c", script, "bash", ...javaArgs], {
    cwd: dir,
    env: { KAFKA_LOG: logPath, KAFKA_PID_FILE: pidFile },
  });
  const pid = Number.parseInt(await Deno.readTextFile(pidFile).catch(() => ""), 10);
  if (result.code !== 0 || !Number.isInteger(pid)) {
    throw new ServiceError(
      "could not launch the Kafka broker process",
      "check that bash, setsid and nohup are installed (util-linux, coreutils)",
      logPath,
      lastLines(result.stderr),
    );
  }
  return pid;
}

/**
 * Waits (up to 90 s) until the broker answers describeCluster AND can create and delete a
 * topic, which proves the KRaft controller is serving too. Fails early if the JVM dies.
 */
async function waitUntilServing(
  brokers: string,
  pid: number,
  logPath: string,
  signal?: AbortSignal,
): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let lastError = "no attempt made";
  while (Date.now() < deadline) {
    throwIfAborted(signal);
    if (!isProcessAlive(pid)) {
      throw await brokerStartupError(
        `the Kafka broker (pid ${pid}) exited during startup`,
        logPath,
      );
    }
    try {
      await checkBrokerServing(brokers, { createProbeTopic: true });
      return;
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err);
    }
    await sleep(250, signal);
  }
  throw await brokerStartupError(
    `the Kafka broker on ${brokers} was not ready within ${READY_TIMEOUT_MS / 1000}s ` +
      `(last error: ${lastError})`,
    logPath,
  );
}

async function brokerStartupError(message: string, logPath: string): Promise<ServiceError> {
  return new ServiceError(
    message,
    "read the log for the cause; what was started has been stopped, so just run the " +
      "command again once it is fixed",
    logPath,
    `--- last 30 lines of kafka.log ---\n${await tailFile(logPath, 30)}`,
  );
}

/**
 * One readiness probe with kafkajs: connect, describeCluster and, optionally, create and
 * delete a throwaway topic. Throws on failure. Also used to check an external KAFKA_BROKERS.
 */
export async function checkBrokerServing(
  brokers: string,
  options: { createProbeTopic: boolean; timeoutMs?: number },
): Promise<void> {
  silenceKafkajsTimeoutWarning();
  const timeoutMs = options.timeoutMs ?? 5_000;
  const kafka = new Kafka({
    clientId: "velib-services-probe",
    brokers: brokers.split(",").map((broker) => broker.trim()),
    logLevel: logLevel.NOTHING,
    connectionTimeout: Math.min(timeoutMs, 2_000),
    requestTimeout: timeoutMs,
    retry: { retries: 0 },
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    await admin.describeCluster();
    if (options.createProbeTopic) {
      const topic = `__velib_readiness_probe_${randomHex(6)}`;
      await admin.createTopics({
        topics: [{ topic, numPartitions: 1, replicationFactor: 1 }],
        waitForLeaders: true,
        timeout: timeoutMs,
      });
      await admin.deleteTopics({ topics: [topic], timeout: timeoutMs });
    }
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/**
 * kafkajs 2.2.4's request queue calls setTimeout with `-1 - Date.now()` when idle; Node's
 * timers (which npm packages get) print a TimeoutNegativeWarning for it. It is harmless
 * (the timeout is clamped to 1 ms), so drop exactly that warning from our output.
 */
let kafkajsWarningSilenced = false;
function silenceKafkajsTimeoutWarning(): void {
  // Patched on first use, not at import: tools/test.ts matches deno test's `test.ts` pattern,
  // so the test process imports this module and must not be affected by merely loading it.
  if (kafkajsWarningSilenced) return;
  kafkajsWarningSilenced = true;
  const emitWarning = process.emitWarning;
  process.emitWarning = function (warning: string | Error, ...rest: unknown[]) {
    const type = typeof rest[0] === "string" ? rest[0] : (rest[0] as { type?: string })?.type;
    if (type === "TimeoutNegativeWarning") return;
    return Reflect.apply(emitWarning, process, [warning, ...rest]);
  } as typeof process.emitWarning;
}

/** "Apache Kafka X" from the broker's own log line "Kafka version: X", else the jar name. */
async function brokerVersion(logPath: string): Promise<string> {
  const log = await Deno.readTextFile(logPath).catch(() => "");
  const match = log.match(/Kafka version: (\S+)/);
  return `Apache Kafka ${match ? match[1] : KAFKA_VERSION}`;
}

/** The broker of a service dir, as its pid file and properties name it. */
const daemonOf = (dir: string): PidFileDaemon => ({
  pidFile: layout(dir).pidFile,
  commandLineMarker: layout(dir).propertiesPath,
});

/** Whether the broker of a service dir is running, and its pid. */
export function kafkaDirStatus(dir: string): Promise<{ running: boolean; pid?: number }> {
  return daemonStatus(daemonOf(dir));
}

/** Stops the broker of a service dir (SIGTERM, SIGKILL after 10 s); describes the outcome. */
export function stopKafkaDir(dir: string): Promise<string> {
  return stopDaemon(daemonOf(dir), 10_000);
}
