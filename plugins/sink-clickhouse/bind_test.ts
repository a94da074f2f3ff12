import assert from "node:assert/strict";
import { BadRequest } from "../../mod.ts";
import { bind } from "./bind.ts";
import { scratch } from "./testing.ts";

/** Text that tries to end a literal, run as SQL, or be read as something else. */
const HOSTILE = [
  "it's",
  "'; DROP DATABASE system; --",
  "back\\slash\\'quote\\",
  "\\x27 \\0 \\n",
  "NUL \u0000 and \u0001\u001f\u007f controls\n\r\t",
  "$1 {name} $$ ? :x",
  "🚲 Vélo 👨‍👩‍👧‍👦 محطة \u202Eevil",
  "/* not a comment */ -- nor this",
];

Deno.test("every hostile string comes back from the server exactly as bound", async () => {
  await using db = await scratch();
  for (const text of HOSTILE) {
    const [row] = await db.query<{ v: string }>("SELECT $1 AS v", [text]);
    assert.equal(row.v, text);
  }
});

Deno.test("numbers, booleans, null, dates and lists come back as bound", async () => {
  await using db = await scratch();
  const [row] = await db.query<Record<string, unknown>>(
    "SELECT $1 AS n, $2 AS neg, $3 AS yes, $4 AS none, toUnixTimestamp($5) AS at, $6 AS list",
    [42, -7, true, null, new Date("2025-10-18T01:00:00Z"), ["a", "b"]],
  );
  assert.deepEqual(row, {
    n: 42,
    neg: -7,
    yes: 1,
    none: null,
    at: 1760749200,
    list: ["a", "b"],
  });
});

Deno.test("a placeholder inside a string, a quoted name or a comment is left as text", () => {
  assert.equal(
    bind("SELECT '$1', \"$1\" -- $1\n, $1", ["x"]),
    "SELECT '$1', \"$1\" -- $1\n, 'x'",
  );
});

Deno.test("a missing or unused value, or one it cannot write exactly, is refused with a hint", () => {
  assert.throws(() => bind("SELECT $1, $2", ["a"]), BadRequest);
  assert.throws(() => bind("SELECT $1", ["a", "b"]), /no placeholder for \$2/);
  assert.throws(() => bind("SELECT $1", [Number.NaN]), /finite numbers/);
  assert.throws(() => bind("SELECT $1", [new Date("2025-10-18T01:00:00.5Z")]), /milliseconds/);
  assert.throws(() => bind("SELECT $1", ["half \uD83D"]), /lone surrogate/);
});
