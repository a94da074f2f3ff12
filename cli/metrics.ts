/**
 * Where a run's metrics go: served over HTTP by a `stream` run (`/metrics`, `/healthz`,
 * `/readyz`), or written to a file for node_exporter's textfile collector after a `batch` run.
 *
 * @module
 */
import { dirname, join } from "node:path";
import { EXPOSITION_CONTENT_TYPE, type RunMetrics } from "../core/metrics.ts";
import type { BuildInfo } from "../core/metrics.ts";
import denoJson from "../deno.json" with { type: "json" };
import { BadRequest } from "../core/errors.ts";

/** Where a `--metrics` server listens. */
export interface ListenAddress {
  /** The interface, 127.0.0.1 unless given. */
  hostname: string;
  /** The TCP port. */
  port: number;
}

/** The host a `--metrics` address without one binds: the loopback interface, not every one. */
const DEFAULT_HOST = "127.0.0.1";

/**
 * Parses `host:port`, `[ipv6]:port` or `:port` (on 127.0.0.1), or throws a usage error.
 *
 * @example
 * ```ts
 * import { parseListen } from "./metrics.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(parseListen(":9464", "--metrics"), { hostname: "127.0.0.1", port: 9464 });
 * assert.deepEqual(parseListen("[::1]:80", "--metrics"), { hostname: "::1", port: 80 });
 * assert.throws(() => parseListen("9464", "--metrics"), /--metrics must be host:port/);
 * ```
 */
export function parseListen(text: string, where: string): ListenAddress {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:[\]]*)):(\d{1,5})$/.exec(text);
  const port = Number(match?.[3]);
  if (match === null || port < 1 || port > 65_535) {
    throw new BadRequest(`${where} must be host:port with a port from 1 to 65535, got "${text}".`, {
      hint: "For example 127.0.0.1:9464, or :9464 for the same on the loopback interface.",
    });
  }
  return { hostname: match[1] ?? (match[2] || DEFAULT_HOST), port };
}

/**
 * Serves `/metrics` (Prometheus text format), `/healthz` (200 while the process answers) and
 * `/readyz` (200 when {@linkcode RunMetrics.readiness} says ready, 503 otherwise, with the
 * reason as the body). Shut it down with `shutdown()`.
 *
 * @example
 * ```ts
 * import { serveMetrics } from "./metrics.ts";
 * import { RunMetrics } from "../core/metrics.ts";
 * import assert from "node:assert/strict";
 *
 * const metrics = new RunMetrics({ version: "0.1.0", configDigest: "ab12" }, ["load"]);
 * const server = serveMetrics(metrics, { hostname: "127.0.0.1", port: 0 });
 * const response = await fetch(`http://127.0.0.1:${server.addr.port}/readyz`);
 * assert.equal(response.status, 503);
 * await response.body?.cancel();
 * await server.shutdown();
 * ```
 */
export function serveMetrics(metrics: RunMetrics, address: ListenAddress): Deno.HttpServer<
  Deno.NetAddr
> {
  return Deno.serve({ ...address, onListen: () => {} }, (request) => {
    const { pathname } = new URL(request.url);
    if (request.method !== "GET" && request.method !== "HEAD") {
      return new Response("Only GET and HEAD.\n", { status: 405, headers: { allow: "GET, HEAD" } });
    }
    if (pathname === "/metrics") {
      return new Response(metrics.registry.expose(), {
        headers: { "content-type": EXPOSITION_CONTENT_TYPE },
      });
    }
    if (pathname === "/healthz") return new Response("ok\n");
    if (pathname === "/readyz") {
      const { ready, reason } = metrics.readiness();
      return new Response(`${reason}\n`, { status: ready ? 200 : 503 });
    }
    return new Response("Not found: try /metrics, /healthz or /readyz.\n", { status: 404 });
  });
}

/**
 * Writes `text` to `path` atomically, as node_exporter's textfile collector needs: to a
 * temporary file in the same directory (whose name it ignores), then renamed over `path`.
 *
 * @example
 * ```ts
 * import { writeAtomically } from "./metrics.ts";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * await writeAtomically(`${dir}/pipeline.prom`, "up 1\n");
 * assert.equal(await Deno.readTextFile(`${dir}/pipeline.prom`), "up 1\n");
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeAtomically(path: string, text: string): Promise<void> {
  const temporary = join(dirname(path), `.${crypto.randomUUID()}.tmp`);
  try {
    await Deno.writeTextFile(temporary, text);
    await Deno.rename(temporary, path);
  } catch (error) {
    await Deno.remove(temporary).catch(() => {});
    throw error;
  }
}

/**
 * The version in `deno.json` and the first 16 hex digits of the SHA-256 of the config file:
 * the file changes when the deployment does, and a digest reveals nothing it holds.
 *
 * @example
 * ```ts ignore
 * const info = await buildInfo("pipeline.config.ts"); // { version: "0.1.0", configDigest: "…" }
 * ```
 */
export async function buildInfo(configPath: string): Promise<BuildInfo> {
  const bytes = await Deno.readFile(configPath);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  const hex = [...digest.slice(0, 8)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
  return { version: denoJson.version, configDigest: hex };
}
