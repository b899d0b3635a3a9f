/**
 * Reading Kafka topics into a dataflow: one resumable input partition per
 * Kafka topic-partition.
 *
 * @since 0.1.0
 */
import type { LibrdKafkaError, Message } from "@confluentinc/kafka-javascript"
import { EOF, FixedPartitionedSource, type StatefulSourcePartition } from "@weir/core"
import { clientConfig, positiveInteger, stringList } from "./internal/arguments.js"
import { KafkaConsumeError } from "./errors.js"
import { baseConfig, type ClientConfig, connectConsumer, type Consumer, disconnect, listPartitions } from "./internal/client.js"
import { brokersText, describeInfo, ERR, infoOfClientEvent, infoOfLibrdKafkaError } from "./internal/errors.js"
import { KafkaError, type KafkaErrorInfo, KafkaSourceMessage } from "./messages.js"
import { consumerLag } from "./metrics.js"

/**
 * Start at the oldest message still in the partition.
 *
 * @example
 * ```ts
 * declare const brokers: ReadonlyArray<string>   // e.g. ["127.0.0.1:9092"]
 * new KafkaSource(brokers, ["events"], { startingOffset: OFFSET_BEGINNING })
 * ```
 * @since 0.1.0
 */
export const OFFSET_BEGINNING = -2
/**
 * Start after the newest message: read only what is produced from now on.
 *
 * @example
 * ```ts
 * declare const brokers: ReadonlyArray<string>   // e.g. ["127.0.0.1:9092"]
 * new KafkaSource(brokers, ["events"], { startingOffset: OFFSET_END })
 * ```
 * @since 0.1.0
 */
export const OFFSET_END = -1
/**
 * Start at the offset committed for the consumer group given in `addConfig`
 * (`group.id`); for use without recovery.
 *
 * @example
 * ```ts
 * declare const brokers: ReadonlyArray<string>   // e.g. ["127.0.0.1:9092"]
 * new KafkaSource(brokers, ["events"], { startingOffset: OFFSET_STORED, addConfig: { "group.id": "billing", "enable.auto.commit": true } })
 * ```
 * @since 0.1.0
 */
export const OFFSET_STORED = -1000

/**
 * Where to start reading a partition that has no resume state: an offset, or
 * one of the named positions (also as the `OFFSET_*` constants).
 *
 * @example
 * ```ts
 * declare const brokers: ReadonlyArray<string>   // e.g. ["127.0.0.1:9092"]
 * const from: StartingOffset = "end"
 * new KafkaSource(brokers, ["events"], { startingOffset: from })
 * ```
 * @since 0.1.0
 */
export type StartingOffset = number | "beginning" | "end" | "stored"

/**
 * Options of {@link KafkaSource}.
 *
 * @example
 * ```ts
 * const options: KafkaSourceOptions = { tail: false, batchSize: 500, isolationLevel: "read_uncommitted" }
 * ```
 * @since 0.1.0
 */
export interface KafkaSourceOptions<R extends boolean = boolean> {
  /** Keep waiting for new messages (`true`, the default), or end each partition at its end as seen when reached. */
  readonly tail?: boolean
  /** Where to start when there is no resume state; default the beginning. */
  readonly startingOffset?: StartingOffset
  /** librdkafka consumer settings, applied last (security, fetch sizes, `isolation.level`, …). */
  readonly addConfig?: Readonly<Record<string, string | number | boolean>>
  /** The most messages one poll returns; default 1000. */
  readonly batchSize?: number
  /** Fail the run on a consumer error (the default), or emit a {@link KafkaError} item and carry on. */
  readonly raiseOnErrors?: R
  /**
   * `"read_committed"` (the default): only messages of committed transactions,
   * and no message past an open transaction, so the output of an
   * exactly-once sink is read exactly once. `"read_uncommitted"`: everything
   * written, aborted transactions included. (`isolation.level` in
   * `addConfig`, if given, wins.)
   */
  readonly isolationLevel?: "read_committed" | "read_uncommitted"
}

/**
 * What a {@link KafkaSource} emits: messages, and errors too when
 * `raiseOnErrors` is `false`.
 *
 * @example
 * ```ts
 * declare const brokers: ReadonlyArray<string>   // e.g. ["127.0.0.1:9092"]
 * const items: Stream<KafkaSourceItem<false>> = op.input("in", flow, new KafkaSource(brokers, ["t"], { raiseOnErrors: false }))
 * ```
 * @since 0.1.0
 */
export type KafkaSourceItem<R extends boolean = true> = R extends false ? KafkaSourceMessage | KafkaError
  : KafkaSourceMessage

/** The `group.id` librdkafka insists on; nothing is committed to it. */
const IGNORED_GROUP = "WEIR_IGNORED"
/** Longest pause between polls of a partition that had nothing to read. */
const MAX_IDLE_MS = 10

const offsetOf = (o: StartingOffset): number => {
  if (o === "beginning") return OFFSET_BEGINNING
  if (o === "end") return OFFSET_END
  if (o === "stored") return OFFSET_STORED
  if (typeof o !== "number" || !Number.isInteger(o) || (o < 0 && o !== OFFSET_BEGINNING && o !== OFFSET_END && o !== OFFSET_STORED)) {
    throw new TypeError(
      `startingOffset must be an offset (an integer ≥ 0), OFFSET_BEGINNING, OFFSET_END, OFFSET_STORED, "beginning", "end" or "stored"; got ${
        String(o)
      }`
    )
  }
  return o
}

const partName = (topic: string, partition: number): string => `${partition}-${topic}`

const parsePartName = (name: string): { topic: string; partition: number } => {
  const dash = name.indexOf("-")
  const partition = Number(name.slice(0, dash))
  if (dash <= 0 || !Number.isInteger(partition) || partition < 0) {
    throw new Error(`'${name}' is not a Kafka input partition name ("<partition>-<topic>")`)
  }
  return { topic: name.slice(dash + 1), partition }
}

/**
 * Reads Kafka topics. Every partition of every topic is one input partition
 * named `"<partition>-<topic>"` (e.g. `"0-orders"`), read by exactly one worker
 * with its own consumer, *assigned* the partition (no consumer-group
 * rebalancing, nothing committed to Kafka). The resume state of a partition is
 * the offset to read next (the last consumed offset + 1), so with recovery a
 * resumed run re-reads exactly from the last snapshot: exactly-once input.
 *
 * With `tail: false` each partition ends when it reaches the end of its Kafka
 * partition, and the run ends when all have. A topic that does not exist fails
 * the run with a `KafkaTopicNotFoundError` (`error listing partitions for Kafka
 * topic '…'`), brokers that do not answer within the connection timeout
 * (`socket.connection.setup.timeout.ms`, 5000 ms unless `addConfig` sets it,
 * plus 1000 ms) with a `KafkaConnectionError`; both name the brokers. Consumer
 * errors fail the run with a `KafkaConsumeError` naming the topic and
 * partition, or, with `raiseOnErrors: false`, flow down as {@link KafkaError}
 * items. Changing a topic's partition count needs a restart.
 *
 * Every partition reports its consumer lag to {@link consumerLag}.
 *
 * @example
 * ```ts
 * import { Dataflow, op } from "@weir/core"
 * import { KafkaSource } from "@weir/connectors-kafka"
 *
 * const flow = new Dataflow("orders")
 * const msgs = op.input("in", flow, new KafkaSource(["127.0.0.1:9092"], ["orders"], { tail: false }))
 * op.inspect("show", op.map("value", msgs, (m) => m.value?.toString()))
 * ```
 * @since 0.1.0
 */
export class KafkaSource<R extends boolean = true> extends FixedPartitionedSource<KafkaSourceItem<R>, number> {
  readonly brokers: ReadonlyArray<string>
  readonly topics: ReadonlyArray<string>
  readonly tail: boolean
  readonly startingOffset: number
  readonly addConfig: ClientConfig
  readonly batchSize: number
  readonly raiseOnErrors: boolean
  readonly isolationLevel: "read_committed" | "read_uncommitted"

  constructor(brokers: Iterable<string>, topics: Iterable<string>, options: KafkaSourceOptions<R> = {}) {
    super()
    this.brokers = stringList("brokers", brokers)
    this.topics = stringList("topics", topics)
    this.tail = options.tail ?? true
    this.startingOffset = offsetOf(options.startingOffset ?? OFFSET_BEGINNING)
    this.addConfig = clientConfig(options.addConfig)
    this.batchSize = positiveInteger("batchSize", options.batchSize ?? 1000)
    this.raiseOnErrors = options.raiseOnErrors ?? true
    const isolation = options.isolationLevel ?? "read_committed"
    if (isolation !== "read_committed" && isolation !== "read_uncommitted") {
      throw new TypeError(`isolationLevel must be "read_committed" or "read_uncommitted"; got ${String(isolation)}`)
    }
    this.isolationLevel = isolation
  }

  /**
   * librdkafka's Node binding can't be loaded in a worker thread (it is not
   * context-aware, and delivers its callbacks on the main thread's loop), so
   * a flow with a Kafka connector runs its workers on the calling thread.
   */
  override get mainThreadOnly(): boolean {
    return true
  }

  /** Every partition of every topic, as `"<partition>-<topic>"`. */
  async listParts(): Promise<Array<string>> {
    const listed = await listPartitions({ ...baseConfig(this.brokers), ...this.addConfig }, this.brokers, this.topics)
    const names: Array<string> = []
    for (const { topic, partitions } of listed) for (const p of partitions) names.push(partName(topic, p))
    return names
  }

  /** A consumer assigned one partition, starting at `resumeState` (or `startingOffset`). */
  async buildPart(
    stepId: string,
    forPart: string,
    resumeState: number | undefined
  ): Promise<StatefulSourcePartition<KafkaSourceItem<R>, number>> {
    const { topic, partition } = parsePartName(forPart)
    if (resumeState !== undefined && (typeof resumeState !== "number" || !Number.isInteger(resumeState))) {
      throw new TypeError(`the resume state of Kafka partition '${forPart}' must be an offset; got ${String(resumeState)}`)
    }
    const start = resumeState ?? this.startingOffset
    const consumer: Consumer = await connectConsumer(
      {
        ...baseConfig(this.brokers),
        "group.id": IGNORED_GROUP,
        "enable.auto.commit": false,
        "enable.auto.offset.store": false,
        "enable.partition.eof": !this.tail,
        "isolation.level": this.isolationLevel,
        ...this.addConfig
      },
      { brokers: this.brokers, topic, partition },
      `to read topic '${topic}' partition ${partition}`
    )
    consumer.setDefaultConsumeTimeout(0)
    consumer.assign([{ topic, partition, offset: start }])
    return new KafkaSourcePartition(stepId, this.brokers, topic, partition, consumer, start, this.batchSize, this.raiseOnErrors) as
      StatefulSourcePartition<KafkaSourceItem<R>, number>
  }
}

/** What one `consume` call gave. */
interface RawBatch {
  readonly err: LibrdKafkaError | undefined
  readonly messages: ReadonlyArray<Message>
  /** The end-of-partition offset, when the consumer reached it during this call. */
  readonly eofAt: number | undefined
}

/**
 * One topic-partition's reader. Consuming happens off the main thread (the
 * client's worker pool); while one batch is processed downstream the next is
 * already being fetched. The position (the snapshot) moves only when the
 * runtime takes a batch, so a snapshot never covers messages it has not
 * received.
 */
class KafkaSourcePartition implements StatefulSourcePartition<KafkaSourceMessage | KafkaError, number> {
  /** The offset to read next, or the starting constant while nothing was read. */
  private position: number
  private ready: RawBatch | undefined = undefined
  private inFlight: Promise<void> | undefined = undefined
  private eofAt: number | undefined = undefined
  private ended = false
  private clientError: { readonly info: KafkaErrorInfo; readonly cause: unknown } | undefined = undefined
  private idleMs = 0
  private awakeAt: Date | undefined = undefined
  private readonly takeLater: Iterable<KafkaSourceMessage | KafkaError>

  constructor(
    private readonly stepId: string,
    private readonly brokers: ReadonlyArray<string>,
    private readonly topic: string,
    private readonly partition: number,
    private readonly consumer: Consumer,
    start: number,
    private readonly batchSize: number,
    private readonly raiseOnErrors: boolean
  ) {
    this.position = start
    // The runtime drains the iterable of a settled batch right when it takes it.
    this.takeLater = {
      [Symbol.iterator]: () => (this.ready === undefined ? [] : this.take()).values()
    }
    consumer.on("partition.eof", (e) => {
      if (e.topic === topic && e.partition === partition) this.eofAt = e.offset
    })
    consumer.on("event.error", (err) => {
      // A lost connection to one broker is retried by the client; "all brokers down" and the like are reported.
      const info = infoOfClientEvent(err)
      if (info.code !== ERR.TRANSPORT) this.clientError ??= { info, cause: err }
    })
  }

  nextBatch(): Array<KafkaSourceMessage | KafkaError> | typeof EOF | Promise<Iterable<KafkaSourceMessage | KafkaError>> {
    if (this.ended) return EOF
    if (this.clientError !== undefined) {
      const { info, cause } = this.clientError
      this.clientError = undefined
      return this.failure(info, cause)
    }
    if (this.ready !== undefined) return this.take()
    if (this.inFlight === undefined) this.fetch()
    return this.inFlight!.then(() => this.takeLater)
  }

  nextAwake(): Date | undefined {
    return this.awakeAt
  }

  snapshot(): number {
    return this.position
  }

  async close(): Promise<void> {
    consumerLag.remove(this.stepId, this.topic, this.partition)
    if (this.inFlight !== undefined) await this.inFlight
    await disconnect(this.consumer)
  }

  private fetch(): void {
    this.eofAt = undefined
    this.inFlight = new Promise<void>((resolve) => {
      const done = (err: LibrdKafkaError | undefined, messages: ReadonlyArray<Message>) => {
        this.inFlight = undefined
        this.ready = { err, messages, eofAt: this.eofAt }
        this.eofAt = undefined
        resolve()
      }
      try {
        this.consumer.consume(this.batchSize, (err, messages) => done(err ?? undefined, messages ?? []))
      } catch (e) {
        done(e as LibrdKafkaError, [])
      }
    })
  }

  /** Hand the fetched batch over: move the position, start the next fetch. */
  private take(): Array<KafkaSourceMessage | KafkaError> {
    const batch = this.ready!
    this.ready = undefined
    if (batch.err !== undefined && batch.messages.length === 0) return this.failure(infoOfLibrdKafkaError(batch.err), batch.err)
    const raw = batch.messages
    let n = raw.length
    if (batch.eofAt !== undefined) {
      // Anything that arrived after the end we were told about belongs to a later run.
      while (n > 0 && raw[n - 1]!.offset >= batch.eofAt) n--
      this.ended = true
    }
    const out = new Array<KafkaSourceMessage | KafkaError>(n)
    for (let i = 0; i < n; i++) out[i] = toSourceMessage(raw[i]!)
    if (n > 0) this.position = raw[n - 1]!.offset + 1
    if (n > 0 || this.ended) {
      this.idleMs = 0
      this.awakeAt = undefined
      if (!this.ended) this.fetch()
    } else {
      this.idleMs = Math.min(MAX_IDLE_MS, this.idleMs === 0 ? 1 : this.idleMs * 2)
      this.awakeAt = new Date(Date.now() + this.idleMs)
    }
    this.reportLag()
    return out
  }

  private reportLag(): void {
    if (this.position < 0) return
    let high: number
    try {
      high = this.consumer.getWatermarkOffsets(this.topic, this.partition).highOffset
    } catch {
      return
    }
    if (high >= 0) consumerLag.set(this.stepId, this.topic, this.partition, Math.max(0, high - this.position))
  }

  /** A consumer error: fail the run, or hand it down as an item. */
  private failure(err: KafkaErrorInfo, cause: unknown): Array<KafkaError> {
    if (this.raiseOnErrors) {
      throw new KafkaConsumeError(
        `error consuming from Kafka topic '${this.topic}' partition ${this.partition}: ${describeInfo(err)} (reading from ${
          brokersText(this.brokers)
        })`,
        {
          brokers: this.brokers,
          topic: this.topic,
          partition: this.partition,
          info: err,
          cause: cause instanceof Error ? cause : undefined
        }
      )
    }
    this.awakeAt = undefined
    const stand = new KafkaSourceMessage({
      key: null,
      value: null,
      topic: this.topic,
      partition: this.partition,
      offset: this.position,
      timestamp: new Date()
    })
    return [new KafkaError(err, stand)]
  }
}

const toSourceMessage = (m: Message): KafkaSourceMessage => {
  const key = m.key
  return new KafkaSourceMessage({
    key: key === undefined || key === null ? null : typeof key === "string" ? Buffer.from(key) : key,
    value: m.value,
    topic: m.topic,
    partition: m.partition,
    offset: m.offset,
    timestamp: new Date(m.timestamp ?? -1),
    headers: m.headers === undefined ? undefined : headersOf(m.headers)
  })
}

const headersOf = (list: ReadonlyArray<Readonly<Record<string, string | Buffer>>>): Record<string, Buffer> => {
  const out: Record<string, Buffer> = {}
  for (const h of list) {
    for (const name in h) {
      const v = h[name]!
      out[name] = typeof v === "string" ? Buffer.from(v) : v
    }
  }
  return out
}
