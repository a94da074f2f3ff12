/**
 * A real SMTP server on 127.0.0.1 for the DAG tests to receive Airflow's failure emails:
 * aiosmtpd (tools/lib/python_tools.ts) running `mail_server.py`, every message kept as a file.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { ensurePythonTools } from "../../tools/lib/python_tools.ts";
import { removePath, reserveFreePorts } from "../../tools/lib/proc.ts";

const SCRIPT = fileURLToPath(new URL("./mail_server.py", import.meta.url));

/** One message as the server received it. */
export interface Mail {
  /** The envelope's sender and recipients (SMTP's MAIL FROM and RCPT TO). */
  mail_from: string;
  rcpt_tos: string[];
  /** The headers. */
  from: string;
  to: string;
  subject: string;
  /** The HTML body (else the plain text one), decoded. */
  body: string;
  /** The body as a reader sees it: without tags, entities decoded, one space between words. */
  text: string;
}

/** A running {@linkcode startMailServer}. Dispose it to stop the server. */
export interface MailServer extends AsyncDisposable {
  /** The port it listens on, on 127.0.0.1. */
  readonly port: number;
  /**
   * Airflow's `smtp_default` connection to it, as the value of `AIRFLOW_CONN_SMTP_DEFAULT`:
   * plain SMTP (no SSL, no STARTTLS), with a sender address.
   */
  readonly airflowConnection: string;
  /** The messages received so far, oldest first. */
  messages(): Promise<Mail[]>;
}

/**
 * Starts the server and resolves once it listens.
 *
 * @example
 * ```ts ignore
 * await using mail = await startMailServer();
 * const env = { AIRFLOW_CONN_SMTP_DEFAULT: mail.airflowConnection };
 * // … a DAG run with `env` …
 * const [message] = await mail.messages();
 * ```
 */
export async function startMailServer(): Promise<MailServer> {
  const { python } = await ensurePythonTools();
  const folder = await Deno.makeTempDir({ prefix: "velib-mail-" });
  const [port] = reserveFreePorts(1);
  const child = new Deno.Command(python, {
    args: [SCRIPT, String(port), folder],
    env: { PYTHONDONTWRITEBYTECODE: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch {
      // Already exited.
    }
    await child.status;
    await removePath(folder);
  };

  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let stdout = "";
  while (!stdout.includes("ready\n")) {
    const { value, done } = await reader.read();
    if (done) {
      await stop();
      throw new Error(`mail_server.py exited before listening:\n${stdout}${await stderr}`);
    }
    stdout += value;
  }
  // Nothing more comes on stdout.
  await reader.cancel();

  return {
    port,
    airflowConnection: JSON.stringify({
      conn_type: "smtp",
      host: "127.0.0.1",
      port,
      extra: { from_email: "airflow@velib.test", disable_ssl: true, disable_tls: true },
    }),
    async messages() {
      const names: string[] = [];
      for await (const entry of Deno.readDir(folder)) {
        if (entry.name.endsWith(".json")) names.push(entry.name);
      }
      // Named by the time received, in nanoseconds: sorted by name is oldest first.
      names.sort((a, b) => a.length - b.length || a.localeCompare(b));
      return await Promise.all(
        names.map(async (name) => JSON.parse(await Deno.readTextFile(join(folder, name)))),
      );
    },
    [Symbol.asyncDispose]: stop,
  };
}
