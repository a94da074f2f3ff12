/**
 * The real services the integration tests talk to. `deno task test` provides them; a test that
 * runs without them fails with a message that says how to get them, and is never skipped.
 *
 * @module
 */

/**
 * The value of `KAFKA_BROKERS` or `DATABASE_URL`, or a failure that says what to do.
 *
 * @example
 * ```ts ignore
 * const url = requiredService("DATABASE_URL");
 * ```
 */
export function requiredService(name: "KAFKA_BROKERS" | "DATABASE_URL"): string {
  const value = Deno.env.get(name);
  if (value) return value;
  throw new Error(
    `${name} is not set: this integration test needs the real service. ` +
      "Run it with `deno task test`, which starts PostgreSQL and Kafka, " +
      "or start them with `deno task services up` and export `deno task services env`.",
  );
}

/**
 * A name no other test run uses, for topics, groups and schemas.
 *
 * @example
 * ```ts
 * import { uniqueName } from "./services.ts";
 *
 * const topic = uniqueName("smoke");
 * ```
 */
export function uniqueName(prefix: string): string {
  return `${prefix}_${crypto.randomUUID().slice(0, 8)}`;
}
