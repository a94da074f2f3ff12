/**
 * `deno task pipeline plugins [pipeline]`: the plugins a config uses, where, and how to configure
 * each one (its config schema as JSON Schema, the variables that override it, its example).
 *
 * @module
 */
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { z } from "zod";
import { type ConfigDefinition, loadConfig, type PipelineDefinition } from "../core/config.ts";
import type { Configured, Kind, PluginSpec } from "../core/plugin.ts";
import { redact } from "../core/redact.ts";
import { EXIT_CODES } from "../core/runner.ts";
import { type Command, OPTIONS_HELP, UsageError } from "./shared.ts";

/** A plugin as `plugins` describes it once, however many times the config uses it. */
export interface PluginInfo {
  /** What it builds. */
  kind: Kind;
  /** Its name. */
  name: string;
  /** What it does. */
  description: string;
  /** The config fields environment variables override, by field. */
  env: Record<string, string>;
  /** Its config schema as JSON Schema, for the input side: what a config may hold. */
  schema: Record<string, unknown>;
  /** A complete, valid config. */
  example: unknown;
}

/** A plugin as one pipeline uses it. */
export interface PluginUse {
  /** What it builds. */
  kind: Kind;
  /** Its name. */
  plugin: string;
  /** What it does. */
  description: string;
  /** Where the pipeline uses it, e.g. `sinks[0]` and `deadLetter`. */
  usedAt: string[];
}

type AnySpec = PluginSpec<Kind, z.ZodType, never>;

/**
 * The config's plugins: per pipeline, each plugin it uses and where; then each plugin once.
 *
 * @example
 * ```ts
 * import { describePlugins } from "./plugins.ts";
 * import { memorySinkPlugin, memorySourcePlugin } from "../core/memory_plugins.ts";
 * import assert from "node:assert/strict";
 *
 * const out = memorySinkPlugin({});
 * const { pipelines, plugins } = describePlugins({
 *   demo: { description: "d", source: memorySourcePlugin({ batches: [] }), sinks: [out], deadLetter: out },
 * });
 * assert.deepEqual(pipelines[0].plugins[1].usedAt, ["sinks[0]", "deadLetter"]);
 * assert.equal(plugins[0].schema.type, "object");
 * ```
 */
export function describePlugins(pipelines: Record<string, PipelineDefinition>): {
  pipelines: Array<{ name: string; plugins: PluginUse[] }>;
  plugins: PluginInfo[];
} {
  const specs = new Map<AnySpec, PluginInfo>();
  const described = Object.entries(pipelines).map(([name, pipeline]) => {
    const uses = new Map<AnySpec, PluginUse>();
    for (const [at, configured] of usesOf(pipeline)) {
      const spec = configured.spec as AnySpec;
      if (!specs.has(spec)) specs.set(spec, infoOf(spec));
      const use = uses.get(spec) ??
        { kind: spec.kind, plugin: spec.name, description: spec.description, usedAt: [] };
      // A sink that is also the dead-letter sink is one component in two places.
      if (!use.usedAt.includes(at)) use.usedAt.push(at);
      uses.set(spec, use);
    }
    return { name, plugins: [...uses.values()] };
  });
  return { pipelines: described, plugins: [...specs.values()] };
}

/**
 * A config schema as JSON Schema (zod's, for the input side). A field zod cannot express (a
 * custom check, a function) is left open, `{}`; if the schema cannot be converted at all, each
 * field of an object is converted on its own, and one that fails says so.
 *
 * @example
 * ```ts
 * import { jsonSchemaOf } from "./plugins.ts";
 * import { z } from "zod";
 * import assert from "node:assert/strict";
 *
 * const schema = jsonSchemaOf(z.strictObject({ url: z.string().transform((s) => new URL(s)) }));
 * assert.deepEqual(schema.properties, { url: { type: "string" } });
 * ```
 */
export function jsonSchemaOf(schema: z.ZodType): Record<string, unknown> {
  const convert = (part: z.ZodType) =>
    z.toJSONSchema(part, { io: "input", unrepresentable: "any" }) as Record<string, unknown>;
  try {
    return convert(schema);
  } catch (error) {
    if (!(schema instanceof z.ZodObject)) {
      return { description: `Not expressible as JSON Schema: ${String(error)}` };
    }
    const properties = Object.fromEntries(
      Object.entries(schema.shape as Record<string, z.ZodType>).map(([field, part]) => {
        try {
          const { $schema: _, ...converted } = convert(part);
          return [field, converted];
        } catch (error) {
          return [field, { description: `Not expressible as JSON Schema: ${String(error)}` }];
        }
      }),
    );
    return { type: "object", properties };
  }
}

/** The `plugins` command. */
export const plugins: Command = {
  summary: "list the plugins the config uses, with their config schemas and examples",
  help: `Usage: deno task pipeline plugins [pipeline] [options]

Lists, per pipeline (or for the one named), the plugins it uses: their kind, name, where the
pipeline uses them (e.g. sinks[0], deadLetter) and what they do. Then, once per plugin, its
config: each field with its type and default, the environment variables that override fields,
and a complete example. The JSON summary has the same, each schema as JSON Schema (the input
side: what a config may hold). Connects nothing.

${OPTIONS_HELP}`,
  async run(args, options) {
    if (args.length > 1) {
      throw new UsageError(`plugins takes at most one pipeline name, got: ${args.join(" ")}.`);
    }
    const config = await loadConfig(options.config, Deno.env.toObject());
    // loadConfig imported and validated it; the same module gives the plugins as configured.
    const module = await import(pathToFileURL(resolve(options.config)).href);
    const all = (module.default as ConfigDefinition).pipelines;
    const [wanted] = args;
    if (wanted !== undefined && !(wanted in all)) {
      const known = config.pipelines.map((p) => p.name).join(", ") || "none";
      throw new UsageError(`There is no pipeline ${wanted} in ${config.path}.`, {
        hint: `The pipelines are: ${known}.`,
      });
    }
    const chosen = wanted === undefined ? all : { [wanted]: all[wanted] };
    const described = describePlugins(chosen);
    console.log(redact(renderPlugins(described)));
    return { command: "plugins", exitCode: EXIT_CODES.ok, config: config.path, ...described };
  },
};

/** The description as text for a person. */
function renderPlugins({ pipelines, plugins }: ReturnType<typeof describePlugins>): string {
  const lines: string[] = [];
  for (const { name, plugins: uses } of pipelines) {
    lines.push(`Pipeline ${name}:`);
    const kindWidth = Math.max(...uses.map((use) => use.kind.length));
    const nameWidth = Math.max(...uses.map((use) => use.plugin.length));
    for (const use of uses) {
      lines.push(
        `  ${use.kind.padEnd(kindWidth)}  ${use.plugin.padEnd(nameWidth)}  ` +
          `${use.usedAt.join(", ")}: ${use.description}`,
      );
    }
    lines.push("");
  }
  for (const plugin of plugins) {
    lines.push(`${plugin.kind} plugin ${plugin.name}: ${plugin.description}`, "  config:");
    lines.push(...fieldLines(plugin.schema, plugin.env));
    lines.push("  example:");
    const example = JSON.stringify(plugin.example, null, 2) ?? "undefined";
    lines.push(...example.split("\n").map((line) => `    ${line}`), "");
  }
  return lines.join("\n").trimEnd();
}

/** One line per top-level field: its type, whether it is required or its default, its variable. */
function fieldLines(schema: Record<string, unknown>, env: Record<string, string>): string[] {
  const properties = (schema.properties ?? {}) as Record<string, Record<string, unknown>>;
  const defs = (schema.$defs ?? {}) as Record<string, Record<string, unknown>>;
  const required = new Set((schema.required ?? []) as string[]);
  const fields = Object.entries(properties);
  if (fields.length === 0) return ["    (no fields)"];
  const width = Math.max(...fields.map(([field]) => field.length));
  return fields.map(([field, property]) => {
    const presence = required.has(field)
      ? "required"
      : "default" in property
      ? `default ${JSON.stringify(property.default)}`
      : "optional";
    const variable = env[field] === undefined ? "" : `, overridden by ${env[field]}`;
    return `    ${field.padEnd(width)}  ${typeOf(property, defs)} (${presence}${variable})`;
  });
}

/**
 * A JSON Schema's type in a few words: `string`, `integer`, `"a" | "b"`, `string[]`. `defs` are
 * the root's `$defs`, for a `$ref`; a reference back into one being described is `…`.
 */
function typeOf(
  schema: Record<string, unknown>,
  defs: Record<string, Record<string, unknown>> = {},
  within: ReadonlySet<string> = new Set(),
): string {
  const inner = (part: unknown) => typeOf((part ?? {}) as Record<string, unknown>, defs, within);
  if (typeof schema.$ref === "string") {
    const name = schema.$ref.replace(/^#\/\$defs\//, "");
    if (within.has(name) || defs[name] === undefined) return "…";
    return typeOf(defs[name], defs, new Set([...within, name]));
  }
  if (Array.isArray(schema.enum)) return schema.enum.map((v) => JSON.stringify(v)).join(" | ");
  if ("const" in schema) return JSON.stringify(schema.const);
  const union = schema.anyOf ?? schema.oneOf;
  if (Array.isArray(union)) return [...new Set(union.map(inner))].join(" | ");
  if (schema.type === "array") {
    const items = inner(schema.items);
    return items.includes(" ") ? `(${items})[]` : `${items}[]`;
  }
  if (Array.isArray(schema.type)) return schema.type.join(" | ");
  if (typeof schema.type === "string") return schema.type;
  return "any";
}

function infoOf(spec: AnySpec): PluginInfo {
  return {
    kind: spec.kind,
    name: spec.name,
    description: spec.description,
    env: Object.fromEntries(
      Object.entries(spec.env ?? {}).filter((entry): entry is [string, string] =>
        typeof entry[1] === "string"
      ),
    ),
    schema: jsonSchemaOf(spec.config),
    example: spec.example,
  };
}

/** Every component a pipeline definition uses, with where, in the order of the pipeline. */
function usesOf(pipeline: PipelineDefinition): Array<[string, Configured]> {
  return [
    ["source", pipeline.source],
    ...(pipeline.transforms ?? []).map((t, i): [string, Configured] => [`transforms[${i}]`, t]),
    ...pipeline.sinks.map((s, i): [string, Configured] => [`sinks[${i}]`, s]),
    ["deadLetter", pipeline.deadLetter],
    ...Object.entries(pipeline.steps ?? {}).map(([n, s]): [string, Configured] => [
      `steps.${n}`,
      s,
    ]),
    ...(pipeline.checks ?? []).map((c, i): [string, Configured] => [`checks[${i}]`, c]),
    // Any other component the pipeline names, e.g. the warehouse its checks query.
    ...Object.entries(pipeline).filter(([field, value]) =>
      !KNOWN_FIELDS.has(field) && isConfigured(value)
    ) as Array<[string, Configured]>,
  ];
}

const KNOWN_FIELDS = new Set(["source", "transforms", "sinks", "deadLetter", "steps", "checks"]);

function isConfigured(value: unknown): value is Configured {
  return typeof value === "object" && value !== null && "spec" in value && "build" in value;
}
