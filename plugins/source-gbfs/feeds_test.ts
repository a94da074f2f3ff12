// The discovery files and feed envelopes of the real captures (read in place), and when a kept
// feed expires.
import assert from "node:assert/strict";
import { join } from "node:path";
import { fixturesDir } from "../../tests/support/fixtures.ts";
import { gbfsCapture, readFeed } from "../../tests/support/gbfs_fixtures.ts";
import { CycleError } from "../../mod.ts";
import { expiresAt, parseDiscovery, parseEnvelope } from "./feeds.ts";

const BASE = "http://127.0.0.1:8000/gbfs.json";

async function envelopeOf(capture: string, feed: string) {
  return parseEnvelope(await readFeed(await gbfsCapture(capture), feed), "a feed", BASE);
}

Deno.test("a GBFS 3.0 discovery file (Toronto): data.feeds, the version, an RFC 3339 last_updated", async () => {
  const envelope = await envelopeOf("bike-share-toronto_2026-10-09", "gbfs");
  assert.equal(envelope.lastUpdated, Date.parse("2026-10-09T09:39:34Z"));
  assert.equal(envelope.ttlSeconds, 10);
  const discovery = parseDiscovery(envelope, BASE, "fr");
  assert.equal(discovery.version, "3.0");
  assert.equal(discovery.language, undefined);
  assert.equal(
    discovery.feeds.get("station_status"),
    "https://toronto.publicbikesystem.net/customer/gbfs/v3.0/station_status",
  );
  assert.ok(discovery.feeds.has("vehicle_types") && discovery.feeds.has("system_information"));
});

Deno.test("a GBFS 2.2 discovery file (Lillestrøm): data.<language>.feeds, whose feeds must be at http(s) URLs", async () => {
  const envelope = await envelopeOf("lillestrom-bysykkel_2021-09-10", "gbfs");
  assert.equal(envelope.version, "2.2");
  assert.equal(envelope.lastUpdated, 1631258451_000);
  // OpenTripPlanner pointed the capture's feeds at local files.
  assert.throws(
    () => parseDiscovery(envelope, BASE),
    (error: CycleError) =>
      error instanceof CycleError &&
      /lists the feed system_information at "file:src\/test\/resources\/gbfs\/system_information\.json", which is not an http\(s\) URL/
        .test(error.message),
  );
  // The same file with relative URLs: resolved against the discovery file's own.
  const data = envelope.data as { nb: { feeds: { name: string; url: string }[] } };
  const relative = {
    ...envelope,
    data: { nb: { feeds: data.nb.feeds.map((f) => ({ ...f, url: `${f.name}.json` })) } },
  };
  const discovery = parseDiscovery(relative, BASE, "en");
  assert.equal(discovery.language, "nb");
  assert.deepEqual(discovery.languages, ["nb"]);
  assert.equal(discovery.feeds.get("vehicle_types"), "http://127.0.0.1:8000/vehicle_types.json");
});

Deno.test("Vélib's 2022 discovery file: 1.x-style, lastUpdatedOther instead of last_updated", async () => {
  const body = JSON.parse(
    await Deno.readTextFile(join(fixturesDir(), "gbfs_2022-02-25_gbfs.json")),
  );
  const envelope = parseEnvelope(body, "the GBFS discovery file", BASE);
  assert.equal(envelope.lastUpdated, undefined);
  assert.equal(envelope.ttlSeconds, 3600);
  const discovery = parseDiscovery(envelope, BASE);
  assert.equal(discovery.version, undefined);
  assert.equal(discovery.language, "en");
  assert.deepEqual([...discovery.feeds.keys()], [
    "gbfs",
    "system_information",
    "station_information",
    "station_status",
  ]);
});

Deno.test("GBFS 1.x and 3.0 envelopes: last_updated in epoch seconds or RFC 3339, ttl", async () => {
  const v1 = await envelopeOf("nice-ride-minnesota_2016-09-15", "station_status");
  assert.deepEqual([v1.lastUpdated, v1.ttlSeconds, v1.version], [1473914245_000, 60, undefined]);
  const v3 = await envelopeOf("bogota-pbsc_2026-09-04", "station_status");
  assert.deepEqual([v3.lastUpdated, v3.ttlSeconds, v3.version], [
    Date.parse("2026-09-04T21:45:32Z"),
    3,
    "3.0",
  ]);
});

Deno.test("a body without a data object is not a feed", () => {
  for (const body of [null, [], "text", { last_updated: 1, ttl: 10 }, { data: [] }]) {
    assert.throws(
      () => parseEnvelope(body, "the GBFS feed station_status", BASE),
      /^CycleError: The GBFS feed station_status sent .* without a data object/,
    );
  }
  assert.throws(
    () => parseDiscovery(parseEnvelope({ data: { en: {} } }, "x", BASE), BASE),
    /neither data\.feeds \(GBFS 3\.0\) nor data\.<language>\.feeds/,
  );
});

Deno.test("a kept feed expires at last_updated + ttl, never later than ttl after it was read", () => {
  const readAt = Date.parse("2025-05-18T14:45:25Z");
  const lastUpdated = Date.parse("2025-05-18T14:45:20Z");
  assert.equal(expiresAt({ lastUpdated, ttlSeconds: 10, data: {} }, readAt), readAt + 5_000);
  // A last_updated ahead of this clock: ttl after reading.
  assert.equal(
    expiresAt({ lastUpdated: readAt + 3_600_000, ttlSeconds: 10, data: {} }, readAt),
    readAt + 10_000,
  );
  // Updated longer than its ttl ago: expired as soon as read.
  assert.ok(expiresAt({ lastUpdated: readAt - 60_000, ttlSeconds: 10, data: {} }, readAt) < readAt);
  assert.equal(expiresAt({ ttlSeconds: 0, data: {} }, readAt), readAt);
});
