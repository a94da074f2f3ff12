/**
 * chDB, ClickHouse as a Python library, for the tests that prove the warehouse SQL valid on
 * current ClickHouse (the dev server is 18.16): a virtualenv with `chdb-core` installed once
 * from PyPI and cached outside the repo. chDB has no server mode; a test runs a Python script
 * with {@linkcode ensureChdb}'s interpreter, which `import chdb` works in.
 *
 * The venv lives in `~/.cache/velib-pipeline/chdb-<version>/venv`. The wheel is about 560 MB
 * (the whole engine in one shared library): installing takes a minute or so, once, under the
 * lock and completion marker of {@linkcode ensureVenv}.
 *
 * @module
 */

import { runCommand } from "./proc.ts";
import { ensureVenv } from "./venv.ts";

/** The chdb-core release we install: ClickHouse 26.9 in process. */
export const CHDB_VERSION = "26.9.0";

/** Proof that the install works: the library imports, and its engine answers. */
const PROBE = "import chdb, chdb.session; " +
  "print(chdb.__version__, chdb.query('SELECT version()', 'TSV').bytes().decode().strip())";

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
  const { python, marker } = await ensureVenv({
    name: `chdb-${CHDB_VERSION}`,
    product: "chdb-core",
    version: CHDB_VERSION,
    // chdb-core's `Requires-Python` is `>=3.9`; no wheel for 3.15 yet.
    python: { min: "3.9", max: "3.14" },
    wanted: { chdb: CHDB_VERSION },
    // chdb-core alone: the engine needs nothing else to run SQL and return JSON (its optional
    // pandas/pyarrow outputs are not used).
    pipArgs: () => ["--no-deps", `chdb-core==${CHDB_VERSION}`],
    installNote: "a 560 MB download",
    diskSpace: "2 GB",
    probe: async ({ python }) => {
      const probe = await runCommand(python, ["-c", PROBE], {
        env: { PYTHONDONTWRITEBYTECODE: "1" },
      });
      const [version, engine] = probe.stdout.trim().split(/\s+/);
      if (probe.code !== 0 || version !== CHDB_VERSION || engine === undefined) {
        return {
          ok: false,
          failure: `\`import chdb\` and \`SELECT version()\` exited ${probe.code}` +
            (probe.code === 0 ? ` with ${version}` : ""),
          output: probe.stdout + probe.stderr,
        };
      }
      return { ok: true, record: { engine }, note: `ClickHouse ${engine}` };
    },
    upgradeHint: "CHDB_VERSION in tools/lib/chdb.ts needs updating",
    log: options.log ?? ((line: string) => console.error(`[chdb] ${line}`)),
  });
  return { version: CHDB_VERSION, engine: marker.engine ?? "unknown", python };
}
