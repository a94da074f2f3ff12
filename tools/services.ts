/**
 * Local PostgreSQL + Kafka + ClickHouse for development and tests.
 *
 *   deno task services up|down|env|status [--help]
 *
 * `up` starts a real PostgreSQL server and a real ClickHouse server (both the OS packages) and a
 * real Apache Kafka 3.9.1 broker (KRaft, single node) on free ports of 127.0.0.1, and writes
 * KAFKA_BROKERS / DATABASE_URL / CLICKHOUSE_URL to the git-ignored `.services.env`. Service data
 * lives in /tmp, state in `.services/`.
 *
 * The functions are exported for tools/test.ts, which starts its own private set per run.
 *
 * @module
 */

import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { redact } from "../core/redact.ts";
import {
  clickhouseDirStatus,
  queryClickhouseVersion,
  startClickhouse,
  stopClickhouseDir,
} from "./lib/clickhouse.ts";
import { formatError, ServiceError, StartupAborted } from "./lib/errors.ts";
import { checkBrokerServing, kafkaDirStatus, startKafka, stopKafkaDir } from "./lib/kafka.ts";
import {
  postgresDirStatus,
  queryServerVersion,
  startPostgres,
  stopPostgresDir,
} from "./lib/postgres.ts";
import {
  formatSeconds,
  pathExists,
  removePath,
  reserveFreePorts,
  throwIfAborted,
  writeFileAtomic,
} from "./lib/proc.ts";
import {
  findOrphanedServiceDirs,
  findOwnedServiceDirs,
  isServiceDirPath,
  readMarker,
  readState,
  removeState,
  SERVICE_DIR_PARENT,
  type ServiceDir,
  type ServiceEnv,
  type ServiceKind,
  type ServiceMarker,
  type ServiceOwner,
  StateRecorder,
} from "./lib/state.ts";

export { formatError, ServiceError, StartupAborted };
export type { ServiceEnv };

/** Root of the repository (this file is tools/services.ts). */
export const REPO_ROOT: string = resolve(dirname(fileURLToPath(import.meta.url)), "..");
/** State dir of `deno task services up` (git-ignored). */
export const DEFAULT_STATE_DIR: string = join(REPO_ROOT, ".services");
/** Env file written by `up` and printed by `env` (git-ignored). */
export const ENV_FILE: string = join(REPO_ROOT, ".services.env");

const ENV_KEYS = ["KAFKA_BROKERS", "DATABASE_URL", "CLICKHOUSE_URL"] as const;

/** Running services, as returned by {@link startServices}. */
export interface Services {
  /** Connection settings for the pipeline and its tests. */
  env: ServiceEnv;
  /** e.g. "Apache Kafka 3.9.1"; for an external broker, a note that the version is unknown. */
  kafkaVersion: string;
  /** `SELECT version()` of the server, e.g. "PostgreSQL 15.14 (Debian …) on x86_64…". */
  postgresVersion: string;
  /** `SELECT version()` of the ClickHouse server, e.g. "18.16.1". */
  clickhouseVersion: string;
  /** Which settings came from the environment: those services were neither started nor stopped. */
  external: { kafka: boolean; postgres: boolean; clickhouse: boolean };
  /** Stops what {@link startServices} started. Safe to call more than once. */
  stop(): Promise<void>;
}

/** Options for {@link startServices}. */
export interface StartServicesOptions {
  /** Where state.json goes and what owns the service dirs. Default: `<repo>/.services`. */
  stateDir?: string;
  /** Settings to use as they are instead of starting that service (e.g. from the environment). */
  existing?: Partial<ServiceEnv>;
  /**
   * True when the services must not outlive the calling process (tools/test.ts): a later
   * {@link reapOrphanedServices} may then stop them if this process died without cleaning up.
   */
  ephemeral?: boolean;
  /** Progress lines; default: stderr. */
  log?: (line: string) => void;
  /** Aborting it interrupts startup; whatever was started is stopped before rejecting. */
  signal?: AbortSignal;
}

/**
 * Starts PostgreSQL, Kafka and ClickHouse (only those not given in `options.existing`, which are
 * checked for reachability instead) and resolves once all of them really serve requests.
 * On failure everything started so far is stopped and a {@link ServiceError} is thrown
 * ({@link StartupAborted} if `options.signal` was aborted).
 */
export async function startServices(options: StartServicesOptions = {}): Promise<Services> {
  const stateDir = resolve(options.stateDir ?? DEFAULT_STATE_DIR);
  const log = options.log ?? logToStderr;
  const existing = definedSettings(options.existing ?? {});
  const owner: ServiceOwner = { stateDir, ephemeral: options.ephemeral ?? false };
  const recorder = new StateRecorder(stateDir, existing);
  await recorder.update(() => {}).catch((err) => {
    throw new ServiceError(
      `cannot write service state to ${stateDir}: ${err instanceof Error ? err.message : err}`,
      "run from a clone you can write to (or pass another stateDir)",
    );
  });

  // One failing service interrupts the others instead of letting it run to its own timeout.
  const startup = new AbortController();
  const onOuterAbort = () => startup.abort();
  options.signal?.addEventListener("abort", onOuterAbort, { once: true });
  if (options.signal?.aborted) startup.abort();
  const [kafkaPort, controllerPort, postgresPort, clickhousePort] = reserveFreePorts(4);
  const failFast = <T>(promise: Promise<T>) =>
    promise.catch((err) => {
      startup.abort();
      throw err;
    });

  const [postgres, kafka, clickhouse] = await Promise.allSettled([
    failFast(
      existing.DATABASE_URL
        ? useExternalPostgres(existing.DATABASE_URL)
        : startOwnPostgres(owner, postgresPort, recorder, log, startup.signal),
    ),
    failFast(
      existing.KAFKA_BROKERS
        ? useExternalKafka(existing.KAFKA_BROKERS)
        : startOwnKafka(owner, kafkaPort, controllerPort, recorder, log, startup.signal),
    ),
    failFast(
      existing.CLICKHOUSE_URL
        ? useExternalClickhouse(existing.CLICKHOUSE_URL)
        : startOwnClickhouse(owner, clickhousePort, recorder, log, startup.signal),
    ),
  ]);
  options.signal?.removeEventListener("abort", onOuterAbort);

  if (
    postgres.status === "rejected" || kafka.status === "rejected" ||
    clickhouse.status === "rejected"
  ) {
    const error = pickStartupError(
      [postgres, kafka, clickhouse].flatMap((result) =>
        result.status === "rejected" ? [result.reason] : []
      ),
      options.signal,
    );
    // The log must survive the cleanup that deletes its service dir.
    const reported = await preserveLog(error);
    await stopServices(stateDir).catch(() => {});
    throw reported;
  }

  const env: ServiceEnv = {
    DATABASE_URL: postgres.value.url,
    KAFKA_BROKERS: kafka.value.brokers,
    CLICKHOUSE_URL: clickhouse.value.url,
  };
  await recorder.update((state) => (state.env = env));
  let stopping: Promise<void> | undefined;
  return {
    env,
    kafkaVersion: kafka.value.version,
    postgresVersion: postgres.value.version,
    clickhouseVersion: clickhouse.value.version,
    external: {
      kafka: !!existing.KAFKA_BROKERS,
      postgres: !!existing.DATABASE_URL,
      clickhouse: !!existing.CLICKHOUSE_URL,
    },
    stop: () => (stopping ??= stopServices(stateDir).then(throwIfStopFailed)),
  };
}

/** The error worth reporting: a real failure beats the aborts it caused in the other services. */
function pickStartupError(errors: unknown[], signal?: AbortSignal): unknown {
  if (signal?.aborted) return new StartupAborted();
  const isAbort = (err: unknown) =>
    err instanceof StartupAborted || (err instanceof DOMException && err.name === "AbortError");
  return errors.find((err) => !isAbort(err)) ?? errors[0];
}

/**
 * Copies the log named by a failed service's error next to its dir (`/tmp/velib-kafka-X.log`)
 * and points the error there, because stopping the services deletes the dir.
 */
async function preserveLog(error: unknown): Promise<unknown> {
  if (!(error instanceof ServiceError) || !error.logPath) return error;
  if (!isServiceDirPath(dirname(error.logPath))) return error;
  const keptPath = `${dirname(error.logPath)}.log`;
  try {
    await Deno.copyFile(error.logPath, keptPath);
  } catch {
    return error;
  }
  return new ServiceError(error.message, error.hint, keptPath, error.details, { cause: error });
}

async function startOwnPostgres(
  owner: ServiceOwner,
  port: number,
  recorder: StateRecorder,
  log: (line: string) => void,
  signal: AbortSignal,
): Promise<{ url: string; version: string }> {
  const server = await startPostgres({
    owner,
    port,
    log,
    signal,
    onDir: (dir) => recorder.update((state) => (state.postgres = { dir, port })),
  });
  await recorder.update((state) =>
    state.postgres = { dir: server.dir, port, logPath: server.logPath, version: server.version }
  );
  throwIfAborted(signal);
  log(`PostgreSQL: ready on 127.0.0.1:${port}`);
  return server;
}

async function startOwnKafka(
  owner: ServiceOwner,
  port: number,
  controllerPort: number,
  recorder: StateRecorder,
  log: (line: string) => void,
  signal: AbortSignal,
): Promise<{ brokers: string; version: string }> {
  const broker = await startKafka({
    owner,
    port,
    controllerPort,
    log,
    signal,
    onDir: (dir) => recorder.update((state) => (state.kafka = { dir, port, controllerPort })),
    onPid: (pid) => recorder.update((state) => state.kafka && (state.kafka.pid = pid)),
  });
  await recorder.update((state) =>
    state.kafka = {
      dir: broker.dir,
      port,
      controllerPort,
      pid: broker.pid,
      logPath: broker.logPath,
      version: broker.version,
    }
  );
  throwIfAborted(signal);
  log(`Kafka: ready on 127.0.0.1:${port}`);
  return { brokers: `127.0.0.1:${port}`, version: broker.version };
}

async function startOwnClickhouse(
  owner: ServiceOwner,
  port: number,
  recorder: StateRecorder,
  log: (line: string) => void,
  signal: AbortSignal,
): Promise<{ url: string; version: string }> {
  const server = await startClickhouse({
    owner,
    port,
    log,
    signal,
    onDir: (dir) => recorder.update((state) => (state.clickhouse = { dir, port })),
    onPid: (pid) => recorder.update((state) => state.clickhouse && (state.clickhouse.pid = pid)),
  });
  await recorder.update((state) =>
    state.clickhouse = {
      dir: server.dir,
      port,
      pid: server.pid,
      logPath: server.logPath,
      version: server.version,
    }
  );
  throwIfAborted(signal);
  log(`ClickHouse: ready on 127.0.0.1:${port} in ${formatSeconds(server.startMs)}`);
  return server;
}

async function useExternalPostgres(url: string): Promise<{ url: string; version: string }> {
  try {
    return { url, version: await queryServerVersion(url) };
  } catch (err) {
    throw new ServiceError(
      `DATABASE_URL from the environment (${redact(url)}) is not usable: ${
        messageWithoutPassword(err, url)
      }`,
      "fix it, or unset DATABASE_URL to have a local PostgreSQL started (values exported " +
        "from an earlier `deno task services up` stop working after `down`)",
    );
  }
}

async function useExternalKafka(brokers: string): Promise<{ brokers: string; version: string }> {
  try {
    await checkBrokerServing(brokers, { createProbeTopic: false, timeoutMs: 10_000 });
    // The Kafka protocol does not report the broker's release.
    return { brokers, version: "external broker (version not reported)" };
  } catch (err) {
    throw new ServiceError(
      `KAFKA_BROKERS from the environment (${brokers}) is not reachable: ${
        err instanceof Error ? err.message : err
      }`,
      "fix it, or unset KAFKA_BROKERS to have a local broker started (values exported " +
        "from an earlier `deno task services up` stop working after `down`)",
    );
  }
}

async function useExternalClickhouse(url: string): Promise<{ url: string; version: string }> {
  try {
    return { url, version: await queryClickhouseVersion(url) };
  } catch (err) {
    throw new ServiceError(
      `CLICKHOUSE_URL from the environment (${redact(url)}) is not usable: ${
        messageWithoutPassword(err, url)
      }`,
      "fix it, or unset CLICKHOUSE_URL to have a local ClickHouse started (values exported " +
        "from an earlier `deno task services up` stop working after `down`)",
    );
  }
}

/** What happened to one service dir during {@link stopServices}. */
export interface StoppedService {
  kind: ServiceKind | "unknown";
  dir: string;
  outcome: string;
  /** False when the process could not be stopped (its dir is then kept for inspection). */
  ok: boolean;
}

/** Result of {@link stopServices}. */
export interface StopReport {
  stopped: StoppedService[];
  /** Set when state.json was damaged; service dirs were then found by their markers. */
  stateProblem?: string;
}

/**
 * Stops every service owned by `stateDir` and deletes their dirs and state.json. Finds them
 * both from state.json and by scanning /tmp for marker files, so a half-written state (an
 * `up` that crashed or was killed) is cleaned up too.
 */
export async function stopServices(stateDir: string = DEFAULT_STATE_DIR): Promise<StopReport> {
  stateDir = resolve(stateDir);
  const { state, problem } = await readState(stateDir);
  const dirs = new Map<string, ServiceMarker | undefined>();
  for (const record of [state?.postgres, state?.kafka, state?.clickhouse]) {
    if (record) dirs.set(record.dir, undefined);
  }
  for (const { dir, marker } of await findOwnedServiceDirs(stateDir)) dirs.set(dir, marker);

  const stopped = await Promise.all(
    [...dirs].map(async ([dir, marker]) => stopServiceDir(dir, marker ?? await readMarker(dir))),
  );
  await removeState(stateDir);
  return { stopped, stateProblem: problem };
}

async function stopServiceDir(
  dir: string,
  marker: ServiceMarker | undefined,
): Promise<StoppedService> {
  const kind = marker?.kind ?? "unknown";
  if (!marker) {
    // Recorded in state.json but its marker is gone: nothing we can identify to stop.
    const exists = await pathExists(dir);
    if (exists && isServiceDirPath(dir)) await removePath(dir);
    return { kind, dir, outcome: exists ? "removed (no marker)" : "already gone", ok: true };
  }
  try {
    const outcome = marker.kind === "postgres"
      ? await stopPostgresDir(dir, marker)
      : marker.kind === "kafka"
      ? await stopKafkaDir(dir)
      : await stopClickhouseDir(dir);
    await removePath(dir);
    return { kind, dir, outcome, ok: true };
  } catch (err) {
    const message = err instanceof ServiceError ? `${err.message} (${err.hint})` : String(err);
    return { kind, dir, outcome: `FAILED to stop: ${message}; dir kept`, ok: false };
  }
}

function throwIfStopFailed(report: StopReport): void {
  const failed = report.stopped.filter((service) => !service.ok);
  if (failed.length > 0) {
    throw new ServiceError(
      `could not stop: ${failed.map((service) => `${service.kind} in ${service.dir}`).join(", ")}`,
      failed.map((service) => service.outcome).join("; "),
    );
  }
}

/**
 * Stops services left behind by test runs (ephemeral owners) whose process no longer exists,
 * e.g. after a SIGKILL. Returns what was stopped.
 */
export async function reapOrphanedServices(): Promise<StoppedService[]> {
  const orphans: ServiceDir[] = await findOrphanedServiceDirs();
  const stopped = await Promise.all(orphans.map(({ dir, marker }) => stopServiceDir(dir, marker)));
  // The dead run's private state dir is now useless too.
  for (const owner of new Set(orphans.map(({ marker }) => marker.owner))) {
    if (dirname(owner) === SERVICE_DIR_PARENT) await removePath(owner);
  }
  return stopped;
}

/** State of one service as shown by `status`. */
export interface ServiceStatus {
  name: "PostgreSQL" | "Kafka" | "ClickHouse";
  state: "running" | "stopped" | "external" | "not started";
  pid?: number;
  address?: string;
  version?: string;
  dir?: string;
  logPath?: string;
}

/** Result of {@link servicesStatus}. */
export interface StatusReport {
  /** True when state exists and every service it manages is running. */
  running: boolean;
  /** True when there is anything to clean up (state, or service dirs found by marker). */
  anythingRecorded: boolean;
  services: ServiceStatus[];
  env: Partial<ServiceEnv>;
  problem?: string;
}

/** Reports what `up` (or the given state dir) started and whether it still runs. */
export async function servicesStatus(stateDir: string = DEFAULT_STATE_DIR): Promise<StatusReport> {
  stateDir = resolve(stateDir);
  const { state, problem } = await readState(stateDir);
  const strays = await findOwnedServiceDirs(stateDir);
  const anythingRecorded = state !== undefined || problem !== undefined || strays.length > 0;
  if (!state) {
    return { running: false, anythingRecorded, services: [], env: {}, problem };
  }
  const postgres: ServiceStatus = state.external.DATABASE_URL
    ? {
      name: "PostgreSQL",
      state: "external",
      address: redact(state.external.DATABASE_URL),
    }
    : await ownServiceStatus("PostgreSQL", state.postgres, postgresDirStatus);
  const kafka: ServiceStatus = state.external.KAFKA_BROKERS
    ? { name: "Kafka", state: "external", address: state.external.KAFKA_BROKERS }
    : await ownServiceStatus("Kafka", state.kafka, kafkaDirStatus);
  const clickhouse: ServiceStatus = state.external.CLICKHOUSE_URL
    ? {
      name: "ClickHouse",
      state: "external",
      address: redact(state.external.CLICKHOUSE_URL),
    }
    : await ownServiceStatus("ClickHouse", state.clickhouse, clickhouseDirStatus);
  const services = [postgres, kafka, clickhouse];
  const complete = ENV_KEYS.every((key) => state.env[key] !== undefined);
  const running = complete &&
    services.every((service) => service.state === "running" || service.state === "external");
  return { running, anythingRecorded, services, env: state.env, problem };
}

async function ownServiceStatus(
  name: ServiceStatus["name"],
  record: { dir: string; port?: number; logPath?: string; version?: string } | undefined,
  dirStatus: (dir: string) => Promise<{ running: boolean; pid?: number }>,
): Promise<ServiceStatus> {
  if (!record) return { name, state: "not started" };
  const { running, pid } = await dirStatus(record.dir);
  return {
    name,
    state: running ? "running" : "stopped",
    pid: running ? pid : undefined,
    address: record.port ? `127.0.0.1:${record.port}` : undefined,
    version: record.version,
    dir: record.dir,
    logPath: record.logPath,
  };
}

/** An error's message with the password of `url` removed, even where the URL got mangled. */
function messageWithoutPassword(err: unknown, url: string): string {
  return redact(err instanceof Error ? err.message : String(err), passwordsOf(url));
}

/** The password of `url` as written and as a client decodes it (`p%40ss`, `p@ss`). */
function passwordsOf(url: string): string[] {
  try {
    const { password } = new URL(url);
    return [password, decodeURIComponent(password)];
  } catch {
    return [];
  }
}

/** The settings among KAFKA_BROKERS / DATABASE_URL / CLICKHOUSE_URL that are set (non-empty) in `env`. */
export function definedSettings(env: Partial<Record<string, string | undefined>>): Partial<
  ServiceEnv
> {
  const settings: Partial<ServiceEnv> = {};
  for (const key of ENV_KEYS) {
    const value = env[key]?.trim();
    if (value) settings[key] = value;
  }
  return settings;
}

/** Settings already present in this process's environment. */
export function settingsFromEnvironment(): Partial<ServiceEnv> {
  return definedSettings(Object.fromEntries(ENV_KEYS.map((key) => [key, Deno.env.get(key)])));
}

/** KEY=value lines; values with shell-special characters are single-quoted for `. file`. */
export function formatEnvFile(env: Partial<ServiceEnv>): string {
  return ENV_KEYS.filter((key) => env[key] !== undefined)
    .map((key) => `${key}=${shellQuote(env[key]!)}`)
    .join("\n") + "\n";
}

function shellQuote(value: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]*$/.test(value) ? value : `'${value.replaceAll("'", `'\\''`)}'`;
}

/** Parses a file written by {@link formatEnvFile}; undefined if it does not exist. */
export async function readEnvFile(
  path: string = ENV_FILE,
): Promise<Record<string, string> | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
  const env: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const match = line.match(/^([A-Z_][A-Z0-9_]*)=(.*)$/);
    if (!match) continue;
    const value = match[2];
    env[match[1]] = value.startsWith("'") && value.endsWith("'")
      ? value.slice(1, -1).replaceAll(`'\\''`, "'")
      : value;
  }
  return env;
}

function logToStderr(line: string): void {
  console.error(`[services] ${line}`);
}

// ---------------------------------------------------------------------------------------------
// CLI

const HELP: Record<string, string> = {
  main: `Usage: deno task services <command> [--help]

Local PostgreSQL, Apache Kafka 3.9.1 and ClickHouse on 127.0.0.1 for development and tests.

Commands:
  up       start PostgreSQL + Kafka + ClickHouse (unless running) and write .services.env
  down     stop everything \`up\` started and remove its state
  env      print .services.env, e.g.: set -a; . <(deno task services env); set +a
  status   show what runs (exit 0 if everything runs, 1 otherwise)

Run \`deno task services <command> --help\` for details.`,
  up: `Usage: deno task services up

Starts a PostgreSQL server (OS packages, as the \`postgres\` user when run as root), an
Apache Kafka 3.9.1 broker (KRaft, single node) and a ClickHouse server (OS packages, HTTP
only, as the \`clickhouse\` user when run as root) on free ports of 127.0.0.1, waits until
all three serve requests, then writes .services.env:
  KAFKA_BROKERS=127.0.0.1:<port>
  DATABASE_URL=postgres://pipeline:<password>@127.0.0.1:<port>/velib
  CLICKHOUSE_URL=http://pipeline:<password>@127.0.0.1:<port>
Data lives in /tmp/velib-*, state in .services/. Already running: prints the settings.
If KAFKA_BROKERS, DATABASE_URL and/or CLICKHOUSE_URL are set in the environment, they are
checked and used, and only the missing services are started. The first run downloads the
Kafka jars with Maven into \${XDG_CACHE_HOME:-~/.cache}/velib-pipeline/.
Needs: postgresql, clickhouse-server, Java 17+ and mvn (apt-get install -y postgresql
openjdk-17-jre-headless maven; apt-get install -y --no-install-recommends clickhouse-server).`,
  down: `Usage: deno task services down

Stops the PostgreSQL server, Kafka broker and ClickHouse server started by \`up\` (also
after a crashed or interrupted \`up\`), deletes their data dirs, .services/ and .services.env.`,
  env: `Usage: deno task services env

Prints .services.env (KEY=value lines, real password included). Load it with:
  set -a; . <(deno task services env); set +a
Fails if nothing runs.`,
  status: `Usage: deno task services status

Shows each service: running/stopped, pid, address, version, data dir and log.
Exit status 0 if everything \`up\` started is running, 1 otherwise.`,
};

const COMMANDS: Record<string, () => Promise<number>> = {
  up: commandUp,
  down: commandDown,
  env: commandEnv,
  status: commandStatus,
};

/** CLI entry point; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: { help: { type: "boolean", short: "h" } },
      allowPositionals: true,
    });
  } catch (err) {
    console.error(`error: ${err instanceof Error ? err.message : err}\n\n${HELP.main}`);
    return 2;
  }
  const [command, ...extra] = parsed.positionals;
  if (command === undefined || command === "help") {
    const asked = parsed.values.help || command === "help";
    (asked ? console.log : console.error)(HELP.main);
    return asked ? 0 : 2;
  }
  const run = COMMANDS[command];
  if (!run) {
    console.error(`error: unknown command "${command}"\n\n${HELP.main}`);
    return 2;
  }
  if (parsed.values.help) {
    console.log(HELP[command]);
    return 0;
  }
  if (extra.length > 0) {
    console.error(`error: unexpected argument "${extra[0]}"\n\n${HELP[command]}`);
    return 2;
  }
  try {
    return await run();
  } catch (err) {
    console.error(formatError(err));
    return 1;
  }
}

async function commandUp(): Promise<number> {
  const status = await servicesStatus();
  if (status.running && (await pathExists(ENV_FILE))) {
    console.log("Services are already running:");
    printStatus(status);
    return 0;
  }
  if (status.anythingRecorded) {
    logToStderr("Cleaning up leftovers of an earlier `up` that is no longer complete…");
    printStopReport(await stopServices());
    await removePath(ENV_FILE);
  }

  const existing = settingsFromEnvironment();
  for (const key of ENV_KEYS) {
    if (existing[key]) logToStderr(`${key} is set in the environment: using it (checking it)`);
  }
  const interrupt = new AbortController();
  const removeHandlers = onTerminationSignals(() => {
    logToStderr("Interrupted: stopping what was started… (again to force quit)");
    interrupt.abort();
  });
  const startedAt = performance.now();
  try {
    const services = await startServices({ existing, signal: interrupt.signal });
    await writeFileAtomic(ENV_FILE, formatEnvFile(services.env), 0o600);
    console.log(`Services ready in ${formatSeconds(performance.now() - startedAt)}:`);
    console.log(`  Kafka broker:      ${services.kafkaVersion} (${services.env.KAFKA_BROKERS})`);
    console.log(`  PostgreSQL server: ${services.postgresVersion}`);
    console.log(`  ClickHouse server: ${services.clickhouseVersion}`);
    printSettings(services.env);
    return 0;
  } catch (err) {
    // startServices has already stopped whatever it started.
    await removePath(DEFAULT_STATE_DIR);
    if (err instanceof StartupAborted) {
      logToStderr("Interrupted; everything that was started has been stopped.");
      return 130;
    }
    throw err;
  } finally {
    removeHandlers();
  }
}

async function commandDown(): Promise<number> {
  const report = await stopServices();
  await removePath(ENV_FILE);
  await removePath(DEFAULT_STATE_DIR);
  if (report.stateProblem) logToStderr(`note: ${report.stateProblem}; found services by marker`);
  if (report.stopped.length === 0) {
    console.log("Nothing was running.");
    return 0;
  }
  printStopReport(report);
  return report.stopped.every((service) => service.ok) ? 0 : 1;
}

async function commandEnv(): Promise<number> {
  const text = await Deno.readTextFile(ENV_FILE).catch(() => undefined);
  if (text === undefined) {
    throw new ServiceError(
      `no ${ENV_FILE}: services are not running`,
      "start them with `deno task services up`",
    );
  }
  const status = await servicesStatus();
  if (!status.running) {
    const down = status.services.filter((service) =>
      service.state !== "running" &&
      service.state !== "external"
    );
    throw new ServiceError(
      `${ENV_FILE} exists but the services are not running` +
        (down.length ? ` (${down.map((s) => `${s.name}: ${s.state}`).join(", ")})` : ""),
      "restart them with `deno task services up` (it cleans up first)",
    );
  }
  await Deno.stdout.write(new TextEncoder().encode(text));
  return 0;
}

async function commandStatus(): Promise<number> {
  const status = await servicesStatus();
  if (status.problem) console.log(`warning: ${status.problem}`);
  if (status.services.length === 0) {
    console.log(
      status.anythingRecorded
        ? "Not running, but leftovers exist: run `deno task services down`."
        : "Not running. Start with `deno task services up`.",
    );
    return 1;
  }
  console.log(status.running ? "Services are running:" : "Services are NOT all running:");
  printStatus(status);
  if (!status.running) console.log("Run `deno task services up` to restart (it cleans up first).");
  return status.running ? 0 : 1;
}

function printStatus(status: StatusReport): void {
  for (const service of status.services) {
    const facts = [
      service.pid ? `pid ${service.pid}` : undefined,
      service.address,
      service.version,
    ].filter(Boolean).join(", ");
    console.log(`  ${service.name.padEnd(10)} ${service.state}${facts ? `: ${facts}` : ""}`);
    if (service.dir) console.log(`  ${"".padEnd(10)} data ${service.dir}`);
    if (service.logPath) console.log(`  ${"".padEnd(10)} log  ${service.logPath}`);
  }
  printSettings(status.env);
}

function printSettings(env: Partial<ServiceEnv>): void {
  if (env.KAFKA_BROKERS) console.log(`  KAFKA_BROKERS=${env.KAFKA_BROKERS}`);
  if (env.DATABASE_URL) console.log(`  DATABASE_URL=${redact(env.DATABASE_URL)}`);
  if (env.CLICKHOUSE_URL) {
    console.log(`  CLICKHOUSE_URL=${redact(env.CLICKHOUSE_URL)}`);
  }
  console.log(`Settings are in .services.env; load them with:`);
  console.log(`  set -a; . <(deno task services env); set +a`);
}

function printStopReport(report: StopReport): void {
  for (const service of report.stopped) {
    console.log(`  ${service.kind.padEnd(10)} ${service.outcome}; removed ${service.dir}`);
  }
}

/**
 * Calls `onFirst` on the first SIGINT/SIGTERM; a second one exits at once (`down` cleans
 * up whatever is left). Returns a function that removes the handlers.
 */
export function onTerminationSignals(onFirst: (signal: Deno.Signal) => void): () => void {
  let received = false;
  const handlers = (["SIGINT", "SIGTERM"] as const).map((signal) => {
    const handler = () => {
      if (received) Deno.exit(signal === "SIGINT" ? 130 : 143);
      received = true;
      onFirst(signal);
    };
    Deno.addSignalListener(signal, handler);
    return () => Deno.removeSignalListener(signal, handler);
  });
  return () => handlers.forEach((remove) => remove());
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
