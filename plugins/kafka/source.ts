/**
 * The Kafka source: a consumer group member whose records are pulled in batches, and whose
 * offsets are committed only once the batches are written.
 *
 * @module
 */
import { getLogger, type Logger } from "@logtape/logtape";
import type { Admin, Consumer, EachBatchPayload, KafkaMessage } from "kafkajs";
import {
  BadRequest,
  type Batch,
  type Cursor,
  definePlugin,
  describeError,
  END_OF_INPUT,
  type EndOfInput,
  type Message,
  type PartitionLag,
  PipelineError,
  type ReadRange,
  type Reject,
  type RunMode,
  type Source,
  type SourceContext,
} from "../../mod.ts";
import { createKafka, describeTopic, disconnectAll, kafkaError, withAdmin } from "./client.ts";
import { type KafkaSourceConfig, sourceConfigSchema, sourceExample } from "./config.ts";
import { OffsetTracker } from "./offsets.ts";
import {
  describeWindow,
  eventTime,
  outsideWindow,
  planRange,
  type RangePlan,
  retentionError,
} from "./range.ts";

/**
 * Reads JSON messages from a Kafka topic as a member of a consumer group. In `batch` mode it
 * stops at the end offsets the topic had when it connected. It can read a range of positions
 * for a rerun, without moving the group.
 *
 * @example In a pipeline config
 * ```ts
 * import { kafkaSource } from "./source.ts";
 * import assert from "node:assert/strict";
 *
 * const source = kafkaSource({ brokers: "127.0.0.1:9092", topic: "velib-stations", groupId: "load" });
 * assert.deepEqual(source.validate({}), []);
 * ```
 */
export const kafkaSource = definePlugin({
  kind: "source",
  name: "kafka",
  description: "Reads JSON messages from a Kafka topic as a member of a consumer group.",
  config: sourceConfigSchema,
  example: sourceExample,
  env: { brokers: "KAFKA_BROKERS" },
  create: (config) => new KafkaSource(config),
});

// How long an idle fetch waits for data. kafkajs heartbeats between fetches and stops only
// after the current one, so this bounds how late an idle member notices a rebalance, and how
// long closing takes.
const FETCH_WAIT_MS = 500;
// What one fetch may bring per partition, compressed. A gzip fetch of JSON decompresses to several
// times its size, all of it decoded at once: kafkajs's 1 MiB default held about 75 MB more at
// the peak of a catch-up than this (bench/catch_up.ts), for no measurable gain in throughput.
const FETCH_MAX_BYTES_PER_PARTITION = 256 * 1024;
// How often eachBatch heartbeats while it waits for the buffer to drain.
const HEARTBEAT_WHILE_WAITING_MS = 1_000;

/** A fetched message waiting to be read. */
interface Buffered {
  partition: number;
  message: KafkaMessage;
}

/**
 * The component `kafkaSource` builds.
 *
 * kafkajs pushes fetched messages into `eachBatch`, which buffers them and waits while the
 * buffer holds two batches' worth (the backpressure); `read` pulls from the buffer. Where a
 * partition starts, when it is (re)assigned: the position a sink stored with its data, else the
 * group's committed offset, else the earliest retained one.
 *
 * A rerun (`ctx.range`) joins a group of its own, `<groupId>.rerun.<runId>`, that it never
 * commits to, and reads each partition from where the range starts to where it stops (see
 * `planRange`), handing out only the records whose event time is in the range's window.
 *
 * @example Reading a batch and acknowledging it
 * ```ts ignore
 * import { KafkaSource } from "./source.ts";
 * import { sourceConfigSchema } from "./config.ts";
 * import { END_OF_INPUT } from "../../mod.ts";
 * import { getLogger } from "@logtape/logtape";
 *
 * const config = { brokers: "127.0.0.1:9092", topic: "t", groupId: "g" };
 * const source = new KafkaSource(sourceConfigSchema.parse(config));
 * const signal = new AbortController().signal;
 * const loadCursors = () => Promise.resolve([]);
 * const logger = getLogger(["demo"]);
 * const context = { pipeline: "demo", runId: "r1", positions: "demo", mode: "batch" as const };
 * await source.connect({ ...context, logger, signal, loadCursors });
 * const batch = await source.read(signal);
 * if (batch !== END_OF_INPUT) await batch.ack();
 * await source.close();
 * ```
 */
export class KafkaSource implements Source {
  /** It reads a {@linkcode ReadRange} when asked to. */
  readonly seekable = true;
  readonly #config: KafkaSourceConfig;
  readonly #changes = new Changes();
  readonly #tracker = new OffsetTracker();
  #log: Logger = getLogger(["pipeline", "kafka"]);
  #mode: RunMode = "stream";
  #loadCursors: () => Promise<Cursor[]> = () => Promise.resolve([]);
  #admin?: Admin;
  #consumer?: Consumer;

  #buffer: Buffered[] = [];
  /** The partitions assigned to this member; undefined until the group says. */
  #assigned?: Set<number>;
  /** A rebalance is under way, or its assignment is being applied: nothing is handed out. */
  #rebalancing = false;
  /** Bumped by every assignment, so that a slow one cannot overwrite a newer one. */
  #generation = 0;
  /** Settles once the latest assignment is applied; eachBatch waits for it. */
  #assignmentApplied: Promise<void> = Promise.resolve();
  /** Per partition, the next offset to accept into the buffer. */
  readonly #fetched = new Map<number, bigint>();
  /** Per partition, the next offset to hand out. */
  readonly #delivered = new Map<number, bigint>();
  /** Per partition, the offset last committed to the group (-1 when none). */
  readonly #committed = new Map<number, bigint>();
  /** Per partition, the latest high watermark seen. */
  readonly #highWatermarks = new Map<number, bigint>();
  /** In `batch` mode, per partition, the high watermark when the run started. */
  #endOffsets?: Map<number, bigint>;
  #batches = 0;
  /** Per batch handed out and not yet acknowledged, its first offset in each partition. */
  readonly #unacked = new Map<number, Map<number, bigint>>();
  #failure?: PipelineError;
  #closed = false;

  /** For a rerun, what it reads; unset for a live run. */
  #plan?: RangePlan;
  /** The partitions whose earliest record the retention check still waits for. */
  #probe?: Set<number>;
  /** The event times of the earliest records received for the retention check. */
  #earliest: Array<number | undefined> = [];
  /** Records a rerun did not hand out because their event time is outside its window. */
  #skipped = 0;
  #skipsReported = false;

  /** Builds the source; connects nothing. */
  constructor(config: KafkaSourceConfig) {
    this.#config = config;
  }

  /**
   * Joins the group and starts fetching; in `batch` mode, first notes where the topic ends. For
   * a rerun, first works out the range, and throws a `BadRequest` for one the topic cannot serve.
   */
  async connect(ctx: SourceContext): Promise<void> {
    this.#log = ctx.logger;
    this.#mode = ctx.mode;
    this.#loadCursors = ctx.loadCursors;
    await this.#disconnect(); // what an earlier, failed attempt left behind
    this.#reset();
    const { topic, brokers } = this.#config;
    if (ctx.range && ctx.mode !== "batch") {
      throw new BadRequest("The Kafka source reads a range of positions in batch mode only.", {
        hint: "Run the rerun in batch mode.",
      });
    }
    // One group per rerun: two reruns never split the partitions between them, and the group,
    // never committed to, disappears when its member leaves.
    const groupId = ctx.range ? `${this.#config.groupId}.rerun.${ctx.runId}` : this.#config.groupId;
    const kafka = await createKafka(this.#config);
    const admin = kafka.admin();
    const consumer = kafka.consumer({
      groupId,
      maxWaitTimeInMs: FETCH_WAIT_MS,
      maxBytesPerPartition: FETCH_MAX_BYTES_PER_PARTITION,
      sessionTimeout: this.#config.sessionTimeoutMs,
      // Kafka's rule of thumb: a third of the session, so that one late heartbeat is no loss.
      heartbeatInterval: Math.floor(this.#config.sessionTimeoutMs / 3),
      // A crash fails read(), and the run, instead of restarting behind the runner's back.
      retry: { restartOnFailure: () => Promise.resolve(false) },
      // Only committed transactions: a cycle a transactional sink gave up is never read.
      readUncommitted: false,
    });
    this.#admin = admin;
    this.#consumer = consumer;
    // Events of a consumer from an earlier, failed attempt are ignored.
    const current = () => this.#consumer === consumer;
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      if (current()) this.#assign(payload.memberAssignment[topic] ?? []);
    });
    consumer.on(consumer.events.REBALANCING, () => {
      if (!current()) return;
      this.#rebalancing = true;
      this.#changes.notify();
    });
    // kafkajs resolves a fetch of nothing but transaction markers or aborted records itself.
    consumer.on(consumer.events.END_BATCH_PROCESS, async ({ payload }) => {
      const { partition, batchSize, firstOffset, lastOffset } = payload;
      if (!current() || batchSize > 0 || firstOffset === null) return;
      await this.#assignmentApplied; // which says where the partition starts
      const fetched = this.#fetched.get(partition);
      if (current() && fetched !== undefined && BigInt(firstOffset) <= fetched) {
        this.#skipTo(partition, BigInt(lastOffset) + 1n);
        this.#changes.notify();
      }
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (current()) this.#fail(kafkaError(payload.error, brokers, `consume topic ${topic}`));
    });
    try {
      await admin.connect();
      if (this.#mode === "batch") {
        const offsets = await admin.fetchTopicOffsets(topic);
        this.#endOffsets = new Map(offsets.map((p) => [p.partition, BigInt(p.high)]));
        if (ctx.range) await this.#planRange(admin, ctx.range, offsets);
      }
      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      // Resolves once the first join is done (or failed, which CRASH reports).
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        eachBatch: (payload) => this.#eachBatch(payload),
      });
      if (this.#failure) throw this.#failure;
    } catch (error) {
      await this.#disconnect();
      throw kafkaError(error, brokers, `join group ${groupId} on topic ${topic}`);
    }
    this.#log.info("Consuming {topic} as group {groupId} in {mode} mode.", {
      topic,
      groupId,
      mode: this.#mode,
    });
    if (this.#plan) this.#logPlan(this.#plan);
    else if (this.#endOffsets) {
      this.#log.info("This run reads up to the offsets {ends}, by partition.", {
        ends: byPartition(this.#endOffsets),
      });
    }
  }

  /**
   * Works out what a rerun reads: partitions not in the range end where they start. A window
   * that no partition can hold refuses here; otherwise the earliest records decide, in read().
   */
  async #planRange(
    admin: Admin,
    range: ReadRange,
    offsets: Array<{ partition: number; low: string; high: string }>,
  ): Promise<void> {
    const { topic, eventTimeField } = this.#config;
    const plan = await planRange({
      topic,
      range,
      watermarks: offsets.map((p) => ({
        partition: p.partition,
        low: BigInt(p.low),
        high: BigInt(p.high),
      })),
      offsetsAt: (ms) => admin.fetchTopicOffsetsByTimestamp(topic, ms),
    });
    for (const [partition, end] of this.#endOffsets!) {
      this.#endOffsets!.set(partition, plan.spans.get(partition)?.end ?? end);
    }
    if (plan.probe?.length === 0) {
      throw retentionError({ topic, window: plan.window, earliest: [], eventTimeField });
    }
    if (plan.probe) this.#probe = new Set(plan.probe);
    this.#plan = plan;
  }

  #logPlan(plan: RangePlan): void {
    const starts = new Map([...plan.spans].map(([partition, span]) => [partition, span.start]));
    const ends = new Map([...plan.spans].map(([partition, span]) => [partition, span.end]));
    const filtering = plan.window.from !== undefined || plan.window.to !== undefined;
    this.#log.info(
      filtering
        ? "This rerun reads the offsets {starts} up to {ends} (excluded) of {topic}, by " +
          "partition, and hands out the records whose event time is in {window}."
        : "This rerun reads the offsets {starts} up to {ends} (excluded) of {topic}, by partition.",
      {
        topic: this.#config.topic,
        starts: byPartition(starts),
        ends: byPartition(ends),
        window: describeWindow(plan.window),
      },
    );
  }

  /**
   * Resolves with up to `maxBatchSize` records: as soon as that many are buffered, or
   * `maxWaitMs` after the first one arrived. In `batch` mode, resolves with `END_OF_INPUT` once
   * every assigned partition is read up to where it ended at connect.
   */
  async read(signal: AbortSignal): Promise<Batch | EndOfInput> {
    for (;;) {
      if (signal.aborted) throw signal.reason;
      if (this.#failure) throw this.#failure;
      if (this.#closed) throw new PipelineError("The Kafka source was read after it closed.");
      if (this.#probe) {
        if (this.#probe.size > 0) {
          await this.#changes.wait(signal);
          continue;
        }
        this.#checkRetention();
      }
      if (this.#settled()) {
        if (this.#buffer.length > 0) {
          await this.#fill(signal);
          if (this.#settled() && this.#buffer.length > 0) return this.#take();
          continue;
        }
        if (this.#drained()) {
          this.#reportSkips();
          return END_OF_INPUT;
        }
      }
      await this.#changes.wait(signal);
    }
  }

  /** Records between what was handed out and the latest high watermarks, over the assignment. */
  backlog(): number | undefined {
    if (!this.#assigned) return undefined;
    let waiting = 0n;
    for (const partition of this.#assigned) {
      const high = this.#highWatermarks.get(partition) ?? 0n;
      const next = this.#delivered.get(partition) ?? high;
      if (high > next) waiting += high - next;
    }
    return Number(waiting);
  }

  /**
   * Per assigned partition, the records between the latest high watermark and the offset last
   * committed to the group (before any commit, the next offset to hand out); none once every
   * batch of it is acknowledged up to the high watermark, markers of transactions included.
   */
  lag(): PartitionLag[] {
    const { topic } = this.#config;
    return [...this.#assigned ?? []].map((partition) => {
      const high = this.#highWatermarks.get(partition) ?? 0n;
      const committed = this.#committed.get(partition) ?? -1n;
      const delivered = this.#delivered.get(partition) ?? high;
      // With every batch of it acknowledged, what was delivered is done, up to past the commit
      // marker of a transaction that the group's commit (the last record's offset + 1) stops at.
      const settled = ![...this.#unacked.values()].some((first) => first.has(partition));
      const from = settled ? max(delivered, committed) : committed >= 0n ? committed : delivered;
      return { stream: topic, partition, records: Number(high > from ? high - from : 0n) };
    });
  }

  /** Describes the cluster and the topic, and how far the group's commits lag behind. */
  async health(signal: AbortSignal): Promise<string> {
    const { brokers, topic, groupId } = this.#config;
    try {
      const kafka = await createKafka(this.#config);
      return await withAdmin(kafka, signal, async (admin) => {
        const described = await describeTopic(admin, topic);
        const [ends, [commits]] = await Promise.all([
          admin.fetchTopicOffsets(topic),
          admin.fetchOffsets({ groupId, topics: [topic] }),
        ]);
        let lag = 0n;
        for (const end of ends) {
          const commit = commits?.partitions.find((p) => p.partition === end.partition);
          const from = commit && BigInt(commit.offset) >= 0n
            ? BigInt(commit.offset)
            : BigInt(end.low);
          lag += BigInt(end.high) - from;
        }
        return `Kafka ${brokers.join(",")}: ${described}, group ${groupId} lags ${lag} record(s)`;
      });
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      throw kafkaError(error, brokers, `describe topic ${topic}`);
    }
  }

  /** Leaves the group and disconnects; safe to call more than once. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#changes.notify(); // frees eachBatch first, or leaving the group would wait for it
    await this.#disconnect();
  }

  // --- reading ---

  #settled(): boolean {
    return this.#assigned !== undefined && !this.#rebalancing;
  }

  /**
   * Waits up to `maxWaitMs` for the buffer to hold a full batch, unless nothing more is waiting
   * in Kafka: then a smaller batch now beats the same batch `maxWaitMs` later (it was most of a
   * streaming cycle's way from the API to the warehouse).
   */
  async #fill(signal: AbortSignal): Promise<void> {
    const deadline = performance.now() + this.#config.maxWaitMs;
    while (
      this.#buffer.length < this.#config.maxBatchSize && this.#settled() && !this.#fetchedAll() &&
      !this.#caughtUp() && !this.#failure && !this.#closed
    ) {
      const left = deadline - performance.now();
      if (left <= 0) return;
      await this.#changes.wait(signal, left);
    }
  }

  /** Whether every assigned partition is fetched up to its latest known high watermark. */
  #caughtUp(): boolean {
    return this.#reachedEnd(this.#fetched, this.#highWatermarks);
  }

  /** In `batch` mode, whether every assigned partition is fetched up to its end offset. */
  #fetchedAll(): boolean {
    return this.#reachedEnd(this.#fetched);
  }

  /** In `batch` mode, whether everything up to the end offsets was handed out. */
  #drained(): boolean {
    return this.#buffer.length === 0 && this.#reachedEnd(this.#delivered);
  }

  #reachedEnd(
    positions: Map<number, bigint>,
    ends: Map<number, bigint> | undefined = this.#endOffsets,
  ): boolean {
    if (!ends || !this.#assigned) return false;
    for (const partition of this.#assigned) {
      const position = positions.get(partition);
      if (position === undefined || position < (ends.get(partition) ?? 0n)) return false;
    }
    return true;
  }

  /** In `batch` mode, where a partition ends; a partition created since then is empty. */
  #endOf(partition: number): bigint | undefined {
    return this.#endOffsets ? this.#endOffsets.get(partition) ?? 0n : undefined;
  }

  #take(): Batch {
    const { topic, maxBatchSize } = this.#config;
    const taken = this.#buffer.splice(0, maxBatchSize);
    this.#changes.notify(); // there is room in the buffer again
    const messages: Message[] = [];
    const rejects: Reject[] = [];
    const first = new Map<number, bigint>();
    const last = new Map<number, bigint>();
    const window = this.#plan?.window;
    const filtering = window !== undefined &&
      (window.from !== undefined || window.to !== undefined);
    for (const { partition, message } of taken) {
      const offset = BigInt(message.offset);
      if (!first.has(partition)) first.set(partition, offset);
      // A record skipped is consumed all the same: the batch's cursors move past it.
      last.set(partition, offset);
      const origin = { stream: topic, partition, offset: message.offset };
      const decoded = decode(message);
      if (filtering && outsideWindow(window, this.#eventTime(message, decoded))) {
        this.#skipped++;
        continue;
      }
      if ("reason" in decoded) {
        rejects.push({
          payload: decoded.text,
          reason: decoded.reason,
          stage: "source kafka",
          origin,
        });
      } else if (message.key === null) {
        messages.push({ value: decoded.value, origin });
      } else {
        messages.push({ value: decoded.value, key: message.key.toString(), origin });
      }
    }
    const cursors: Cursor[] = [];
    for (const [partition, offset] of last) {
      const more = this.#buffer.some((buffered) => buffered.partition === partition);
      // Past what follows the last record fetched and holds none (see #skipTo).
      this.#delivered.set(partition, more ? offset + 1n : this.#fetched.get(partition)!);
      cursors.push({ stream: topic, partition, offset: String(offset + 1n) });
    }
    const seq = ++this.#batches;
    this.#tracker.register(seq, cursors);
    this.#unacked.set(seq, first);
    return { messages, rejects, cursors, ack: (error) => this.#ack(seq, error) };
  }

  /** Commits what is acknowledged contiguously; a failed commit is only logged (see below). */
  async #ack(seq: number, error?: Error): Promise<void> {
    if (error) return this.#rewind(seq);
    this.#tracker.ack(seq);
    this.#unacked.delete(seq);
    const due = this.#tracker.committable().filter((cursor) =>
      this.#assigned?.has(cursor.partition) &&
      BigInt(cursor.offset) > (this.#committed.get(cursor.partition) ?? -1n)
    );
    if (due.length === 0) return;
    await this.#commit(due);
  }

  /** Commits positions to the consumer group; a failure is only logged. A rerun never commits. */
  async #commit(due: Cursor[]): Promise<void> {
    const consumer = this.#consumer;
    if (!consumer || this.#closed || this.#plan) return;
    const { topic, groupId } = this.#config;
    try {
      await consumer.commitOffsets(
        due.map(({ partition, offset }) => ({ topic, partition, offset })),
      );
      for (const { partition, offset } of due) this.#committed.set(partition, BigInt(offset));
    } catch (error) {
      // The positions a sink stores with its data are the source of truth, and replaying a
      // batch is idempotent: a commit lost to a rebalance costs a replay, not a record.
      this.#log.warn("Could not commit offsets {offsets} of group {groupId}: {error}", {
        offsets: byPartition(new Map(due.map((c) => [c.partition, BigInt(c.offset)]))),
        groupId,
        error: describeError(error).message,
      });
    }
  }

  /**
   * Delivers a nacked batch again: every partition goes back to the first record not yet
   * acknowledged, and what was buffered or handed out since is dropped.
   */
  #rewind(seq: number): void {
    const { topic } = this.#config;
    const to = new Map<number, bigint>();
    for (const [later, first] of this.#unacked) {
      if (later < seq) continue;
      for (const [partition, offset] of first) {
        if (offset < (to.get(partition) ?? offset + 1n)) to.set(partition, offset);
      }
      this.#unacked.delete(later);
    }
    this.#tracker.nack(seq);
    // Buffered records were not handed out: their partitions restart where delivery stopped.
    for (const [partition, delivered] of this.#delivered) {
      if (!to.has(partition)) to.set(partition, delivered);
    }
    this.#buffer = [];
    // A partition that went to another member since is that member's to deliver.
    for (const partition of to.keys()) if (!this.#assigned?.has(partition)) to.delete(partition);
    for (const [partition, offset] of to) {
      this.#fetched.set(partition, offset);
      this.#delivered.set(partition, offset);
      this.#consumer?.seek({ topic, partition, offset: String(offset) });
    }
    this.#consumer?.resume([{ topic, partitions: [...to.keys()] }]);
    this.#changes.notify();
    const positions = byPartition(to);
    this.#log.warn(
      "A batch was not written; partitions go back to {positions} to deliver it again.",
      {
        positions,
      },
    );
  }

  // --- reruns ---

  /** The event time the window is judged by: the configured field's, else the timestamp. */
  #eventTime(message: KafkaMessage, decoded: ReturnType<typeof decode>): number | undefined {
    const value = "value" in decoded ? decoded.value : undefined;
    return eventTime(this.#config.eventTimeField, message.timestamp, value);
  }

  /** Notes the earliest record of a partition the retention check waits for. */
  #probeEarliest(partition: number, messages: KafkaMessage[]): void {
    const start = this.#plan?.spans.get(partition)?.start;
    if (!this.#probe?.has(partition) || start === undefined) return;
    const earliest = messages.find((message) => BigInt(message.offset) >= start);
    if (!earliest) return;
    this.#probe.delete(partition);
    this.#earliest.push(this.#eventTime(earliest, decode(earliest)));
    this.#changes.notify();
  }

  /** Refuses a window that ends before the earliest record of every partition read. */
  #checkRetention(): void {
    const { topic, eventTimeField } = this.#config;
    this.#probe = undefined;
    const error = retentionError({
      topic,
      window: this.#plan!.window,
      earliest: this.#earliest,
      eventTimeField,
    });
    if (!error) return;
    this.#fail(error);
    throw error;
  }

  #reportSkips(): void {
    const window = this.#plan?.window;
    if (this.#skipsReported || !window) return;
    this.#skipsReported = true;
    if (window.from === undefined && window.to === undefined) return;
    this.#log.info("Skipped {skipped} record(s) whose event time is outside {window}.", {
      skipped: this.#skipped,
      window: describeWindow(window),
    });
  }

  // --- fetching: called by kafkajs ---

  async #eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, resolveOffset, heartbeat, pause, isRunning, isStale } = payload;
    await this.#assignmentApplied;
    // A stale batch was fetched before a seek: the next fetch starts where the seek says.
    const active = () => !this.#closed && !this.#failure && isRunning() && !isStale();
    this.#probeEarliest(batch.partition, batch.messages);
    // kafkajs hands over one partition's batch at a time: a wait here would keep the batches of
    // the partitions behind it, and their earliest records, from read(), which waits for those.
    while (
      this.#buffer.length >= 2 * this.#config.maxBatchSize && active() && !this.#probe?.size
    ) {
      await this.#changes.wait(undefined, HEARTBEAT_WHILE_WAITING_MS);
      await heartbeat();
    }
    const partition = batch.partition;
    let next = this.#fetched.get(partition);
    if (!active() || next === undefined) return;
    // Fetched from further on than the partition is: a fetch from the group's commit that the
    // seek back to the warehouse's position came after. kafkajs flags a batch stale only
    // until the seek is applied, and taking it would skip what lies between.
    if (fetchedFrom(batch) > next) return;
    this.#highWatermarks.set(partition, BigInt(batch.highWatermark));
    const end = this.#endOf(partition);
    for (const message of batch.messages) {
      const offset = BigInt(message.offset);
      // Below: fetched again after a rebalance, or before a seek took effect.
      if (offset < next) continue;
      if (end !== undefined && offset >= end) break;
      this.#buffer.push({ partition, message });
      next = offset + 1n;
    }
    this.#fetched.set(partition, next);
    this.#skipTo(partition, BigInt(batch.lastOffset()) + 1n);
    next = this.#fetched.get(partition)!;
    if (next > 0n) resolveOffset(String(next - 1n));
    if (end !== undefined && next >= end) pause();
    this.#changes.notify();
    await heartbeat();
  }

  /**
   * Moves a partition on to `through` over offsets that hold no record for a `read_committed`
   * consumer (transaction markers, aborted records), up to its end: a batch run would otherwise
   * wait for the marker that ends the last transaction before its end offset.
   */
  #skipTo(partition: number, through: bigint): void {
    const end = this.#endOf(partition);
    const to = end !== undefined && through > end ? end : through;
    if (to <= (this.#fetched.get(partition) ?? to)) return;
    this.#fetched.set(partition, to);
    if (!this.#buffer.some((buffered) => buffered.partition === partition)) {
      this.#delivered.set(partition, to);
    }
  }

  /** Takes a new assignment: drops what was buffered for partitions that went elsewhere. */
  #assign(partitions: number[]): void {
    const generation = ++this.#generation;
    this.#rebalancing = true;
    const kept = new Set(partitions);
    this.#buffer = this.#buffer.filter((buffered) => kept.has(buffered.partition));
    for (const positions of [this.#fetched, this.#delivered, this.#committed]) {
      for (const partition of positions.keys()) {
        if (!kept.has(partition)) positions.delete(partition);
      }
    }
    this.#assignmentApplied = this.#applyAssignment(generation, partitions).catch((error) => {
      this.#fail(kafkaError(error, this.#config.brokers, "fetch the group's offsets"));
    });
  }

  /** Works out where each newly assigned partition starts, and seeks there. */
  async #applyAssignment(generation: number, partitions: number[]): Promise<void> {
    const { topic, groupId } = this.#config;
    const admin = this.#admin;
    const consumer = this.#consumer;
    if (!admin || !consumer) return;
    // A rerun ignores the positions of the live pipeline: its group is new, and never commits.
    const plan = this.#plan;
    const [stored, [commits], offsets] = await Promise.all([
      plan ? new Map<number, bigint>() : this.#storedCursors(),
      plan ? [undefined] : admin.fetchOffsets({ groupId, topics: [topic] }),
      admin.fetchTopicOffsets(topic),
    ]);
    if (generation !== this.#generation || this.#closed) return;
    // Batch mode pauses a partition once it reaches its end; a partition may come back later.
    consumer.resume([{ topic, partitions }]);
    const starts = new Map<number, bigint>();
    const behind: Cursor[] = [];
    const rereads: Reread[] = [];
    for (const partition of partitions) {
      const offset = offsets.find((p) => p.partition === partition);
      const commit = commits?.partitions.find((p) => p.partition === partition);
      const committed = commit ? BigInt(commit.offset) : -1n;
      this.#highWatermarks.set(partition, BigInt(offset?.high ?? 0));
      this.#committed.set(partition, committed);
      const low = BigInt(offset?.low ?? 0);
      // Where kafkajs starts by itself (subscribed fromBeginning).
      const kafkajsStart = committed >= 0n ? committed : low;
      // Where the range starts (a partition outside it starts where it ends). Else the sink's
      // positions are the truth, stored with the data: a warehouse restored from an older copy
      // reads again what it lost, where the group has committed past it. Without them, where
      // the group committed, else the earliest record.
      const wanted = plan
        ? plan.spans.get(partition)?.start ?? this.#endOf(partition)!
        : stored.get(partition);
      // A partition kept through the rebalance goes on from where its buffer ends.
      const kept = this.#fetched.get(partition);
      const start = kept ?? (wanted === undefined ? kafkajsStart : max(wanted, low));
      if (kept === undefined) {
        this.#fetched.set(partition, start);
        this.#delivered.set(partition, start);
        starts.set(partition, start);
        if (!plan && wanted !== undefined && wanted < committed) {
          const gone = (low < committed ? low : committed) - wanted;
          rereads.push({ partition, from: wanted, to: committed, lost: max(gone, 0n) });
        }
      }
      // The first fetch may beat the seek: eachBatch drops what it fetched from elsewhere.
      if (start !== kafkajsStart) consumer.seek({ topic, partition, offset: String(start) });
      if (!plan && wanted !== undefined && wanted > committed) {
        behind.push({ stream: topic, partition, offset: String(wanted) });
      }
    }
    this.#assigned = new Set(partitions);
    this.#rebalancing = false;
    this.#changes.notify();
    // The group lost a commit the sink's positions have (a crash between the two): bring it
    // level now, or Kafka's lag tools would show a backlog until new records come.
    if (behind.length > 0) await this.#commit(behind);
    this.#log.info("Assigned partition(s) {partitions} of {topic}; new ones start at {starts}.", {
      partitions,
      topic,
      starts: byPartition(starts),
    });
    if (rereads.length > 0) this.#logRereads(rereads);
  }

  /** Says, in one line, that the warehouse is behind the group, and what of it Kafka still has. */
  #logRereads(rereads: Reread[]): void {
    const records = rereads.reduce((sum, { from, to, lost }) => sum + (to - from - lost), 0n);
    const lost = rereads.reduce((sum, { lost }) => sum + lost, 0n);
    const fields = {
      groupId: this.#config.groupId,
      records: Number(records),
      ranges: rereads.map(({ partition, from, to }) => `${partition}:${from}..${to}`).join(" "),
      lost: Number(lost),
    };
    if (lost === 0n) {
      this.#log.warn(
        "The warehouse's positions are behind group {groupId}'s commits (restored from an " +
          "older copy?): reading offsets {ranges} again, {records} of them.",
        fields,
      );
    } else {
      this.#log.error(
        "The warehouse's positions are behind group {groupId}'s commits (restored from an " +
          "older copy?): reading offsets {ranges} again, {records} of them; {lost} more are " +
          "past the topic's retention and cannot be read again.",
        fields,
      );
    }
  }

  /** The positions the sink stored for this topic, by partition. */
  async #storedCursors(): Promise<Map<number, bigint>> {
    let cursors: Cursor[];
    try {
      cursors = await this.#loadCursors();
    } catch (error) {
      throw new PipelineError(
        `Could not load the positions the sink stored: ${describeError(error).message}`,
        { transient: true, cause: error },
      );
    }
    const topic = this.#config.topic;
    return new Map(
      cursors.filter((c) => c.stream === topic).map((c) => [c.partition, BigInt(c.offset)]),
    );
  }

  // --- state ---

  #fail(error: PipelineError): void {
    this.#failure ??= error;
    this.#changes.notify();
  }

  #reset(): void {
    this.#buffer = [];
    this.#assigned = undefined;
    this.#rebalancing = false;
    this.#generation++;
    this.#assignmentApplied = Promise.resolve();
    for (const positions of [this.#fetched, this.#delivered, this.#committed]) positions.clear();
    this.#unacked.clear();
    this.#endOffsets = undefined;
    this.#failure = undefined;
    this.#plan = undefined;
    this.#probe = undefined;
    this.#earliest = [];
    this.#skipped = 0;
    this.#skipsReported = false;
  }

  async #disconnect(): Promise<void> {
    const consumer = this.#consumer;
    const admin = this.#admin;
    this.#consumer = undefined;
    this.#admin = undefined;
    await disconnectAll([consumer, admin], this.#config.brokers, this.#log);
  }
}

/** A message value as JSON, or why it is not. */
function decode(
  message: KafkaMessage,
): { value: unknown } | { text: string | null; reason: string } {
  if (message.value === null) {
    return { text: null, reason: "Value is not valid JSON: the message has no value." };
  }
  const text = message.value.toString("utf8");
  try {
    return { value: JSON.parse(text) };
  } catch (error) {
    return { text, reason: `Value is not valid JSON: ${describeError(error).message}` };
  }
}

/** Offsets by partition, for logs: `{ "0": "12", "1": "40" }`. */
/** A partition the warehouse is behind the group on: `from` its position `to` the commit. */
interface Reread {
  partition: number;
  from: bigint;
  to: bigint;
  /** How many of them the topic no longer holds. */
  lost: bigint;
}

const max = (a: bigint, b: bigint): bigint => a > b ? a : b;

/**
 * The offset a batch's fetch asked for: kafkajs keeps it on the batch (`fetchedOffset`) without
 * typing it; where it is missing, the batch counts as fetched from its first record.
 */
function fetchedFrom(batch: EachBatchPayload["batch"]): bigint {
  const fetched = (batch as { fetchedOffset?: string }).fetchedOffset;
  return BigInt(fetched ?? batch.firstOffset() ?? batch.lastOffset());
}

function byPartition(positions: Map<number, bigint>): Record<number, string> {
  return Object.fromEntries([...positions].map(([partition, offset]) => [partition, `${offset}`]));
}

/** A wake-up call for whoever waits on the source's state: a read, or a blocked eachBatch. */
class Changes {
  #wake!: () => void;
  #next!: Promise<void>;

  constructor() {
    this.#renew();
  }

  /** Wakes every waiter. */
  notify(): void {
    this.#wake();
    this.#renew();
  }

  /** Resolves at the next notify or after `ms`; rejects with the reason when `signal` aborts. */
  wait(signal?: AbortSignal, ms?: number): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const timer = ms === undefined ? undefined : setTimeout(done, ms);
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal!.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#next.then(done);
      function done() {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        resolve();
      }
    });
  }

  #renew(): void {
    this.#next = new Promise((resolve) => this.#wake = resolve);
  }
}
