/**
 * A throwaway PostgreSQL server from the OS packages (Debian's `postgresql`): initdb into a
 * fresh dir under /tmp, pg_ctl start on 127.0.0.1, database `velib`, user `pipeline`.
 */

import { join } from "node:path";
import pg from "pg";
import { ServiceError } from "./errors.ts";
import {
  isProcessAlive,
  lastLines,
  pathExists,
  randomHex,
  removePath,
  runCommand,
  tailFile,
  terminateProcess,
  throwIfAborted,
  waitForExit,
} from "./proc.ts";
import { createServiceDir, type ServiceMarker, type ServiceOwner } from "./state.ts";

const DB_USER = "pipeline";
const DB_NAME = "velib";
const PACKAGES_DIR = "/usr/lib/postgresql";
const INSTALL_HINT = "install the PostgreSQL server: apt-get install -y postgresql";

/** A running PostgreSQL server we started. */
export interface PostgresServer {
  dir: string;
  port: number;
  logPath: string;
  /** Full URL including the password. */
  url: string;
  /** `SELECT version()`, e.g. "PostgreSQL 15.14 (Debian 15.14-0+deb12u1) on x86_64-pc-linux-gnu…". */
  version: string;
}

/** Options for {@link startPostgres}. */
export interface StartPostgresOptions {
  owner: ServiceOwner;
  port: number;
  log: (line: string) => void;
  /** Called as soon as the service dir exists, so it can be recorded before anything runs. */
  onDir: (dir: string) => Promise<void>;
  signal?: AbortSignal;
}

/** Paths inside a PostgreSQL service dir (fixed, so `down` can find them from the dir alone). */
function layout(dir: string) {
  return {
    dataDir: join(dir, "data"),
    logPath: join(dir, "postgres.log"),
    passwordFile: join(dir, "pwfile"),
    pidFile: join(dir, "data", "postmaster.pid"),
    socketDir: dir,
  };
}

/**
 * Starts a fresh PostgreSQL server on 127.0.0.1:`port` and creates database `velib`.
 * When running as root the server runs as the `postgres` OS user (PostgreSQL refuses root).
 */
export async function startPostgres(options: StartPostgresOptions): Promise<PostgresServer> {
  const { port, signal } = options;
  const binDir = await findPostgresBinDir();
  const osUser = Deno.uid() === 0 ? await lookupPostgresUser() : undefined;
  const dir = await createServiceDir("postgres", options.owner, {
    binDir,
    runAsPostgresUser: osUser !== undefined,
  });
  await options.onDir(dir);
  // The dir is made by root with mode 0700: the postgres user must own it to create data/.
  if (osUser) await Deno.chown(dir, osUser.uid, osUser.gid);
  const tools = new PostgresTools(binDir, osUser !== undefined, dir);

  const password = randomHex(16);
  options.log(`PostgreSQL: initdb in ${dir}`);
  await initCluster(tools, dir, password, osUser, signal);
  throwIfAborted(signal);
  options.log(`PostgreSQL: starting on 127.0.0.1:${port}`);
  await startServer(tools, dir, port);
  throwIfAborted(signal);

  await createDatabase(port, password, layout(dir).logPath);
  const url = `postgres://${DB_USER}:${password}@127.0.0.1:${port}/${DB_NAME}`;
  const version = await queryServerVersion(url);
  return { dir, port, logPath: layout(dir).logPath, url, version };
}

/**
 * Finds the server binaries: the highest version under /usr/lib/postgresql/<v>/bin, else
 * `pg_config --bindir`.
 */
export async function findPostgresBinDir(): Promise<string> {
  const versions: string[] = [];
  try {
    for await (const entry of Deno.readDir(PACKAGES_DIR)) {
      if (/^\d+(\.\d+)?$/.test(entry.name)) versions.push(entry.name);
    }
  } catch {
    // No Debian-style install; try pg_config below.
  }
  versions.sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a));
  for (const version of versions) {
    const binDir = join(PACKAGES_DIR, version, "bin");
    if (await hasServerBinaries(binDir)) return binDir;
  }
  const fromPgConfig = await pgConfigBinDir();
  if (fromPgConfig && (await hasServerBinaries(fromPgConfig))) return fromPgConfig;
  throw new ServiceError(
    `PostgreSQL server binaries (initdb, pg_ctl, postgres) were not found under ` +
      `${PACKAGES_DIR}/*/bin or \`pg_config --bindir\``,
    INSTALL_HINT,
  );
}

async function hasServerBinaries(binDir: string): Promise<boolean> {
  for (const tool of ["postgres", "initdb", "pg_ctl"]) {
    if (!(await pathExists(join(binDir, tool)))) return false;
  }
  return true;
}

async function pgConfigBinDir(): Promise<string | undefined> {
  try {
    const result = await runCommand("pg_config", ["--bindir"]);
    return result.code === 0 ? result.stdout.trim() : undefined;
  } catch {
    return undefined;
  }
}

/** The `postgres --version` line of the binaries that would be used, e.g. for CI output. */
export async function postgresBinaryVersion(): Promise<string> {
  const binDir = await findPostgresBinDir();
  const result = await runCommand(join(binDir, "postgres"), ["--version"]);
  return result.stdout.trim();
}

interface OsUser {
  uid: number;
  gid: number;
}

async function lookupPostgresUser(): Promise<OsUser> {
  const result = await runCommand("getent", ["passwd", "postgres"]);
  const fields = result.stdout.trim().split(":");
  if (result.code !== 0 || fields.length < 4) {
    throw new ServiceError(
      "running as root, but there is no `postgres` OS user to run PostgreSQL as " +
        "(PostgreSQL refuses to run as root)",
      "apt-get install -y postgresql creates it; or: useradd --system --user-group " +
        "--home-dir /var/lib/postgresql --shell /bin/bash postgres",
    );
  }
  return { uid: Number(fields[2]), gid: Number(fields[3]) };
}

/** Runs PostgreSQL's own tools, as the `postgres` OS user when we are root. */
class PostgresTools {
  constructor(
    readonly binDir: string,
    readonly asPostgresUser: boolean,
    /** Working dir the postgres user can enter (our cwd may be a 0700 dir it cannot). */
    readonly cwd: string,
  ) {}

  run(tool: string, args: string[], signal?: AbortSignal) {
    const path = join(this.binDir, tool);
    const [cmd, cmdArgs] = this.asPostgresUser
      ? ["runuser", ["-u", "postgres", "--", path, ...args]]
      : [path, args];
    return runCommand(cmd, cmdArgs, { cwd: this.cwd, signal, installHint: INSTALL_HINT });
  }
}

async function initCluster(
  tools: PostgresTools,
  dir: string,
  password: string,
  osUser: OsUser | undefined,
  signal?: AbortSignal,
): Promise<void> {
  const { dataDir, passwordFile } = layout(dir);
  await Deno.writeTextFile(passwordFile, password + "\n", { mode: 0o600 });
  if (osUser) await Deno.chown(passwordFile, osUser.uid, osUser.gid);
  const baseArgs = [
    "-D",
    dataDir,
    "-U",
    DB_USER,
    "-A",
    "scram-sha-256",
    `--pwfile=${passwordFile}`,
    "--encoding=UTF8",
    // Throwaway data: skip fsync of the new cluster, it saves seconds.
    "--no-sync",
  ];
  try {
    let result = await tools.run("initdb", [...baseArgs, "--locale=C.UTF-8"], signal);
    if (result.code !== 0 && /locale/i.test(result.stdout + result.stderr)) {
      // Minimal systems may lack C.UTF-8; the server works fine without a locale.
      await removePath(dataDir);
      result = await tools.run("initdb", [...baseArgs, "--no-locale"], signal);
    }
    if (result.code !== 0) {
      throw new ServiceError(
        `initdb failed (exit ${result.code}) in ${dataDir}`,
        "read initdb's output above",
        undefined,
        lastLines(result.stdout + result.stderr),
      );
    }
  } finally {
    await removePath(passwordFile);
  }
}

async function startServer(tools: PostgresTools, dir: string, port: number): Promise<void> {
  const { dataDir, logPath, socketDir } = layout(dir);
  const serverOptions = [
    `-p ${port}`,
    "-c listen_addresses=127.0.0.1",
    `-k ${socketDir}`,
    // Test data only: durability off makes DDL-heavy tests much faster.
    "-c fsync=off",
    "-c synchronous_commit=off",
    "-c full_page_writes=off",
    "-c max_connections=200",
  ].join(" ");
  // Not abortable on purpose: killing pg_ctl mid-start would orphan the postmaster.
  const result = await tools.run("pg_ctl", [
    "start",
    "-w",
    "-t",
    "60",
    "-D",
    dataDir,
    "-l",
    logPath,
    "-o",
    serverOptions,
  ]);
  if (result.code !== 0) {
    throw new ServiceError(
      `PostgreSQL failed to start on 127.0.0.1:${port} (pg_ctl exit ${result.code})`,
      "read the log for the cause; if the port was taken in the meantime, just run the " +
        "command again",
      logPath,
      `${lastLines(result.stdout + result.stderr, 5)}\n--- last lines of ${logPath} ---\n` +
        (await tailFile(logPath)),
    );
  }
}

async function createDatabase(port: number, password: string, logPath: string): Promise<void> {
  const client = new pg.Client({
    host: "127.0.0.1",
    port,
    user: DB_USER,
    password,
    database: "postgres",
    connectionTimeoutMillis: 10_000,
  });
  try {
    await client.connect();
    await client.query(`CREATE DATABASE ${DB_NAME}`);
  } catch (err) {
    throw new ServiceError(
      `could not create database ${DB_NAME} on 127.0.0.1:${port}: ${errorMessage(err)}`,
      "read the PostgreSQL log",
      logPath,
      undefined,
      { cause: err },
    );
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * Connects to `url` and returns `SELECT version()`. Used both for our own server and to
 * check a DATABASE_URL given in the environment.
 */
export async function queryServerVersion(url: string, timeoutMs = 10_000): Promise<string> {
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: timeoutMs,
    query_timeout: timeoutMs,
  });
  try {
    await client.connect();
    const result = await client.query<{ version: string }>("SELECT version() AS version");
    return result.rows[0].version;
  } finally {
    await client.end().catch(() => {});
  }
}

/** Whether the server in a service dir is running, and its postmaster pid. */
export async function postgresDirStatus(dir: string): Promise<{ running: boolean; pid?: number }> {
  const pid = await readPostmasterPid(dir);
  return { running: pid !== undefined && isProcessAlive(pid), pid };
}

async function readPostmasterPid(dir: string): Promise<number | undefined> {
  try {
    const firstLine = (await Deno.readTextFile(layout(dir).pidFile)).split("\n")[0];
    const pid = Number.parseInt(firstLine, 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Stops the server of a service dir: `pg_ctl stop -m fast`, falling back to signals if
 * pg_ctl fails or is gone. Returns a short description of what happened.
 */
export async function stopPostgresDir(dir: string, marker: ServiceMarker): Promise<string> {
  const pid = await readPostmasterPid(dir);
  if (pid === undefined || !isProcessAlive(pid)) return "not running";
  if (marker.binDir) {
    const tools = new PostgresTools(marker.binDir, marker.runAsPostgresUser === true, dir);
    const args = ["stop", "-m", "fast", "-w", "-t", "30", "-D", layout(dir).dataDir];
    const result = await tools.run("pg_ctl", args).catch(() => undefined);
    // pg_ctl -w returns once postmaster.pid is gone; the process exits a moment later.
    if (result?.code === 0 && (await waitForExit(pid, 5_000))) {
      return `stopped with pg_ctl stop -m fast (pid ${pid})`;
    }
  }
  return `${await terminateProcess(pid)} (pid ${pid})`;
}

/**
 * Starts again, on 127.0.0.1:`port`, the server of a service dir that {@link stopPostgresDir}
 * stopped, with the data it had: for drills that take the database away and bring it back.
 *
 * @example
 * ```ts ignore
 * await stopPostgresDir(server.dir, marker);
 * await restartPostgresDir(server.dir, marker, server.port);
 * ```
 */
export async function restartPostgresDir(
  dir: string,
  marker: ServiceMarker,
  port: number,
): Promise<void> {
  if (!marker.binDir) {
    throw new ServiceError(
      `the marker of ${dir} does not say where pg_ctl is`,
      "only a dir made by startPostgres can be started again",
    );
  }
  const tools = new PostgresTools(marker.binDir, marker.runAsPostgresUser === true, dir);
  await startServer(tools, dir, port);
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
