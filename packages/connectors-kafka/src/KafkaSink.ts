/**
 * Writing a stream of {@link KafkaSinkMessage}s to Kafka.
 *
 * @since 0.1.0
 */
import type { DeliveryReport, LibrdKafkaError, MessageHeader } from "@confluentinc/kafka-javascript"
import { type StatelessSinkPartition, TransactionalSink, type TransactionalSinkPartition } from "@weir/core"
import { clientConfig, stringList } from "./internal/arguments.js"
import { KafkaConnectorError, KafkaProduceError, KafkaTopicNotFoundError } from "./errors.js"
import { baseConfig, type ClientConfig, connectProducer, disconnect, flush, type Producer } from "./internal/client.js"
import { type KafkaOutbox, newRun, Publisher } from "./internal/exactlyOnce.js"
import { decodeOutbox, type OutboxMessage, OutboxWriter } from "./internal/outbox.js"
import {
  brokersText,
  describeInfo,
  ERR,
  infoOfClientEvent,
  infoOfLibrdKafkaError,
  isUnknownTopic,
  topicHint
} from "./internal/errors.js"
import { type KafkaSinkMessage, KafkaSourceMessage } from "./messages.js"

/**
 * Options of {@link KafkaSink}.
 *
 * @example
 * ```ts
 * declare const brokers: ReadonlyArray<string>   // e.g. ["127.0.0.1:9092"]
 * new KafkaSink(brokers, "out", { addConfig: { "compression.type": "zstd", "linger.ms": 20 } })
 * ```
 * @since 0.1.0
 */
export interface KafkaSinkOptions {
  /** librdkafka producer settings, applied last (`acks`, `linger.ms`, `compression.type`, security, …). */
  readonly addConfig?: Readonly<Record<string, string | number | boolean>>
  /**
   * Exactly-once output: each epoch's messages are kept in the recovery
   * store with the epoch's state, and written in one Kafka transaction per
   * worker once every worker has committed the epoch, so a consumer with
   * `isolation.level=read_committed` sees each message exactly once across
   * any crash and resume. Needs a recovery store on the run. Default `false`
   * (at-least-once). See the package README, "Exactly-once".
   */
  readonly exactlyOnce?: boolean
  /**
   * With `exactlyOnce`: the start of each worker's `transactional.id` (and of
   * the consumer group holding its marker), `<prefix>.<step id>.<worker>`.
   * Default `"weir"`. Give two deployments of the same flow on one Kafka
   * cluster different prefixes, or they fence each other.
   */
  readonly transactionalIdPrefix?: string
}

/** How long closing waits for messages still queued. */
const CLOSE_FLUSH_MS = 30_000
/** The longest a flush (see `writeBatch`) may occupy a thread of the client's pool. */
const FLUSH_MS = 5_000
/** How long to wait before retrying when the producer's local queue is full. */
const QUEUE_FULL_BACKOFF_MS = 2
/**
 * librdkafka's `topic.metadata.propagation.max.ms` as Weir sets it: how long
 * a topic the brokers say does not exist may take to appear (a topic created
 * moments ago) before messages to it fail. librdkafka's default is 30 s.
 */
const TOPIC_PROPAGATION_MS = 5_000

/**
 * Writes {@link KafkaSinkMessage}s to Kafka with one producer per worker. Each
 * message goes to its own `topic` if it has one, else to the sink's `topic`
 * (with neither, the run fails); a {@link KafkaSourceMessage} is written as its
 * `toSink()` (key, value and headers). A message's `key`, `headers`, `timestamp` and `partition` are
 * honoured (no partition: the producer's partitioner picks one from the key).
 *
 * A batch counts as written only once Kafka has acknowledged every message in
 * it, so a snapshot never covers an unconfirmed write; a delivery failure fails
 * the run, naming the topic and partition; a topic that does not exist fails
 * it with a `KafkaTopicNotFoundError` within
 * `topic.metadata.propagation.max.ms` (5000 ms unless `addConfig` sets it).
 * Brokers that do not answer fail `build` with a `KafkaConnectionError`
 * within the connection timeout (`socket.connection.setup.timeout.ms`, 5000
 * ms unless `addConfig` sets it, plus 1000 ms). The idempotent producer is on by
 * default (`enable.idempotence`, which implies `acks=all`): retries do not
 * duplicate. At-least-once across a resume: messages of the resume epoch are
 * written again.
 *
 * With `exactlyOnce: true` (a recovery store required) each worker stages an
 * epoch's messages, the store keeps them with the epoch's state, and once
 * every worker has committed the epoch they are written in one Kafka
 * transaction: a `read_committed` consumer sees each exactly once across any
 * crash and resume (see the package README, "Exactly-once").
 *
 * @example
 * ```ts
 * import { Dataflow, op } from "@weir/core"
 * import { KafkaSink } from "@weir/connectors-kafka"
 * import { TestingSource } from "@weir/testing"
 *
 * const flow = new Dataflow("greet")
 * const names = op.input("in", flow, new TestingSource(["ada", "grace"]))
 * op.output("out", op.map("msg", names, (n: string) => ({ key: n, value: `hello ${n}` })), new KafkaSink(["127.0.0.1:9092"], "greetings"))
 * // Exactly once (run it with a recovery store):
 * new KafkaSink(["127.0.0.1:9092"], "greetings", { exactlyOnce: true })
 * ```
 * @since 0.1.0
 */
export class KafkaSink extends TransactionalSink<KafkaSinkMessage, KafkaOutbox> {
  readonly brokers: ReadonlyArray<string>
  readonly topic: string | undefined
  readonly addConfig: ClientConfig
  readonly exactlyOnce: boolean
  readonly transactionalIdPrefix: string

  constructor(brokers: Iterable<string>, topic?: string, options: KafkaSinkOptions = {}) {
    super()
    this.brokers = stringList("brokers", brokers)
    if (topic !== undefined && (typeof topic !== "string" || topic.length === 0)) {
      throw new TypeError(`topic must be a non-empty string or undefined; got ${String(topic)}`)
    }
    this.topic = topic
    this.addConfig = clientConfig(options.addConfig)
    if (options.exactlyOnce !== undefined && typeof options.exactlyOnce !== "boolean") {
      throw new TypeError(`exactlyOnce must be true or false; got a \`${typeof options.exactlyOnce}\``)
    }
    this.exactlyOnce = options.exactlyOnce === true
    const prefix = options.transactionalIdPrefix ?? "weir"
    if (typeof prefix !== "string" || prefix.length === 0) {
      throw new TypeError(`transactionalIdPrefix must be a non-empty string; got ${String(prefix)}`)
    }
    this.transactionalIdPrefix = prefix
    if ("transactional.id" in this.addConfig) {
      throw new TypeError(
        "KafkaSink sets transactional.id itself (one per worker, `<transactionalIdPrefix>.<step id>.<worker>`): " +
          "remove it from addConfig, and give `exactlyOnce: true` (with `transactionalIdPrefix` to choose the prefix)"
      )
    }
  }

  /**
   * librdkafka's Node binding can't be loaded in a worker thread (it is not
   * context-aware, and delivers its callbacks on the main thread's loop), so
   * a flow with a Kafka connector runs its workers on the calling thread.
   */
  override get mainThreadOnly(): boolean {
    return true
  }

  /** Whether the sink writes exactly once (`exactlyOnce: true`). */
  override get transactional(): boolean {
    return this.exactlyOnce
  }

  /** The `transactional.id` of writer `writer` of step `stepId` (also the consumer group of its marker). */
  transactionalId(stepId: string, writer: number): string {
    return `${this.transactionalIdPrefix}.${stepId}.${writer}`
  }

  /** With `exactlyOnce`: this worker's transactional writer (its `transactional.id` initialised: older instances are fenced). */
  async buildTransactional(stepId: string, workerIndex: number, _workerCount: number): Promise<TransactionalSinkPartition<KafkaSinkMessage, KafkaOutbox>> {
    const publisher = new Publisher(this.settings(stepId, workerIndex), newRun())
    await publisher.open()
    return new ExactlyOncePartition(publisher, this.brokers, this.topic)
  }

  /**
   * With `exactlyOnce`, on resume: publish the stored epochs of `writer` its
   * marker does not cover, under its own `transactional.id` (initialised
   * first, so a transaction an old instance left is finished or aborted
   * before the marker is read).
   */
  async recover(stepId: string, writer: number, epochs: ReadonlyArray<readonly [epoch: number, outbox: KafkaOutbox]>): Promise<void> {
    const publisher = new Publisher(this.settings(stepId, writer), newRun())
    try {
      await publisher.open()
      for (const [epoch, outbox] of epochs) {
        await publisher.publish(epoch, decodeOutbox(outbox.data), outbox.markerTopic, (marker) => marker.epoch >= epoch)
      }
    } finally {
      await publisher.close()
    }
  }

  private settings(stepId: string, writer: number) {
    return { brokers: this.brokers, addConfig: this.addConfig, transactionalId: this.transactionalId(stepId, writer), stepId }
  }

  /** This worker's producer. */
  override async build(_stepId: string, workerIndex: number, _workerCount: number): Promise<StatelessSinkPartition<KafkaSinkMessage>> {
    const producer: Producer = await connectProducer(
      {
        ...baseConfig(this.brokers),
        "topic.metadata.propagation.max.ms": TOPIC_PROPAGATION_MS,
        "enable.idempotence": true,
        "client.id": `weir-sink-${workerIndex}`,
        dr_cb: true,
        ...this.addConfig
      },
      { brokers: this.brokers, topic: this.topic },
      this.topic === undefined ? "to write" : `to write topic '${this.topic}'`
    )
    return new KafkaSinkPartition(producer, this.brokers, this.topic)
  }
}

/** The outcome of one batch: settles when every message in it has a delivery report. */
class Delivery {
  readonly promise: Promise<void>
  private remaining: number
  private failure: Error | undefined = undefined
  settled = false
  private resolve!: () => void
  private reject!: (e: Error) => void

  constructor(
    count: number,
    private readonly brokers: ReadonlyArray<string>
  ) {
    this.remaining = count
    this.promise = new Promise<void>((resolve, reject) => {
      this.resolve = resolve
      this.reject = reject
    })
  }

  delivered(err: LibrdKafkaError | null | undefined, report: DeliveryReport): void {
    if (err && this.failure === undefined) this.failure = produceError(this.brokers, report.topic, report.partition, err)
    if (--this.remaining === 0) this.settle()
  }

  /** Some messages were never queued: they will have no report. */
  notQueued(count: number, cause: Error): void {
    this.failure ??= cause
    this.remaining -= count
    if (this.remaining === 0) this.settle()
  }

  fail(e: Error): void {
    this.failure ??= e
    this.remaining = 0
    this.settle()
  }

  private settle(): void {
    this.settled = true
    if (this.failure === undefined) this.resolve()
    else this.reject(this.failure)
  }
}

class KafkaSinkPartition implements StatelessSinkPartition<KafkaSinkMessage> {
  private readonly inFlight = new Set<Delivery>()
  /**
   * The batch whose messages were produced untagged: delivery reports without
   * a tag are its. The runtime writes one batch at a time, so this is the
   * common case, and tagging each message costs the client a handle per
   * message; a batch written while another is still pending is tagged.
   */
  private untagged: Delivery | undefined = undefined
  private fatal: Error | undefined = undefined
  private flushing = false

  constructor(
    private readonly producer: Producer,
    private readonly brokers: ReadonlyArray<string>,
    private readonly topic: string | undefined
  ) {
    producer.on("delivery-report", (err, report) => {
      const d = (report.opaque as Delivery | undefined) ?? this.untagged
      if (d !== undefined && !d.settled) d.delivered(err, report)
    })
    producer.on("event.error", (err) => {
      // Fatal errors (e.g. the idempotent producer lost its sequence) end every pending batch.
      const info = infoOfClientEvent(err)
      if (info.code !== ERR.FATAL && !info.fatal) return
      const e = new KafkaProduceError(`fatal Kafka producer error: ${describeInfo(info)} (writing to ${brokersText(brokers)})`, {
        brokers,
        topic,
        info,
        cause: err
      })
      this.fatal ??= e
      for (const d of this.inFlight) d.fail(e)
    })
    producer.setPollInBackground(true)
  }

  writeBatch(items: Array<KafkaSinkMessage>): Promise<void> | void {
    if (items.length === 0) return
    if (this.fatal !== undefined) return Promise.reject(this.fatal)
    const delivery = new Delivery(items.length, this.brokers)
    if (this.untagged?.settled === true) this.untagged = undefined
    const tag = this.untagged === undefined ? undefined : delivery
    if (tag === undefined) this.untagged = delivery
    this.inFlight.add(delivery)
    const done = delivery.promise.finally(() => this.inFlight.delete(delivery))
    this.produceFrom(items, 0, delivery, tag)
    this.sendNow()
    return done
  }

  /**
   * The runtime calls `writeBatch` again only when the last batch is confirmed,
   * so waiting `linger.ms` for more messages to join this batch only adds
   * latency: a flush sends what is queued at once (as Bytewax's sink does after
   * every batch). Delivery itself is still judged by the delivery reports.
   */
  private sendNow(): void {
    if (this.flushing) return
    this.flushing = true
    this.producer.flush(FLUSH_MS, () => {
      this.flushing = false
    })
  }

  async close(): Promise<void> {
    try {
      await flush(this.producer, CLOSE_FLUSH_MS)
    } catch {
      // Every batch was confirmed before it counted as written; nothing is lost here.
    }
    await disconnect(this.producer)
  }

  /** Queue `items[from..]`; when the local queue is full, wait for deliveries and go on. */
  private produceFrom(items: Array<KafkaSinkMessage>, from: number, delivery: Delivery, tag: Delivery | undefined): void {
    for (let i = from; i < items.length; i++) {
      try {
        this.produce(items[i]!, tag)
      } catch (e) {
        if ((e as { code?: unknown }).code === ERR.QUEUE_FULL) {
          setTimeout(() => this.produceFrom(items, i, delivery, tag), QUEUE_FULL_BACKOFF_MS)
          return
        }
        delivery.notQueued(items.length - i, this.notQueuedError(items[i]!, e))
        return
      }
    }
  }

  /** The error for a message the producer would not queue. */
  private notQueuedError(item: KafkaSinkMessage, e: unknown): Error {
    if (e instanceof KafkaConnectorError || e instanceof TypeError) return e
    const topic = (item as { topic?: unknown } | null)?.topic ?? this.topic
    return produceError(this.brokers, typeof topic === "string" ? topic : String(topic), -1, e)
  }

  private produce(item: KafkaSinkMessage, tag: Delivery | undefined): void {
    const m = producerMessage(item, this.topic, this.brokers)
    this.producer.produce(m.topic, m.partition, m.value, m.key, m.timestamp, tag, m.headers)
  }
}

/** What the exactly-once sink stages of an epoch. */
interface Staged {
  readonly writer: OutboxWriter
  readonly messages: Array<OutboxMessage>
}

/** One worker's exactly-once writer: stages per epoch, publishes each committed epoch in one transaction. */
class ExactlyOncePartition implements TransactionalSinkPartition<KafkaSinkMessage, KafkaOutbox> {
  private readonly staged = new Map<number, Staged>()
  /** Prepared epochs' messages, so that publishing needs no decoding. */
  private readonly ready = new Map<number, ReadonlyArray<OutboxMessage>>()

  constructor(
    private readonly publisher: Publisher,
    private readonly brokers: ReadonlyArray<string>,
    private readonly topic: string | undefined
  ) {}

  writeBatch(items: Array<KafkaSinkMessage>, epoch: number): void {
    let s = this.staged.get(epoch)
    if (s === undefined) this.staged.set(epoch, (s = { writer: new OutboxWriter(), messages: [] }))
    for (let i = 0; i < items.length; i++) {
      const m = producerMessage(items[i]!, this.topic, this.brokers)
      s.writer.add(m)
      s.messages.push(m)
    }
  }

  prepare(epoch: number): KafkaOutbox | undefined {
    const s = this.staged.get(epoch)
    if (s === undefined) return undefined
    this.staged.delete(epoch)
    if (s.messages.length === 0) return undefined
    this.ready.set(epoch, s.messages)
    return { markerTopic: this.topic ?? s.messages[0]!.topic, data: s.writer.take() }
  }

  publish(epoch: number, outbox: KafkaOutbox): Promise<void> {
    const messages = this.ready.get(epoch) ?? decodeOutbox(outbox.data)
    this.ready.delete(epoch)
    return this.publisher.publish(epoch, messages, outbox.markerTopic)
  }

  close(): Promise<void> {
    return this.publisher.close()
  }
}

/**
 * A message as the producer takes it, every field resolved; a
 * {@link KafkaSourceMessage} as its `toSink()`, so that it never goes back to
 * its own topic and partition.
 */
const producerMessage = (item: KafkaSinkMessage, defaultTopic: string | undefined, brokers: ReadonlyArray<string>): OutboxMessage => {
  const m = item instanceof KafkaSourceMessage ? item.toSink() : item
  if (m === null || typeof m !== "object") {
    throw new TypeError(
      `KafkaSink items must be KafkaSinkMessage objects ({ value, key?, topic?, partition?, timestamp?, headers? }); got ${
        m === null ? "null" : `a \`${typeof m}\``
      }`
    )
  }
  const topic = m.topic ?? defaultTopic
  if (topic === undefined) {
    throw new KafkaProduceError(
      `no topic to produce to for a message with key ${String(m.key)}: give the message a topic or the sink a default topic`,
      { brokers }
    )
  }
  const value = m.value
  const key = m.key ?? null
  if (key !== null && typeof key !== "string" && !Buffer.isBuffer(key)) {
    throw new TypeError(`a KafkaSinkMessage key must be a string, a Buffer or null; got a \`${typeof key}\``)
  }
  if (value !== null && value !== undefined && typeof value !== "string" && !Buffer.isBuffer(value)) {
    throw new TypeError(`a KafkaSinkMessage value must be a string, a Buffer or null; got a \`${typeof value}\` (serialize it first, e.g. with kop.serializeValue)`)
  }
  const ts = m.timestamp
  return {
    topic,
    partition: m.partition ?? null,
    value: value === null || value === undefined ? null : typeof value === "string" ? Buffer.from(value) : value,
    key,
    timestamp: ts === undefined ? null : ts instanceof Date ? ts.getTime() : (ts as number),
    headers: m.headers === undefined ? undefined : headerList(m.headers)
  }
}

/** The error for a message Kafka did not take: the topic does not exist, or another failure. */
const produceError = (brokers: ReadonlyArray<string>, topic: string, partition: number, err: unknown): KafkaConnectorError => {
  const info = infoOfLibrdKafkaError(err)
  const at = `error producing to Kafka topic '${topic}'${partition >= 0 ? ` partition ${partition}` : ""}: ${describeInfo(info)}`
  const details = { brokers, topic, partition: partition >= 0 ? partition : undefined, info, cause: err instanceof Error ? err : undefined }
  return isUnknownTopic(info.code)
    ? new KafkaTopicNotFoundError(`${at}: ${topicHint(topic, brokers)}`, details)
    : new KafkaProduceError(`${at} (writing to ${brokersText(brokers)})`, details)
}

const headerList = (headers: Readonly<Record<string, string | Buffer>>): Array<MessageHeader> => {
  const out: Array<MessageHeader> = []
  for (const name in headers) out.push({ [name]: headers[name]! })
  return out
}
