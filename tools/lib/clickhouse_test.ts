import assert from "node:assert/strict";
import {
  CLICKHOUSE_PROFILE_SETTINGS,
  clickhouseDirStatus,
  queryClickhouse,
  startClickhouse,
  stopClickhouseDir,
} from "./clickhouse.ts";
import { removePath, reserveFreePorts } from "./proc.ts";
import { isServiceDirPath, readMarker } from "./state.ts";

Deno.test("startClickhouse() serves the pipeline user with its profile, and stops on SIGTERM", async () => {
  const stateDir = await Deno.makeTempDir({ prefix: "velib-test-clickhouse-" });
  const [port] = reserveFreePorts(1);
  let dir: string | undefined;
  try {
    const server = await startClickhouse({
      owner: { stateDir, ephemeral: true },
      port,
      log: () => {},
      onDir: (created) => Promise.resolve(void (dir = created)),
    });
    assert.equal(server.dir, dir);
    assert.ok(isServiceDirPath(server.dir), server.dir);
    assert.equal((await readMarker(server.dir))?.kind, "clickhouse");
    assert.match(server.url, new RegExp(`^http://pipeline:[0-9a-f]{32}@127\\.0\\.0\\.1:${port}$`));
    assert.match(server.version, /^\d+\.\d+\.\d+/);
    assert.deepEqual(await clickhouseDirStatus(server.dir), { running: true, pid: server.pid });

    const names = Object.keys(CLICKHOUSE_PROFILE_SETTINGS).map((name) => `'${name}'`).join(", ");
    const rows = await queryClickhouse(
      server.url,
      `SELECT name, value FROM system.settings WHERE name IN (${names}) FORMAT JSONEachRow`,
    );
    const settings = Object.fromEntries(
      rows.trim().split("\n").map((line) => JSON.parse(line)).map((row) => [row.name, row.value]),
    );
    assert.deepEqual(settings, CLICKHOUSE_PROFILE_SETTINGS);

    const anonymous = await fetch(`http://127.0.0.1:${port}/`, {
      method: "POST",
      headers: { connection: "close" },
      body: "SELECT 1",
    });
    await anonymous.body?.cancel();
    assert.notEqual(
      anonymous.status,
      200,
      "there is no `default` user to get in without a password",
    );

    const stoppedAt = performance.now();
    assert.equal(await stopClickhouseDir(server.dir), `stopped with SIGTERM (pid ${server.pid})`);
    assert.ok(performance.now() - stoppedAt < 5_000, "no idle connection holds up the shutdown");
    assert.equal((await clickhouseDirStatus(server.dir)).running, false);
    assert.equal(await stopClickhouseDir(server.dir), "not running");
  } finally {
    if (dir !== undefined) {
      await stopClickhouseDir(dir);
      await removePath(dir);
    }
    await removePath(stateDir);
  }
});
