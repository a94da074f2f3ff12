/**
 * A ClickHouse server of a drill's own, which the drill can stop and start again on the same
 * port with the same data: the warehouse outage the shared test server must never suffer.
 *
 * @module
 */
import {
  clickhouseDirStatus,
  restartClickhouseDir,
  startClickhouse,
  stopClickhouseDir,
} from "../../tools/lib/clickhouse.ts";
import { isProcessAlive, removePath, reserveFreePorts, sleep } from "../../tools/lib/proc.ts";

/** A running server of the drill's own; `await using` it to stop it and delete its data. */
export interface OwnClickhouse extends AsyncDisposable {
  /** `http://pipeline:…@127.0.0.1:<port>`, the same across restarts. */
  readonly url: string;
  /**
   * Kills the server (SIGKILL), at once: requests in flight fail, and what it acknowledged stays
   * (its parts are written before it answers).
   */
  kill(): Promise<void>;
  /** Starts it again on the same port, with the data it had when it stopped. */
  start(): Promise<void>;
}

/**
 * Starts a fresh server (well under a second) on a free loopback port. Its service dir is marked
 * as owned by this process, so that a run that dies before disposing of it leaves an orphan that
 * the next `deno task test` reaps.
 *
 * @example
 * ```ts ignore
 * await using clickhouse = await startOwnClickhouse();
 * await clickhouse.kill();
 * await clickhouse.start();
 * ```
 */
export async function startOwnClickhouse(): Promise<OwnClickhouse> {
  const [port] = reserveFreePorts(1);
  const stateDir = await Deno.makeTempDir({ prefix: "velib-drill-clickhouse-" });
  let dir: string | undefined;
  let server;
  try {
    server = await startClickhouse({
      owner: { stateDir, ephemeral: true },
      port,
      log: () => {},
      onDir: (created) => Promise.resolve(void (dir = created)),
    });
  } catch (error) {
    if (dir !== undefined) await stopClickhouseDir(dir).then(() => removePath(dir!));
    await removePath(stateDir);
    throw error;
  }
  const serviceDir = server.dir;
  return {
    url: server.url,
    async kill() {
      const { pid } = await clickhouseDirStatus(serviceDir);
      if (pid === undefined) {
        throw new Error(`The ClickHouse server of ${serviceDir} is not running.`);
      }
      Deno.kill(pid, "SIGKILL");
      while (isProcessAlive(pid)) await sleep(10);
    },
    start: () => restartClickhouseDir(serviceDir, port),
    async [Symbol.asyncDispose]() {
      await stopClickhouseDir(serviceDir);
      await removePath(serviceDir);
      await removePath(stateDir);
    },
  };
}
