/**
 * Errors raised by the local service tooling (tools/services.ts, tools/test.ts).
 *
 * Every failure a user can hit carries three things: what failed, where to look (a log
 * file, when there is one) and what to do about it. The CLIs print those instead of a stack.
 */

/** A failure with a user-facing hint and, when relevant, the log file that explains it. */
export class ServiceError extends Error {
  override name = "ServiceError";

  /**
   * @param message what failed, in one sentence
   * @param hint what the user can do about it
   * @param logPath the log file that has the details, if any
   * @param details extra text to show (e.g. the tail of a log or a command's stderr)
   */
  constructor(
    message: string,
    readonly hint: string,
    readonly logPath?: string,
    readonly details?: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Thrown when startup is interrupted (SIGINT/SIGTERM); not a failure of the services. */
export class StartupAborted extends Error {
  override name = "StartupAborted";
  constructor() {
    super("startup interrupted");
  }
}

/**
 * Renders any thrown value for a terminal: message, details, log path and hint.
 * Stack traces are only shown for unexpected errors when VELIB_DEBUG is set.
 */
export function formatError(err: unknown): string {
  if (err instanceof ServiceError) {
    const lines = [`error: ${err.message}`];
    if (err.details?.trim()) lines.push(indent(err.details.trimEnd()));
    if (err.logPath) lines.push(`  log:  ${err.logPath}`);
    lines.push(`  hint: ${err.hint}`);
    return lines.join("\n");
  }
  const message = err instanceof Error ? err.message : String(err);
  const lines = [`error: ${message}`];
  if (Deno.env.get("VELIB_DEBUG") && err instanceof Error && err.stack) {
    lines.push(indent(err.stack));
  } else {
    lines.push("  hint: this is unexpected; rerun with VELIB_DEBUG=1 for a stack trace");
  }
  return lines.join("\n");
}

function indent(text: string): string {
  return text.split("\n").map((line) => `  | ${line}`).join("\n");
}
