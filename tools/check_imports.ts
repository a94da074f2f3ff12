/**
 * The boundaries between the framework, the plugins and the messages, checked on every import
 * (static, `import type`, `export … from`, and dynamic `import("…")` of a literal), as
 * `deno info --json` resolves them with the project's import map:
 *
 * - `core/` imports only `core/` and packages, and no driver package.
 * - `plugins/<name>/` imports its own folder, `mod.ts` (the public API), `contracts/` and
 *   packages; its tests (`*_test.ts`, `testing.ts`, `test_support.ts`) also `testing.ts` (the
 *   test kit) and `tests/support/` (the shared fixtures). Never another plugin, `core/`, `cli/`
 *   or `tools/`.
 * - `contracts/` imports only `contracts/` and `zod`; its tests also `node:` modules.
 *
 *   deno run -A tools/check_imports.ts [root]
 *
 * prints each violation as `file:line: "specifier" rule` and exits 1 if there is one.
 *
 * @module
 */
import { join, relative, resolve, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/** Packages that talk to one system: they belong in the plugin for that system. */
export const DRIVERS: readonly string[] = [
  "pg",
  "pg-copy-streams",
  "kafkajs",
  "@electric-sql/pglite",
  "@platformatic/kafka",
  "@clickhouse/client",
];

/** The folders whose imports are checked. */
const CHECKED = ["core", "plugins", "contracts"];

const SOURCE_FILE = /\.(ts|tsx|mts|js|mjs|jsx)$/;
const TEST_FILE = /(_test\.ts|^testing\.ts|^test_support\.ts)$/;

/** What an import points at. */
export type Target =
  | { kind: "file"; path: string }
  | { kind: "package"; name: string };

/** One import that crosses a boundary. */
export interface Violation {
  /** The importing file, relative to the root, with `/`. */
  file: string;
  /** The line of the import, from 1. */
  line: number;
  /** The specifier as written. */
  specifier: string;
  /** The rule it breaks. */
  rule: string;
}

/** A rule: which files it governs, and what is wrong with one of them importing a target. */
interface Rule {
  governs(file: string): boolean;
  /** Why `file` may not import `target`; undefined when it may. */
  refuses(file: string, target: Target): string | undefined;
}

const isTest = (file: string) => TEST_FILE.test(file.split("/").at(-1)!);
const under = (target: Target, folder: string) =>
  target.kind === "file" && target.path.startsWith(`${folder}/`);
const pluginOf = (file: string) => file.split("/").slice(0, 2).join("/");
const named = (target: Target) => target.kind === "file" ? target.path : target.name;

const RULES: Rule[] = [
  {
    governs: (file) => file.startsWith("core/"),
    refuses: (_file, target) =>
      target.kind === "package"
        ? DRIVERS.includes(target.name)
          ? `core/ imports no driver package (${target.name}): a plugin does`
          : undefined
        : under(target, "core")
        ? undefined
        : `core/ imports only core/ and packages, not ${target.path}`,
  },
  {
    governs: (file) => file.startsWith("plugins/"),
    refuses: (file, target) => {
      if (target.kind === "package" || under(target, pluginOf(file))) return undefined;
      if (target.path === "mod.ts" || under(target, "contracts")) return undefined;
      const testKit = target.path === "testing.ts" || under(target, "tests/support");
      if (testKit) {
        return isTest(file) ? undefined : `only a plugin's tests import ${target.path}`;
      }
      if (under(target, "plugins")) {
        return `a plugin imports no other plugin (${target.path}); a message it shares goes ` +
          "in contracts/";
      }
      if (under(target, "core")) {
        return `a plugin imports the framework from ../../mod.ts, not ${target.path}` +
          (isTest(file) ? " (test helpers: ../../testing.ts)" : "");
      }
      return "a plugin imports only its folder, ../../mod.ts, ../../contracts/ and packages " +
        `(its tests also ../../testing.ts and ../../tests/support/), not ${target.path}`;
    },
  },
  {
    governs: (file) => file.startsWith("contracts/"),
    refuses: (file, target) => {
      const allowed = target.kind === "package"
        ? target.name === "zod" || (isTest(file) && target.name.startsWith("node:"))
        : under(target, "contracts");
      return allowed
        ? undefined
        : `contracts/ import only contracts/ and zod${
          isTest(file) ? " (their tests also node: modules)" : ""
        }, not ${named(target)}`;
    },
  },
];

/**
 * The package an import names: `npm:@scope/name@1/sub` → `@scope/name`, `pg/lib` → `pg`,
 * `node:fs/promises` → `node:fs`; undefined for a path or a file URL.
 *
 * @example
 * ```ts
 * import { packageOf } from "./check_imports.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(packageOf("npm:@electric-sql/pglite@0.5.16"), "@electric-sql/pglite");
 * assert.equal(packageOf("pg"), "pg");
 * assert.equal(packageOf("node:fs/promises"), "node:fs");
 * assert.equal(packageOf("./mod.ts"), undefined);
 * ```
 */
export function packageOf(specifier: string): string | undefined {
  if (/^(\.{0,2}\/|file:)/.test(specifier)) return undefined;
  if (/^https?:/.test(specifier)) return specifier;
  const node = /^node:([^/]+)/.exec(specifier);
  if (node) return `node:${node[1]}`;
  const bare = specifier.replace(/^(npm|jsr):\/?/, "");
  const parts = bare.split("/");
  const name = bare.startsWith("@") ? `${parts[0]}/${parts[1] ?? ""}` : parts[0];
  // A version is after the name's last `@` (the first one of a scoped name is the scope's).
  const at = name.lastIndexOf("@");
  return (at > 0 ? name.slice(0, at) : name).replace(/^@types\//, "");
}

/** The `.ts` and `.js` files of the checked folders, relative to `root`, with `/`. */
async function sourceFiles(root: string): Promise<string[]> {
  const files: string[] = [];
  const walk = async (folder: string): Promise<void> => {
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(join(root, folder)));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return;
      throw error;
    }
    for (const entry of entries) {
      const path = `${folder}/${entry.name}`;
      if (entry.isDirectory) await walk(path);
      else if (entry.isFile && SOURCE_FILE.test(entry.name)) files.push(path);
    }
  };
  for (const folder of CHECKED) await walk(folder);
  return files.sort();
}

interface Resolved {
  specifier?: string;
  error?: string;
  span?: { start: { line: number } };
}

interface Info {
  modules: Array<{
    specifier: string;
    error?: string;
    dependencies?: Array<{ specifier: string; code?: Resolved; type?: Resolved }>;
  }>;
}

/** Runs `deno info --json` on a module importing every file, with the root's import map. */
async function graphOf(root: string, files: string[]): Promise<Info> {
  const entry = await Deno.makeTempFile({ prefix: "check_imports_", suffix: ".ts" });
  try {
    await Deno.writeTextFile(
      entry,
      files.map((file) => `import "${pathToFileURL(join(root, file)).href}";\n`).join(""),
    );
    let config = ["--no-config"];
    try {
      await Deno.stat(join(root, "deno.json"));
      config = ["--config", join(root, "deno.json")];
    } catch {
      // A tree without a config resolves bare specifiers to nothing: still named, still checked.
    }
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", ...config, entry],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!output.success) {
      throw new Error(
        `deno info failed: ${new TextDecoder().decode(output.stderr).trim()}`,
      );
    }
    return JSON.parse(new TextDecoder().decode(output.stdout));
  } finally {
    await Deno.remove(entry);
  }
}

/**
 * Every import of `core/`, `plugins/` and `contracts/` under `root` that breaks a rule.
 *
 * @example
 * ```ts ignore
 * import { checkImports } from "./check_imports.ts";
 *
 * for (const v of await checkImports(".")) console.log(`${v.file}:${v.line}: ${v.rule}`);
 * ```
 */
export async function checkImports(root: string): Promise<Violation[]> {
  const base = resolve(root);
  const files = await sourceFiles(base);
  if (files.length === 0) return [];
  const graph = await graphOf(base, files);
  const violations: Violation[] = [];
  for (const module of graph.modules) {
    if (!module.specifier.startsWith("file:")) continue;
    const file = relative(base, fileURLToPath(module.specifier)).split(sep).join("/");
    const rules = RULES.filter((rule) => rule.governs(file));
    if (rules.length === 0) continue;
    if (module.error !== undefined) {
      violations.push({ file, line: 1, specifier: "", rule: `could not be read: ${module.error}` });
    }
    for (const dependency of module.dependencies ?? []) {
      const target = targetOf(base, dependency);
      const lines = [dependency.code, dependency.type]
        .flatMap((use) => use?.span === undefined ? [] : [use.span.start.line + 1]);
      for (const rule of rules) {
        const refused = rule.refuses(file, target);
        if (refused === undefined) continue;
        violations.push({
          file,
          line: Math.min(...lines, Number.MAX_SAFE_INTEGER),
          specifier: dependency.specifier,
          rule: refused,
        });
      }
    }
  }
  return violations.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line);
}

function targetOf(
  base: string,
  dependency: { specifier: string; code?: Resolved; type?: Resolved },
): Target {
  const resolved = dependency.code?.specifier ?? dependency.type?.specifier;
  if (resolved?.startsWith("file:")) {
    return { kind: "file", path: relative(base, fileURLToPath(resolved)).split(sep).join("/") };
  }
  const name = packageOf(resolved ?? dependency.specifier) ?? packageOf(dependency.specifier);
  // A relative path that did not resolve still names a file.
  if (name === undefined) return { kind: "file", path: dependency.specifier };
  return { kind: "package", name };
}

if (import.meta.main) {
  const root = Deno.args[0] ?? fileURLToPath(new URL("..", import.meta.url));
  const violations = await checkImports(root);
  for (const v of violations) {
    console.error(`${v.file}:${v.line}: ${v.specifier ? `"${v.specifier}" ` : ""}${v.rule}`);
  }
  if (violations.length > 0) {
    console.error(
      `${violations.length} import(s) cross a boundary. Hint: import framework things from ` +
        "mod.ts (export what is missing there), messages from contracts/, and test helpers " +
        "from testing.ts or tests/support/.",
    );
    Deno.exit(1);
  }
}
