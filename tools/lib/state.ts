/**
 * Bookkeeping for services started by tools/services.ts.
 *
 * Two layers, so that `down` can clean up after a crash at any point of `up`:
 * - every service gets its own temp dir under /tmp whose FIRST file is a marker
 *   (velib-service.json) naming the state dir that owns it: `down` scans for these;
 * - the state dir (.services/ for `up`, a temp dir for tools/test.ts) holds state.json with
 *   ports, versions and dirs, rewritten atomically after each step, for `status` and `env`.
 */

import { join } from "node:path";
import { isProcessAlive, pathExists, removePath, writeFileAtomic } from "./proc.ts";

/** The connection settings the pipeline and its tests read from the environment. */
export interface ServiceEnv {
  /** Comma-separated host:port list, e.g. `127.0.0.1:39092`. */
  KAFKA_BROKERS: string;
  /** e.g. `postgres://pipeline:<password>@127.0.0.1:39432/velib`. */
  DATABASE_URL: string;
  /** ClickHouse's HTTP interface, e.g. `http://pipeline:<password>@127.0.0.1:38123`. */
  CLICKHOUSE_URL: string;
}

/** The services we can run. */
export type ServiceKind = "postgres" | "kafka" | "clickhouse";
const SERVICE_KINDS: readonly ServiceKind[] = ["postgres", "kafka", "clickhouse"];

/** Identifies who owns a service dir. */
export interface ServiceOwner {
  /** Absolute path of the owning state dir. */
  stateDir: string;
  /**
   * True when the services live only as long as the owning process (tools/test.ts); such
   * dirs are orphans once that process is gone and may be reaped by a later run.
   */
  ephemeral: boolean;
}

/** Contents of the marker file written into every service dir. */
export interface ServiceMarker {
  kind: ServiceKind;
  owner: string;
  ownerPid: number;
  ephemeral: boolean;
  createdAt: string;
  /** PostgreSQL only: where pg_ctl lives. */
  binDir?: string;
  /** PostgreSQL only: true when the server runs as the `postgres` OS user (we were root). */
  runAsPostgresUser?: boolean;
}

/** A service dir found on disk with its marker. */
export interface ServiceDir {
  dir: string;
  marker: ServiceMarker;
}

/** Where service temp dirs go; fixed (not $TMPDIR) so that `down` knows where to look. */
export const SERVICE_DIR_PARENT = "/tmp";
const DIR_PREFIXES: Record<ServiceKind, string> = {
  postgres: "velib-pg-",
  kafka: "velib-kafka-",
  clickhouse: "velib-clickhouse-",
};
const MARKER_FILE = "velib-service.json";

/** Creates a fresh service dir under /tmp and writes its marker before anything else. */
export async function createServiceDir(
  kind: ServiceKind,
  owner: ServiceOwner,
  extra: Pick<ServiceMarker, "binDir" | "runAsPostgresUser"> = {},
): Promise<string> {
  const dir = await Deno.makeTempDir({ dir: SERVICE_DIR_PARENT, prefix: DIR_PREFIXES[kind] });
  const marker: ServiceMarker = {
    kind,
    owner: owner.stateDir,
    ownerPid: Deno.pid,
    ephemeral: owner.ephemeral,
    createdAt: new Date().toISOString(),
    ...extra,
  };
  await writeFileAtomic(join(dir, MARKER_FILE), JSON.stringify(marker, null, 2) + "\n");
  return dir;
}

/** True for a path of the form `/tmp/velib-pg-*` (etc.): a dir {@link createServiceDir} makes. */
export function isServiceDirPath(path: string): boolean {
  const name = path.slice(SERVICE_DIR_PARENT.length + 1);
  return path.startsWith(`${SERVICE_DIR_PARENT}/`) && !name.includes("/") &&
    Object.values(DIR_PREFIXES).some((prefix) => name.startsWith(prefix));
}

/** Reads a service dir's marker; undefined if it is missing or unreadable. */
export async function readMarker(dir: string): Promise<ServiceMarker | undefined> {
  try {
    const marker = JSON.parse(await Deno.readTextFile(join(dir, MARKER_FILE)));
    return SERVICE_KINDS.includes(marker?.kind) ? marker : undefined;
  } catch {
    return undefined;
  }
}

/** All service dirs under /tmp whose marker satisfies `accept`. */
export async function findServiceDirs(
  accept: (marker: ServiceMarker) => boolean,
): Promise<ServiceDir[]> {
  const found: ServiceDir[] = [];
  for await (const entry of Deno.readDir(SERVICE_DIR_PARENT)) {
    const dir = join(SERVICE_DIR_PARENT, entry.name);
    if (!entry.isDirectory || !isServiceDirPath(dir)) continue;
    const marker = await readMarker(dir);
    if (marker && accept(marker)) found.push({ dir, marker });
  }
  return found;
}

/** Service dirs owned by `stateDir`. */
export function findOwnedServiceDirs(stateDir: string): Promise<ServiceDir[]> {
  return findServiceDirs((marker) => marker.owner === stateDir);
}

/** Service dirs of ephemeral owners (test runs) whose process is gone. */
export function findOrphanedServiceDirs(): Promise<ServiceDir[]> {
  return findServiceDirs((marker) => marker.ephemeral && !isProcessAlive(marker.ownerPid));
}

/** What state.json records about a PostgreSQL server we started. */
export interface PostgresRecord {
  dir: string;
  port?: number;
  logPath?: string;
  version?: string;
}

/** What state.json records about a Kafka broker we started. */
export interface KafkaRecord {
  dir: string;
  port?: number;
  controllerPort?: number;
  pid?: number;
  logPath?: string;
  version?: string;
}

/** What state.json records about a ClickHouse server we started. */
export interface ClickhouseRecord {
  dir: string;
  port?: number;
  pid?: number;
  logPath?: string;
  version?: string;
}

/** Contents of `<stateDir>/state.json`. */
export interface ServicesState {
  version: 1;
  createdAt: string;
  /** Filled in once each service is ready. */
  env: Partial<ServiceEnv>;
  /** Settings that came from the environment: used, not started, never stopped. */
  external: Partial<ServiceEnv>;
  postgres?: PostgresRecord;
  kafka?: KafkaRecord;
  clickhouse?: ClickhouseRecord;
}

/** Path of the state file inside a state dir. */
export function stateFilePath(stateDir: string): string {
  return join(stateDir, "state.json");
}

/** Result of {@link readState}: the state, or why it could not be read. */
export interface StateReadResult {
  state?: ServicesState;
  /** Set when state.json exists but is unreadable (half-written, edited, wrong version). */
  problem?: string;
}

/** Reads state.json; a missing file is not a problem, a damaged one is reported. */
export async function readState(stateDir: string): Promise<StateReadResult> {
  const path = stateFilePath(stateDir);
  if (!(await pathExists(path))) return {};
  try {
    const state = JSON.parse(await Deno.readTextFile(path));
    if (state?.version !== 1) return { problem: `${path} has an unknown format` };
    return { state };
  } catch (err) {
    return { problem: `${path} is unreadable: ${err instanceof Error ? err.message : err}` };
  }
}

/** Deletes state.json (the state dir itself belongs to the caller). */
export function removeState(stateDir: string): Promise<void> {
  return removePath(stateFilePath(stateDir));
}

/**
 * Keeps state.json in step with startup. Updates are serialized (the services start
 * concurrently) and each write is atomic, so the file is never half-written.
 */
export class StateRecorder {
  readonly state: ServicesState;
  #queue: Promise<void> = Promise.resolve();

  constructor(readonly stateDir: string, external: Partial<ServiceEnv>) {
    this.state = { version: 1, createdAt: new Date().toISOString(), env: {}, external };
  }

  /** Applies `change` to the state and queues a write; resolves when it is on disk. */
  update(change: (state: ServicesState) => void): Promise<void> {
    change(this.state);
    const text = JSON.stringify(this.state, null, 2) + "\n";
    // A failed write is reported to its caller but must not block later writes.
    this.#queue = this.#queue.catch(() => {}).then(async () => {
      await Deno.mkdir(this.stateDir, { recursive: true });
      await writeFileAtomic(stateFilePath(this.stateDir), text);
    });
    return this.#queue;
  }
}
