/**
 * A throwaway ClickHouse server from the OS packages (Debian's `clickhouse-server`, 18.16.1 on
 * Debian 12): its own `config.xml` and `users.xml` in a fresh dir under /tmp, HTTP only, on
 * 127.0.0.1, one user `pipeline` with a generated password, run as the `clickhouse` OS user
 * when we are root. Its service dir (`/tmp/velib-clickhouse-*`) is made and recorded by
 * tools/lib/state.ts like the other services'.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { join } from "node:path";
import { ServiceError } from "./errors.ts";
import {
  daemonStatus,
  isProcessAlive,
  lastLines,
  pathExists,
  type PidFileDaemon,
  randomHex,
  runCommand,
  sleep,
  stopDaemon,
  tailFile,
  throwIfAborted,
} from "./proc.ts";
import { createServiceDir, type ServiceOwner } from "./state.ts";

/** Where Debian's package installs the server. */
export const CLICKHOUSE_SERVER_BINARY = "/usr/sbin/clickhouse-server";
/** The one user of our servers; `default` does not exist, so no one gets in without a password. */
export const CLICKHOUSE_USER = "pipeline";
/** The OS user the server runs as when we are root (Debian's package creates it). */
const OS_USER = "clickhouse";
const READY_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 15_000;
const INSTALL_HINT =
  "install the ClickHouse server: apt-get install -y --no-install-recommends clickhouse-server";

/**
 * Settings of the `pipeline` user's profile. 18.16 refuses to start on an unknown name, so a
 * server that starts has them: LowCardinality is still experimental there, and ISO times with a
 * `Z` or an offset need the best-effort parser.
 */
export const CLICKHOUSE_PROFILE_SETTINGS: Readonly<Record<string, string>> = {
  allow_experimental_low_cardinality_type: "1",
  date_time_input_format: "best_effort",
};

/** A running ClickHouse server we started. */
export interface ClickhouseServer {
  dir: string;
  pid: number;
  port: number;
  logPath: string;
  /** Full URL including the password: `http://pipeline:<password>@127.0.0.1:<port>`. */
  url: string;
  /** `SELECT version()`, e.g. "18.16.1". */
  version: string;
  /** From launching the process to its first `Ok.` on /ping, in milliseconds. */
  startMs: number;
}

/** Options for {@link startClickhouse}. */
export interface StartClickhouseOptions {
  owner: ServiceOwner;
  /** The HTTP port on 127.0.0.1 (the native TCP and interserver ports are not opened). */
  port: number;
  log: (line: string) => void;
  /** Called as soon as the service dir exists, so it can be recorded before anything runs. */
  onDir: (dir: string) => Promise<void>;
  /** Called as soon as the server process exists. */
  onPid?: (pid: number) => Promise<void>;
  signal?: AbortSignal;
}

/** Paths inside a ClickHouse service dir (fixed, so `down` can find them from the dir alone). */
function layout(dir: string) {
  return {
    configPath: join(dir, "config.xml"),
    usersPath: join(dir, "users.xml"),
    dataDir: join(dir, "data"),
    tmpDir: join(dir, "tmp"),
    userFilesDir: join(dir, "user_files"),
    formatSchemasDir: join(dir, "format_schemas"),
    logPath: join(dir, "clickhouse-server.log"),
    errorLogPath: join(dir, "clickhouse-server.err.log"),
    /** What the process prints before its logger is up (e.g. a bad config). */
    stdoutPath: join(dir, "stdout.log"),
    pidFile: join(dir, "clickhouse.pid"),
  };
}

/**
 * Starts a fresh ClickHouse server on 127.0.0.1:`port` (HTTP), detached so it outlives this
 * process, and waits until it answers /ping and `SELECT version()` as `pipeline`.
 *
 * @example
 * ```ts ignore
 * import { reserveFreePorts } from "./proc.ts";
 * import { startClickhouse, stopClickhouseDir } from "./clickhouse.ts";
 *
 * const [port] = reserveFreePorts(1);
 * const server = await startClickhouse({
 *   owner: { stateDir: "/tmp/my-state", ephemeral: true },
 *   port,
 *   log: console.error,
 *   onDir: async () => {},
 * });
 * await stopClickhouseDir(server.dir);
 * ```
 */
export async function startClickhouse(options: StartClickhouseOptions): Promise<ClickhouseServer> {
  const { port, signal } = options;
  await requireServerBinary();
  const osUser = Deno.uid() === 0 ? await lookupOsUser() : undefined;
  const dir = await createServiceDir("clickhouse", options.owner);
  await options.onDir(dir);

  const password = randomHex(16);
  const paths = layout(dir);
  const subDirs = [paths.dataDir, paths.tmpDir, paths.userFilesDir, paths.formatSchemasDir];
  for (const sub of subDirs) await Deno.mkdir(sub, { mode: 0o700 });
  await Deno.writeTextFile(paths.configPath, serverConfig(dir, port), { mode: 0o644 });
  await Deno.writeTextFile(paths.usersPath, usersConfig(password), { mode: 0o600 });
  // The dir is made by root with mode 0700: the server's user must own it and what it reads
  // (the marker stays root's: only this tool writes it).
  if (osUser) {
    for (const path of [dir, ...subDirs, paths.configPath, paths.usersPath]) {
      await Deno.chown(path, osUser.uid, osUser.gid);
    }
  }
  throwIfAborted(signal);

  options.log(`ClickHouse: starting on 127.0.0.1:${port}`);
  const launchedAt = performance.now();
  const pid = await spawnDetachedServer(dir);
  await options.onPid?.(pid);
  const url = `http://${CLICKHOUSE_USER}:${password}@127.0.0.1:${port}`;
  await waitUntilServing(dir, pid, port, signal);
  const startMs = performance.now() - launchedAt;
  const version = await queryClickhouseVersion(url).catch(async (err) => {
    throw new ServiceError(
      `ClickHouse on 127.0.0.1:${port} answers /ping but not \`SELECT version()\` as ` +
        `${CLICKHOUSE_USER}: ${errorMessage(err)}`,
      "read the log; the users.xml written into the service dir may be refused by this version",
      paths.errorLogPath,
      await tailFile(paths.errorLogPath, 15),
    );
  });
  return { dir, pid, port, logPath: paths.logPath, url, version, startMs };
}

/**
 * Starts the server of a service dir again, stopped by {@link stopClickhouseDir}: same port,
 * same data, same password. Waits until it answers /ping.
 *
 * @example
 * ```ts ignore
 * await stopClickhouseDir(server.dir);
 * await restartClickhouseDir(server.dir, server.port);
 * ```
 */
export async function restartClickhouseDir(dir: string, port: number): Promise<void> {
  const pid = await spawnDetachedServer(dir);
  await waitUntilServing(dir, pid, port);
}

async function requireServerBinary(): Promise<void> {
  if (!(await pathExists(CLICKHOUSE_SERVER_BINARY))) {
    throw new ServiceError(`${CLICKHOUSE_SERVER_BINARY} was not found`, INSTALL_HINT);
  }
}

// --- the OS user ------------------------------------------------------------------------------

interface OsUser {
  uid: number;
  gid: number;
}

/** The `clickhouse` OS user (Debian's package creates it). */
async function lookupOsUser(): Promise<OsUser> {
  const result = await runCommand("getent", ["passwd", OS_USER]);
  const fields = result.stdout.trim().split(":");
  if (result.code !== 0 || fields.length < 4) {
    throw new ServiceError(
      `running as root, but there is no \`${OS_USER}\` OS user to run ClickHouse as`,
      "apt-get install -y --no-install-recommends clickhouse-server creates it; or: useradd " +
        `--system --user-group --no-create-home --shell /usr/sbin/nologin ${OS_USER}`,
    );
  }
  return { uid: Number(fields[2]), gid: Number(fields[3]) };
}

// --- config -----------------------------------------------------------------------------------

/**
 * The whole server config: nothing is read from /etc/clickhouse-server. Only HTTP is opened
 * (18.16 opens a listener only for the ports named here); caches are small, the log is
 * `information` so that startup problems are visible, and the time zone is UTC.
 */
function serverConfig(dir: string, port: number): string {
  const paths = layout(dir);
  return `<?xml version="1.0"?>
<!-- Written by tools/lib/clickhouse.ts for a throwaway server; not read from /etc. -->
<yandex>
    <logger>
        <level>information</level>
        <log>${paths.logPath}</log>
        <errorlog>${paths.errorLogPath}</errorlog>
        <size>100M</size>
        <count>2</count>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <http_port>${port}</http_port>
    <path>${paths.dataDir}/</path>
    <tmp_path>${paths.tmpDir}/</tmp_path>
    <user_files_path>${paths.userFilesDir}/</user_files_path>
    <format_schema_path>${paths.formatSchemasDir}/</format_schema_path>
    <users_config>${paths.usersPath}</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <max_concurrent_queries>100</max_concurrent_queries>
    <mark_cache_size>268435456</mark_cache_size>
    <uncompressed_cache_size>268435456</uncompressed_cache_size>
    <mlock_executable>false</mlock_executable>
    <!-- Idle keep-alive connections hold up a shutdown for this long (18.16's default: 10 s). -->
    <keep_alive_timeout>3</keep_alive_timeout>
    <max_session_timeout>3600</max_session_timeout>
    <default_session_timeout>60</default_session_timeout>
</yandex>
`;
}

/**
 * One user, `pipeline`, from 127.0.0.1 only, with the password stored as its SHA-256 (the
 * plain password is never written to disk here). There is no `default` user at all.
 */
function usersConfig(password: string): string {
  const settings = Object.entries(CLICKHOUSE_PROFILE_SETTINGS)
    .map(([name, value]) => `            <${name}>${value}</${name}>`)
    .join("\n");
  const hash = createHash("sha256").update(password).digest("hex");
  return `<?xml version="1.0"?>
<!-- Written by tools/lib/clickhouse.ts for a throwaway server. -->
<yandex>
    <profiles>
        <default>
${settings}
        </default>
    </profiles>
    <users>
        <${CLICKHOUSE_USER}>
            <password_sha256_hex>${hash}</password_sha256_hex>
            <networks>
                <ip>127.0.0.1</ip>
            </networks>
            <profile>default</profile>
            <quota>default</quota>
        </${CLICKHOUSE_USER}>
    </users>
    <quotas>
        <default></default>
    </quotas>
</yandex>
`;
}

// --- the process ------------------------------------------------------------------------------

/**
 * Starts the server in its own session (setsid + nohup, stdin from /dev/null) through bash, so
 * it keeps running after `deno task services up` exits, and returns its pid. As root, setpriv
 * drops to the owner of the dir; setsid (not a group leader), nohup and setpriv all exec, so
 * bash's `$!` is the server's pid.
 */
async function spawnDetachedServer(dir: string): Promise<number> {
  const paths = layout(dir);
  const { uid, gid } = await Deno.stat(dir);
  const asUser = Deno.uid() === 0 && uid
    ? ["setpriv", `--reuid=${uid}`, `--regid=${gid}`, "--init-groups"]
    : [];
  const serverArgs = [...asUser, CLICKHOUSE_SERVER_BINARY, `--config-file=${paths.configPath}`];
  const script = 'setsid nohup "$@" </dev/null >"$CH_STDOUT" 2>&1 & echo "$!" >"$CH_PID_FILE"';
  const result = await runCommand("bash", ["-c", script, "bash", ...serverArgs], {
    cwd: dir,
    env: { CH_STDOUT: paths.stdoutPath, CH_PID_FILE: paths.pidFile },
  });
  const pid = Number.parseInt(await Deno.readTextFile(paths.pidFile).catch(() => ""), 10);
  if (result.code !== 0 || !Number.isInteger(pid)) {
    throw new ServiceError(
      "could not launch the ClickHouse server process",
      "check that bash, setsid, nohup and setpriv are installed (util-linux, coreutils)",
      paths.stdoutPath,
      lastLines(result.stderr),
    );
  }
  return pid;
}

/** Polls /ping (no credentials needed) until `Ok.`; fails early if the process dies. */
async function waitUntilServing(
  dir: string,
  pid: number,
  port: number,
  signal?: AbortSignal,
): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let lastError = "no attempt made";
  while (Date.now() < deadline) {
    throwIfAborted(signal);
    if (!isProcessAlive(pid)) {
      throw await startupError(`the ClickHouse server (pid ${pid}) exited during startup`, dir);
    }
    try {
      if (await ping(`http://127.0.0.1:${port}`, 1_000)) return;
      lastError = "/ping did not answer Ok.";
    } catch (err) {
      lastError = errorMessage(err);
    }
    await sleep(50, signal);
  }
  throw await startupError(
    `the ClickHouse server on 127.0.0.1:${port} was not ready within ` +
      `${READY_TIMEOUT_MS / 1000}s (last error: ${lastError})`,
    dir,
  );
}

async function startupError(message: string, dir: string): Promise<ServiceError> {
  const paths = layout(dir);
  // A config error is printed to stdout before the logger exists; everything else is logged.
  const details = [
    `--- ${paths.stdoutPath} ---\n${await tailFile(paths.stdoutPath, 10)}`,
    `--- last lines of ${paths.errorLogPath} ---\n${await tailFile(paths.errorLogPath, 20)}`,
  ].join("\n");
  return new ServiceError(
    message,
    "read the log for the cause; what was started has been stopped, so just run the command " +
      "again once it is fixed (if the port was taken in the meantime, that is all it needs)",
    paths.logPath,
    details,
  );
}

/** The server of a service dir, as its pid file and config name it. */
const daemonOf = (dir: string): PidFileDaemon => ({
  pidFile: layout(dir).pidFile,
  commandLineMarker: layout(dir).configPath,
});

/** Whether the server of a service dir is running, and its pid. */
export function clickhouseDirStatus(dir: string): Promise<{ running: boolean; pid?: number }> {
  return daemonStatus(daemonOf(dir));
}

/**
 * Stops the server of a service dir: SIGTERM, then SIGKILL after 15 s. Returns a short
 * description of what happened.
 */
export function stopClickhouseDir(dir: string): Promise<string> {
  return stopDaemon(daemonOf(dir), STOP_GRACE_MS);
}

// --- HTTP -------------------------------------------------------------------------------------

/**
 * Splits `http://user:password@host:port` into a URL without credentials (safe to show, and
 * what fetch gets) and the request headers: Basic authorization, and `connection: close`,
 * because the server waits for idle keep-alive connections on shutdown.
 */
function endpoint(url: string): { base: URL; headers: Record<string, string> } {
  const base = new URL(url);
  const user = decodeURIComponent(base.username);
  const password = decodeURIComponent(base.password);
  base.username = "";
  base.password = "";
  const headers: Record<string, string> = { connection: "close" };
  if (user) headers.authorization = `Basic ${btoa(`${user}:${password}`)}`;
  return { base, headers };
}

async function ping(url: string, timeoutMs: number): Promise<boolean> {
  const { base, headers } = endpoint(url);
  const response = await fetch(new URL("/ping", base), {
    headers,
    signal: AbortSignal.timeout(timeoutMs),
  });
  return response.ok && (await response.text()).trim() === "Ok.";
}

/**
 * Runs one statement over HTTP with the credentials of `url` and returns the body (e.g.
 * `FORMAT JSONEachRow` lines). Throws with ClickHouse's own message on an error status; no
 * message ever contains the password.
 *
 * @example
 * ```ts ignore
 * const text = await queryClickhouse(Deno.env.get("CLICKHOUSE_URL")!, "SELECT 1");
 * // "1\n"
 * ```
 */
export async function queryClickhouse(
  url: string,
  sql: string,
  timeoutMs = 10_000,
): Promise<string> {
  const { base, headers } = endpoint(url);
  const response = await fetch(base, {
    method: "POST",
    headers,
    body: sql,
    signal: AbortSignal.timeout(timeoutMs),
  });
  const body = await response.text();
  if (!response.ok) {
    throw new Error(`ClickHouse at ${base.host} answered ${response.status}: ${body.trim()}`);
  }
  return body;
}

/**
 * `/ping` and `SELECT version()` (e.g. "18.16.1") with the credentials of `url`. Used both for
 * our own server and to check a CLICKHOUSE_URL given in the environment.
 */
export async function queryClickhouseVersion(url: string, timeoutMs = 10_000): Promise<string> {
  if (!(await ping(url, timeoutMs))) {
    throw new Error(`${endpoint(url).base.host}/ping did not answer Ok.`);
  }
  return (await queryClickhouse(url, "SELECT version()", timeoutMs)).trim();
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
