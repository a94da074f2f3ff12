/**
 * A PostgreSQL server of a drill's own, which the drill can stop and start again on the same
 * port with the same data: the warehouse outage the shared test server must never suffer.
 *
 * @module
 */
import { restartPostgresDir, startPostgres, stopPostgresDir } from "../../tools/lib/postgres.ts";
import { removePath, reserveFreePorts } from "../../tools/lib/proc.ts";
import { readMarker } from "../../tools/lib/state.ts";

/** A running server of the drill's own; `await using` it to stop it and delete its data. */
export interface OwnPostgres extends AsyncDisposable {
  /** `postgres://…@127.0.0.1:<port>/velib`, the same across restarts. */
  readonly url: string;
  /** Stops the server (`pg_ctl stop -m fast`: sessions are ended, commits are kept). */
  stop(): Promise<void>;
  /** Starts it again on the same port, with the data it had when it stopped. */
  start(): Promise<void>;
}

/**
 * Starts a fresh server (initdb, about 2 s) on a free loopback port, database `velib`. Its
 * service dir is marked as owned by this process, so that a run that dies before disposing of
 * it leaves an orphan that `deno task services down` or the next `deno task test` reaps.
 *
 * @example
 * ```ts ignore
 * import { startOwnPostgres } from "./postgres_server.ts";
 *
 * await using postgres = await startOwnPostgres();
 * await postgres.stop();
 * await postgres.start();
 * ```
 */
export async function startOwnPostgres(): Promise<OwnPostgres> {
  const [port] = reserveFreePorts(1);
  // The owner is this test process alone: `services down` of the shared services never sees it.
  const stateDir = await Deno.makeTempDir({ prefix: "velib-drill-postgres-" });
  let dir: string | undefined;
  let server;
  try {
    server = await startPostgres({
      owner: { stateDir, ephemeral: true },
      port,
      log: () => {},
      onDir: (created) => Promise.resolve(void (dir = created)),
    });
  } catch (error) {
    if (dir !== undefined) await stopAndRemove(dir);
    await removePath(stateDir);
    throw error;
  }
  const serviceDir = server.dir;
  const marker = await readMarker(serviceDir);
  if (marker === undefined) throw new Error(`${serviceDir} has no service marker.`);
  return {
    url: server.url,
    async stop() {
      await stopPostgresDir(serviceDir, marker);
    },
    async start() {
      await restartPostgresDir(serviceDir, marker, port);
    },
    async [Symbol.asyncDispose]() {
      await stopAndRemove(serviceDir);
      await removePath(stateDir);
    },
  };
}

async function stopAndRemove(dir: string): Promise<void> {
  const marker = await readMarker(dir);
  if (marker) await stopPostgresDir(dir, marker);
  await removePath(dir);
}
