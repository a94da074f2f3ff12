/**
 * Logging setup: human-readable on a terminal, JSON lines otherwise, always on stderr (stdout is
 * kept for results), and always redacted.
 *
 * @module
 */
import {
  ansiColorFormatter,
  configure,
  jsonLinesFormatter,
  type LogLevel,
  type LogRecord,
  reset,
  type Sink,
} from "@logtape/logtape";
import { redact } from "./redact.ts";

/** How log lines are written. */
export type LogFormat = "pretty" | "json";

/** Options of {@linkcode configureLogging}. */
export interface LoggingOptions {
  /**
   * `pretty` for people, `json` for machines (one object per line).
   * @default {"pretty" on a terminal, "json" otherwise}
   */
  format?: LogFormat;
  /**
   * The lowest level written.
   * @default {"info"}
   */
  level?: LogLevel;
  /**
   * Where lines go.
   * @default {a synchronous writer to stderr}
   */
  write?: (line: string) => void;
}

const encoder = new TextEncoder();

function writeStderr(line: string): void {
  const bytes = encoder.encode(line);
  // Synchronous so that the last lines before an exit are never lost.
  for (let written = 0; written < bytes.length;) {
    written += Deno.stderr.writeSync(bytes.subarray(written));
  }
}

/**
 * A logtape sink that formats, redacts connection passwords, and writes each line.
 *
 * @example
 * ```ts
 * import { redactingSink } from "./log.ts";
 * import { jsonLinesFormatter } from "@logtape/logtape";
 * import assert from "node:assert/strict";
 *
 * const lines: string[] = [];
 * const sink = redactingSink(jsonLinesFormatter, (line) => lines.push(line));
 * sink({
 *   category: ["pipeline"],
 *   level: "info",
 *   message: ["Connected to postgres://u:pw@db/velib"],
 *   rawMessage: "Connected to postgres://u:pw@db/velib",
 *   timestamp: 0,
 *   properties: {},
 * });
 * assert.match(lines[0], /postgres:\/\/u:\*\*\*@db/);
 * ```
 */
export function redactingSink(
  format: (record: LogRecord) => string,
  write: (line: string) => void,
): Sink {
  return (record) => write(redact(format(record)));
}

/**
 * Configures the `pipeline` log category (plugins log under it) for the process.
 *
 * @example
 * ```ts
 * import { configureLogging } from "./log.ts";
 * import { getLogger } from "@logtape/logtape";
 *
 * await configureLogging({ format: "json", level: "warning", write: () => {} });
 * getLogger(["pipeline"]).info("not written: below the level");
 * ```
 */
export async function configureLogging(options: LoggingOptions = {}): Promise<void> {
  const format = options.format ?? (Deno.stderr.isTerminal() ? "pretty" : "json");
  const formatter = format === "pretty" ? ansiColorFormatter : jsonLinesFormatter;
  await reset();
  await configure({
    sinks: { stderr: redactingSink(formatter, options.write ?? writeStderr) },
    loggers: [
      { category: ["pipeline"], lowestLevel: options.level ?? "info", sinks: ["stderr"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["stderr"] },
    ],
  });
}

/**
 * `text` made safe to put inside a log message template: logtape reads `{name}` as a
 * placeholder, so an error message or JSON with braces would otherwise lose its content.
 *
 * @example
 * ```ts
 * import { literal } from "./log.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(literal('bad value {"a":1}'), 'bad value {{"a":1}}');
 * ```
 */
export function literal(text: string): string {
  return text.replace(/[{}]/g, (brace) => brace + brace);
}
