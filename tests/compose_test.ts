/**
 * The Docker Compose stack (`compose.yaml`, `.env.example`, `docker/`), checked without a Docker
 * engine: `docker-compose config` validates the file against the Compose schema and resolves the
 * variables from `.env.example`, and the tests read what it resolved.
 *
 * `docker-compose` must be on PATH (Debian: `apt-get install docker-compose`, the Python 1.29
 * tool; `.ci/run` installs it). A Compose v2 standalone `docker-compose` works as well. Its
 * `config` prints YAML only in 1.x, so the YAML is read with the Python that runs
 * `docker-compose` itself (it imports PyYAML); v2 prints JSON with `--format json`.
 *
 * @module
 */
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);
const ROOT_DIR = Deno.realPathSync(ROOT).replace(/\/$/, "");
const ENV_EXAMPLE = ".env.example";

const INSTALL_HINT = "docker-compose was not found on PATH. Install it: `apt-get install " +
  "docker-compose` on Debian (the 1.29 tool; `bash .ci/run` installs it), or put Compose v2's " +
  "standalone docker-compose binary on PATH. These tests fail rather than skip without it.";

/** The services `docker compose up` starts, one-shots included. */
const EXPECTED_SERVICES = [
  "kafka",
  "postgres",
  "clickhouse",
  "airflow-db",
  "airflow-init",
  "airflow-apiserver",
  "airflow-scheduler",
  "airflow-dag-processor",
  "producer",
];
const AIRFLOW_SERVICES = EXPECTED_SERVICES.filter((name) => name.startsWith("airflow-"))
  .filter((name) => name !== "airflow-db");

// --- running docker-compose -------------------------------------------------------------------

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program in the repo root with only PATH and HOME from this environment. */
async function run(program: string, args: string[], stdin?: string): Promise<Run> {
  const command = new Deno.Command(program, {
    args,
    cwd: ROOT,
    // No inherited variables: values exported in a shell would override .env.example.
    clearEnv: true,
    env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", HOME: Deno.env.get("HOME") ?? "/" },
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  });
  let output: Deno.CommandOutput;
  if (stdin === undefined) {
    output = await command.output();
  } else {
    const child = command.spawn();
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
    output = await child.output();
  }
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** The path of `docker-compose` on PATH, or an error saying how to install it. */
function findDockerCompose(): string {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":").filter(Boolean)) {
    const candidate = `${dir}/docker-compose`;
    try {
      if (Deno.statSync(candidate).isFile) return candidate;
    } catch {
      // Not in this directory.
    }
  }
  throw new Error(INSTALL_HINT);
}

async function dockerCompose(args: string[], envFile = ENV_EXAMPLE): Promise<Run> {
  return await run(findDockerCompose(), ["--env-file", envFile, "-f", "compose.yaml", ...args]);
}

/** `docker-compose version --short`, e.g. `1.29.2` or `2.29.7`. */
async function composeMajorVersion(): Promise<number> {
  const version = await run(findDockerCompose(), ["version", "--short"]);
  assert.equal(version.code, 0, `docker-compose version --short failed:\n${version.stderr}`);
  const major = Number(version.stdout.trim().replace(/^v/, "").split(".")[0]);
  assert.ok(Number.isInteger(major), `unexpected docker-compose version: ${version.stdout}`);
  return major;
}

/** Reads YAML with the Python that runs docker-compose 1.x (its shebang), which has PyYAML. */
async function yamlToJson(yaml: string): Promise<unknown> {
  const firstLine = new TextDecoder().decode(
    Deno.readFileSync(findDockerCompose()).subarray(0, 200),
  ).split("\n")[0];
  const python = firstLine.startsWith("#!") && firstLine.includes("python")
    ? firstLine.slice(2).trim().split(/\s+/)
    : ["python3"];
  const script = "import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)";
  const parsed = await run(python[0], [...python.slice(1), "-c", script], yaml);
  assert.equal(
    parsed.code,
    0,
    `could not read docker-compose's YAML with ${python.join(" ")} (needs PyYAML):\n` +
      parsed.stderr,
  );
  return JSON.parse(parsed.stdout);
}

// --- the resolved config ----------------------------------------------------------------------

interface Service {
  image?: string;
  build?: { context: string; dockerfile?: string };
  command?: string | string[];
  environment?: Record<string, string | number | null>;
  healthcheck?: { test?: string | string[]; disable?: boolean };
  depends_on?: Record<string, { condition?: string }> | string[];
  restart?: string;
  volumes?: (string | { type: string; source?: string; target: string })[];
  ports?: unknown[];
}

interface ComposeConfig {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

let resolved: Promise<ComposeConfig> | undefined;

/** `docker-compose config` with .env.example, parsed once per test file. */
function config(): Promise<ComposeConfig> {
  resolved ??= (async () => {
    const major = await composeMajorVersion();
    const result = await dockerCompose(major >= 2 ? ["config", "--format", "json"] : ["config"]);
    assert.equal(
      result.code,
      0,
      `docker-compose --env-file ${ENV_EXAMPLE} config failed:\n${result.stderr}`,
    );
    const parsed = major >= 2 ? JSON.parse(result.stdout) : await yamlToJson(result.stdout);
    return parsed as ComposeConfig;
  })();
  return resolved;
}

async function service(name: string): Promise<Service> {
  const services = (await config()).services;
  assert.ok(services[name], `compose.yaml has no service ${name}`);
  return services[name];
}

function commandLine(service: Service): string {
  return Array.isArray(service.command) ? service.command.join(" ") : service.command ?? "";
}

function environment(service: Service): Record<string, string> {
  return Object.fromEntries(
    Object.entries(service.environment ?? {}).map(([key, value]) => [key, String(value ?? "")]),
  );
}

function dependencies(service: Service): Record<string, string | undefined> {
  const dependsOn = service.depends_on ?? {};
  if (Array.isArray(dependsOn)) return Object.fromEntries(dependsOn.map((name) => [name, "none"]));
  return Object.fromEntries(
    Object.entries(dependsOn).map(([name, spec]) => [name, spec.condition]),
  );
}

/** Mounts in one shape whatever the syntax: 1.x prints `source:target:mode`, v2 objects. */
function mounts(service: Service): { type: string; source: string; target: string }[] {
  return (service.volumes ?? []).map((volume) => {
    if (typeof volume !== "string") {
      return { type: volume.type, source: volume.source ?? "", target: volume.target };
    }
    const [source, target] = volume.split(":");
    return {
      type: source.startsWith("/") || source.startsWith(".") ? "bind" : "volume",
      source,
      target,
    };
  });
}

function dockerfile(path: string): string {
  return Deno.readTextFileSync(new URL(path, ROOT));
}

function hasHealthcheck(service: Service): boolean {
  const test = service.healthcheck?.test;
  const command = Array.isArray(test) ? test : test ? [test] : [];
  return !service.healthcheck?.disable && command.length > 0 && command[0] !== "NONE";
}

/** One-shot services: the ones others wait for with service_completed_successfully. */
async function oneShotServices(): Promise<Set<string>> {
  const oneShots = new Set<string>();
  for (const spec of Object.values((await config()).services)) {
    for (const [name, condition] of Object.entries(dependencies(spec))) {
      if (condition === "service_completed_successfully") oneShots.add(name);
    }
  }
  return oneShots;
}

// --- the tests --------------------------------------------------------------------------------

Deno.test("docker-compose config accepts compose.yaml with .env.example", async () => {
  const { services } = await config();
  const listed = await dockerCompose(["config", "--services"]);
  assert.equal(listed.code, 0, listed.stderr);
  const names = listed.stdout.split("\n").filter(Boolean);
  assert.deepEqual([...names].sort(), [...EXPECTED_SERVICES].sort());
  assert.deepEqual(Object.keys(services).sort(), [...EXPECTED_SERVICES].sort());
});

Deno.test("compose.yaml fails fast naming the variable when a password is not set", async () => {
  const empty = await Deno.makeTempFile({ prefix: "velib-compose-", suffix: ".env" });
  try {
    const result = await dockerCompose(["config", "--quiet"], empty);
    assert.notEqual(result.code, 0, "config should refuse to run without the passwords");
    assert.match(result.stderr, /set [A-Z_]+_(PASSWORD|SECRET|KEY) \(cp \.env\.example \.env\)/);
  } finally {
    await Deno.remove(empty);
  }
});

Deno.test("every long-running service has a healthcheck; only airflow-init runs once", async () => {
  const { services } = await config();
  const oneShots = await oneShotServices();
  assert.deepEqual([...oneShots], ["airflow-init"]);
  assert.equal(services["airflow-init"].restart, "no");
  for (const [name, spec] of Object.entries(services)) {
    if (oneShots.has(name)) continue;
    assert.ok(hasHealthcheck(spec), `${name} runs until stopped and needs a healthcheck`);
    assert.match(spec.restart ?? "", /^(unless-stopped|always)$/, `${name} restart policy`);
  }
});

Deno.test("depends_on waits for health or completion, never for a mere start", async () => {
  const { services } = await config();
  const oneShots = await oneShotServices();
  for (const [name, spec] of Object.entries(services)) {
    for (const [dependency, condition] of Object.entries(dependencies(spec))) {
      assert.ok(services[dependency], `${name} depends on unknown service ${dependency}`);
      const expected = oneShots.has(dependency)
        ? "service_completed_successfully"
        : "service_healthy";
      assert.equal(condition, expected, `${name} → ${dependency}`);
    }
  }
  for (const name of ["airflow-apiserver", "airflow-scheduler", "airflow-dag-processor"]) {
    assert.equal(
      dependencies(await service(name))["airflow-init"],
      "service_completed_successfully",
    );
  }
  assert.equal(dependencies(await service("producer")).kafka, "service_healthy");
  const scheduler = dependencies(await service("airflow-scheduler"));
  for (const name of ["kafka", "postgres", "clickhouse"]) {
    assert.equal(scheduler[name], "service_healthy", "the LocalExecutor runs the pipeline here");
  }
});

Deno.test("state lives in named volumes; the only bind mount is dags/", async () => {
  const { services, volumes = {} } = await config();
  const declared = Object.keys(volumes);
  for (const [name, spec] of Object.entries(services)) {
    for (const mount of mounts(spec)) {
      if (mount.type === "bind") {
        assert.equal(mount.source, `${ROOT_DIR}/dags`, `${name}: unexpected bind mount`);
        continue;
      }
      assert.equal(mount.type, "volume", `${name}: ${mount.target}`);
      assert.ok(declared.includes(mount.source), `${name}: ${mount.source} is not a named volume`);
    }
  }
  const dataDirs: Record<string, string> = {
    kafka: "/var/lib/kafka/data",
    postgres: "/var/lib/postgresql/data",
    clickhouse: "/var/lib/clickhouse",
    "airflow-db": "/var/lib/postgresql/data",
  };
  for (const [name, target] of Object.entries(dataDirs)) {
    const mount = mounts(await service(name)).find((mount) => mount.target === target);
    assert.ok(mount, `${name} keeps ${target} in a named volume`);
    assert.equal(mount.type, "volume", name);
  }
});

Deno.test("kafka is Apache Kafka 3.9.x, one KRaft node, reachable in and outside compose", async () => {
  const kafka = await service("kafka");
  assert.match(kafka.image ?? "", /^apache\/kafka:3\.9\.\d+$/);
  const env = environment(kafka);
  assert.deepEqual(env.KAFKA_PROCESS_ROLES.split(",").sort(), ["broker", "controller"]);
  assert.ok(env.CLUSTER_ID, "KRaft needs a CLUSTER_ID");
  assert.match(env.KAFKA_ADVERTISED_LISTENERS, /\/\/kafka:9092(,|$)/);
  assert.match(env.KAFKA_ADVERTISED_LISTENERS, /\/\/localhost:9094(,|$)/);
  assert.equal(env.KAFKA_AUTO_CREATE_TOPICS_ENABLE, "false", "the pipeline creates its topics");
  assert.match(JSON.stringify(kafka.healthcheck?.test), /kafka-broker-api-versions\.sh/);
  assert.match(JSON.stringify(kafka.ports), /9094/);
});

Deno.test("the warehouse and Airflow's database are PostgreSQL checked by pg_isready", async () => {
  for (const name of ["postgres", "airflow-db"]) {
    const database = await service(name);
    assert.match(database.image ?? "", /^postgres:1[56](\.\d+)?(-[a-z0-9]+)?$/, name);
    assert.match(JSON.stringify(database.healthcheck?.test), /pg_isready/, name);
    assert.equal(environment(database).POSTGRES_PASSWORD, "change-me", `${name} from .env`);
  }
});

Deno.test("the ClickHouse warehouse is checked by /ping, with the password from .env", async () => {
  const clickhouse = await service("clickhouse");
  assert.match(clickhouse.image ?? "", /^clickhouse\/clickhouse-server:\d+\.\d+(\.\d+)*$/);
  const test = JSON.stringify(clickhouse.healthcheck?.test);
  assert.match(test, /(wget|clickhouse-client).*ping/);
  assert.equal(environment(clickhouse).CLICKHOUSE_PASSWORD, "change-me", "from .env");
  assert.match(JSON.stringify(clickhouse.ports), /127\.0\.0\.1:8123:8123/);
});

Deno.test("the Airflow services build Airflow 3 with Deno from docker/airflow.Dockerfile", async () => {
  const images = new Set<string | undefined>();
  for (const name of AIRFLOW_SERVICES) {
    const airflow = await service(name);
    assert.equal(airflow.build?.context, ROOT_DIR, `${name} builds from the repository`);
    assert.equal(airflow.build?.dockerfile, "docker/airflow.Dockerfile", name);
    images.add(airflow.image);
  }
  // One local tag for the one build; an upstream name would be overwritten by it.
  assert.equal(images.size, 1, "the Airflow services share one image");
  assert.doesNotMatch([...images][0] ?? "", /^apache\/airflow\b/);
  const text = dockerfile("docker/airflow.Dockerfile");
  const arg = (name: string) => text.match(new RegExp(`^ARG ${name}=(\\S+)$`, "m"))?.[1];
  assert.match(arg("AIRFLOW_VERSION") ?? "", /^3\.\d+\.\d+$/);
  assert.equal(arg("PYTHON_VERSION"), "3.11");
  assert.equal(arg("DENO_VERSION"), ciDenoVersion());
  assert.match(text, /^FROM apache\/airflow:\$\{AIRFLOW_VERSION\}-python\$\{PYTHON_VERSION\}$/m);
  assert.match(text, /^FROM denoland\/deno:bin-\$\{DENO_VERSION\} AS deno$/m);
  assert.match(text, /^COPY --from=deno \/deno \/usr\/local\/bin\/deno$/m);
  assert.match(text, /VELIB_PROJECT_DIR=\/opt\/velib/);
  assert.match(text, /deno install --frozen/);
});

Deno.test("Airflow runs api-server, scheduler and dag-processor with the pipeline's env", async () => {
  const commands: Record<string, string> = {
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-init": "bash /opt/velib/docker/airflow-init.sh",
  };
  const secrets = new Set<string>();
  for (const [name, command] of Object.entries(commands)) {
    const airflow = await service(name);
    assert.equal(commandLine(airflow), command, name);
    const env = environment(airflow);
    assert.equal(env.AIRFLOW__CORE__EXECUTOR, "LocalExecutor", name);
    assert.equal(env.AIRFLOW__CORE__LOAD_EXAMPLES, "false", name);
    assert.match(env.AIRFLOW__DATABASE__SQL_ALCHEMY_CONN, /@airflow-db:5432\/airflow$/, name);
    assert.equal(env.KAFKA_BROKERS, "kafka:9092", name);
    assert.match(env.DATABASE_URL, /^postgres:\/\/[^@]+@postgres:5432\/\w+$/, name);
    assert.equal(env.CLICKHOUSE_URL, "http://velib:change-me@clickhouse:8123", name);
    assert.equal(
      env.AIRFLOW__CORE__EXECUTION_API_SERVER_URL,
      "http://airflow-apiserver:8080/execution/",
      name,
    );
    secrets.add(env.AIRFLOW__API_AUTH__JWT_SECRET);
    const dags = mounts(airflow).find((mount) => mount.target === "/opt/velib/dags");
    assert.ok(dags, `${name} sees the repository's dags/`);
  }
  assert.equal(secrets.size, 1, "every Airflow component signs and checks with one JWT secret");
  assert.match(
    JSON.stringify((await service("airflow-apiserver")).healthcheck?.test),
    /curl.*http:\/\/localhost:8080\/api\/v2\/monitor\/health/,
  );
  assert.match(
    JSON.stringify((await service("airflow-scheduler")).healthcheck?.test),
    /airflow jobs check --job-type SchedulerJob/,
  );
  const init = await Deno.readTextFile(new URL("docker/airflow-init.sh", ROOT));
  assert.match(init, /airflow db migrate/);
  assert.match(init, /airflow users create/);
  const syntax = await run("bash", ["-n", "docker/airflow-init.sh"]);
  assert.equal(syntax.code, 0, syntax.stderr);
});

Deno.test("the producer streams ingest from docker/pipeline.Dockerfile", async () => {
  const producer = await service("producer");
  assert.equal(producer.build?.context, ROOT_DIR);
  assert.equal(producer.build?.dockerfile, "docker/pipeline.Dockerfile");
  assert.doesNotMatch(producer.image ?? "", /^denoland\/deno\b/, "a local tag, not upstream's");
  assert.match(commandLine(producer), /^deno task (--quiet )?pipeline stream ingest\b/);
  assert.equal(producer.restart, "unless-stopped");
  const env = environment(producer);
  assert.equal(env.KAFKA_BROKERS, "kafka:9092");
  assert.equal(env.VELIB_API_URL, "", "empty: the real Vélib' API");
  const text = dockerfile("docker/pipeline.Dockerfile");
  assert.equal(text.match(/^ARG DENO_VERSION=(\S+)$/m)?.[1], ciDenoVersion());
  assert.match(text, /^FROM denoland\/deno:\$\{DENO_VERSION\}$/m);
  assert.match(text, /deno install --frozen/);
});

Deno.test("every variable compose.yaml reads is documented in .env.example, and only those", () => {
  const compose = Deno.readTextFileSync(new URL("compose.yaml", ROOT));
  // `$${X}` is for the container's shell, not for compose.
  const used = new Set(
    [...compose.matchAll(/(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)/g)].map((match) => match[1]),
  );
  const documented = new Set(Object.keys(readEnvExample()));
  documented.delete("COMPOSE_PROJECT_NAME"); // read by compose itself
  assert.deepEqual([...used].sort(), [...documented].sort());
});

Deno.test(".env.example holds placeholders, never a real secret", () => {
  const values = readEnvExample();
  assert.ok(Object.keys(values).length > 0);
  for (const [key, value] of Object.entries(values)) {
    if (/PASSWORD|SECRET|TOKEN|_KEY$/.test(key)) {
      assert.ok(
        value === "" || value === "change-me",
        `${key} must be empty or change-me in .env.example, not ${JSON.stringify(value)}`,
      );
    }
    assert.doesNotMatch(value, /:\/\/[^/\s:@]+:[^@\s]+@/, `${key}: no credentials in URLs`);
    assert.ok(!looksLikeSecret(value), `${key} looks like a real secret: ${value}`);
  }
});

Deno.test(".env is not committed", async () => {
  const files = await run("git", ["ls-files", "-z"]);
  assert.equal(files.code, 0, `git ls-files failed (not a git checkout?):\n${files.stderr}`);
  const envFiles = files.stdout.split("\0").filter((path) =>
    /(^|\/)\.env(\..+)?$/.test(path) && !path.endsWith(".env.example")
  );
  assert.deepEqual(envFiles, [], "secrets belong in an untracked .env");
});

Deno.test(".dockerignore keeps local state, .git and .env files out of the images", () => {
  const patterns = Deno.readTextFileSync(new URL(".dockerignore", ROOT)).split("\n")
    .map((line) => line.trim().replace(/\/$/, ""))
    .filter((line) => line && !line.startsWith("#"));
  for (const pattern of [".data", ".services", ".services.env", "node_modules", ".git", ".env"]) {
    assert.ok(patterns.includes(pattern), `.dockerignore should list ${pattern}`);
  }
});

// --- helpers for .env.example and .ci/run -----------------------------------------------------

/** `KEY=value` lines of .env.example (comments and blank lines skipped). */
function readEnvExample(): Record<string, string> {
  const values: Record<string, string> = {};
  for (const line of Deno.readTextFileSync(new URL(ENV_EXAMPLE, ROOT)).split("\n")) {
    if (!line.trim() || line.trimStart().startsWith("#")) continue;
    const match = line.match(/^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/);
    assert.ok(match, `${ENV_EXAMPLE}: not a KEY=value line: ${line}`);
    values[match[1]] = match[2].replace(/^(["'])(.*)\1$/, "$2");
  }
  return values;
}

/** Token-like values: known key prefixes, or long strings mixing letters and digits. */
function looksLikeSecret(value: string): boolean {
  if (/^(sk-|ghp_|gho_|github_pat_|xox[abp]-|AKIA|AIza|glpat-)/.test(value)) return true;
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(value)) return true;
  return value.length >= 20 && /^[A-Za-z0-9+/=_-]+$/.test(value) && /\d/.test(value) &&
    /[A-Za-z]/.test(value);
}

/** The Deno version .ci/run installs, which the images must use as well. */
function ciDenoVersion(): string {
  const ci = Deno.readTextFileSync(new URL(".ci/run", ROOT));
  const version = ci.match(/^readonly DENO_VERSION="([^"]+)"$/m)?.[1];
  assert.ok(version, ".ci/run should set DENO_VERSION");
  return version;
}
