/**
 * Apache Airflow for the DAG tests: a virtualenv installed once from PyPI and cached outside
 * the repo, and a throwaway AIRFLOW_HOME (SQLite metadata DB) per use.
 *
 * The venv lives in `~/.cache/velib-pipeline/airflow-<version>/venv`. Installing takes about a
 * minute, once, under the lock and completion marker of {@linkcode ensureVenv}.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ServiceError } from "./errors.ts";
import { type CommandResult, lastLines, removePath, runCommand, writeFileAtomic } from "./proc.ts";
import { ensureVenv, type Venv } from "./venv.ts";

/** The Airflow release we install: the latest 3.x on PyPI that supports Python 3.11. */
export const AIRFLOW_VERSION = "3.3.2";
/** The standard provider (BashOperator), released alongside it. */
export const PROVIDERS_STANDARD_VERSION = "1.21.0";
/**
 * The SMTP provider (SmtpNotifier, the DAGs' failure emails). Airflow's core depends on it
 * already; a requirement of its own, since the DAGs import it.
 */
export const PROVIDERS_SMTP_VERSION = "3.2.0";

/**
 * Every package of the install, pinned: what pip resolved for the requirements above on
 * Python 3.11 (`pip freeze`). Airflow's own constraint files live on GitHub, which CI may not
 * reach, so these play their part: a later release of some dependency cannot break a fresh
 * install. To upgrade: install the new versions in a scratch venv and paste its `pip freeze`.
 */
const CONSTRAINTS = `
a2wsgi==1.10.10 aiosmtplib==5.1.3 aiosqlite==0.22.1 alembic==1.20.1 annotated-doc==0.0.7
annotated-types==0.8.0 anyio==4.16.0 apache-airflow==3.3.2 apache-airflow-core==3.3.2
apache-airflow-providers-common-compat==1.23.0 apache-airflow-providers-common-io==1.11.0
apache-airflow-providers-common-sql==2.4.0 apache-airflow-providers-smtp==3.2.0
apache-airflow-providers-standard==1.21.0 apache-airflow-task-sdk==1.3.2 argcomplete==3.7.2
arrow==1.4.0 asgiref==3.13.0 attrs==26.1.0 babel==2.18.0 cachetools==8.0.2 cadwyn==7.0.0
certifi==2026.10.19.post1 cffi==2.1.1 charset-normalizer==3.5.3 click==8.5.1 colorlog==6.12.0
cron_descriptor==2.2.1 croniter==7.0.0 cryptography==50.0.2 Deprecated==1.3.1 dill==0.4.1
dnspython==2.9.2 email-validator==2.4.0 fastapi==0.136.3 fastapi-cli==0.0.34 fsspec==2026.9.0
googleapis-common-protos==1.76.0 greenback==1.3.0 greenlet==3.5.6 grpcio==1.85.3 h11==0.16.0
httpcore==1.0.9 httptools==0.9.0 httpx==0.28.1 idna==3.20 importlib_metadata==10.2.0
isoduration==20.11.0 itsdangerous==2.2.0 Jinja2==3.1.6 jsonschema==4.26.0
jsonschema-specifications==2025.9.1 lazy-importer==0.1.0 lazy-object-proxy==1.13.0
libcst==1.9.0 linkify-it-py==2.2.0 lockfile==0.12.2 Mako==1.4.3 markdown-it-py==4.3.0
MarkupSafe==3.0.4 mdurl==0.1.2 methodtools==0.4.7 more-itertools==11.2.1 msgspec==0.22.0
natsort==8.4.0 opentelemetry-api==1.45.2 opentelemetry-exporter-http-transport==0.66b2
opentelemetry-exporter-otlp==1.45.2 opentelemetry-exporter-otlp-common==0.66b2
opentelemetry-exporter-otlp-proto-common==1.45.2 opentelemetry-exporter-otlp-proto-grpc==1.45.2
opentelemetry-exporter-otlp-proto-http==1.45.2 opentelemetry-proto==1.45.2
opentelemetry-sdk==1.45.2 opentelemetry-semantic-conventions==0.66b2 outcome==1.3.0.post0
packaging==26.4 pathlib_abc==0.5.2 pathspec==1.1.1 pendulum==3.3.0 pluggy==1.7.0
protobuf==7.36.2 psutil==7.2.2 pycparser==3.12 pydantic==2.14.4 pydantic-extra-types==2.11.1
pydantic-settings==2.16.3 pydantic_core==2.50.5 Pygments==2.21.0 pygtrie==2.6.2 PyJWT==2.15.1
python-daemon==3.1.2 python-dateutil==4.0.0 python-dotenv==1.2.4 python-multipart==0.0.34
python-slugify==9.2.0 PyYAML==6.0.4 referencing==0.37.0 requests==2.34.2 rich==15.0.0
rich-argparse==1.8.0 rich-toolkit==0.20.6 rpds-py==2026.9.1 setproctitle==1.3.8
shellingham==1.5.4 six==1.17.0 sniffio==1.3.1 SQLAlchemy==2.1.9 sqlparse==0.6.1
starlette==1.10.0 structlog==26.1.0 svcs==26.2.0 tabulate==0.10.0 tenacity==9.2.1
termcolor==3.3.0 text-unidecode==1.3 typer==0.29.2 typing-inspection==0.4.5
typing_extensions==4.16.0 tzdata==2026.6 universal_pathlib==0.3.10 urllib3==2.8.0
uuid6==2025.0.1 uvicorn==0.54.0 uvloop==0.23.0 watchfiles==1.3.0 websockets==17.4
wirerope==1.0.0 wrapt==2.5.2 zipp==4.1.2
`.trim().split(/\s+/);

/** The repo's `dags/` folder. */
export const DAGS_FOLDER = fileURLToPath(new URL("../../dags", import.meta.url));

/** Options of {@linkcode ensureAirflow}. */
export interface EnsureAirflowOptions {
  /**
   * Create the metadata DB (`airflow db migrate`, about 5 s). Parsing DAGs needs none;
   * running them does.
   * @default {true}
   */
  database?: boolean;
  /**
   * Contents of `airflow_local_settings.py` for this home (cluster policies and the like),
   * e.g. to shorten every task's retry_delay in a test without touching the DAG.
   * @default {undefined}
   */
  localSettings?: string;
  /**
   * Where progress lines go.
   * @default {a line on stderr}
   */
  log?: (line: string) => void;
}

/** A usable Airflow: the cached venv and a throwaway home. Dispose it to delete the home. */
export interface Airflow extends AsyncDisposable {
  /** The Airflow version, e.g. `3.3.2`. */
  readonly version: string;
  /** The venv's `python`. */
  readonly python: string;
  /** The venv's `airflow`. */
  readonly airflow: string;
  /** The throwaway AIRFLOW_HOME. */
  readonly home: string;
  /**
   * The environment to run `python`/`airflow` with: this process's environment plus
   * AIRFLOW_HOME, the SQLite DB, the repo's `dags/` as DAGS_FOLDER, no examples, and PATH
   * with the venv and this `deno` first (the DAG's tasks run `deno task pipeline …`).
   */
  readonly env: Record<string, string>;
  /** Runs `airflow <args>` with {@linkcode Airflow.env} plus `env`. */
  run(args: string[], env?: Record<string, string>): Promise<CommandResult>;
  /** Runs `python <args>` with {@linkcode Airflow.env} plus `env`. */
  runPython(args: string[], env?: Record<string, string>): Promise<CommandResult>;
}

/**
 * Installs Airflow into the cache once (later calls reuse it), then makes a fresh
 * AIRFLOW_HOME with, unless `database: false`, a migrated SQLite metadata DB.
 *
 * @example
 * ```ts ignore
 * import { ensureAirflow } from "./airflow.ts";
 *
 * await using airflow = await ensureAirflow();
 * const { stdout } = await airflow.run(["version"]); // "3.3.2\n"
 * ```
 */
export async function ensureAirflow(options: EnsureAirflowOptions = {}): Promise<Airflow> {
  const venv = await ensureVenv({
    name: `airflow-${AIRFLOW_VERSION}`,
    product: "Apache Airflow",
    version: AIRFLOW_VERSION,
    // Airflow 3.3's `Requires-Python` is `>=3.10,!=3.15`.
    python: { min: "3.10", max: "3.14" },
    wanted: {
      airflow: AIRFLOW_VERSION,
      providersStandard: PROVIDERS_STANDARD_VERSION,
      providersSmtp: PROVIDERS_SMTP_VERSION,
      constraintsSha256: sha256(CONSTRAINTS.join("\n")),
    },
    pipArgs: async (cacheDir) => {
      const constraints = join(cacheDir, "constraints.txt");
      await writeFileAtomic(constraints, CONSTRAINTS.join("\n") + "\n");
      return [
        "--constraint",
        constraints,
        `apache-airflow==${AIRFLOW_VERSION}`,
        `apache-airflow-providers-standard==${PROVIDERS_STANDARD_VERSION}`,
        `apache-airflow-providers-smtp==${PROVIDERS_SMTP_VERSION}`,
      ];
    },
    installNote: "about a minute",
    probe: async ({ bin }) => {
      const probeHome = await Deno.makeTempDir({ prefix: "velib-airflow-probe-" });
      const version = await runCommand(join(bin, "airflow"), ["version"], {
        env: { AIRFLOW_HOME: probeHome },
      }).finally(() => removePath(probeHome));
      return version.code === 0 && version.stdout.trim().split("\n").at(-1) === AIRFLOW_VERSION
        ? { ok: true }
        : {
          ok: false,
          failure: `\`airflow version\` exited ${version.code}`,
          output: version.stdout + version.stderr,
        };
    },
    upgradeHint: "the pins in tools/lib/airflow.ts need updating",
    log: options.log ?? ((line: string) => console.error(`[airflow] ${line}`)),
  });
  const home = await Deno.makeTempDir({ prefix: "velib-airflow-home-" });
  try {
    return await prepareHome(venv, home, options);
  } catch (err) {
    await removePath(home);
    throw err;
  }
}

async function prepareHome(
  { cacheDir, bin, python }: Venv,
  home: string,
  options: EnsureAirflowOptions,
): Promise<Airflow> {
  const airflow = join(bin, "airflow");
  const env: Record<string, string> = {
    ...Deno.env.toObject(),
    AIRFLOW_HOME: home,
    AIRFLOW__DATABASE__SQL_ALCHEMY_CONN: `sqlite:///${join(home, "airflow.db")}`,
    AIRFLOW__CORE__DAGS_FOLDER: DAGS_FOLDER,
    AIRFLOW__CORE__LOAD_EXAMPLES: "False",
    AIRFLOW__LOGGING__COLORED_CONSOLE_LOG: "False",
    // Importing the DAG must not leave dags/__pycache__ in the checkout.
    PYTHONDONTWRITEBYTECODE: "1",
    PATH: [bin, dirname(Deno.execPath()), Deno.env.get("PATH") ?? ""].join(":"),
  };
  if (options.localSettings !== undefined) {
    // $AIRFLOW_HOME/config is on Airflow's sys.path: that is where it looks for this module.
    await Deno.mkdir(join(home, "config"));
    await Deno.writeTextFile(
      join(home, "config", "airflow_local_settings.py"),
      options.localSettings,
    );
  }
  const run = (program: string, args: string[], extra: Record<string, string> = {}) =>
    runCommand(program, args, { env: { ...env, ...extra }, cwd: home });

  if (options.database ?? true) {
    const migrated = await run(airflow, ["db", "migrate"]);
    if (migrated.code !== 0) {
      throw new ServiceError(
        `\`airflow db migrate\` failed (exit ${migrated.code}) in ${home}`,
        `read the output above; deleting ${cacheDir} forces a reinstall`,
        undefined,
        lastLines(migrated.stdout + migrated.stderr, 25),
      );
    }
  }
  return {
    version: AIRFLOW_VERSION,
    python,
    airflow,
    home,
    env,
    run: (args, extra) => run(airflow, args, extra),
    runPython: (args, extra) => run(python, args, extra),
    [Symbol.asyncDispose]: () => removePath(home),
  };
}

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}
