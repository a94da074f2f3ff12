/**
 * `deno task pipeline <command>`: the entry point data engineers and Airflow call.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { isLogLevel } from "@logtape/logtape";
import { configureLogging, type LogFormat } from "../core/log.ts";
import { BadRequest, ConfigError, describeError } from "../core/errors.ts";
import { EXIT_CODES } from "../core/runner.ts";
import { COMMANDS, mainHelp } from "./commands.ts";
import { checkFlags, COMMAND_FLAGS, type GlobalOptions, UsageError } from "./shared.ts";
import { printError, printSummary, type Summary } from "./output.ts";

/**
 * Runs the CLI with `args` and resolves with the exit code.
 *
 * @example
 * ```ts ignore
 * const code = await main(["validate"]);
 * ```
 */
export async function main(args: string[]): Promise<number> {
  let command = "help";
  try {
    const parsed = parseCommandLine(args);
    const [name, ...rest] = parsed.positionals;
    if (name === undefined || name === "help") {
      console.log(rest[0] && COMMANDS[rest[0]] ? COMMANDS[rest[0]].help : mainHelp());
      return name === undefined && !parsed.values.help ? EXIT_CODES.usage : EXIT_CODES.ok;
    }
    command = name;
    const selected = COMMANDS[name];
    if (!selected) {
      throw new UsageError(`Unknown command "${name}".`, {
        hint: `The commands are: ${Object.keys(COMMANDS).join(", ")}. See --help.`,
      });
    }
    if (parsed.values.help) {
      console.log(selected.help);
      return EXIT_CODES.ok;
    }
    await configureLogging(loggingOptions(parsed.values["log-format"], parsed.values["log-level"]));
    const { config, "log-format": _format, "log-level": _level, help: _help, ...flags } =
      parsed.values;
    const options: GlobalOptions = { config: config!, ...flags };
    checkFlags(name, options);
    const summary = await selected.run(rest, options);
    printSummary(summary);
    return summary.exitCode;
  } catch (error) {
    const exitCode = error instanceof BadRequest || error instanceof ConfigError
      ? EXIT_CODES.usage
      : EXIT_CODES.failure;
    const described = describeError(error);
    printError(described);
    const summary: Summary = { command, exitCode, exitReason: "failed", error: described };
    printSummary(summary);
    return exitCode;
  }
}

function loggingOptions(format: string | undefined, level: string | undefined) {
  if (format !== undefined && format !== "pretty" && format !== "json") {
    throw new UsageError(`--log-format must be pretty or json, got "${format}".`);
  }
  if (level === undefined || !isLogLevel(level)) {
    throw new UsageError(`--log-level must be debug, info, warning or error, got "${level}".`);
  }
  return { format: format as LogFormat | undefined, level };
}

function parseCommandLine(args: string[]) {
  try {
    return parseArgs({
      args,
      allowPositionals: true,
      options: {
        config: {
          type: "string",
          default: Deno.env.get("PIPELINE_CONFIG") ?? "pipeline.config.ts",
        },
        "log-format": { type: "string" },
        "log-level": { type: "string", default: "info" },
        help: { type: "boolean", short: "h", default: false },
        ...Object.fromEntries(
          Object.entries(COMMAND_FLAGS).map(([flag, { type }]) => [flag, { type }]),
        ) as { [F in keyof typeof COMMAND_FLAGS]: { type: (typeof COMMAND_FLAGS)[F]["type"] } },
      },
    });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error), {
      hint: "See `deno task pipeline --help`.",
    });
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
