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
import type { Named, Pipeline, QueryRunner, ReadRange, Sink } from "./types.ts";

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

/**
 * How a report line shows a value: `{column}` as it is, or `{column:format}`, the format being
 * `number` (digits grouped: 16,905), `percent` (a rate as 38.1 %), `rounded` (to a tenth below
 * 10, whole above: 4.5, 17), `time` (an instant as 2026-11-26 00:49 in the report's time zone)
 * or a width (`{rank:2}`, right-aligned). A null value shows as `n/a`.
 */
export const REPORT_PLACEHOLDER: RegExp = /\{([a-z_][a-z0-9_]*)(?::([a-z]+|\d+))?\}/g;

const REPORT_FORMATS = new Set(["number", "percent", "rounded", "time"]);

const reportText = z.string().refine(
  (text) =>
    [...text.matchAll(REPORT_PLACEHOLDER)].every(([, , format]) =>
      format === undefined || /^\d+$/.test(format) || REPORT_FORMATS.has(format)
    ),
  {
    error:
      "expected {column} or {column:format}, format one of number, percent, rounded, time or a width",
  },
);

/** One section of a report: the rows one step returned, a few lines per row. */
export const reportSectionSchema = z.strictObject({
  /** The step whose rows (`details.rows`, e.g. a query's) fill the section. */
  step: z.string(),
  /** A line before the rows. */
  title: z.string().optional(),
  /** The lines printed for each row, each `{column}` replaced by the row's value. */
  row: z.array(reportText).min(1),
  /** The most rows shown. @default {every row} */
  limit: z.int().min(1).optional(),
  /** Printed instead of the rows when the step returned none. */
  empty: z.string().optional(),
});

/**
 * The summary `pipeline run` prints after a run of the pipeline: its sections, a blank line
 * between them, from the rows of its steps. Nothing is printed when one of them did not run.
 *
 * @example
 * ```ts
 * import { reportSchema } from "./config.ts";
 * import assert from "node:assert/strict";
 *
 * const report = reportSchema.parse({
 *   sections: [{ step: "overview", row: ["{stations:number} stations"], limit: 1 }],
 * });
 * assert.equal(report.timeZone, "UTC");
 * assert.equal(reportSchema.safeParse({ sections: [{ step: "x", row: ["{n:hex}"] }] }).success, false);
 * ```
 */
export const reportSchema = z.strictObject({
  /** Where `{column:time}` shows instants, e.g. `Europe/Paris`. */
  timeZone: z.string().refine((zone) => {
    try {
      return new Intl.DateTimeFormat("en", { timeZone: zone }) !== undefined;
    } catch {
      return false;
    }
  }, { error: "expected an IANA time zone such as Europe/Paris" }).default("UTC"),
  /** In the order printed. */
  sections: z.array(reportSectionSchema).min(1),
});

/** A validated report. */
export type ReportDefinition = z.output<typeof reportSchema>;

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
  /**
   * What the checks run their queries on: a component that can answer one (a `QueryRunner`),
   * usually one of `sinks`. Connected before the checks, and handed to them.
   */
  warehouse: component("sink").optional(),
  /** What `pipeline run` prints after running it. */
  report: reportSchema.optional(),
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

/** What `pipeline run` does when given no pipeline. */
export const runSchema = z.strictObject({
  /** The pipeline it runs. */
  pipeline: z.string().min(1),
});

/** A validated `run`. */
export type RunDefinition = z.output<typeof runSchema>;

/** The whole config file. */
export const configSchema = z.strictObject({
  /** The pipelines, by the name the CLI takes. */
  pipelines: z.record(z.string().regex(/^[a-z][a-z0-9-]*$/), pipelineSchema),
  /** Reruns, by the name `pipeline rerun` takes. */
  reruns: z.record(z.string().regex(/^[a-z][a-z0-9-]*$/), rerunSchema).default({}),
  /** Runner settings for every pipeline. */
  runtime: runtimeSchema.default(runtimeSchema.parse({})),
  /** What `pipeline run` runs without a name. */
  run: runSchema.optional(),
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
  /** The pipelines' names and descriptions, and what `pipeline run` prints after each. */
  readonly pipelines: ReadonlyArray<
    { name: string; description: string; report?: ReportDefinition }
  >;
  /** The reruns, by name. */
  readonly reruns: ReadonlyArray<{ name: string } & RerunDefinition>;
  /** What `pipeline run` runs without a name; unset when the config says nothing. */
  readonly run?: RunDefinition;
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
  for (const [name, pipeline] of Object.entries(config.pipelines)) {
    issues.push(...wiringIssues(pipeline, env, `pipelines.${name}`));
  }
  for (const [name, rerun] of Object.entries(config.reruns)) {
    issues.push(...rerunIssues(rerun, config.pipelines[rerun.pipeline], env, `reruns.${name}`));
  }
  if (config.run !== undefined && config.pipelines[config.run.pipeline] === undefined) {
    const known = Object.keys(config.pipelines).join(", ") || "none";
    issues.push({ path: "run.pipeline", message: `no such pipeline; the pipelines are: ${known}` });
  }
  if (issues.length > 0) throw new ConfigError(where, issues);
  return {
    path: where,
    pipelines: Object.entries(config.pipelines).map(([name, p]) => ({
      name,
      description: p.description,
      ...(p.report === undefined ? {} : { report: p.report }),
    })),
    reruns: Object.entries(config.reruns).map(([name, rerun]) => ({ name, ...rerun })),
    ...(config.run === undefined ? {} : { run: config.run }),
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

/** Whether a built component can answer a query (see `QueryRunner`). */
const answersQueries = (component: object): component is QueryRunner =>
  typeof (component as QueryRunner).query === "function" &&
  typeof (component as QueryRunner).dialect === "string";

/** What is wrong with a pipeline's warehouse and the steps its report names. */
function wiringIssues(pipeline: ParsedPipeline, env: Env, path: string): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const { warehouse, report } = pipeline;
  // Building a component does no I/O, so whether it answers queries is known now.
  if (warehouse !== undefined && warehouse.validate(env).length === 0) {
    if (!answersQueries(warehouse.build(env))) {
      issues.push({
        path: `${path}.warehouse`,
        message: `the ${warehouse.plugin} sink cannot answer a query; expected one that can, ` +
          "such as postgresSink({...})",
      });
    }
  }
  const steps = Object.keys(pipeline.steps);
  report?.sections.forEach((section, i) => {
    if (!steps.includes(section.step)) {
      issues.push({
        path: `${path}.report.sections[${i}].step`,
        message: `no step ${section.step}; the steps are: ${steps.join(", ") || "none"}`,
      });
    }
  });
  return issues;
}

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
  if (!pipeline.source.build(env).seekable) {
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
    ...(pipeline.warehouse === undefined
      ? []
      : [["warehouse", pipeline.warehouse] satisfies [string, Configured]]),
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
        component: configured.build(env),
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
    // Validated as a query runner when the config loaded.
    ...(definition.warehouse === undefined
      ? {}
      : { warehouse: make(definition.warehouse) as Named<Sink & QueryRunner> }),
    runtime,
  };
}
