/**
 * Runs the CLI as a child process, as Airflow does.
 *
 * @module
 */
import { sleep } from "../../core/retry.ts";

/** What a CLI run printed and how it exited. */
export interface CliRun {
  /** The exit code. */
  code: number;
  /** Everything on stdout. */
  stdout: string;
  /** Everything on stderr. */
  stderr: string;
  /** The last line of stdout, parsed: the JSON summary. */
  summary: Record<string, unknown>;
}

const CLI = new URL("../../cli/main.ts", import.meta.url).pathname;

/** Options of {@linkcode startCli}. */
export interface CliOptions {
  /** Extra environment variables. */
  env?: Record<string, string>;
  /**
   * Variables of this process the child must not inherit, e.g. `DATABASE_URL` to run on the
   * embedded default.
   * @default {[]}
   */
  unset?: string[];
}

/**
 * Starts `cli/main.ts` with `args`; resolve `.finished` for its output.
 *
 * @example
 * ```ts ignore
 * const { finished } = startCli(["validate"]);
 * const run = await finished;
 * ```
 */
export function startCli(args: string[], options: CliOptions = {}) {
  const inherited = Deno.env.toObject();
  for (const name of options.unset ?? []) delete inherited[name];
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", CLI, ...args],
    clearEnv: true,
    env: { ...inherited, NO_COLOR: "1", ...options.env },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const decoder = new TextDecoder();
  let stderr = "";
  const stderrDone = child.stderr.pipeTo(
    new WritableStream({ write: (chunk) => void (stderr += decoder.decode(chunk)) }),
  );
  const finished = (async (): Promise<CliRun> => {
    const [status, stdout] = await Promise.all([child.status, new Response(child.stdout).text()]);
    await stderrDone;
    const last = stdout.trimEnd().split("\n").at(-1) ?? "";
    let summary: Record<string, unknown>;
    try {
      summary = JSON.parse(last);
    } catch {
      throw new Error(`The last stdout line is not JSON: ${last}\nstderr:\n${stderr}`);
    }
    return { code: status.code, stdout, stderr, summary };
  })();
  return { child, finished, stderr: () => stderr };
}

/**
 * Runs `cli/main.ts` with `args` to completion.
 *
 * @example
 * ```ts ignore
 * const run = await runCli(["batch", "load"]);
 * ```
 */
export function runCli(args: string[], options: CliOptions = {}): Promise<CliRun> {
  return startCli(args, options).finished;
}

/**
 * Starts `cli/main.ts` with `args` and a config whose hanging sink (`./hang.ts`) follows the
 * warehouse sink, and resolves once it hangs there: the warehouse transaction committed, the
 * batch not acknowledged. Throws if the run ends before.
 *
 * @example
 * ```ts ignore
 * const hung = await startCliUntilHung(["batch", "load", "--config", "tests/support/load.config.ts"]);
 * hung.child.kill("SIGKILL");
 * ```
 */
export async function startCliUntilHung(args: string[], options: CliOptions = {}) {
  const marker = await Deno.makeTempFile();
  await Deno.remove(marker);
  const started = startCli(args, { ...options, env: { ...options.env, HANG_MARKER: marker } });
  try {
    while (!await exists(marker)) {
      const ended = await Promise.race([started.child.status, sleep(100)]);
      if (ended !== undefined) {
        throw new Error(`The run ended before hanging:\n${started.stderr()}`);
      }
    }
  } finally {
    await Deno.remove(marker).catch(() => {});
  }
  return started;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}
