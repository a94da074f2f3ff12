/**
 * The cases of the shared suites: each one behaviour, a function that throws when the component
 * under test lacks it, so that a suite can be registered as `Deno.test` cases or run case by case
 * (e.g. to prove that a broken component fails it).
 *
 * @module
 */

/** One behaviour a suite checks. */
export interface SuiteCase {
  /** A stable identifier, e.g. `rejects-stored`, to pick the case in a test. */
  readonly id: string;
  /** The behaviour, stated as a test name. */
  readonly name: string;
  /** Checks it on a fresh component; rejects with an `AssertionError` that says what is wrong. */
  run(): Promise<void>;
}

/**
 * Registers every case as a `Deno.test` named `<subject> (<suite>): <case name>`.
 *
 * @example
 * ```ts ignore
 * import { registerCases } from "./case.ts";
 *
 * registerCases("memory sink", "sink suite", [
 *   { id: "noop", name: "does nothing", run: () => Promise.resolve() },
 * ]);
 * ```
 */
export function registerCases(subject: string, suite: string, cases: SuiteCase[]): void {
  for (const { name, run } of cases) Deno.test(`${subject} (${suite}): ${name}`, run);
}

/**
 * The case of `cases` with this `id`; throws when there is none, listing those there are.
 *
 * @example
 * ```ts
 * import { caseById } from "./case.ts";
 * import assert from "node:assert/strict";
 *
 * const cases = [{ id: "noop", name: "does nothing", run: () => Promise.resolve() }];
 * assert.equal(caseById(cases, "noop").name, "does nothing");
 * assert.throws(() => caseById(cases, "other"), /noop/);
 * ```
 */
export function caseById(cases: SuiteCase[], id: string): SuiteCase {
  const found = cases.find((c) => c.id === id);
  if (found !== undefined) return found;
  throw new Error(`No case ${id}; the cases are: ${cases.map((c) => c.id).join(", ")}.`);
}

/**
 * JSON text of a value, with object keys sorted, to compare records whatever order a store
 * gives their fields in.
 *
 * @example
 * ```ts
 * import { canonical } from "./case.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(canonical({ b: 1, a: [2, { d: 3, c: 4 }] }), '{"a":[2,{"c":4,"d":3}],"b":1}');
 * ```
 */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, inner) => {
    if (typeof inner !== "object" || inner === null || Array.isArray(inner)) return inner;
    return Object.fromEntries(Object.entries(inner).sort(([a], [b]) => a < b ? -1 : 1));
  }) ?? "undefined";
}
