/**
 * The hostile strings of the failure drills (drill 7 for PostgreSQL, and for ClickHouse): text
 * fields with quotes, semicolons, backslashes, SQL injection attempts, control characters (NUL
 * included), emoji, right-to-left text and 10 KB of text, in synthetic snapshots.
 *
 * Every snapshot here is synthetic; none pretends to be a real station.
 *
 * @module
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import type { StationSnapshot } from "../../contracts/mod.ts";
import { syntheticSnapshot } from "../support/synthetic.ts";

/** A synthetic snapshot with a fixed `collected_at` and INSEE code, and `fields` over them. */
export const snapshotAt = (fields: Partial<StationSnapshot>): StationSnapshot =>
  syntheticSnapshot({ code_insee: "75056", collected_at: "2026-11-30T11:00:00.000Z", ...fields });

export const INJECTION = "'); DROP TABLE raw.station_snapshots; --";

/** Hostile text, by what it tries. */
export const HOSTILE: Record<string, string> = {
  "quotes": `Station "Chez l'Ami" d''Orsay \` ’`,
  "semicolons and backslashes": "a;b\\c\\\\d\\'e\\\";\\x41\\u0041;",
  "SQL injection": INJECTION,
  "injection into a later statement": "x' OR '1'='1'; DELETE FROM mart.station_latest; --",
  "dollar quoting and placeholders": "$$; DROP SCHEMA mart CASCADE; $$ $1 %s %L {name} {{x}}",
  "array and JSON syntax": '{"a",NULL}\\",{}[]} ]"}',
  "control characters": "\u0001\u0007\b\t\n\r\u000b\f\u001b[31mred\u001b[0m\u007f\u0085",
  "NUL": "Synthetic\u0000station",
  "emoji": "🚲 Vélo 👨‍👩‍👧‍👦 🏳️‍🌈 🇫🇷",
  "right-to-left": "محطة الدراجات \u202Eevil\u202C עברית \u200F",
  "invisible and separators": "\uFEFFzero\u200Bwidth\u2028line\u2029para\u00A0nbsp",
  "lone surrogate": "half a pair \uD83D here",
  "10 KB of text": "Synthetic 10 KB name; ".repeat(466).slice(0, 10_240),
};

/** A synthetic snapshot: not a real station. */
/** One snapshot per hostile string and text field (the station code too), in a seeded order. */
export function hostileSnapshots(seed: number): Array<{ kind: string; snapshot: StationSnapshot }> {
  const all = Object.entries(HOSTILE).flatMap(([kind, text], i) => [
    {
      kind,
      snapshot: snapshotAt({ station_code: `hostile-name-${i}`, station_name: text }),
    },
    { kind, snapshot: snapshotAt({ station_code: `hostile-commune-${i}`, commune: text }) },
    { kind, snapshot: snapshotAt({ station_code: `hostile-insee-${i}`, code_insee: text }) },
    ...text.length <= 64 ? [{ kind, snapshot: snapshotAt({ station_code: text }) }] : [],
  ]);
  const [shuffled] = fc.sample(
    fc.shuffledSubarray(all, { minLength: all.length, maxLength: all.length }),
    { seed, numRuns: 1 },
  );
  return shuffled;
}

export const TEXT_FIELDS = ["station_code", "station_name", "commune", "code_insee"] as const;

/** What a warehouse holds after loading the hostile snapshots, as rows keyed by column. */
export interface HostileRows {
  /** `TEXT_FIELDS` of raw.station_snapshots. */
  raw: Array<Record<string, unknown>>;
  /** `TEXT_FIELDS` of mart.station_latest. */
  mart: Array<Record<string, unknown>>;
  /** `station_code, station_name` of mart.hourly_station_stats. */
  hourly: Array<Record<string, unknown>>;
  /** `reason, payload, offset` (the source offset) of pipeline.dead_letters. */
  dead: Array<Record<string, unknown>>;
}

/**
 * Asserts that each hostile snapshot is stored verbatim in raw, mart and the hourly stats, or,
 * when its kind is one the warehouse cannot hold (`unstorable`, with the reason expected), not
 * stored and dead-lettered with its payload as sent; returns the counts and the rows by key.
 */
export function judgeHostile(
  hostile: ReadonlyArray<{ kind: string; snapshot: StationSnapshot }>,
  rows: HostileRows,
  unstorable: Readonly<Record<string, RegExp>>,
) {
  const deadByOffset = new Map(rows.dead.map((row) => [Number(row.offset), row]));
  const byCode = (list: Array<Record<string, unknown>>) =>
    new Map(list.map((row) => [row.station_code, row]));
  const [rawByCode, martByCode, hourlyByCode] = [rows.raw, rows.mart, rows.hourly].map(byCode);
  let stored = 0;
  let deadLettered = 0;
  hostile.forEach(({ kind, snapshot }, offset) => {
    const label = `offset ${offset}, ${kind}`;
    const letter = deadByOffset.get(offset);
    const row = rawByCode.get(snapshot.station_code);
    if (kind in unstorable) {
      assert.equal(row, undefined, `${label}: not stored altered`);
      assert.match(
        String(letter?.reason ?? ""),
        unstorable[kind],
        `${label}: dead letter with why`,
      );
      assert.deepEqual(
        JSON.parse(String(letter!.payload)),
        snapshot,
        `${label}: the payload as sent`,
      );
      deadLettered++;
      return;
    }
    assert.equal(letter, undefined, `${label}: not a dead letter (${letter?.reason})`);
    stored++;
    const expected = Object.fromEntries(TEXT_FIELDS.map((field) => [field, snapshot[field]]));
    assert.deepEqual(row, expected, `${label}: raw`);
    assert.deepEqual(martByCode.get(snapshot.station_code), expected, `${label}: mart`);
    assert.equal(
      hourlyByCode.get(snapshot.station_code)?.station_name,
      snapshot.station_name,
      `${label}: hourly stats`,
    );
  });
  return { stored, deadLettered, deadByOffset, rawByCode };
}
