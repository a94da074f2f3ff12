import assert from "node:assert/strict";
import pg from "pg";
import { ANALYSIS, analysisQuery, sqlState, type Warehouse, warehouse } from "./support.ts";

// velib_analyst is a server-wide role that other databases on the server may have created
// already (the migration tolerates it), so these tests never create or drop it themselves.
const ROLE = "velib_analyst";
const PASSWORD_SETTING = "velib.analyst_password";

/** A fresh password of the test's own, so an earlier run's cannot pass for it. */
const newPassword = () => `pw-${crypto.randomUUID()}'"; --`; // quotes test the %L quoting

/** The warehouse's URL with the analyst's credentials. */
function analystUrl(wh: Warehouse, password: string): string {
  const url = new URL(wh.url);
  url.username = ROLE;
  url.password = encodeURIComponent(password);
  return url.href;
}

/** A warehouse migrated with an analyst password, and a connection as the analyst. */
async function asAnalyst() {
  const secret = newPassword();
  const wh = await warehouse({ [PASSWORD_SETTING]: secret });
  try {
    await wh.query(
      "INSERT INTO pipeline.dead_letters (pipeline, stage, reason) VALUES ('t', 's', 'r')",
    );
    return { wh, password: secret, analyst: await wh.connect(analystUrl(wh, secret)) };
  } catch (error) {
    await wh[Symbol.asyncDispose]();
    throw error;
  }
}

Deno.test("velib_analyst logs in with velib.analyst_password and reads raw, mart and pipeline.dead_letters", async () => {
  const { wh, analyst } = await asAnalyst();
  await using _ = wh;
  assert.equal((await analyst.query("SELECT current_user AS u")).rows[0].u, ROLE);
  for (
    const table of [
      "raw.station_snapshots",
      "mart.station_latest",
      "mart.hourly_station_stats",
      "mart.daily_station_stats",
      "mart.station_ranking",
      "mart.refresh_queue",
    ]
  ) {
    await analyst.query(`SELECT * FROM ${table}`);
  }
  const letters = await analyst.query("SELECT reason FROM pipeline.dead_letters");
  assert.deepEqual(letters.rows, [{ reason: "r" }]);
});

Deno.test("velib_analyst gets permission denied on INSERT, UPDATE and DELETE", async () => {
  const { wh, analyst } = await asAnalyst();
  await using _ = wh;
  const writes = [
    "INSERT INTO pipeline.dead_letters (pipeline, stage, reason) VALUES ('t', 's', 'r')",
    "UPDATE pipeline.dead_letters SET reason = 'x'",
    "DELETE FROM pipeline.dead_letters",
    "INSERT INTO mart.refresh_queue (target, collected_at) VALUES ('hourly', now())",
    "UPDATE mart.station_latest SET bikes_available = 0",
    "DELETE FROM mart.hourly_station_stats",
    "DELETE FROM raw.station_snapshots",
    "SELECT mart.refresh_hourly_stats()",
  ];
  for (const write of writes) {
    await assert.rejects(analyst.query(write), (e) => sqlState(e) === "42501", write);
  }
});

Deno.test("velib_analyst can read a table created in mart after the migrations", async () => {
  const { wh, analyst } = await asAnalyst();
  await using _ = wh;
  await wh.query("CREATE TABLE mart.later (id int); INSERT INTO mart.later VALUES (1)");
  assert.deepEqual((await analyst.query("SELECT id FROM mart.later")).rows, [{ id: 1 }]);
});

Deno.test("velib_analyst runs every sql/analysis query", async () => {
  const { wh, analyst } = await asAnalyst();
  await using _ = wh;
  const files = [];
  for await (const entry of Deno.readDir(ANALYSIS)) files.push(entry.name);
  assert.equal(files.length, 8);
  for (const file of files.sort()) {
    await analyst.query(await analysisQuery(file)).catch((error) => {
      throw new Error(`${file} failed for ${ROLE}: ${error.message}`);
    });
  }
});

Deno.test("velib_analyst is NOLOGIN when velib.analyst_password is unset, even if it could log in before", async () => {
  const { wh, password } = await asAnalyst(); // the role can log in now
  await using _first = wh;
  await using _second = await warehouse(); // a migration without the setting
  const [role] = await wh.query<{ rolcanlogin: boolean }>(
    "SELECT rolcanlogin FROM pg_roles WHERE rolname = $1",
    [ROLE],
  );
  assert.equal(role.rolcanlogin, false);
  // The right password no longer lets it in: 28000, "role is not permitted to log in".
  const client = new pg.Client({ connectionString: analystUrl(wh, password) });
  client.on("error", () => {});
  await assert.rejects(client.connect(), (e) => sqlState(e) === "28000");
});
