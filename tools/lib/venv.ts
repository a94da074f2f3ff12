/**
 * A Python virtualenv installed once from PyPI and cached outside the repo, for tools that
 * test against a Python package (Airflow, chDB).
 *
 * The venv lives in `~/.cache/velib-pipeline/<name>/venv`. A file lock keeps two processes from
 * installing at once, and a marker (`venv/velib-install.json`) written last, once a probe has
 * shown the install runs, says it is complete: a killed install is redone rather than trusted.
 *
 * @module
 */

import { join } from "node:path";
import { ServiceError } from "./errors.ts";
import { formatSeconds, lastLines, removePath, runCommand, writeFileAtomic } from "./proc.ts";

/** Options of {@linkcode ensureVenv}: what to install, and how to tell that it works. */
export interface EnsureVenvOptions {
  /** The cache folder's name, e.g. `chdb-26.9.0`: see {@linkcode venvCacheDir}. */
  name: string;
  /** What is installed, as messages name it, e.g. `Apache Airflow`. */
  product: string;
  /** Its version, as messages name it, e.g. `3.3.2`. */
  version: string;
  /** The Python versions it supports, both ends included, e.g. `{ min: "3.10", max: "3.14" }`. */
  python: { min: string; max: string };
  /**
   * What identifies the install, recorded in the marker: a venv is reused only when its marker
   * has every one of these fields with this value.
   */
  wanted: Record<string, string>;
  /**
   * The arguments of `pip install` (requirements, `--no-deps`, `--constraint <file>`…), asked
   * for only when installing; `cacheDir` is where to write any file they name.
   */
  pipArgs: (cacheDir: string) => string[] | Promise<string[]>;
  /** How long the install takes or how big it is, for the log, e.g. `about a minute`. */
  installNote: string;
  /**
   * The free space the install needs in ~/.cache, named in the hint when pip fails, e.g. `2 GB`.
   * @default {not named}
   */
  diskSpace?: string;
  /**
   * Proof that the fresh install runs, before the marker is written. `ok: true` may add fields
   * to the marker (`record`) and a word to the "installed" log line (`note`); `ok: false` says
   * what failed (`failure`) and shows `output`.
   */
  probe: (venv: Omit<Venv, "marker">) => Promise<
    | { ok: true; record?: Record<string, string>; note?: string }
    | { ok: false; failure: string; output: string }
  >;
  /** What to update when a fresh install keeps failing its probe, e.g. `the pins in x.ts`. */
  upgradeHint: string;
  /** Where progress lines go. */
  log: (line: string) => void;
}

/** A complete cached venv, as {@linkcode ensureVenv} returns it. */
export interface Venv {
  /** {@linkcode venvCacheDir}: the venv, its lock and the files `pipArgs` wrote. */
  readonly cacheDir: string;
  /** The venv itself, `<cacheDir>/venv`. */
  readonly dir: string;
  /** The venv's `bin` folder. */
  readonly bin: string;
  /** The venv's `python`. */
  readonly python: string;
  /** The install's marker: `wanted`, the probe's `record`, `python` and `installedAt`. */
  readonly marker: Readonly<Record<string, string>>;
}

/**
 * Installs a venv into {@linkcode venvCacheDir}`(name)` once, unless a complete install with
 * the `wanted` marker is already there, and returns it.
 *
 * @example
 * ```ts ignore
 * import { ensureVenv } from "./venv.ts";
 *
 * const { python } = await ensureVenv({
 *   name: "six-1.17.0",
 *   product: "six",
 *   version: "1.17.0",
 *   python: { min: "3.9", max: "3.14" },
 *   wanted: { six: "1.17.0" },
 *   pipArgs: () => ["six==1.17.0"],
 *   installNote: "a few seconds",
 *   probe: async ({ python }) => {
 *     const { code, stderr } = await new Deno.Command(python, { args: ["-c", "import six"] })
 *       .output();
 *     return code === 0
 *       ? { ok: true }
 *       : { ok: false, failure: "`import six` failed", output: new TextDecoder().decode(stderr) };
 *   },
 *   upgradeHint: "the pin of six needs updating",
 *   log: console.error,
 * });
 * ```
 */
export async function ensureVenv(options: EnsureVenvOptions): Promise<Venv> {
  const cacheDir = venvCacheDir(options.name);
  const dir = join(cacheDir, "venv");
  const bin = join(dir, "bin");
  const venv = { cacheDir, dir, bin, python: join(bin, "python") };
  const installed = await readMarker(venv, options.wanted);
  if (installed) return { ...venv, marker: installed };

  await Deno.mkdir(cacheDir, { recursive: true });
  // flock: held until closed, and released by the OS if this process dies, so a killed
  // install never leaves a stale lock behind.
  using lock = await Deno.open(join(cacheDir, ".lock"), { create: true, write: true });
  const waiting = setTimeout(
    () => options.log(`Waiting for another process installing ${options.product} into ${dir}…`),
    500,
  );
  try {
    await lock.lock(true);
  } finally {
    clearTimeout(waiting);
  }
  try {
    // The other process may have finished the install while we waited.
    const marker = await readMarker(venv, options.wanted) ?? await install(venv, options);
    return { ...venv, marker };
  } finally {
    await lock.unlock();
  }
}

/**
 * `${XDG_CACHE_HOME:-$HOME/.cache}/velib-pipeline/<name>`: outside any clone, so that every
 * checkout and every run shares one install.
 *
 * @example
 * ```ts
 * import { venvCacheDir } from "./venv.ts";
 * import assert from "node:assert/strict";
 *
 * assert.match(venvCacheDir("chdb-26.9.0"), /\/velib-pipeline\/chdb-26\.9\.0$/);
 * ```
 */
export function venvCacheDir(name: string): string {
  const xdg = Deno.env.get("XDG_CACHE_HOME");
  const base = xdg ? xdg : join(Deno.env.get("HOME") ?? "/tmp", ".cache");
  return join(base, "velib-pipeline", name);
}

/** The marker of a complete install with the `wanted` fields, else undefined. */
async function readMarker(
  venv: Omit<Venv, "marker">,
  wanted: Record<string, string>,
): Promise<Record<string, string> | undefined> {
  let marker;
  try {
    marker = JSON.parse(await Deno.readTextFile(markerPath(venv)));
  } catch {
    return undefined;
  }
  const matches = Object.entries(wanted).every(([key, value]) => marker?.[key] === value) &&
    // The venv's python is a symlink to the base interpreter, which may have gone.
    (await Deno.stat(venv.python).then(() => true, () => false));
  return matches ? marker : undefined;
}

function markerPath(venv: Omit<Venv, "marker">): string {
  return join(venv.dir, "velib-install.json");
}

/** Builds the venv from scratch, proves it runs, and writes and returns its marker. */
async function install(
  venv: Omit<Venv, "marker">,
  options: EnsureVenvOptions,
): Promise<Record<string, string>> {
  const { product, version } = options;
  const { dir } = venv;
  const startedAt = performance.now();
  const basePython = Deno.env.get("VELIB_PYTHON") || "python3";
  const pythonHint = `install Python ${options.python.min}–${options.python.max} with venv and ` +
    "pip (Debian: apt-get install -y python3 python3-venv), or set VELIB_PYTHON to its path";
  const pythonVersion = await checkPython(basePython, options, pythonHint);
  options.log(
    `Installing ${product} ${version} into ${dir}, once ` +
      `(Python ${pythonVersion}, ${options.installNote})…`,
  );
  // Whatever is there is a half install or an older one: start clean.
  await removePath(dir);
  const created = await runCommand(basePython, ["-m", "venv", dir], { installHint: pythonHint });
  if (created.code !== 0) {
    throw new ServiceError(
      `\`${basePython} -m venv ${dir}\` failed (exit ${created.code})`,
      pythonHint,
      undefined,
      lastLines(created.stdout + created.stderr, 20),
    );
  }

  const pipArgs = await options.pipArgs(venv.cacheDir);
  options.log(`pip install ${pipArgs.join(" ")}`);
  const pip = await runCommand(venv.python, [
    "-m",
    "pip",
    "install",
    "--disable-pip-version-check",
    "--no-input",
    "--progress-bar",
    "off",
    ...pipArgs,
  ], { env: { PIP_NO_COLOR: "1" } });
  if (pip.code !== 0) {
    const space = options.diskSpace ? ` and about ${options.diskSpace} free in ~/.cache` : "";
    throw new ServiceError(
      `pip could not install ${product} ${version} into ${dir} (exit ${pip.code})`,
      `check access to PyPI (https://pypi.org/simple)${space}; a proxy or mirror goes in ` +
        "PIP_INDEX_URL / HTTPS_PROXY. The half-made venv is rebuilt on the next run.",
      undefined,
      lastLines(pip.stdout + pip.stderr, 25),
    );
  }

  // Proof that it runs before it is trusted: the marker goes last.
  const probe = await options.probe(venv);
  if (!probe.ok) {
    throw new ServiceError(
      `the ${product} just installed in ${dir} does not run: ${probe.failure}`,
      `delete ${venv.cacheDir} and run again; if it persists, ${options.upgradeHint}`,
      undefined,
      lastLines(probe.output, 20),
    );
  }
  const marker = {
    ...options.wanted,
    ...probe.record,
    python: pythonVersion,
    installedAt: new Date().toISOString(),
  };
  await writeFileAtomic(markerPath(venv), JSON.stringify(marker, null, 2) + "\n");
  options.log(
    `${product} ${version}${probe.note ? ` (${probe.note})` : ""} installed in ${
      formatSeconds(performance.now() - startedAt)
    }`,
  );
  return marker;
}

/** The base interpreter's version, e.g. `3.11.7`; throws with a hint if it cannot host the venv. */
async function checkPython(
  python: string,
  { product, version, python: range }: EnsureVenvOptions,
  hint: string,
): Promise<string> {
  const result = await runCommand(python, [
    "-c",
    "import sys, venv, ensurepip; print('%d.%d.%d' % sys.version_info[:3])",
  ], { installHint: hint });
  const found = result.stdout.trim();
  const supported = result.code === 0 &&
    compare(found, range.min) >= 0 && compare(found, range.max) <= 0;
  if (!supported) {
    throw new ServiceError(
      result.code === 0
        ? `${product} ${version} needs Python ${range.min}–${range.max}, but \`${python}\` is ${found}`
        : `\`${python}\` cannot create a venv (no venv or ensurepip module)`,
      hint,
      undefined,
      lastLines(result.stderr, 10),
    );
  }
  return found;
}

/** Compares two versions by major and minor: negative, zero or positive. */
function compare(a: string, b: string): number {
  const [aMajor, aMinor] = a.split(".").map(Number);
  const [bMajor, bMinor] = b.split(".").map(Number);
  return aMajor - bMajor || aMinor - bMinor;
}
