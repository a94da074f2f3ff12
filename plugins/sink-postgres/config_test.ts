import assert from "node:assert/strict";
import { postgresSink } from "./plugin.ts";

const writes = () => [
  { table: "raw.station_snapshots", mode: "insert" as const, key: ["station_code"] },
];

Deno.test("postgres sink config example is valid", () => {
  assert.deepEqual(postgresSink(postgresSink.spec.example).validate({}), []);
});

Deno.test("postgres sink config refuses a URL that is not postgres, without echoing it", () => {
  const issues = postgresSink({ url: "mysql://app:hunter2@db/velib", writes: writes() })
    .validate({});
  assert.deepEqual(issues.map((issue) => issue.path), ["url"]);
  assert.doesNotMatch(JSON.stringify(issues), /hunter2/);
});

Deno.test("postgres sink config takes url from DATABASE_URL", () => {
  const configured = postgresSink({ url: "not a url", writes: writes() });
  assert.deepEqual(configured.validate({ DATABASE_URL: "postgres://app:pw@db:5432/velib" }), []);
  assert.equal(configured.validate({ DATABASE_URL: "nope" })[0].path, "url (from DATABASE_URL)");
});

Deno.test("postgres sink config refuses table and column names that are not plain identifiers", () => {
  const issues = postgresSink({
    url: "postgres://db/velib",
    writes: [
      { table: 'raw.t"; DROP TABLE x; --', mode: "insert", key: ["id"] },
      { table: "t", mode: "insert", key: ["Id"] },
      { table: "raw.t", mode: "insert", key: [] },
    ],
  }).validate({});
  assert.deepEqual(issues.map((issue) => issue.path), [
    "writes[0].table",
    "writes[1].table",
    "writes[1].key[0]",
    "writes[2].key",
  ]);
});

Deno.test("postgres sink config allows newerThan for upsert only", () => {
  const configured = (mode: "insert" | "upsert") =>
    postgresSink({
      url: "postgres://db/velib",
      writes: [{ table: "mart.station_latest", mode, key: ["station_code"], newerThan: "at" }],
    });
  assert.deepEqual(configured("upsert").validate({}), []);
  assert.deepEqual(configured("insert").validate({}).map((issue) => issue.path), [
    "writes[0].newerThan",
  ]);
});
