/**
 * The Python packages the tests use as real counterparts of what an operator runs beside the
 * pipeline: `prometheus_client`, whose text-format parser reads what `/metrics` and the
 * textfile output say as Prometheus would, and `aiosmtpd`, a real SMTP server on loopback that
 * Airflow's alerts are sent to. One small venv, installed once from PyPI and cached outside the
 * repo under the lock and completion marker of {@linkcode ensureVenv}.
 *
 * @module
 */

import { join } from "node:path";
import { runCommand, writeFileAtomic } from "./proc.ts";
import { ensureVenv } from "./venv.ts";

/** Every package of the install, pinned (`pip freeze` of the two requirements on Python 3.11). */
const PINS = [
  "prometheus_client==0.26.0",
  "aiosmtpd==1.4.6",
  "atpublic==9.0.0",
  "attrs==26.1.0",
];

/** Proof that the install works: both packages import. */
const PROBE = "import prometheus_client.parser, aiosmtpd.controller; print('ok')";

/** Options of {@linkcode ensurePythonTools}. */
export interface EnsurePythonToolsOptions {
  /**
   * Where progress lines go.
   * @default {a line on stderr}
   */
  log?: (line: string) => void;
}

/**
 * Installs the test tools' venv once (later calls reuse it) and returns its interpreter, in
 * which `import prometheus_client` and `import aiosmtpd` work.
 *
 * @example
 * ```ts ignore
 * import { ensurePythonTools } from "./python_tools.ts";
 *
 * const { python } = await ensurePythonTools();
 * await new Deno.Command(python, { args: ["-c", "import prometheus_client"] }).output();
 * ```
 */
export async function ensurePythonTools(
  options: EnsurePythonToolsOptions = {},
): Promise<{ python: string }> {
  const { python } = await ensureVenv({
    name: "python-tools",
    product: "prometheus_client + aiosmtpd",
    version: "0.26.0 + 1.4.6",
    python: { min: "3.9", max: "3.14" },
    wanted: { pins: PINS.join(" ") },
    pipArgs: async (cacheDir) => {
      const requirements = join(cacheDir, "requirements.txt");
      await writeFileAtomic(requirements, PINS.join("\n") + "\n");
      return ["--no-deps", "--requirement", requirements];
    },
    installNote: "a few seconds",
    probe: async ({ python }) => {
      const probe = await runCommand(python, ["-c", PROBE], {
        env: { PYTHONDONTWRITEBYTECODE: "1" },
      });
      return probe.code === 0 && probe.stdout.trim() === "ok" ? { ok: true } : {
        ok: false,
        failure: `importing prometheus_client and aiosmtpd exited ${probe.code}`,
        output: probe.stdout + probe.stderr,
      };
    },
    upgradeHint: "the pins in tools/lib/python_tools.ts need updating",
    log: options.log ?? ((line: string) => console.error(`[python-tools] ${line}`)),
  });
  return { python };
}
