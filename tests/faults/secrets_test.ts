/**
 * Failure drill 8, secrets: the warehouse password is a canary, a string no other run uses, and
 * the CLI's whole output (stdout and stderr, JSON and pretty logs at debug level, the JSON
 * summary) is searched for it across the success path, the failure paths and the crash paths.
 * It must never appear, raw, URL-encoded or JSON-escaped: the search is for its unique core,
 * which every one of those forms keeps.
 *
 * @module
 */
import assert from "node:assert/strict";
import pg from "pg";
import { requiredEnv, uniqueName } from "../../core/testing.ts";
import { createTestTopic, produce } from "../../plugins/kafka/test_support.ts";
import { databaseUrl, scratchDatabase } from "../../plugins/sink-postgres/testing.ts";
import { sleep } from "../../core/retry.ts";
import { type CliOptions, startCli, startCliUntilHung } from "../support/cli.ts";
// Collected now, so that the freshness check passes.
import { syntheticSnapshot } from "../support/synthetic.ts";
import { drillSeed, recordDrill } from "./report.ts";

const CONFIG = ["--config", "tests/faults/secrets.config.ts"];

/** Every run is made with both log formats, at the most talkative level. */
const LOG_FORMATS = [
  ["--log-format", "json", "--log-level", "debug"],
  ["--log-format", "pretty", "--log-level", "debug"],
];

/** A canary password: a unique core, wrapped in the characters URLs and SQL have to escape. */
function canaryPassword(): { core: string; password: string } {
  const core = `canary${crypto.randomUUID().replaceAll("-", "")}`;
  return { core, password: `P/ #?:@%&'"\\;${core}:@/ #?%&'"\\;` };
}

/**
 * A login role of the test's own whose password is the canary, owning a fresh database on the
 * test server; both dropped on disposal. The names and the password reach SQL as parameters
 * (`set_config`) and are quoted by `format`, never spliced in here.
 */
async function canaryWarehouse({ core, password } = canaryPassword()) {
  const role = uniqueName("secrets_canary");
  const admin = new pg.Client({ connectionString: databaseUrl() });
  await admin.connect();
  const setting = (name: string, value: string) =>
    admin.query("SELECT set_config($1, $2, false)", [`velib_test.${name}`, value]);
  await setting("role", role);
  await setting("password", password);
  // CREATEROLE: the migrations create or alter the server-wide velib_analyst role.
  await admin.query(`DO $$ BEGIN
    EXECUTE format('CREATE ROLE %I LOGIN CREATEROLE PASSWORD %L',
      current_setting('velib_test.role'), current_setting('velib_test.password'));
  END $$`);
  const database = await scratchDatabase();
  await setting("database", database.name);
  await admin.query(`DO $$ BEGIN
    EXECUTE format('ALTER DATABASE %I OWNER TO %I',
      current_setting('velib_test.database'), current_setting('velib_test.role'));
  END $$`);
  const url = new URL(database.url);
  url.username = role;
  url.password = encodeURIComponent(password);
  return {
    core,
    password,
    role,
    url: url.href,
    /** The database's URL as the server's admin, for what the test does behind the CLI's back. */
    adminUrl: database.url,
    admin,
    async [Symbol.asyncDispose]() {
      try {
        await database[Symbol.asyncDispose]();
        await admin.query(`DO $$ BEGIN
          EXECUTE format('DROP ROLE %I', current_setting('velib_test.role'));
        END $$`);
      } finally {
        await admin.end();
      }
    },
  };
}

type Canary = Awaited<ReturnType<typeof canaryWarehouse>>;

/** A topic of the test's own with a few synthetic snapshots, and the env pointing at both. */
async function pipelineEnv(canary: Canary): Promise<Record<string, string>> {
  const topic = await createTestTopic("secrets", 1);
  // One cycle: snapshots stamped a millisecond apart would be cycles of their own, and the
  // station_count check would fail the run.
  const collectedAt = new Date().toISOString();
  await produce(
    topic,
    ["99001", "99002", "99003"].map((code) => ({
      key: code,
      value: JSON.stringify(syntheticSnapshot({ station_code: code, collected_at: collectedAt })),
    })),
  );
  return {
    KAFKA_BROKERS: requiredEnv("KAFKA_BROKERS", "a Kafka broker"),
    DATABASE_URL: canary.url,
    LOAD_TOPIC: topic,
  };
}

/** What one CLI run printed, all of it, and how it ended. */
interface Captured {
  label: string;
  code: number;
  output: string;
}

/**
 * Everything a started run printed. A killed run prints no summary, so `finished` rejects; its
 * error carries the last stdout line and the whole of stderr.
 */
async function capture(label: string, started: ReturnType<typeof startCli>): Promise<Captured> {
  const status = await started.child.status;
  try {
    const run = await started.finished;
    return { label, code: run.code, output: `${run.stdout}\n${run.stderr}` };
  } catch (error) {
    return { label, code: status.code, output: `${String(error)}\n${started.stderr()}` };
  }
}

/** Runs the CLI once per log format. */
async function runEachFormat(
  label: string,
  args: string[],
  options: CliOptions,
): Promise<Captured[]> {
  const runs: Captured[] = [];
  for (const format of LOG_FORMATS) {
    runs.push(await capture(`${label} (${format[1]})`, startCli([...args, ...format], options)));
  }
  return runs;
}

/** Fails, naming the run and showing where, when the canary's core is in any output. */
function assertNoSecret(runs: Captured[], canary: { core: string }): void {
  for (const { label, output } of runs) {
    const at = output.indexOf(canary.core);
    assert.equal(
      at,
      -1,
      `${label} printed the password: …${output.slice(Math.max(0, at - 80), at + 80)}…`,
    );
  }
}

function assertExits(runs: Captured[], codes: number[], shows: RegExp): void {
  for (const run of runs) {
    assert.ok(codes.includes(run.code), `${run.label} exited ${run.code}:\n${run.output}`);
    assert.match(run.output, shows, run.label);
  }
}

async function record(scenario: string, seed: number, runs: Captured[], faults: number) {
  await recordDrill({
    scenario,
    seed,
    faults,
    messagesIn: runs.length,
    rowsOut: runs.length,
    lost: 0,
    duplicated: 0,
  });
}

Deno.test("secrets: migrate, batch, step, check, health and validate never print the password", async () => {
  const seed = drillSeed();
  await using canary = await canaryWarehouse();
  const env = { env: await pipelineEnv(canary) };
  const runs: Captured[] = [];
  const migrate = await runEachFormat("migrate", ["migrate", "load", ...CONFIG], env);
  assertExits(migrate, [0], /"command":"migrate"/);
  const batch = await runEachFormat("batch", ["batch", "load", ...CONFIG], env);
  assertExits(batch, [0], /"exitReason":"drained"/);
  const step = await runEachFormat("step", ["step", "load", "refresh-hourly", ...CONFIG], env);
  assertExits(step, [0], /"name":"refresh-hourly"/);
  // Exit 3 is an error-severity check failing on three synthetic stations: still a clean run.
  const check = await runEachFormat("check", ["check", "load", ...CONFIG], env);
  assertExits(check, [0, 3], /"checks":\[/);
  const health = await runEachFormat("health", ["health", "load", ...CONFIG], env);
  assertExits(health, [0], /"healthy":true/);
  const validate = await runEachFormat("validate", ["validate", ...CONFIG], env);
  assertExits(validate, [0], /"command":"validate"/);
  runs.push(...migrate, ...batch, ...step, ...check, ...health, ...validate);
  assertNoSecret(runs, canary);
  await record("secrets: success path", seed, runs, 0);
});

Deno.test("secrets: a wrong password, an unreachable server, a bad URL and a missing table never print the password", async () => {
  const seed = drillSeed();
  await using canary = await canaryWarehouse();
  const env = await pipelineEnv(canary);
  const batch = ["batch", "load", ...CONFIG];
  const withUrl = (url: string) => ({ env: { ...env, DATABASE_URL: url } });
  const url = new URL(canary.url);

  const wrong = new URL(url);
  wrong.password = encodeURIComponent(`${canary.password}-wrong`);
  const auth = await runEachFormat("wrong password", batch, withUrl(wrong.href));
  assertExits(auth, [1], /refused the login/);

  const closed = new URL(url);
  closed.port = "1";
  const unreachable = await runEachFormat("unreachable port", batch, withUrl(closed.href));
  assertExits(unreachable, [1], /Could not connect/);

  // As a person might paste it: the password not URL-encoded, so the URL no longer parses.
  const raw = `postgres://${canary.role}:${canary.password}@${url.host}${url.pathname}`;
  const unencoded = await runEachFormat("unencoded password", batch, withUrl(raw));
  const badPort = `postgres://${canary.role}:${url.password}@${url.hostname}:port${url.pathname}`;
  const notAPort = await runEachFormat("port not a number", batch, withUrl(badPort));
  const badScheme = url.href.replace(/^postgres:/, "postgress:");
  const scheme = await runEachFormat("unknown scheme", batch, withUrl(badScheme));
  assertExits([...unencoded, ...notAPort, ...scheme], [1, 2], /Error: /);

  const migrated = await runEachFormat("migrate", ["migrate", "load", ...CONFIG], { env });
  assertExits(migrated, [0], /"command":"migrate"/);
  const owner = new pg.Client({ connectionString: canary.adminUrl });
  await owner.connect();
  try {
    await owner.query("DROP TABLE raw.station_snapshots CASCADE");
  } finally {
    await owner.end();
  }
  const missing = await runEachFormat("missing table", batch, { env });
  assertExits(missing, [1], /station_snapshots/);

  const runs = [
    ...auth,
    ...unreachable,
    ...unencoded,
    ...notAPort,
    ...scheme,
    ...migrated,
    ...missing,
  ];
  assertNoSecret(runs, canary);
  await record("secrets: failure paths", seed, runs, runs.length - migrated.length);
});

Deno.test("secrets: a password with spaces, pasted into DATABASE_URL without URL-encoding, is not printed either", async () => {
  const seed = drillSeed();
  // Spaces are the one thing a URL takes unencoded in a password and still connects with.
  const { core } = canaryPassword();
  await using canary = await canaryWarehouse({ core, password: `pasted ${core} with spaces` });
  const env = await pipelineEnv(canary);
  const url = new URL(canary.url);
  const pasted = `postgres://${canary.role}:${canary.password}@${url.host}${url.pathname}`;
  const options = { env: { ...env, DATABASE_URL: pasted } };
  const batch = await runEachFormat("batch", ["batch", "load", ...CONFIG], options);
  assertExits(batch, [0], /"exitReason":"drained"/);
  const health = await runEachFormat("health", ["health", "load", "postgres", ...CONFIG], options);
  assertExits(health, [0], /"healthy":true/);
  const runs = [...batch, ...health];
  assertNoSecret(runs, canary);
  await record("secrets: unencoded password", seed, runs, 0);
});

Deno.test("secrets: SIGTERM, SIGKILL and connections terminated by the server mid-run never print the password", async () => {
  const seed = drillSeed();
  await using canary = await canaryWarehouse();
  const env = await pipelineEnv(canary);
  const runs: Captured[] = [];

  /** Starts a batch that hangs once the warehouse has committed; resolves when it hangs. */
  const hungBatch = async (format: string[]) => {
    // A message of its own: the batch before this one was written, so it is not read again.
    await produce(env.LOAD_TOPIC, [{
      key: "99004",
      value: JSON.stringify(syntheticSnapshot({ station_code: "99004" })),
    }]);
    return await startCliUntilHung(["batch", "load", ...CONFIG, ...format], { env });
  };

  const [json, pretty] = LOG_FORMATS;
  const terminated = await hungBatch(json);
  terminated.child.kill("SIGTERM");
  runs.push(await capture("SIGTERM mid-run", terminated));
  assertExits(runs.slice(-1), [143], /SIGTERM/);

  const killed = await hungBatch(pretty);
  killed.child.kill("SIGKILL");
  runs.push(await capture("SIGKILL mid-run", killed));

  for (const format of LOG_FORMATS) {
    const cut = await hungBatch(format);
    // In the select list, so that only the filtered rows are terminated (a WHERE clause may
    // evaluate its conditions in any order).
    const { rows } = await canary.admin.query(
      "SELECT pg_terminate_backend(pid) AS terminated FROM pg_stat_activity WHERE usename = $1",
      [canary.role],
    );
    assert.ok(rows.some((row) => row.terminated), "the run's connections were terminated");
    // The pool reports each idle connection the server ended.
    for (let waits = 0; !cut.stderr().includes("idle PostgreSQL connection failed"); waits++) {
      assert.ok(waits < 400, `no idle connection failure was reported:\n${cut.stderr()}`);
      await sleep(50);
    }
    cut.child.kill("SIGTERM");
    runs.push(await capture(`connections terminated (${format[1]})`, cut));
    assertExits(runs.slice(-1), [143], /terminat/i);
  }
  assertNoSecret(runs, canary);
  await record("secrets: crash paths", seed, runs, runs.length);
});
