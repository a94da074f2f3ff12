/**
 * The pipeline config: `defineConfig` for `pipeline.config.ts`, and `loadConfig`, which imports,
 * validates and builds it.
 *
 * @module
 */
import { pathToFileURL } from "node:url";
import { resolve } from "node:path";
import { z } from "zod";
import { ConfigError, type ConfigIssue } from "./errors.ts";
import { type ComponentKinds, type Configured, type Env, formatPath, type Kind } from "./plugin.ts";
import { positionSchema } from "./range.ts";
import { runtimeSchema } from "./schema.ts";
import type { Named, Pipeline, ReadRange } from "./types.ts";

const EXAMPLES: Record<Kind, string> = {
  source: "a source plugin such as kafkaSource({...})",
  transform: "a transform plugin such as enrich({...})",
  sink: "a sink plugin such as postgresSink({...})",
  step: "a step plugin",
  check: "a check plugin",
};

const component = <K extends Kind>(kind: K) =>
  z.custom<Configured<K>>(
    (value) => typeof value === "object" && value !== null && (value as Configured).kind === kind,
    { error: `expected ${EXAMPLES[kind]}` },
  );

/** One pipeline: a source, transforms, sinks, a dead-letter sink, then steps and checks. */
export const pipelineSchema = z.strictObject({
  /** One sentence for `--help` and the README. */
  description: z.string().min(1),
  /** Where records come from. */
  source: component("source"),
  /** Applied in order. */
  transforms: z.array(component("transform")).default([]),
  /** Each batch is written to every one of them before it is acknowledged. */
  sinks: z.array(component("sink")).min(1),
  /** Where rejects go; use one of `sinks` to write them in the same transaction. */
  deadLetter: component("sink"),
  /** Run in order after a `batch` run drains its source, and alone with `pipeline step`. */
  steps: z.record(z.string().regex(/^[a-z][a-z0-9-]*$/), component("step")).default({}),
  /** Run after the steps, and alone with `pipeline check`. */
  checks: z.array(component("check")).default([]),
  /** Overrides the config-wide runner settings for this pipeline. */
  runtime: runtimeSchema.partial().optional(),
});

/**
 * A rerun: a `batch` run of a pipeline over part of its source, then the steps that follow, on
 * the window read. It keeps its positions apart from the pipeline's, so the live runs go on as
 * if it had not happened. `deno task pipeline rerun <name>` runs it.
 */
export const rerunSchema = z.strictObject({
  /** One sentence for `validate` and the README. */
  description: z.string().min(1),
  /** The pipeline rerun; its source must be able to seek. */
  pipeline: z.string().min(1),
  /** Where reading starts; `--from` overrides it. */
  from: positionSchema,
  /** Where it stops; `--to` overrides it. @default {where the source ends when the run starts} */
  to: positionSchema.optional(),
  /** The pipeline's steps that follow, in its order. @default {every step of the pipeline} */
  steps: z.array(z.string()).optional(),
  /** Whether the pipeline's checks run last. */
  checks: z.boolean().default(true),
});

/** A validated rerun. */
export type RerunDefinition = z.output<typeof rerunSchema>;

/** The whole config file. */
export const configSchema = z.strictObject({
  /** The pipelines, by the name the CLI takes. */
  pipelines: z.record(z.string().regex(/^[a-z][a-z0-9-]*$/), pipelineSchema),
  /** Reruns, by the name `pipeline rerun` takes. */
  reruns: z.record(z.string().regex(/^[a-z][a-z0-9-]*$/), rerunSchema).default({}),
  /** Runner settings for every pipeline. */
  runtime: runtimeSchema.default(runtimeSchema.parse({})),
});

/** What `pipeline.config.ts` exports. */
export type ConfigDefinition = z.input<typeof configSchema>;

/** A pipeline as written in the config. */
export type PipelineDefinition = z.input<typeof pipelineSchema>;

/**
 * Types a config; `loadConfig` validates it. Use it as the default export of
 * `pipeline.config.ts`.
 *
 * @example
 * ```ts
 * import { defineConfig } from "./config.ts";
 * import assert from "node:assert/strict";
 *
 * const config = defineConfig({ pipelines: {} });
 * assert.deepEqual(config.pipelines, {});
 * ```
 */
export function defineConfig(definition: ConfigDefinition): ConfigDefinition {
  return definition;
}

/** A validated config. */
export interface LoadedConfig {
  /** Where it was loaded from. */
  readonly path: string;
  /** The pipelines' names and descriptions. */
  readonly pipelines: ReadonlyArray<{ name: string; description: string }>;
  /** The reruns, by name. */
  readonly reruns: ReadonlyArray<{ name: string } & RerunDefinition>;
  /** Builds the components of one pipeline. Throws a `ConfigError` for an unknown name. */
  pipeline(name: string): Pipeline;
}

/**
 * The range a rerun reads.
 *
 * @example
 * ```ts
 * import { rangeOf } from "./config.ts";
 * import assert from "node:assert/strict";
 *
 * const range = rangeOf({ from: { time: "2025-10-18T00:00:00.000Z" } });
 * assert.deepEqual(range, { from: { time: "2025-10-18T00:00:00.000Z" } });
 * ```
 */
export function rangeOf(rerun: Pick<RerunDefinition, "from" | "to">): ReadRange {
  return rerun.to === undefined ? { from: rerun.from } : { from: rerun.from, to: rerun.to };
}

/**
 * Imports a config module, validates it and every component's config (with `env` overrides),
 * and reports all problems at once in a {@linkcode ConfigError}.
 *
 * @example
 * ```ts ignore
 * import { loadConfig } from "./config.ts";
 *
 * const config = await loadConfig("pipeline.config.ts", Deno.env.toObject());
 * const pipeline = config.pipeline("load");
 * ```
 */
export async function loadConfig(path: string, env: Env): Promise<LoadedConfig> {
  let module: { default?: unknown };
  try {
    module = await import(pathToFileURL(resolve(path)).href);
  } catch (error) {
    const reason = error instanceof Error ? error.message.split("\n")[0] : String(error);
    throw new ConfigError(path, [{ path: "(file)", message: `could not be imported: ${reason}` }], {
      hint: "Check the path given with --config, and that the file is valid TypeScript.",
    });
  }
  return validateConfig(module.default, env, path);
}

/**
 * Validates a config value as {@linkcode loadConfig} does, for a config that is already imported.
 *
 * @example An error names the path and what was expected
 * ```ts
 * import { validateConfig } from "./config.ts";
 * import { ConfigError } from "./errors.ts";
 * import assert from "node:assert/strict";
 *
 * assert.throws(
 *   () => validateConfig({ pipelines: { load: { description: "x" } } }, {}, "inline"),
 *   (error: ConfigError) => error.issues.some((issue) => issue.path === "pipelines.load.source"),
 * );
 * ```
 */
export function validateConfig(value: unknown, env: Env, where: string): LoadedConfig {
  if (value === undefined) {
    throw new ConfigError(where, [{
      path: "(default export)",
      message: "expected `export default defineConfig({ pipelines: { ... } })`",
    }]);
  }
  const parsed = configSchema.safeParse(value);
  if (!parsed.success) {
    throw new ConfigError(
      where,
      parsed.error.issues.map((issue) => ({
        path: formatPath(issue.path),
        message: issue.message,
      })),
    );
  }
  const config = parsed.data;
  const raw = value as ConfigDefinition;
  const issues: ConfigIssue[] = [];
  // A component used twice (a sink that is also the dead-letter sink) is reported once.
  const validated = new Set<Configured>();
  for (const [name, pipeline] of Object.entries(config.pipelines)) {
    for (const [path, configured] of componentsOf(pipeline)) {
      if (validated.has(configured)) continue;
      validated.add(configured);
      for (const issue of configured.validate(env)) {
        const at = issue.path === "" ? path : `${path}.${issue.path}`;
        issues.push({ path: `pipelines.${name}.${at}`, message: issue.message });
      }
    }
  }
  for (const [name, rerun] of Object.entries(config.reruns)) {
    issues.push(...rerunIssues(rerun, config.pipelines[rerun.pipeline], env, `reruns.${name}`));
  }
  if (issues.length > 0) throw new ConfigError(where, issues);
  return {
    path: where,
    pipelines: Object.entries(config.pipelines).map(([name, p]) => ({
      name,
      description: p.description,
    })),
    reruns: Object.entries(config.reruns).map(([name, rerun]) => ({ name, ...rerun })),
    pipeline(name) {
      const definition = config.pipelines[name];
      if (!definition) {
        const known = Object.keys(config.pipelines).join(", ") || "none";
        throw new ConfigError(where, [{ path: `pipelines.${name}`, message: "no such pipeline" }], {
          hint: `The pipelines defined are: ${known}.`,
        });
      }
      // Merged from what the user wrote, so that a pipeline overriding one setting does not
      // reset the others to their defaults.
      const runtime = runtimeSchema.parse({ ...raw.runtime, ...raw.pipelines[name].runtime });
      return build(name, definition, runtime, env);
    },
  };
}

type ParsedPipeline = z.output<typeof pipelineSchema>;

/** What is wrong with a rerun of `pipeline` (undefined when there is no such pipeline). */
function rerunIssues(
  rerun: RerunDefinition,
  pipeline: ParsedPipeline | undefined,
  env: Env,
  path: string,
): ConfigIssue[] {
  if (pipeline === undefined) return [{ path: `${path}.pipeline`, message: "no such pipeline" }];
  const issues: ConfigIssue[] = [];
  const steps = Object.keys(pipeline.steps);
  for (const step of rerun.steps ?? []) {
    if (!steps.includes(step)) {
      const known = steps.join(", ") || "none";
      issues.push({ path: `${path}.steps`, message: `no step ${step}; the steps are: ${known}` });
    }
  }
  // Building a component does no I/O, so whether the source can seek is known now.
  if (!pipeline.source.create(env).seekable) {
    issues.push({
      path: `${path}.pipeline`,
      message: `the source of ${rerun.pipeline} (${pipeline.source.plugin}) cannot seek`,
    });
  }
  return issues;
}

function componentsOf(pipeline: ParsedPipeline): Array<[string, Configured]> {
  return [
    ["source", pipeline.source],
    ...pipeline.transforms.map((t, i): [string, Configured] => [`transforms[${i}]`, t]),
    ...pipeline.sinks.map((s, i): [string, Configured] => [`sinks[${i}]`, s]),
    ["deadLetter", pipeline.deadLetter],
    ...Object.entries(pipeline.steps).map(([n, s]): [string, Configured] => [`steps.${n}`, s]),
    ...pipeline.checks.map((c, i): [string, Configured] => [`checks[${i}]`, c]),
  ];
}

function build(
  name: string,
  definition: ParsedPipeline,
  runtime: z.output<typeof runtimeSchema>,
  env: Env,
): Pipeline {
  // One instance per configured value, so a sink used as the dead-letter sink is the same object.
  const built = new Map<Configured, Named<unknown>>();
  const names = new Map<string, number>();
  const make = <K extends Kind>(
    configured: Configured<K>,
    label?: string,
  ): Named<ComponentKinds[K]> => {
    let named = built.get(configured);
    if (!named) {
      const base = label ?? configured.plugin;
      const seen = names.get(base) ?? 0;
      names.set(base, seen + 1);
      named = {
        name: seen === 0 ? base : `${base}-${seen + 1}`,
        component: configured.create(env),
      };
      built.set(configured, named);
    }
    return named as Named<ComponentKinds[K]>;
  };
  return {
    name,
    source: make(definition.source),
    transforms: definition.transforms.map((t) => make(t)),
    sinks: definition.sinks.map((s) => make(s)),
    deadLetter: make(definition.deadLetter),
    steps: Object.entries(definition.steps).map(([stepName, s]) => make(s, stepName)),
    checks: definition.checks.map((c) => make(c)),
    runtime,
  };
}
