/**
 * Helpers for tests of plugins that talk to real services: the services' addresses from the
 * environment, names no other test run uses, and the context the runner hands a component.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { ComponentContext } from "../types.ts";

/**
 * The value of the environment variable `name`, or an error that says what the test needs and
 * how to get it. An integration test fails without its service; it never skips.
 *
 * @example
 * ```ts
 * import { requiredEnv } from "./context.ts";
 * import assert from "node:assert/strict";
 *
 * assert.throws(() => requiredEnv("UNSET_FOR_THIS_EXAMPLE", "a broker"), /deno task test/);
 * ```
 */
export function requiredEnv(name: string, needs: string): string {
  const value = Deno.env.get(name);
  if (value) return value;
  throw new Error(
    `${name} is not set, and this test needs ${needs}. Run it with \`deno task test\`, which ` +
      "starts PostgreSQL and Kafka, or start them with `deno task services up` and load " +
      "`deno task services env`.",
  );
}

/**
 * A name no other test run uses, valid as a Kafka topic, a consumer group and a SQL identifier.
 *
 * @example
 * ```ts
 * import { uniqueName } from "./context.ts";
 * import assert from "node:assert/strict";
 *
 * assert.match(uniqueName("orders"), /^orders_[0-9a-f]{8}$/);
 * ```
 */
export function uniqueName(prefix: string): string {
  return `${prefix}_${crypto.randomUUID().slice(0, 8)}`;
}

/**
 * The context the runner would hand a component of `pipeline` in a live `batch` run, for
 * connecting one by hand in a test; `overrides` replaces any part of it.
 *
 * @example
 * ```ts
 * import { testContext } from "./context.ts";
 * import assert from "node:assert/strict";
 *
 * const ctx = testContext("load", { mode: "stream" });
 * assert.equal(ctx.positions, "load");
 * assert.equal(ctx.mode, "stream");
 * ```
 */
export function testContext(
  pipeline: string,
  overrides: Partial<ComponentContext> = {},
): ComponentContext {
  return {
    pipeline,
    mode: "batch",
    runId: `test-${crypto.randomUUID()}`,
    positions: pipeline,
    logger: getLogger(["pipeline", pipeline]),
    signal: new AbortController().signal,
    ...overrides,
  };
}
