/**
 * Plugins: a name, a config schema with an example, and a factory.
 *
 * Calling a plugin with a config does not build anything yet: it returns a
 * {@linkcode Configured} component that `loadConfig` validates, with env overrides applied, and
 * builds only for the pipeline that runs. That is how a config error can name its exact path.
 *
 * @module
 */
import type { z } from "zod";
import type { ConfigIssue } from "./errors.ts";
import type { Check, Sink, Source, Step, Transform } from "./types.ts";

/** The component each kind of plugin builds. */
export interface ComponentKinds {
  // deno-lint-ignore no-explicit-any -- a pipeline's components are typed by their own plugins
  source: Source<any>;
  // deno-lint-ignore no-explicit-any
  transform: Transform<any, any>;
  // deno-lint-ignore no-explicit-any
  sink: Sink<any>;
  step: Step;
  check: Check;
}

/** The kinds of plugin. */
export type Kind = keyof ComponentKinds;

/** Environment variables, as `Deno.env.toObject()` returns them. */
export type Env = Record<string, string | undefined>;

/** What a plugin author writes. */
export interface PluginSpec<K extends Kind, S extends z.ZodType, C extends ComponentKinds[K]> {
  /** What it builds. */
  kind: K;
  /** Its name in logs and results, e.g. `kafka`. */
  name: string;
  /** One sentence on what it does. */
  description: string;
  /** The schema of its config: the single source of truth for the config type. */
  config: S;
  /**
   * A complete, valid config: `deno task pipeline plugins` shows it beside the config's JSON
   * Schema, and tests check that it validates.
   */
  example: z.input<S>;
  /**
   * Environment variables that override config fields, e.g. `{ url: "DATABASE_URL" }`.
   * @default {{}}
   */
  env?: Partial<Record<keyof z.input<S> & string, string>>;
  /** Builds the component from a validated config. Must not do I/O: `connect` does. */
  create(config: z.output<S>): C;
}

/**
 * A plugin with its config, not built yet: typed by the component it builds, so that
 * `postgresSink({...}).build(env)` is a `PostgresSink`.
 */
export interface Configured<
  K extends Kind = Kind,
  C extends ComponentKinds[K] = ComponentKinds[K],
> {
  /** What it builds. */
  readonly kind: K;
  /** The plugin's name. */
  readonly plugin: string;
  /** The plugin's definition: its description, config schema and example, e.g. for docs. */
  readonly spec: PluginSpec<K, z.ZodType, C>;
  /** The problems with the config once `env` overrides it; paths are relative to it. */
  validate(env: Env): ConfigIssue[];
  /**
   * Builds the component from the config given to the plugin, with the overrides `env` holds
   * (see {@linkcode PluginSpec.env}); call `validate` first.
   */
  build(env: Env): C;
}

/** A plugin: call it with a config to use it in a pipeline. */
export interface Plugin<K extends Kind, S extends z.ZodType, C extends ComponentKinds[K]> {
  /** Attaches a config; validation happens when the pipeline config loads. */
  (config: z.input<S>): Configured<K, C>;
  /** The definition, for docs and tests. */
  readonly spec: PluginSpec<K, S, C>;
}

/**
 * Defines a plugin.
 *
 * @example A sink that counts what it is given
 * ```ts
 * import { definePlugin } from "./plugin.ts";
 * import { z } from "zod";
 * import assert from "node:assert/strict";
 *
 * const countingSink = definePlugin({
 *   kind: "sink",
 *   name: "counting",
 *   description: "Counts records; writes nothing.",
 *   config: z.strictObject({ label: z.string() }),
 *   example: { label: "demo" },
 *   create: () => ({ write: () => Promise.resolve() }),
 * });
 * assert.deepEqual(countingSink({ label: "x" }).validate({}), []);
 * assert.equal(countingSink({ label: 1 as unknown as string }).validate({})[0].path, "label");
 * assert.deepEqual(countingSink({ label: "x" }).spec.example, { label: "demo" });
 * ```
 */
export function definePlugin<K extends Kind, S extends z.ZodType, C extends ComponentKinds[K]>(
  spec: PluginSpec<K, S, C>,
): Plugin<K, S, C> {
  const withEnv = (input: unknown, env: Env): { value: unknown; from: Map<string, string> } => {
    const from = new Map<string, string>();
    if (typeof input !== "object" || input === null) return { value: input, from };
    const value: Record<string, unknown> = { ...input };
    for (const [field, variable] of Object.entries(spec.env ?? {})) {
      const override = env[variable as string];
      if (override !== undefined && override !== "") {
        value[field] = override;
        from.set(field, variable as string);
      }
    }
    return { value, from };
  };
  const configure = (input: z.input<S>): Configured<K, C> => ({
    kind: spec.kind,
    plugin: spec.name,
    spec,
    validate(env) {
      const { value, from } = withEnv(input, env);
      const parsed = spec.config.safeParse(value);
      if (parsed.success) return [];
      return parsed.error.issues.map((issue) => {
        const path = formatPath(issue.path);
        const variable = from.get(String(issue.path[0]));
        return { path: variable ? `${path} (from ${variable})` : path, message: issue.message };
      });
    },
    build(env) {
      return spec.create(spec.config.parse(withEnv(input, env).value));
    },
  });
  return Object.assign(configure, { spec });
}

/**
 * Formats a path as code would write it: `pipelines.load.sinks[0].url`.
 *
 * @example
 * ```ts
 * import { formatPath } from "./plugin.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(formatPath(["sinks", 0, "url"]), "sinks[0].url");
 * ```
 */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  return path.reduce<string>((text, key) => {
    if (typeof key === "number") return `${text}[${key}]`;
    const name = String(key);
    return text === "" ? name : `${text}.${name}`;
  }, "");
}
