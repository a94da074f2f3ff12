/**
 * A headless Chromium for the tests, driven over the DevTools protocol with Deno's WebSocket:
 * open a page at a viewport, see what it logged as errors and which requests it sent, evaluate
 * expressions in it and save screenshots. Needs Debian's `chromium` (`.ci/run` installs it).
 *
 * @module
 */
/** A viewport: a laptop's or a phone's. */
export interface Viewport {
  width: number;
  height: number;
  /** Emulates a phone: touch, device pixel ratio 2, a mobile viewport. */
  mobile?: boolean;
}

/** A laptop screen. */
export const DESKTOP: Viewport = { width: 1280, height: 800 };
/** A phone held upright. */
export const PHONE: Viewport = { width: 390, height: 844, mobile: true };

/** A page loaded in the browser. */
export interface Page {
  /** Console errors, uncaught exceptions and error log entries, as text. */
  readonly errors: string[];
  /** The URL of every request the page sent, its own document's included. */
  readonly requests: string[];
  /** The value of `expression`, evaluated in the page (returned by value, awaited). */
  evaluate<T>(expression: string): Promise<T>;
  /** Saves a PNG of the whole page, not only the viewport, at `path`. */
  screenshot(path: string): Promise<void>;
}

/** The browser; dispose of it to stop the process. */
export interface Chromium extends AsyncDisposable {
  /** Opens `url` at `viewport` in a new tab and resolves once it has loaded. */
  open(url: string, viewport: Viewport): Promise<Page>;
}

type Message = {
  id?: number;
  method?: string;
  params?: Record<string, unknown>;
  result?: Record<string, unknown>;
  error?: { message: string };
  sessionId?: string;
};

/**
 * Starts headless Chromium with a profile of its own, connected over the DevTools protocol.
 *
 * @example
 * ```ts ignore
 * await using browser = await chromium();
 * const page = await browser.open("file:///tmp/report.html", DESKTOP);
 * console.log(await page.evaluate("document.title"), page.errors);
 * ```
 */
export async function chromium(): Promise<Chromium> {
  const profile = await Deno.makeTempDir({ prefix: "chromium_" });
  const process = new Deno.Command("chromium", {
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--no-first-run",
      "--hide-scrollbars",
      `--user-data-dir=${profile}`,
      "--remote-debugging-port=0",
      "about:blank",
    ],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const reader = process.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  let endpoint: string | undefined;
  while (endpoint === undefined) {
    const { value, done } = await reader.read();
    if (done) break;
    seen += value;
    endpoint = seen.match(/DevTools listening on (ws:\/\/\S+)/)?.[1];
  }
  // The rest of its stderr is drained, so that the browser never blocks on a full pipe.
  void (async () => {
    while (!(await reader.read()).done);
  })().catch(() => {});
  if (endpoint === undefined) throw new Error(`Chromium exited before listening: ${seen}`);
  const socket = new WebSocket(endpoint);
  await new Promise((resolve, reject) => {
    socket.onopen = resolve;
    socket.onerror = () => reject(new Error(`Could not connect to Chromium at ${endpoint}`));
  });
  let next = 0;
  const pending = new Map<number, { resolve(m: Message): void; reject(e: Error): void }>();
  const listeners = new Set<(m: Message) => void>();
  socket.onmessage = (event) => {
    const message: Message = JSON.parse(event.data);
    if (message.id !== undefined) {
      const waiting = pending.get(message.id);
      pending.delete(message.id);
      if (message.error) waiting?.reject(new Error(message.error.message));
      else waiting?.resolve(message);
      return;
    }
    for (const listener of listeners) listener(message);
  };
  const send = (method: string, params: Record<string, unknown> = {}, sessionId?: string) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const id = ++next;
      pending.set(id, { resolve: (m) => resolve(m.result ?? {}), reject });
      socket.send(JSON.stringify({ id, method, params, sessionId }));
    });

  return {
    async open(url, viewport) {
      const { targetId } = await send("Target.createTarget", { url: "about:blank" });
      const { sessionId } = await send("Target.attachToTarget", { targetId, flatten: true }) as {
        sessionId: string;
      };
      const on = (method: string, params: Record<string, unknown> = {}) =>
        send(method, params, sessionId);
      const errors: string[] = [];
      const requests: string[] = [];
      let loaded!: () => void;
      const load = new Promise<void>((resolve) => loaded = resolve);
      listeners.add((m) => {
        if (m.sessionId !== sessionId) return;
        const p = m.params ?? {};
        if (m.method === "Network.requestWillBeSent") {
          requests.push((p.request as { url: string }).url);
        } else if (m.method === "Runtime.consoleAPICalled" && p.type === "error") {
          errors.push(JSON.stringify(p.args));
        } else if (m.method === "Runtime.exceptionThrown") {
          errors.push(JSON.stringify(p.exceptionDetails));
        } else if (m.method === "Log.entryAdded") {
          const entry = p.entry as { level: string; text: string; url?: string };
          if (entry.level === "error") errors.push(`${entry.text} ${entry.url ?? ""}`);
        } else if (m.method === "Page.loadEventFired") {
          loaded();
        }
      });
      for (const domain of ["Page", "Runtime", "Network", "Log"]) await on(`${domain}.enable`);
      await on("Emulation.setDeviceMetricsOverride", {
        width: viewport.width,
        height: viewport.height,
        deviceScaleFactor: viewport.mobile ? 2 : 1,
        mobile: viewport.mobile ?? false,
      });
      if (viewport.mobile) await on("Emulation.setTouchEmulationEnabled", { enabled: true });
      await on("Page.navigate", { url });
      await load;
      return {
        errors,
        requests,
        async evaluate<T>(expression: string) {
          const { result, exceptionDetails } = await on("Runtime.evaluate", {
            expression,
            returnByValue: true,
            awaitPromise: true,
          }) as { result: { value: T }; exceptionDetails?: unknown };
          if (exceptionDetails) throw new Error(JSON.stringify(exceptionDetails));
          return result.value;
        },
        async screenshot(path) {
          const { data } = await on("Page.captureScreenshot", {
            format: "png",
            captureBeyondViewport: true,
          }) as { data: string };
          await Deno.writeFile(path, Uint8Array.from(atob(data), (c) => c.charCodeAt(0)));
        },
      };
    },
    async [Symbol.asyncDispose]() {
      socket.close();
      process.kill("SIGTERM");
      await process.status;
      await Deno.remove(profile, { recursive: true }).catch(() => {});
    },
  };
}
