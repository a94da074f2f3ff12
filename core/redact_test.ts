import assert from "node:assert/strict";
import { redact } from "./redact.ts";

Deno.test("redact() hides a URL password that contains '@' up to the last '@' before the host", () => {
  assert.equal(redact("postgres://u:p@ss@host:5432/velib"), "postgres://u:***@host:5432/velib");
  assert.equal(
    redact("http://pipeline:s3cret@127.0.0.1:8123"),
    "http://pipeline:***@127.0.0.1:8123",
  );
});

Deno.test("redact() hides each URL of a line on its own, keeping the hosts", () => {
  assert.equal(
    redact("from postgres://a:x@h1/db to postgres://b:y@h2/db"),
    "from postgres://a:***@h1/db to postgres://b:***@h2/db",
  );
});

Deno.test("redact() hides an unquoted conninfo password with a space, up to the next key", () => {
  assert.equal(redact("host=db password=a b user=app"), "host=db password=*** user=app");
  assert.equal(redact("password=a b"), "password=***");
});

Deno.test("redact() hides quoted conninfo passwords whole", () => {
  assert.equal(redact("password='a b c' host=db"), "password=*** host=db");
  assert.equal(redact('password="a b" host=db'), "password=*** host=db");
});

Deno.test("redact() hides secret settings by the end of their name", () => {
  assert.equal(redact("PGPASSWORD=s3cret PGHOST=db"), "PGPASSWORD=*** PGHOST=db");
  assert.equal(redact("AIRFLOW__SMTP__SMTP_PASSWORD=pw"), "AIRFLOW__SMTP__SMTP_PASSWORD=***");
  assert.equal(redact("sasl.password = pw"), "sasl.password = ***");
  assert.equal(redact("client_secret=abc token=def"), "client_secret=*** token=***");
});

Deno.test("redact() hides a password in a URL query or a JDBC string, not what follows it", () => {
  assert.equal(
    redact("jdbc:postgresql://db/velib?user=app&password=pw&ssl=true"),
    "jdbc:postgresql://db/velib?user=app&password=***&ssl=true",
  );
  assert.equal(redact("Host=db;Password=pw;Database=velib"), "Host=db;Password=***;Database=velib");
});

Deno.test("redact() hides secret members of JSON", () => {
  assert.equal(
    redact('{"url":"postgres://db/velib","password":"p\\"w","user":"app"}'),
    '{"url":"postgres://db/velib","password":"***","user":"app"}',
  );
});

Deno.test("redact() leaves text without secrets as it is", () => {
  const text =
    "Wrote 1,471 rows to mart.station_latest (tokens=3, keys=password_reset) at http://h/x";
  assert.equal(redact(text), text);
});

Deno.test("redact() keeps a JSON summary parseable when a message in it quotes a secret", () => {
  const summary = JSON.stringify({
    error: { message: "bad conninfo password=a b", hint: "postgres://u:p@h/db" },
    counters: { read: 3 },
  });
  assert.deepEqual(JSON.parse(redact(summary)), {
    error: { message: "bad conninfo password=***", hint: "postgres://u:***@h/db" },
    counters: { read: 3 },
  });
});
