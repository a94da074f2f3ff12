/**
 * chDB, ClickHouse as a Python library, for the tests that prove the warehouse SQL valid on
 * current ClickHouse (the dev server is 18.16): a virtualenv with `chdb-core` installed once
 * from PyPI and cached outside the repo. chDB has no server mode; a test runs a Python script
 * with {@linkcode ensureChdb}'s interpreter, which `import chdb` works in.
 *
 * The venv lives in `~/.cache/velib-pipeline/chdb-<version>/venv`. The wheel is about 560 MB
 * (the whole engine in one shared library): installing takes a minute or so, once. A file lock
 * keeps two test processes from installing at once, and a marker written last says the install
 * is complete, so a killed install is redone rather than trusted.
 *
 * @module
 */

import { join } from "node:path";
import { ServiceError } from "./errors.ts";
import { formatSeconds, lastLines, removePath, runCommand, writeFileAtomic } from "./proc.ts";

/** The chdb-core release we install: ClickHouse 26.9 in process. */
export const CHDB_VERSION = "26.9.0";

/**
 * Python versions chdb-core's wheels are built for (its `Requires-Python` is `>=3.9`; no wheel
 * for 3.15 yet).
 */
const PYTHON_RANGE = { min: [3, 9], maxExclusive: [3, 15] } as const;
const PYTHON_HINT = "install Python 3.9–3.14 with venv and pip " +
  "(Debian: apt-get install -y python3 python3-venv), or set VELIB_PYTHON to its path";
const PIP_HINT = "check access to PyPI (https://pypi.org/simple) and about 2 GB free in " +
  "~/.cache; a proxy or mirror goes in PIP_INDEX_URL / HTTPS_PROXY. The half-made venv is " +
  "rebuilt on the next run.";

/** Proof that the install works: the library imports, and its engine answers. */
const PROBE = "import chdb, chdb.session; " +
  "print(chdb.__version__, chdb.query('SELECT version()', 'TSV').bytes().decode().strip())";

/** What the marker file records; an install is reused only when all of it matches. */
interface InstallMarker {
  chdb: string;
  /** The ClickHouse version of its engine, e.g. `26.9.1.1`. */
  engine: string;
  python: string;
  installedAt: string;
}

/** Options of {@linkcode ensureChdb}. */
export interface EnsureChdbOptions {
  /**
   * Where progress lines go.
   * @default {a line on stderr}
   */
  log?: (line: string) => void;
}

/** A usable chDB: the cached venv's interpreter, which `import chdb` works in. */
export interface Chdb {
  /** The chdb-core version, e.g. `26.9.0`. */
  readonly version: string;
  /** The ClickHouse version of its engine (`SELECT version()`), e.g. `26.9.1.1`. */
  readonly engine: string;
  /** The venv's `python`. */
  readonly python: string;
}

/**
 * Installs chdb-core into the cache once (later calls reuse it) and returns the interpreter to
 * run chDB scripts with.
 *
 * @example
 * ```ts ignore
 * import { ensureChdb } from "./chdb.ts";
 *
 * const { python, engine } = await ensureChdb(); // engine: "26.9.1.1"
 * await new Deno.Command(python, { args: ["-c", "import chdb; print(chdb.query('SELECT 1'))"] })
 *   .output();
 * ```
 */
export async function ensureChdb(options: EnsureChdbOptions = {}): Promise<Chdb> {
  const log = options.log ?? ((line: string) => console.error(`[chdb] ${line}`));
  const venv = await ensureVenv(log);
  const marker = await readMarker(venv);
  return {
    version: CHDB_VERSION,
    engine: marker?.engine ?? "unknown",
    python: join(venv, "bin", "python"),
  };
}

/**
 * `${XDG_CACHE_HOME:-$HOME/.cache}/velib-pipeline/chdb-<version>`: outside any clone, so that
 * every checkout and every run shares one install.
 *
 * @example
 * ```ts
 * import { chdbCacheDir } from "./chdb.ts";
 * import assert from "node:assert/strict";
 *
 * assert.match(chdbCacheDir(), /\/velib-pipeline\/chdb-\d+\.\d+\.\d+$/);
 * ```
 */
export function chdbCacheDir(): string {
  const xdg = Deno.env.get("XDG_CACHE_HOME");
  const base = xdg ? xdg : join(Deno.env.get("HOME") ?? "/tmp", ".cache");
  return join(base, "velib-pipeline", `chdb-${CHDB_VERSION}`);
}

/** Returns the venv dir, installing it first unless a complete install is already there. */
async function ensureVenv(log: (line: string) => void): Promise<string> {
  const cacheDir = chdbCacheDir();
  const venv = join(cacheDir, "venv");
  if (await isInstalled(venv)) return venv;

  await Deno.mkdir(cacheDir, { recursive: true });
  // flock: held until closed, and released by the OS if this process dies, so a killed
  // install never leaves a stale lock behind.
  using lock = await Deno.open(join(cacheDir, ".lock"), { create: true, write: true });
  const waiting = setTimeout(
    () => log(`Waiting for another process installing chdb-core into ${venv}…`),
    500,
  );
  try {
    await lock.lock(true);
  } finally {
    clearTimeout(waiting);
  }
  try {
    // The other process may have finished the install while we waited.
    if (await isInstalled(venv)) return venv;
    await install(cacheDir, venv, log);
    return venv;
  } finally {
    await lock.unlock();
  }
}

async function readMarker(venv: string): Promise<InstallMarker | undefined> {
  try {
    return JSON.parse(await Deno.readTextFile(markerPath(venv)));
  } catch {
    return undefined;
  }
}

async function isInstalled(venv: string): Promise<boolean> {
  const marker = await readMarker(venv);
  return marker?.chdb === CHDB_VERSION &&
    // The venv's python is a symlink to the base interpreter, which may have gone.
    (await Deno.stat(join(venv, "bin", "python")).then(() => true, () => false));
}

function markerPath(venv: string): string {
  return join(venv, "velib-install.json");
}

async function install(cacheDir: string, venv: string, log: (line: string) => void) {
  const startedAt = performance.now();
  const basePython = Deno.env.get("VELIB_PYTHON") || "python3";
  const pythonVersion = await checkPython(basePython);
  log(
    `Installing chdb-core ${CHDB_VERSION} into ${venv}, once ` +
      `(Python ${pythonVersion}, a 560 MB download)…`,
  );
  // Whatever is there is a half install or an older one: start clean.
  await removePath(venv);
  const created = await runCommand(basePython, ["-m", "venv", venv], {
    installHint: PYTHON_HINT,
  });
  if (created.code !== 0) {
    throw new ServiceError(
      `\`${basePython} -m venv ${venv}\` failed (exit ${created.code})`,
      PYTHON_HINT,
      undefined,
      lastLines(created.stdout + created.stderr, 20),
    );
  }

  // chdb-core alone: the engine needs nothing else to run SQL and return JSON (its optional
  // pandas/pyarrow outputs are not used).
  const requirement = `chdb-core==${CHDB_VERSION}`;
  log(`pip install --no-deps ${requirement}`);
  const pip = await runCommand(join(venv, "bin", "python"), [
    "-m",
    "pip",
    "install",
    "--disable-pip-version-check",
    "--no-input",
    "--progress-bar",
    "off",
    "--no-deps",
    requirement,
  ], { env: { PIP_NO_COLOR: "1" } });
  if (pip.code !== 0) {
    throw new ServiceError(
      `pip could not install chdb-core ${CHDB_VERSION} into ${venv} (exit ${pip.code})`,
      PIP_HINT,
      undefined,
      lastLines(pip.stdout + pip.stderr, 25),
    );
  }

  // Proof that it runs before it is trusted: the marker goes last.
  const probe = await runCommand(join(venv, "bin", "python"), ["-c", PROBE], {
    env: { PYTHONDONTWRITEBYTECODE: "1" },
  });
  const [version, engine] = probe.stdout.trim().split(/\s+/);
  if (probe.code !== 0 || version !== CHDB_VERSION || engine === undefined) {
    throw new ServiceError(
      `the chdb-core just installed in ${venv} does not run: \`import chdb\` and ` +
        `\`SELECT version()\` exited ${probe.code}${probe.code === 0 ? ` with ${version}` : ""}`,
      `delete ${cacheDir} and run again; if it persists, CHDB_VERSION in tools/lib/chdb.ts ` +
        "needs updating",
      undefined,
      lastLines(probe.stdout + probe.stderr, 20),
    );
  }
  const marker: InstallMarker = {
    chdb: CHDB_VERSION,
    engine,
    python: pythonVersion,
    installedAt: new Date().toISOString(),
  };
  await writeFileAtomic(markerPath(venv), JSON.stringify(marker, null, 2) + "\n");
  log(
    `chdb-core ${CHDB_VERSION} (ClickHouse ${engine}) installed in ${
      formatSeconds(performance.now() - startedAt)
    }`,
  );
}

/** The base interpreter's version, e.g. `3.11.7`; throws with a hint if it cannot host chDB. */
async function checkPython(python: string): Promise<string> {
  const result = await runCommand(python, [
    "-c",
    "import sys, venv, ensurepip; print('%d.%d.%d' % sys.version_info[:3])",
  ], { installHint: PYTHON_HINT });
  const version = result.stdout.trim();
  const [major, minor] = version.split(".").map(Number);
  const supported = result.code === 0 &&
    compare([major, minor], PYTHON_RANGE.min) >= 0 &&
    compare([major, minor], PYTHON_RANGE.maxExclusive) < 0;
  if (!supported) {
    throw new ServiceError(
      result.code === 0
        ? `chdb-core ${CHDB_VERSION} needs Python 3.9–3.14, but \`${python}\` is ${version}`
        : `\`${python}\` cannot create a venv (no venv or ensurepip module)`,
      PYTHON_HINT,
      undefined,
      lastLines(result.stderr, 10),
    );
  }
  return version;
}

function compare(a: readonly number[], b: readonly number[]): number {
  return a[0] - b[0] || a[1] - b[1];
}
