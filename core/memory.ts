/**
 * In-memory components, for testing the runner and for plugin authors' own tests. They record
 * everything the runner does to them.
 *
 * @module
 */
import { runtimeSchema } from "./schema.ts";
import {
  type Batch,
  type Check,
  type Cursor,
  END_OF_INPUT,
  type EndOfInput,
  type Message,
  type Pipeline,
  type Reject,
  type Sink,
  type SinkBatch,
  type Source,
  type SourceContext,
  type Step,
  type Transform,
} from "./types.ts";

/** A source over fixed batches that records acknowledgements. */
export interface MemorySource<T> extends Source<T> {
  /** Batch indexes committed, in order. */
  readonly acked: number[];
  /** Batch indexes nacked, with the error. A nack rewinds the source to that batch. */
  readonly nacked: Array<{ batch: number; error: Error }>;
  /** The most batches read and not yet acknowledged at one time. */
  readonly maxInFlight: number;
  /** The cursors the source was given at connect. */
  readonly resumedFrom: Cursor[];
}

/**
 * A source that yields `batches` in order. Batch `i` carries the cursor
 * `{ stream: "memory", partition: 0, offset: String(i + 1) }`, and a source given that cursor
 * at connect (by `loadCursors`) resumes at batch `i + 1`. In `batch` mode it then reports the
 * end of its input; in `stream` mode it waits for the stop signal. Batches pushed onto
 * `batches` later are read too.
 *
 * @example
 * ```ts
 * import { memorySource } from "./memory.ts";
 * import assert from "node:assert/strict";
 *
 * const source = memorySource([[{ value: "a" }]]);
 * const batch = await source.read(new AbortController().signal);
 * assert.notEqual(batch, undefined);
 * ```
 */
export function memorySource<T>(batches: Message<T>[][]): MemorySource<T> {
  let next = 0;
  let inFlight = 0;
  let mode: SourceContext["mode"] = "batch";
  const acked: number[] = [];
  const nacked: Array<{ batch: number; error: Error }> = [];
  const resumedFrom: Cursor[] = [];
  let maxInFlight = 0;
  return {
    acked,
    nacked,
    resumedFrom,
    get maxInFlight() {
      return maxInFlight;
    },
    async connect(ctx) {
      mode = ctx.mode;
      const stored = await ctx.loadCursors();
      resumedFrom.push(...stored);
      const own = stored.find((cursor) => cursor.stream === "memory" && cursor.partition === 0);
      if (own !== undefined) next = Number(own.offset);
    },
    read(signal): Promise<Batch<T> | EndOfInput> {
      if (next >= batches.length) {
        if (mode === "batch") return Promise.resolve(END_OF_INPUT);
        return new Promise((_, reject) => {
          if (signal.aborted) reject(signal.reason);
          signal.addEventListener("abort", () => reject(signal.reason), { once: true });
        });
      }
      const index = next++;
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      const cursor = { stream: "memory", partition: 0, offset: String(index + 1) };
      return Promise.resolve({
        messages: batches[index],
        cursors: [cursor],
        ack: (error?: Error) => {
          if (error) {
            // Redeliver from the nacked batch; the batches handed out after it are void.
            nacked.push({ batch: index, error });
            next = index;
            inFlight = 0;
          } else {
            acked.push(index);
            inFlight--;
          }
          return Promise.resolve();
        },
      });
    },
  };
}

/** Options of {@linkcode memorySink}. */
export interface MemorySinkOptions {
  /**
   * Called before every write; throw from it to make that write fail.
   * @default {undefined}
   */
  beforeWrite?: (batch: SinkBatch, signal: AbortSignal) => Promise<void> | void;
  /**
   * Whether the sink stores cursors with the rows, and hands them back on `loadCursors`.
   * @default {false}
   */
  storesCursors?: boolean;
}

/** A sink that keeps what it was given, all or nothing per write. */
export interface MemorySink<T> extends Sink<T> {
  /** Records written, across all successful writes. */
  readonly written: Message<T>[];
  /** Rejects written. */
  readonly rejects: Reject[];
  /** Cursors stored by the last successful write. */
  readonly cursors: Cursor[];
  /** Write calls, failed ones included. */
  readonly attempts: number;
  /** How many times `close` was called. */
  readonly closed: number;
}

/**
 * A sink that appends to arrays. With `storesCursors`, it keeps the cursors of each write, as a
 * database sink stores them in its transaction.
 *
 * @example
 * ```ts
 * import { memorySink } from "./memory.ts";
 * import assert from "node:assert/strict";
 *
 * const sink = memorySink();
 * await sink.write({ messages: [{ value: 1 }], rejects: [], cursors: [] }, new AbortController().signal);
 * assert.equal(sink.written.length, 1);
 * ```
 */
export function memorySink<T = unknown>(options: MemorySinkOptions = {}): MemorySink<T> {
  const written: Message<T>[] = [];
  const rejects: Reject[] = [];
  const cursors: Cursor[] = [];
  let attempts = 0;
  let closed = 0;
  const sink: MemorySink<T> = {
    written,
    rejects,
    cursors,
    get attempts() {
      return attempts;
    },
    get closed() {
      return closed;
    },
    async write(batch, signal) {
      attempts++;
      await options.beforeWrite?.(batch, signal);
      written.push(...batch.messages);
      rejects.push(...batch.rejects);
      if (batch.cursors.length > 0) cursors.splice(0, cursors.length, ...batch.cursors);
    },
    close() {
      closed++;
      return Promise.resolve();
    },
  };
  if (options.storesCursors) sink.loadCursors = () => Promise.resolve([...cursors]);
  return sink;
}

/**
 * A transform that rejects the records `isBad` picks, with `reason`.
 *
 * @example
 * ```ts
 * import { rejectingTransform } from "./memory.ts";
 * import assert from "node:assert/strict";
 *
 * const transform = rejectingTransform((value) => value === 0, "zero is not allowed");
 * const result = await transform.apply([{ value: 0 }, { value: 1 }]);
 * assert.equal(result.rejects[0].reason, "zero is not allowed");
 * ```
 */
export function rejectingTransform<T>(
  isBad: (value: T) => boolean,
  reason: string,
): Transform<T, T> {
  return {
    apply(messages) {
      const good = messages.filter((message) => !isBad(message.value));
      const rejects = messages.filter((message) => isBad(message.value)).map((message) => ({
        payload: message.arrived ?? message.value,
        reason,
        stage: "transform memory",
        origin: message.origin,
      }));
      return { messages: good, rejects };
    },
  };
}

/** The components of {@linkcode memoryPipeline}; only `source` and `sinks` are required. */
export interface MemoryPipelineParts {
  /** Where records come from. */
  source: Source;
  /** Written in order. */
  sinks: Sink[];
  /**
   * Where rejects go.
   * @default {sinks[0]}
   */
  deadLetter?: Sink;
  /**
   * Transforms in order.
   * @default {[]}
   */
  transforms?: Transform[];
  /**
   * Steps after loading, by name.
   * @default {{}}
   */
  steps?: Record<string, Step>;
  /**
   * Checks after the steps.
   * @default {[]}
   */
  checks?: Check[];
  /**
   * Runner settings; missing ones take their defaults, except that retries wait 1 ms.
   * @default {{}}
   */
  runtime?: Record<string, unknown>;
}

/**
 * Wires components into a {@linkcode Pipeline} named `memory`, with fast retries.
 *
 * @example
 * ```ts
 * import { memoryPipeline, memorySink, memorySource } from "./memory.ts";
 * import assert from "node:assert/strict";
 *
 * const pipeline = memoryPipeline({ source: memorySource([]), sinks: [memorySink()] });
 * assert.equal(pipeline.sinks.length, 1);
 * ```
 */
export function memoryPipeline(parts: MemoryPipelineParts): Pipeline {
  const fast = { initialDelayMs: 1, maxDelayMs: 1 };
  const runtime = runtimeSchema.parse({
    connectRetry: { attempts: 3, ...fast },
    writeRetry: { attempts: 3, ...fast },
    ...parts.runtime,
  });
  return {
    name: "memory",
    source: { name: "memory-source", component: parts.source },
    transforms: (parts.transforms ?? []).map((component, i) => ({
      name: `transform-${i}`,
      component,
    })),
    sinks: parts.sinks.map((component, i) => ({ name: `sink-${i}`, component })),
    deadLetter: parts.deadLetter
      ? { name: "dead-letter", component: parts.deadLetter }
      : { name: "sink-0", component: parts.sinks[0] },
    steps: Object.entries(parts.steps ?? {}).map(([name, component]) => ({ name, component })),
    checks: (parts.checks ?? []).map((component, i) => ({ name: `check-${i}`, component })),
    runtime,
  };
}
