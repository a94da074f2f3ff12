/**
 * Kafka Connect standalone with Debezium's JDBC sink, the peer that users would run instead of
 * `batch load`: Apache Kafka's `connect-runtime` (the broker's version) and the connector's own
 * plugin archive, resolved once with Maven and cached beside the broker's jars. A worker runs as
 * a child of the caller, in a temp dir of its own (configs, offsets, log), and is stopped with
 * SIGTERM, then SIGKILL.
 *
 * @module
 */

import { join } from "node:path";
import { redact } from "../../core/redact.ts";
import { ServiceError } from "./errors.ts";
import { moveIntoPlace, removeStaleDownloads, runMaven } from "./maven.ts";
import { ensureKafkaJars, KAFKA_VERSION, kafkaCacheDir, requireJava17 } from "./kafka.ts";
import {
  isProcessAlive,
  lastLines,
  pathExists,
  readPeakRssKb,
  removePath,
  reserveFreePorts,
  runCommand,
  sleep,
  tailFile,
  type TerminateOutcome,
  terminateProcess,
} from "./proc.ts";

/** The Debezium JDBC sink we run: 3.6.1.Final is not on Maven Central, 3.6.0.Final is. */
export const DEBEZIUM_JDBC_VERSION = "3.6.0.Final";
/** The Kafka Connect runtime's version: the broker's. */
export const KAFKA_CONNECT_VERSION: string = KAFKA_VERSION;

const RUNTIME_JAR = `connect-runtime-${KAFKA_VERSION}.jar`;
const CONNECTOR_JAR = `debezium-connector-jdbc-${DEBEZIUM_JDBC_VERSION}.jar`;
const PLUGIN_ARTIFACT =
  `io.debezium:debezium-connector-jdbc:${DEBEZIUM_JDBC_VERSION}:tar.gz:plugin`;
const PLUGIN_DIR_NAME = "debezium-connector-jdbc";
const PARTIAL_PREFIX = ".connect-partial-";

/** Where the jars of a Connect worker are. */
export interface KafkaConnectJars {
  /** The runtime's classpath dir: connect-runtime, connect-json, connect-transforms, slf4j. */
  libsDir: string;
  /** The worker's `plugin.path`: holds `debezium-connector-jdbc/` and its bundled jars. */
  pluginPath: string;
}

/**
 * The cache dirs, beside the broker's libs in {@linkcode kafkaCacheDir}: `connect-libs/` and
 * `debezium-jdbc-3.6.0.Final/`.
 *
 * @example
 * ```ts
 * import { kafkaConnectCacheDirs } from "./kafka_connect.ts";
 * import assert from "node:assert/strict";
 *
 * assert.match(kafkaConnectCacheDirs().pluginPath, /debezium-jdbc-3\.6\.0\.Final$/);
 * ```
 */
export function kafkaConnectCacheDirs(): KafkaConnectJars {
  return {
    libsDir: join(kafkaCacheDir(), "connect-libs"),
    pluginPath: join(kafkaCacheDir(), `debezium-jdbc-${DEBEZIUM_JDBC_VERSION}`),
  };
}

/**
 * Returns the cached runtime and plugin dirs, resolving them on first use: the runtime with
 * `mvn dependency:copy-dependencies`, the plugin archive with `mvn dependency:copy` through a
 * settings file whose mirror sends every repository to Maven Central (the connector's own pom
 * names a vendor repository and a Hibernate artifact that do not resolve). Maven runs offline
 * first, so a filled `~/.m2` needs no network. Each part is put together in a temp dir next to
 * the cache and renamed into place, so an interrupted download is never taken for a cache.
 *
 * @example
 * ```ts ignore
 * import { ensureKafkaConnectJars } from "./kafka_connect.ts";
 *
 * const { libsDir, pluginPath } = await ensureKafkaConnectJars(console.error);
 * ```
 */
export async function ensureKafkaConnectJars(
  log: (line: string) => void,
  signal?: AbortSignal,
): Promise<KafkaConnectJars> {
  const dirs = kafkaConnectCacheDirs();
  const runtimeReady = await pathExists(join(dirs.libsDir, RUNTIME_JAR));
  const pluginReady = await pathExists(join(dirs.pluginPath, PLUGIN_DIR_NAME, CONNECTOR_JAR));
  if (runtimeReady && pluginReady) return dirs;

  const cacheDir = kafkaCacheDir();
  await Deno.mkdir(cacheDir, { recursive: true });
  await removeStaleDownloads(cacheDir, PARTIAL_PREFIX);
  const staging = await Deno.makeTempDir({ dir: cacheDir, prefix: PARTIAL_PREFIX });
  try {
    await Deno.writeTextFile(join(staging, "pom.xml"), RUNTIME_POM);
    await Deno.writeTextFile(join(staging, "settings.xml"), CENTRAL_ONLY_SETTINGS);
    if (!runtimeReady) {
      log(`Resolving Kafka Connect ${KAFKA_VERSION} jars (first run only)…`);
      const out = join(staging, "connect-libs");
      await runMaven({
        pom: join(staging, "pom.xml"),
        settings: join(staging, "settings.xml"),
        goal: ["dependency:copy-dependencies", `-DoutputDirectory=${out}`],
        what: `the Kafka Connect ${KAFKA_VERSION} runtime`,
        signal,
      });
      await requireFile(join(out, RUNTIME_JAR), "the runtime");
      await moveIntoPlace(out, dirs.libsDir, RUNTIME_JAR);
    }
    if (!pluginReady) {
      log(`Resolving Debezium's JDBC sink ${DEBEZIUM_JDBC_VERSION} plugin (first run only)…`);
      const archiveDir = join(staging, "archive");
      await runMaven({
        pom: join(staging, "pom.xml"),
        settings: join(staging, "settings.xml"),
        goal: [
          "dependency:copy",
          `-Dartifact=${PLUGIN_ARTIFACT}`,
          `-DoutputDirectory=${archiveDir}`,
        ],
        what: `Debezium's JDBC sink ${DEBEZIUM_JDBC_VERSION}`,
        signal,
      });
      const archive = join(
        archiveDir,
        `debezium-connector-jdbc-${DEBEZIUM_JDBC_VERSION}-plugin.tar.gz`,
      );
      await requireFile(archive, "the plugin archive");
      const out = join(staging, "plugin");
      await Deno.mkdir(out);
      const untar = await runCommand("tar", ["-xzf", archive, "-C", out], { signal });
      if (untar.code !== 0) {
        throw new ServiceError(
          `could not unpack ${archive} (tar exit ${untar.code})`,
          `delete ${cacheDir}/${PARTIAL_PREFIX}* and run again`,
          undefined,
          lastLines(untar.stderr, 10),
        );
      }
      await requireFile(
        join(out, PLUGIN_DIR_NAME, CONNECTOR_JAR),
        "the plugin archive's connector",
      );
      await moveIntoPlace(out, dirs.pluginPath, join(PLUGIN_DIR_NAME, CONNECTOR_JAR));
    }
  } finally {
    await removePath(staging);
  }
  log(`Kafka Connect and Debezium jars cached in ${cacheDir}`);
  return dirs;
}

async function requireFile(path: string, what: string): Promise<void> {
  if (await pathExists(path)) return;
  throw new ServiceError(
    `Maven finished but ${what} is missing: ${path}`,
    "the artifact's layout changed; check the versions in tools/lib/kafka_connect.ts",
  );
}

const RUNTIME_POM = `<?xml version="1.0" encoding="UTF-8"?>
<!-- Not a build: written by tools/lib/kafka_connect.ts so that dependency:copy-dependencies
     resolves the Kafka Connect ${KAFKA_VERSION} runtime. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>velib.pipeline.tools</groupId>
  <artifactId>kafka-connect-jars</artifactId>
  <version>0</version>
  <packaging>pom</packaging>
  <dependencies>
${
  ["connect-runtime", "connect-json", "connect-transforms"].map((artifact) =>
    `    <dependency><groupId>org.apache.kafka</groupId><artifactId>${artifact}</artifactId>` +
    `<version>${KAFKA_VERSION}</version></dependency>`
  ).join("\n")
}
    <!-- Connect logs through slf4j 1.7 + the log4j 1.x API; reload4j is the maintained binding. -->
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId><version>1.7.36</version></dependency>
  </dependencies>
  <build>
    <pluginManagement>
      <plugins>
        <plugin>
          <groupId>org.apache.maven.plugins</groupId>
          <artifactId>maven-dependency-plugin</artifactId>
          <version>3.8.1</version>
        </plugin>
      </plugins>
    </pluginManagement>
  </build>
</project>
`;

/** Every repository, whatever a pom names, is fetched from Maven Central. */
const CENTRAL_ONLY_SETTINGS = `<?xml version="1.0" encoding="UTF-8"?>
<settings xmlns="http://maven.apache.org/SETTINGS/1.0.0">
  <mirrors>
    <mirror>
      <id>central-for-all</id>
      <mirrorOf>*</mirrorOf>
      <url>https://repo.maven.apache.org/maven2</url>
    </mirror>
  </mirrors>
</settings>
`;

/** Options for {@linkcode startKafkaConnect}. */
export interface StartKafkaConnectOptions {
  /** Comma-separated `host:port` list. */
  brokers: string;
  /** The connector's properties (`name`, `connector.class`, `topics`, …). */
  connector: Record<string, string>;
  /**
   * Values the connector reads as `${env:NAME}` (Kafka's EnvVarConfigProvider): they reach the
   * JVM's environment only, never a file or a log line. Use it for passwords.
   * @default {{}}
   */
  secrets?: Record<string, string>;
  /**
   * Worker properties added to (or replacing) the defaults, e.g. `consumer.max.poll.records`.
   * @default {{}}
   */
  worker?: Record<string, string>;
  /**
   * The JVM's maximum heap (`-Xmx`).
   * @default {"1g"}
   */
  heap?: string;
  /** Progress lines. */
  log: (line: string) => void;
  signal?: AbortSignal;
}

/** The state of a connector and its tasks, from the worker's REST API. */
export interface ConnectorStatus {
  /** The connector's state: `RUNNING`, `FAILED`, … */
  state: string;
  /** Each task's state, and its trace when it failed. */
  tasks: { state: string; trace?: string }[];
}

/** A Connect worker started by {@linkcode startKafkaConnect}. */
export interface KafkaConnectWorker extends AsyncDisposable {
  /** The JVM's pid. */
  readonly pid: number;
  /** `performance.now()` when the JVM was spawned. */
  readonly startedAt: number;
  /** Its temp dir: configs, offsets and `connect.log`; removed on disposal. */
  readonly dir: string;
  /** stdout and stderr of the JVM. */
  readonly logPath: string;
  /** Whether the JVM is still running. */
  alive(): boolean;
  /** The connector's status, or undefined while the REST API does not answer. */
  status(): Promise<ConnectorStatus | undefined>;
  /** The kernel's high-water mark of the JVM's resident memory, in MB (0 once it is gone). */
  peakRssMb(): number;
  /** The last lines of the log, with the secrets' values masked. */
  logTail(count?: number): Promise<string>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the JVM is gone. */
  stop(graceMs?: number): Promise<TerminateOutcome>;
}

/**
 * Starts a Kafka Connect standalone worker (JSON converter with schemas for values, strings for
 * keys) running one connector, as a child JVM. Nothing waits for the connector: poll
 * {@linkcode KafkaConnectWorker.status}. Dispose of the worker (`await using`) to stop it and
 * remove its dir; an exit of this process (even `Deno.exit`) kills it too.
 *
 * @example
 * ```ts ignore
 * import { startKafkaConnect } from "./kafka_connect.ts";
 *
 * await using worker = await startKafkaConnect({
 *   brokers: "127.0.0.1:9092",
 *   connector: { name: "sink", "connector.class": "…", "connection.password": "${env:PW}" },
 *   secrets: { PW: "…" },
 *   log: console.error,
 * });
 * ```
 */
export async function startKafkaConnect(
  options: StartKafkaConnectOptions,
): Promise<KafkaConnectWorker> {
  await requireJava17();
  // The broker's libs are not needed by the worker, but resolving them first keeps one cache
  // (and fills ~/.m2 with the Kafka artifacts the runtime shares) in a fresh environment.
  await ensureKafkaJars(options.log, options.signal);
  const jars = await ensureKafkaConnectJars(options.log, options.signal);
  const dir = await Deno.makeTempDir({ prefix: "velib-kafka-connect-" });
  const logPath = join(dir, "connect.log");
  const name = options.connector.name;
  const [restPort] = reserveFreePorts(1);
  const workerProperties = {
    "bootstrap.servers": options.brokers,
    "key.converter": "org.apache.kafka.connect.storage.StringConverter",
    "value.converter": "org.apache.kafka.connect.json.JsonConverter",
    "value.converter.schemas.enable": "true",
    "offset.storage.file.filename": join(dir, "connect.offsets"),
    "offset.flush.interval.ms": "10000",
    "plugin.path": jars.pluginPath,
    "listeners": `http://127.0.0.1:${restPort}`,
    "config.providers": "env",
    "config.providers.env.class": "org.apache.kafka.common.config.provider.EnvVarConfigProvider",
    ...options.worker,
  };
  const workerPath = join(dir, "worker.properties");
  const connectorPath = join(dir, "connector.properties");
  const log4jPath = join(dir, "log4j.properties");
  await Deno.writeTextFile(workerPath, propertiesText(workerProperties));
  await Deno.writeTextFile(connectorPath, propertiesText(options.connector), { mode: 0o600 });
  await Deno.writeTextFile(log4jPath, LOG4J_PROPERTIES);
  // bash execs java (same pid) with both streams appended to the log, in the order they come.
  const javaArgs = [
    "java",
    `-Xmx${options.heap ?? "1g"}`,
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
    `-Dlog4j.configuration=file:${log4jPath}`,
    "-cp",
    `${jars.libsDir}/*`,
    "org.apache.kafka.connect.cli.ConnectStandalone",
    workerPath,
    connectorPath,
  ];
  let child: Deno.ChildProcess;
  const startedAt = performance.now();
  try {
    child = new Deno.Command("bash", {
      args: ["-c", 'exec "$@" >>"$CONNECT_LOG" 2>&1', "bash", ...javaArgs],
      cwd: dir,
      // Only what the JVM needs: DATABASE_URL and the like stay out of its environment.
      clearEnv: true,
      env: { ...inheritedEnv(), ...options.secrets, CONNECT_LOG: logPath },
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
  } catch (err) {
    await removePath(dir);
    throw err;
  }
  const pid = child.pid;
  const exited = child.status;
  // A last resort when this process exits without unwinding (a second Ctrl-C calls Deno.exit).
  const onUnload = () => {
    try {
      Deno.kill(pid, "SIGKILL");
    } catch { /* already gone */ }
    try {
      Deno.removeSync(dir, { recursive: true });
    } catch { /* already gone */ }
  };
  globalThis.addEventListener("unload", onUnload);
  options.log(
    `Kafka Connect ${KAFKA_VERSION} standalone (pid ${pid}, -Xmx${options.heap ?? "1g"}) ` +
      `running ${name}; log in ${logPath}`,
  );
  const mask = (text: string) => redact(text, Object.values(options.secrets ?? {}));
  let disposed = false;
  const stop = async (graceMs = 10_000): Promise<TerminateOutcome> => {
    const outcome = await terminateProcess(pid, graceMs);
    await exited;
    globalThis.removeEventListener("unload", onUnload);
    return outcome;
  };
  return {
    pid,
    startedAt,
    dir,
    logPath,
    alive: () => isProcessAlive(pid),
    async status() {
      try {
        const response = await fetch(
          `http://127.0.0.1:${restPort}/connectors/${encodeURIComponent(name)}/status`,
          { signal: AbortSignal.timeout(2_000) },
        );
        if (!response.ok) {
          await response.body?.cancel();
          return undefined;
        }
        const body = await response.json() as {
          connector: { state: string };
          tasks: { state: string; trace?: string }[];
        };
        return {
          state: body.connector.state,
          tasks: body.tasks.map((task) => ({
            state: task.state,
            trace: task.trace === undefined ? undefined : mask(task.trace),
          })),
        };
      } catch {
        return undefined;
      }
    },
    peakRssMb: () => readPeakRssKb(pid) / 1024,
    logTail: async (count = 30) => mask(await tailFile(logPath, count)),
    stop,
    async [Symbol.asyncDispose]() {
      if (disposed) return;
      disposed = true;
      try {
        await stop();
      } finally {
        await removePath(dir);
      }
    },
  };
}

/**
 * Waits until `done` resolves true, failing early with the log's tail if the JVM exits or the
 * connector or a task fails. `done` is polled every `intervalMs`.
 *
 * @example
 * ```ts ignore
 * import { waitForConnector } from "./kafka_connect.ts";
 *
 * await waitForConnector(worker, async () => (await countRows()) === expected, {
 *   timeoutMs: 600_000,
 * });
 * ```
 */
export async function waitForConnector(
  worker: KafkaConnectWorker,
  done: () => Promise<boolean>,
  options: { timeoutMs: number; intervalMs?: number; signal?: AbortSignal },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  const intervalMs = options.intervalMs ?? 250;
  let lastStatusAt = 0;
  for (;;) {
    if (await done()) return;
    if (!worker.alive()) {
      throw await workerError(worker, `Kafka Connect (pid ${worker.pid}) exited`);
    }
    if (Date.now() - lastStatusAt >= 2_000) {
      lastStatusAt = Date.now();
      const status = await worker.status();
      const failed = status?.tasks.find((task) => task.state === "FAILED");
      if (status?.state === "FAILED" || failed) {
        throw await workerError(
          worker,
          "the Kafka Connect connector failed",
          failed?.trace ? lastLines(failed.trace, 15) : undefined,
        );
      }
    }
    if (Date.now() >= deadline) {
      throw await workerError(
        worker,
        `the Kafka Connect connector did not finish within ${options.timeoutMs / 1000}s`,
      );
    }
    await sleep(intervalMs, options.signal);
  }
}

async function workerError(
  worker: KafkaConnectWorker,
  message: string,
  trace?: string,
): Promise<ServiceError> {
  const tail = await worker.logTail(30);
  return new ServiceError(
    message,
    "read the log's tail below; the worker is stopped when the caller disposes of it",
    undefined,
    `${trace ? `--- task trace ---\n${trace}\n` : ""}--- last 30 lines of connect.log ---\n${tail}`,
  );
}

/** PATH, HOME, JAVA_HOME, locale and temp dir of this process, for the JVM. */
function inheritedEnv(): Record<string, string> {
  const names = ["PATH", "HOME", "JAVA_HOME", "LANG", "LC_ALL", "TMPDIR"];
  return Object.fromEntries(
    names.flatMap((name) => {
      const value = Deno.env.get(name);
      return value === undefined ? [] : [[name, value]];
    }),
  );
}

function propertiesText(properties: Record<string, string>): string {
  return Object.entries(properties).map(([key, value]) =>
    `${key}=${value.replaceAll("\\", "\\\\").replaceAll("\n", "\\n")}`
  ).join("\n") + "\n";
}

/** Terse: the worker's and the connector's startup lines and every warning. */
const LOG4J_PROPERTIES = `log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.org.apache.kafka.clients=WARN
log4j.logger.org.apache.kafka.common=WARN
log4j.logger.org.apache.kafka.common.utils.AppInfoParser=INFO
log4j.logger.org.reflections=ERROR
log4j.logger.org.hibernate=WARN
`;
