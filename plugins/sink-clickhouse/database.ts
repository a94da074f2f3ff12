/**
 * One ClickHouse server as the plugin talks to it: statements with `$n` placeholders bound on
 * the client (18.16 has no query parameters), rows in and out as JSON, every failure classified.
 *
 * @module
 */
import type { ClickHouseClient } from "@clickhouse/client";
import { fileURLToPath } from "node:url";
import { ConnectionError, type MigrationFile, readMigrations } from "../../mod.ts";
import { bind } from "./bind.ts";
import { classify, openClient, serverOf } from "./client.ts";
import type { ConnectionConfig } from "./config.ts";
import {
  createdDatabases,
  databaseIn,
  type Namespace,
  returnsRows,
  splitStatements,
  tableIn,
} from "./sql.ts";

/** Which set of migrations one belongs to: the plugin's own, or the project's folder. */
export type MigrationScope = "pipeline" | "app";

const OWN_MIGRATIONS = fileURLToPath(new URL("./migrations", import.meta.url));

/**
 * The plugin's migrations, then those of the config's folder: what creates the databases that
 * `databasePrefix` applies to.
 */
export async function migrationsOf(
  config: Pick<ConnectionConfig, "migrations">,
): Promise<MigrationFile<MigrationScope>[]> {
  return [
    ...await readMigrations(OWN_MIGRATIONS, "pipeline"),
    ...config.migrations === undefined ? [] : await readMigrations(config.migrations, "app"),
  ];
}

/** A connected server, and the databases of the warehouse on it. */
export class Database {
  readonly #client: ClickHouseClient;
  readonly #namespace: Namespace;
  /** `host:port`, for messages. */
  readonly server: string;

  /**
   * Opens a client for the config's URL; nothing is sent until the first statement. Names of
   * the databases `migrations` create (and `pipeline`) get the config's `databasePrefix`.
   */
  constructor(
    config: Pick<ConnectionConfig, "url" | "databasePrefix" | "requestTimeoutMs">,
    migrations: readonly MigrationFile[] = [],
  ) {
    this.#client = openClient(config.url, config.requestTimeoutMs);
    this.server = serverOf(config.url);
    this.#namespace = {
      prefix: config.databasePrefix,
      databases: new Set([
        "pipeline",
        ...migrations.flatMap((migration) => createdDatabases(migration.script)),
      ]),
    };
  }

  /** What `database` is called on the server (with the prefix, when it is the warehouse's). */
  databaseName(database: string): string {
    return databaseIn(this.#namespace, database);
  }

  /**
   * Runs one statement with `params` bound to its `$n`: a query resolves with its rows, any other
   * statement with none. `what` names it in an error.
   */
  run<R = Record<string, unknown>>(
    sql: string,
    params: readonly unknown[],
    signal: AbortSignal,
    what = "A statement",
  ): Promise<R[]> {
    return this.#send<R>(bind(sql, params, this.#namespace), signal, what);
  }

  /** Runs each statement of `script` in order, with `{name}` placeholders bound from `scope`. */
  async runScript(
    script: string,
    scope: Readonly<Record<string, unknown>>,
    signal: AbortSignal,
    what: string,
  ): Promise<Record<string, unknown>[]> {
    let rows: Record<string, unknown>[] = [];
    for (const statement of splitStatements(script)) {
      rows = await this.#send(bind(statement, scope, this.#namespace), signal, what);
    }
    return rows;
  }

  /** Sends one bound statement: a query resolves with its rows, any other with none. */
  async #send<R>(query: string, signal: AbortSignal, what: string): Promise<R[]> {
    try {
      if (!returnsRows(query)) {
        await this.#client.command({ query, abort_signal: signal });
        return [];
      }
      const result = await this.#client.query({
        query,
        format: "JSONEachRow",
        abort_signal: signal,
      });
      return await result.json<R>();
    } catch (error) {
      throw this.#failure(error, signal, what);
    }
  }

  /** Inserts `rows` (objects keyed by column) into `table`'s `columns`, as one insert. */
  async insert(
    table: string,
    columns: readonly string[],
    rows: readonly Record<string, unknown>[],
    signal: AbortSignal,
  ): Promise<void> {
    if (rows.length === 0) return;
    try {
      await this.#client.insert({
        table: tableIn(this.#namespace, table),
        columns: [...columns] as [string, ...string[]],
        values: [...rows],
        format: "JSONEachRow",
        abort_signal: signal,
      });
    } catch (error) {
      throw this.#failure(error, signal, `An insert into ${table}`);
    }
  }

  /**
   * What to throw for `error`: a timeout of `signal` is the server not answering in time, a
   * retry may help; any other abort is the caller's, passed on as it is.
   */
  #failure(error: unknown, signal: AbortSignal, what: string): unknown {
    if (!signal.aborted) return classify(error, what, this.server);
    if (signal.reason instanceof DOMException && signal.reason.name === "TimeoutError") {
      return new ConnectionError(`${what} on ClickHouse at ${this.server} timed out.`, {
        hint: "Check that ClickHouse is up and not overloaded; the run retries.",
        cause: error,
      });
    }
    return signal.reason;
  }

  /** Closes the client's connections. */
  close(): Promise<void> {
    return this.#client.close();
  }
}
