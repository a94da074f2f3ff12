/** Process helpers: running commands, checking and stopping pids, ports, log tails. */

import { ServiceError, StartupAborted } from "./errors.ts";

/** Captured result of a finished command. */
export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options for {@link runCommand}. */
export interface RunOptions {
  cwd?: string;
  env?: Record<string, string>;
  /** Kills the command when aborted (only pass it for commands that are safe to kill). */
  signal?: AbortSignal;
  /** Shown in the "not found" error: what to install to get this command. */
  installHint?: string;
}

/**
 * Runs a command to completion and captures its output.
 * A missing executable becomes a {@link ServiceError} that says what to install.
 */
export async function runCommand(
  cmd: string,
  args: string[],
  options: RunOptions = {},
): Promise<CommandResult> {
  throwIfAborted(options.signal);
  try {
    const output = await new Deno.Command(cmd, {
      args,
      cwd: options.cwd,
      env: options.env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: options.signal,
    }).output();
    if (options.signal?.aborted) throw new StartupAborted();
    const decoder = new TextDecoder();
    return {
      code: output.code,
      stdout: decoder.decode(output.stdout),
      stderr: decoder.decode(output.stderr),
    };
  } catch (err) {
    if (options.signal?.aborted) throw new StartupAborted();
    if (err instanceof Deno.errors.NotFound) {
      throw new ServiceError(
        `\`${cmd}\` was not found on PATH`,
        options.installHint ?? `install the package that provides \`${cmd}\``,
        undefined,
        undefined,
        { cause: err },
      );
    }
    throw err;
  }
}

/** True when a file or directory exists at `path`. */
export async function pathExists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

/** Removes a file or directory tree; a path that is already gone is fine. */
export async function removePath(path: string): Promise<void> {
  try {
    await Deno.remove(path, { recursive: true });
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
}

/** Writes a file via a temporary sibling + rename, so readers never see half a file. */
export async function writeFileAtomic(path: string, text: string, mode = 0o644): Promise<void> {
  const tmp = `${path}.${crypto.randomUUID()}.tmp`;
  await Deno.writeTextFile(tmp, text, { mode });
  await Deno.rename(tmp, path);
}

/**
 * True when `pid` names a live process. Zombies count as dead: a killed detached broker is
 * reparented to PID 1, which in containers is not always an init that reaps children.
 */
export function isProcessAlive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // Format: "pid (comm) state ..."; comm may contain spaces or parentheses.
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

/** The command line of a live process (NUL separators turned into spaces), if readable. */
export function processCommandLine(pid: number): string | undefined {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/cmdline`).replaceAll("\0", " ").trim();
  } catch {
    return undefined;
  }
}

/** How {@link terminateProcess} ended a process. */
export type TerminateOutcome = "not running" | "stopped with SIGTERM" | "killed with SIGKILL";

/**
 * Stops a process: SIGTERM, then SIGKILL if it is still alive after `graceMs`.
 * Resolves once the process is gone (or gives up after a further 5 s and throws).
 */
export async function terminateProcess(pid: number, graceMs = 10_000): Promise<TerminateOutcome> {
  if (!isProcessAlive(pid)) return "not running";
  sendSignal(pid, "SIGTERM");
  if (await waitForExit(pid, graceMs)) return "stopped with SIGTERM";
  sendSignal(pid, "SIGKILL");
  if (await waitForExit(pid, 5_000)) return "killed with SIGKILL";
  throw new ServiceError(
    `process ${pid} survived SIGKILL`,
    `check it with \`ps -o pid,stat,cmd -p ${pid}\`; a process stuck in uninterruptible I/O ` +
      "needs the I/O to finish",
  );
}

function sendSignal(pid: number, signal: Deno.Signal): void {
  try {
    Deno.kill(pid, signal);
  } catch (err) {
    // The process may exit between the liveness check and the signal; that is success.
    if (!(err instanceof Deno.errors.NotFound) && isProcessAlive(pid)) throw err;
  }
}

/** Polls until `pid` is gone; true if it exited within `timeoutMs`. */
export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isProcessAlive(pid)) {
    if (Date.now() >= deadline) return false;
    await sleep(100);
  }
  return true;
}

/** Resolves after `ms`; rejects with {@link StartupAborted} if `signal` aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new StartupAborted());
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new StartupAborted());
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Throws {@link StartupAborted} when startup was interrupted. */
export function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new StartupAborted();
}

/**
 * Asks the OS for `count` distinct free TCP ports on 127.0.0.1. All listeners are held open
 * together so the ports differ; they are closed before returning, so a tiny race remains
 * until the servers bind them.
 */
export function reserveFreePorts(count: number): number[] {
  const listeners = Array.from(
    { length: count },
    () => Deno.listen({ hostname: "127.0.0.1", port: 0 }),
  );
  try {
    return listeners.map((listener) => (listener.addr as Deno.NetAddr).port);
  } finally {
    for (const listener of listeners) listener.close();
  }
}

/** The last `count` lines of a text file, or a note saying it could not be read. */
export async function tailFile(path: string, count = 30): Promise<string> {
  try {
    const lines = (await Deno.readTextFile(path)).trimEnd().split("\n");
    return lines.slice(-count).join("\n");
  } catch (err) {
    return `(could not read ${path}: ${err instanceof Error ? err.message : err})`;
  }
}

/** The last `count` lines of a string (for command output in error messages). */
export function lastLines(text: string, count = 30): string {
  return text.trimEnd().split("\n").slice(-count).join("\n");
}

/** Random bytes as lowercase hex (passwords, probe names). */
export function randomHex(byteCount: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(byteCount));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** Seconds with one decimal, for timing output. */
export function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

/**
 * The kernel's high-water mark of a process's resident memory (`VmHWM`), in kB; 0 once it is
 * gone. Read it before the process exits.
 *
 * @example
 * ```ts
 * import { readPeakRssKb } from "./proc.ts";
 * import assert from "node:assert/strict";
 *
 * assert.ok(readPeakRssKb(Deno.pid) > 0);
 * ```
 */
export function readPeakRssKb(pid: number): number {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    return Number(status.match(/^VmHWM:\s+(\d+) kB$/m)?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/**
 * A daemon we started, known by its pid file, and told apart from a process that reused its pid
 * by a path its command line must contain (its config file).
 */
export interface PidFileDaemon {
  /** The file holding its pid. */
  pidFile: string;
  /** A path only its command line holds. */
  commandLineMarker: string;
}

async function readDaemonPid(daemon: PidFileDaemon): Promise<number | undefined> {
  const text = await Deno.readTextFile(daemon.pidFile).catch(() => "");
  const pid = Number.parseInt(text, 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/** Guards against pid reuse: the process must be alive AND be the daemon of this config. */
function isTheDaemon(pid: number, daemon: PidFileDaemon): boolean {
  if (!isProcessAlive(pid)) return false;
  return processCommandLine(pid)?.includes(daemon.commandLineMarker) ?? false;
}

/**
 * Whether the daemon is running, and the pid its file holds.
 *
 * @example
 * ```ts
 * import { daemonStatus } from "./proc.ts";
 * import assert from "node:assert/strict";
 *
 * const status = await daemonStatus({ pidFile: "/nonexistent/x.pid", commandLineMarker: "x" });
 * assert.deepEqual(status, { running: false, pid: undefined });
 * ```
 */
export async function daemonStatus(
  daemon: PidFileDaemon,
): Promise<{ running: boolean; pid?: number }> {
  const pid = await readDaemonPid(daemon);
  return { running: pid !== undefined && isTheDaemon(pid, daemon), pid };
}

/**
 * Stops the daemon: SIGTERM, then SIGKILL after `graceMs`. Returns a short description of what
 * happened; a pid now another process's is left alone.
 *
 * @example
 * ```ts
 * import { stopDaemon } from "./proc.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(await stopDaemon({ pidFile: "/nonexistent/x.pid", commandLineMarker: "x" }, 1), "not running");
 * ```
 */
export async function stopDaemon(daemon: PidFileDaemon, graceMs: number): Promise<string> {
  const pid = await readDaemonPid(daemon);
  if (pid === undefined) return "not running";
  if (!isTheDaemon(pid, daemon)) {
    return isProcessAlive(pid)
      ? `not running (pid ${pid} now belongs to another process)`
      : "not running";
  }
  return `${await terminateProcess(pid, graceMs)} (pid ${pid})`;
}
