import assert from "node:assert/strict";
import { sqlState, warehouse } from "./support.ts";

const AS_ANALYST = "SELECT row FROM pipeline.as_analyst($1) AS row";

Deno.test("pipeline.as_analyst runs a query as velib_analyst and returns each row as JSON", async () => {
  await using wh = await warehouse();
  const rows = await wh.query(AS_ANALYST, ["SELECT current_user AS who, 1.50::numeric AS n"]);
  assert.deepEqual(rows, [{ row: { who: "velib_analyst", n: 1.5 } }]);
  const [after] = await wh.query<{ who: string }>("SELECT current_user AS who");
  assert.notEqual(after.who, "velib_analyst");
});

Deno.test("pipeline.as_analyst refuses to write, even to a table the analyst may read", async () => {
  await using wh = await warehouse();
  const [{ n: before }] = await wh.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM pipeline.dead_letters",
  );
  for (
    const write of [
      "SELECT query_to_xml('DELETE FROM pipeline.dead_letters', false, false, '') AS x",
      // Back to the caller's own role first: the transaction is still read-only.
      "SELECT set_config('role', 'none', true) AS r, " +
      "query_to_xml('DELETE FROM pipeline.dead_letters', false, false, '') AS x",
    ]
  ) {
    await assert.rejects(
      wh.query(AS_ANALYST, [write]),
      (e) => ["42501", "25006", "0A000"].includes(sqlState(e)!),
      write,
    );
  }
  const [{ n: after }] = await wh.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM pipeline.dead_letters",
  );
  assert.equal(after, before);
});

Deno.test("pipeline.as_analyst takes a query whose last line is a comment", async () => {
  await using wh = await warehouse();
  const rows = await wh.query(AS_ANALYST, ["SELECT 1 AS one -- the end"]);
  assert.deepEqual(rows, [{ row: { one: 1 } }]);
});
