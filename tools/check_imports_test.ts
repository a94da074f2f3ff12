import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { checkImports, type Violation } from "./check_imports.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SCRIPT = fileURLToPath(new URL("./check_imports.ts", import.meta.url));

/** A synthetic project tree in a temporary folder: its files by path. */
async function tree(files: Record<string, string>) {
  const root = await Deno.makeTempDir({ prefix: "check_imports_" });
  for (const [path, text] of Object.entries(files)) {
    await Deno.mkdir(join(root, dirname(path)), { recursive: true });
    await Deno.writeTextFile(join(root, path), text);
  }
  return {
    root,
    [Symbol.asyncDispose]: () => Deno.remove(root, { recursive: true }),
  };
}

/** A tree keeping to every rule, for a test to break one at a time. */
const CLEAN: Record<string, string> = {
  "mod.ts": 'export * from "./core/types.ts";\n',
  "testing.ts": "export const kit = 1;\n",
  "core/types.ts": 'import type { z } from "zod";\nexport type Schema = z.ZodType;\n',
  "contracts/message.ts": 'import { z } from "zod";\nexport const message = z.string();\n',
  "plugins/a/mod.ts": [
    'import type { Schema } from "../../mod.ts";',
    'import { message } from "../../contracts/message.ts";',
    'import pg from "pg";',
    "export const a: [Schema, unknown, unknown] = [message, pg, 1];",
    "",
  ].join("\n"),
  "plugins/a/a_test.ts": [
    'import { kit } from "../../testing.ts";',
    'import { fixture } from "../../tests/support/fixtures.ts";',
    'import { a } from "./mod.ts";',
    "console.log(kit, fixture, a);",
    "",
  ].join("\n"),
  "plugins/b/mod.ts": "export const b = 1;\n",
  "tests/support/fixtures.ts": "export const fixture = 1;\n",
};

const summary = (violations: Violation[]) =>
  violations.map((v) => `${v.file}:${v.line} ${v.specifier}`);

Deno.test("the repository's imports keep to the boundaries", async () => {
  const violations = await checkImports(ROOT);
  assert.deepEqual(violations.map((v) => `${v.file}:${v.line}: ${v.rule}`), []);
});

Deno.test("a tree keeping to the rules passes", async () => {
  await using clean = await tree(CLEAN);
  assert.deepEqual(summary(await checkImports(clean.root)), []);
});

Deno.test("each import crossing a boundary is named with its file, line and rule, type-only and dynamic ones included", async () => {
  await using planted = await tree({
    ...CLEAN,
    "core/bad.ts": [
      'import type { Pool } from "pg";',
      "export type P = Pool;",
      'export const later = () => import("../plugins/a/mod.ts");',
      "",
    ].join("\n"),
    "plugins/b/mod.ts": [
      'import type { Schema } from "../../core/types.ts";',
      'import { a } from "../a/mod.ts";',
      'import { kit } from "../../testing.ts";',
      "export const b: [Schema, unknown, unknown] = [a, kit, 1];",
      "",
    ].join("\n"),
    "contracts/message.ts": [
      'import { z } from "zod";',
      'import type { Schema } from "../core/types.ts";',
      'import kafka from "kafkajs";',
      "export const message: Schema = z.string();",
      "export const client = kafka;",
      "",
    ].join("\n"),
  });
  const violations = await checkImports(planted.root);
  assert.deepEqual(summary(violations), [
    "contracts/message.ts:2 ../core/types.ts",
    "contracts/message.ts:3 kafkajs",
    "core/bad.ts:1 pg",
    "core/bad.ts:3 ../plugins/a/mod.ts",
    "plugins/b/mod.ts:1 ../../core/types.ts",
    "plugins/b/mod.ts:2 ../a/mod.ts",
    "plugins/b/mod.ts:3 ../../testing.ts",
  ]);
  const rule = (file: string, line: number) =>
    violations.find((v) => v.file === file && v.line === line)?.rule;
  assert.match(rule("core/bad.ts", 1)!, /core\/ imports no driver package \(pg\)/);
  assert.match(rule("core/bad.ts", 3)!, /core\/ imports only core\/ and packages/);
  assert.match(rule("plugins/b/mod.ts", 1)!, /framework from \.\.\/\.\.\/mod\.ts/);
  assert.match(rule("plugins/b/mod.ts", 2)!, /a plugin imports no other plugin \(plugins\/a/);
  assert.match(rule("plugins/b/mod.ts", 3)!, /only a plugin's tests import testing\.ts/);
  assert.match(rule("contracts/message.ts", 3)!, /contracts\/ import only contracts\/ and zod/);
});

Deno.test("the script prints each violation and exits 1", async () => {
  await using planted = await tree({
    ...CLEAN,
    "plugins/b/mod.ts": 'export { a } from "../a/mod.ts";\n',
  });
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", SCRIPT, planted.root],
  }).output();
  const stderr = new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 1, stderr);
  assert.match(stderr, /^plugins\/b\/mod\.ts:1: "\.\.\/a\/mod\.ts" a plugin imports no other/m);
  assert.match(stderr, /1 import\(s\) cross a boundary/);
});
