/**
 * Jars from Maven Central into ~/.cache/velib-pipeline, as the Kafka broker and Kafka Connect
 * take them: Maven run offline first (what `~/.m2` holds already costs no network), then
 * online; a download assembled in a staging dir and renamed into place, so that an interrupted
 * one is never mistaken for a complete cache.
 *
 * @module
 */
import { join } from "node:path";
import { ServiceError } from "./errors.ts";
import { lastLines, pathExists, removePath, runCommand } from "./proc.ts";

const JAVA_HINT = "install Java 17+ and Maven: apt-get install -y openjdk-17-jre-headless maven";

/** One Maven run: its pom, an optional settings file, the goal and what it resolves. */
export interface MavenRun {
  /** The pom.xml to run. */
  pom: string;
  /** A global settings.xml (`-gs`), e.g. a mirror to Maven Central; `~/.m2`'s still applies. */
  settings?: string;
  /** The goal and its properties, e.g. `["dependency:copy-dependencies", "-DoutputDirectory=…"]`. */
  goal: string[];
  /** What it resolves, for the error. */
  what: string;
  signal?: AbortSignal;
}

/**
 * Runs Maven offline, then online if that failed; throws with the output's tail and a hint
 * when both fail.
 *
 * @example
 * ```ts ignore
 * await runMaven({ pom, goal: ["dependency:copy-dependencies", `-DoutputDirectory=${out}`], what: "the jars" });
 * ```
 */
export async function runMaven(run: MavenRun): Promise<void> {
  const settings = run.settings === undefined ? [] : ["-gs", run.settings];
  const args = ["-q", "-B", "-Dstyle.color=never", ...settings, "-f", run.pom, ...run.goal];
  const options = { signal: run.signal, installHint: JAVA_HINT };
  if ((await runCommand("mvn", ["-o", ...args], options)).code === 0) return;
  const online = await runCommand("mvn", args, options);
  if (online.code !== 0) {
    throw new ServiceError(
      `Maven could not resolve ${run.what} (mvn exit ${online.code})`,
      "check access to Maven Central (https://repo.maven.apache.org); proxies go in " +
        "~/.m2/settings.xml. Then run the command again.",
      undefined,
      lastLines(online.stdout + online.stderr, 20),
    );
  }
}

/**
 * Renames the staged `from` to `to`. A dir at `to` without `marker` (a file every complete one
 * has) is debris and is replaced; if a concurrent run got there first, its complete dir is just
 * as good.
 *
 * @example
 * ```ts ignore
 * await moveIntoPlace(staging, libsDir, "kafka_2.13-3.9.1.jar");
 * ```
 */
export async function moveIntoPlace(from: string, to: string, marker: string): Promise<void> {
  if ((await pathExists(to)) && !(await pathExists(join(to, marker)))) await removePath(to);
  try {
    await Deno.rename(from, to);
  } catch (err) {
    if (!(await pathExists(join(to, marker)))) throw err;
  }
}

/**
 * Removes the staging dirs named `prefix…` in `cacheDir` older than an hour: left by runs
 * killed mid-download.
 *
 * @example
 * ```ts ignore
 * await removeStaleDownloads(cacheDir, ".libs-partial-");
 * ```
 */
export async function removeStaleDownloads(cacheDir: string, prefix: string): Promise<void> {
  for await (const entry of Deno.readDir(cacheDir)) {
    if (!entry.name.startsWith(prefix)) continue;
    const path = join(cacheDir, entry.name);
    const { mtime } = await Deno.stat(path);
    if (mtime && Date.now() - mtime.getTime() > 3_600_000) await removePath(path);
  }
}
