/**
 * The exactly-once sink's Kafka side: one transactional producer per sink
 * partition (writer), and the marker that says which epoch it published
 * last. The protocol is in the package README ("Exactly-once"); in short:
 *
 * - An epoch's messages are staged in memory and, when the epoch closes,
 *   stored in the recovery store with the epoch's state (the outbox).
 * - Once every worker has committed the epoch, one Kafka transaction per
 *   writer produces them and moves the writer's marker to the epoch: the
 *   committed offset of consumer group `<transactional id>` on partition 0 of
 *   the marker topic, written with `sendOffsetsToTransaction`, so it is
 *   visible exactly when the messages are.
 * - On resume (`recover`), a producer with the writer's `transactional.id`
 *   is initialised first (that fences an old instance and finishes or aborts
 *   its open transaction), then the marker is read, and every stored epoch
 *   after it is published again.
 */
import type { LibrdKafkaError } from "@confluentinc/kafka-javascript"
import { KafkaConfigError, KafkaConnectorError, KafkaProduceError, KafkaTopicNotFoundError } from "../errors.js"
import type { KafkaErrorInfo } from "../messages.js"
import { baseConfig, type ClientConfig, type Consumer, connectConsumer, connectProducer, disconnect, type Producer } from "./client.js"
import { brokersText, describeInfo, ERR, infoOfLibrdKafkaError, isUnknownTopic, topicHint } from "./errors.js"
import type { OutboxMessage } from "./outbox.js"

/** What the recovery store keeps of one epoch of one writer. */
export interface KafkaOutbox {
  /** The topic whose partition 0 holds the writer's marker (the sink's topic, or the epoch's first message's). */
  readonly markerTopic: string
  /** The messages, encoded (`outbox.ts`). */
  readonly data: Uint8Array
}

/** The Kafka side of one writer. */
export interface TransactionalSettings {
  readonly brokers: ReadonlyArray<string>
  readonly addConfig: ClientConfig
  readonly transactionalId: string
  /** The sink's step, for messages. */
  readonly stepId: string
}

/** How long one transactional call may take before it is retried (librdkafka's calls are resumable). */
const CALL_TIMEOUT_MS = 10_000
/** librdkafka's `transaction.timeout.ms` as Weir sets it (its default too): a transaction open longer is aborted by the broker. */
const TRANSACTION_TIMEOUT_MS = 60_000
/** How long a publish keeps retrying what Kafka says may pass (an unreachable broker, a fenced or timed-out transaction). */
const PUBLISH_DEADLINE_MS = 120_000
/** How long to wait before producing more when the producer's local queue is full. */
const QUEUE_FULL_BACKOFF_MS = 2

const call = (f: (cb: (err: LibrdKafkaError | null | undefined) => void) => void): Promise<void> =>
  new Promise((resolve, reject) => f((err) => (err ? reject(err) : resolve())))

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** What the transaction's failure asks for. */
type Remedy =
  /** Nothing helps (bad input, a topic that does not exist): fail the run. */
  | "fail"
  /** The transaction was aborted; publish the epoch again. */
  | "retry"
  /** The producer is dead (fenced, or the transaction timed out): fail the run (see `Publisher`); resuming goes on. */
  | "fenced"
  /**
   * The producer takes no more transactions, but nothing newer replaced it:
   * its abort never finished, or Kafka refused it as out of state (after a
   * broker restart lost the transaction's start). Make a new one, check the
   * marker, publish again.
   */
  | "renew"

class TransactionFailure extends Error {
  constructor(readonly remedy: Remedy, readonly error: Error) {
    super(error.message, { cause: error })
  }
}

/** Kafka's INVALID_TXN_STATE: the coordinator's state of the transaction is not the one the producer asked to end. */
const INVALID_TXN_STATE = 48

const remedyOf = (e: unknown): Remedy => {
  const r = e as Partial<LibrdKafkaError>
  if (r.isFatal === true) return r.code === INVALID_TXN_STATE ? "renew" : "fenced"
  if (r.isTxnRequiresAbort === true || r.isRetriable === true) return "retry"
  // An unreachable coordinator or broker: librdkafka reports these without a flag.
  const code = typeof r.code === "number" ? r.code : 0
  return code === ERR.TIMED_OUT || code === ERR.TRANSPORT || code === ERR.ALL_BROKERS_DOWN ? "retry" : "fail"
}

/** The marker a writer last published: the epoch, and the run of the process that published it. */
export interface Marker {
  readonly epoch: number
  readonly run: string | undefined
}

/** One writer's transactional producer, and the consumer whose group holds its marker. */
export class TransactionalWriter {
  private deliveryError: { readonly err: LibrdKafkaError; readonly topic: string; readonly partition: number } | undefined
  /**
   * The call into the client in flight, if any. librdkafka aborts the whole
   * process when a transactional call meets a producer being destroyed, so
   * `close` waits for it, and no call starts once closing began.
   */
  private busy: Promise<unknown> | undefined = undefined
  private closing = false

  private constructor(
    private readonly settings: TransactionalSettings,
    private readonly producer: Producer,
    private readonly consumer: Consumer
  ) {
    producer.on("delivery-report", (err, report) => {
      if (err && this.deliveryError === undefined) this.deliveryError = { err, topic: report.topic, partition: report.partition }
    })
    producer.setPollInBackground(true)
  }

  /**
   * Connect, and initialise the transactional id: from here on an older
   * producer with the same id is fenced, and its last transaction is either
   * committed or aborted.
   */
  static async open(settings: TransactionalSettings): Promise<TransactionalWriter> {
    const { brokers, transactionalId } = settings
    const what = `to write transactionally as '${transactionalId}'`
    const producer = await connectProducer(
      {
        ...baseConfig(brokers),
        "topic.metadata.propagation.max.ms": 5_000,
        "transaction.timeout.ms": TRANSACTION_TIMEOUT_MS,
        "client.id": `weir-sink-${transactionalId}`,
        dr_cb: true,
        ...settings.addConfig,
        "transactional.id": transactionalId
      },
      { brokers },
      what
    )
    let consumer: Consumer | undefined
    try {
      await initTransactions(producer, settings)
      consumer = await connectConsumer(
        {
          ...baseConfig(brokers),
          "group.id": transactionalId,
          "isolation.level": "read_committed",
          "enable.auto.commit": false,
          ...consumerSettingsOf(settings.addConfig)
        },
        { brokers },
        `to read the marker of '${transactionalId}'`
      )
    } catch (e) {
      await disconnect(producer)
      throw e
    }
    return new TransactionalWriter(settings, producer, consumer)
  }

  /** The epoch this writer published last (0: none), as the marker in `topic` says. */
  async marker(topic: string): Promise<Marker> {
    const got = await new Promise<ReadonlyArray<{ offset: number; metadata?: string | null }>>((resolve, reject) =>
      this.consumer.committed([{ topic, partition: 0 }], CALL_TIMEOUT_MS, (err, tps) => (err ? reject(err) : resolve(tps)))
    ).catch((e: unknown) => {
      throw this.kafkaError(`error reading the marker of '${this.settings.transactionalId}' in topic '${topic}'`, e, topic)
    })
    const tp = got[0]
    if (tp === undefined || tp.offset < 0) return { epoch: 0, run: undefined }
    let run: string | undefined
    try {
      run = (JSON.parse(tp.metadata ?? "{}") as { run?: string }).run
    } catch {
      run = undefined
    }
    return { epoch: tp.offset, run }
  }

  /**
   * One transaction: the messages, then the marker (`epoch`, `run`), then
   * commit. Fails with a {@link TransactionFailure} saying what to do.
   */
  async publish(epoch: number, messages: ReadonlyArray<OutboxMessage>, markerTopic: string, run: string): Promise<void> {
    const { producer } = this
    this.deliveryError = undefined
    try {
      await this.op((cb) => producer.beginTransaction(cb))
      for (let i = 0; i < messages.length;) {
        const m = messages[i]!
        try {
          this.produce(m)
          i++
        } catch (e) {
          if ((e as { code?: unknown }).code !== ERR.QUEUE_FULL) throw e
          await delay(QUEUE_FULL_BACKOFF_MS)
        }
        if (this.deliveryError !== undefined) break
      }
      const marker = { topic: markerTopic, partition: 0, offset: epoch, metadata: JSON.stringify({ epoch, run }) }
      if (this.deliveryError === undefined) {
        await this.op((cb) => producer.sendOffsetsToTransaction([marker], this.consumer, CALL_TIMEOUT_MS, cb))
      }
      await this.commit()
    } catch (e) {
      throw await this.failed(e)
    }
  }

  /** Commit; a call that timed out is resumed (librdkafka's calls are), until the transaction's own timeout. */
  private async commit(): Promise<void> {
    const until = Date.now() + TRANSACTION_TIMEOUT_MS
    for (;;) {
      if (this.deliveryError !== undefined) throw this.deliveryError.err
      try {
        await this.op((cb) => this.producer.commitTransaction(CALL_TIMEOUT_MS, cb))
        return
      } catch (e) {
        const r = e as Partial<LibrdKafkaError>
        if (r.isRetriable !== true || r.isTxnRequiresAbort === true || r.isFatal === true) throw e
        if (Date.now() > until) {
          // The commit may or may not have happened: only a new producer and the marker can tell.
          throw new TransactionFailure("fenced", this.kafkaError(`committing the transaction of '${this.settings.transactionalId}' timed out`, e, undefined))
        }
      }
    }
  }

  /** After a failed transaction: abort it if it needs that, and say what to do. */
  private async failed(e: unknown): Promise<TransactionFailure> {
    if (e instanceof TransactionFailure) return e
    const delivery = this.deliveryError
    if (delivery !== undefined) {
      const stuck = await this.abort()
      const info = infoOfLibrdKafkaError(delivery.err)
      const at = `error producing to Kafka topic '${delivery.topic}'${delivery.partition >= 0 ? ` partition ${delivery.partition}` : ""}`
      const details = { brokers: this.settings.brokers, topic: delivery.topic, info, cause: delivery.err }
      const error = isUnknownTopic(info.code)
        ? new KafkaTopicNotFoundError(`${at}: ${describeInfo(info)}: ${topicHint(delivery.topic, this.settings.brokers)}`, details)
        : new KafkaProduceError(`${at}: ${describeInfo(info)} (writing to ${brokersText(this.settings.brokers)})`, details)
      // A producer that can't take another transaction says what to do; else a message Kafka refused is
      // refused again: fail unless Kafka said it may pass.
      if (stuck !== undefined && (info.retriable || (stuck as Partial<LibrdKafkaError>).isFatal === true)) {
        return this.abortFailure(stuck, error)
      }
      return new TransactionFailure(info.retriable ? "retry" : "fail", error)
    }
    if (e instanceof TypeError || e instanceof KafkaConnectorError) return new TransactionFailure("fail", e)
    const remedy = remedyOf(e)
    const error = this.kafkaError(`error in the transaction of '${this.settings.transactionalId}'`, e, undefined)
    const stuck = remedy === "retry" ? await this.abort() : undefined
    return stuck === undefined ? new TransactionFailure(remedy, error) : this.abortFailure(stuck, error)
  }

  /** A transaction that failed with `error` (which may pass), and whose abort then failed with `e`. */
  private abortFailure(e: unknown, error: Error): TransactionFailure {
    const r = e as Partial<LibrdKafkaError>
    return new TransactionFailure(
      r.isFatal === true && r.code !== INVALID_TXN_STATE ? "fenced" : "renew",
      this.kafkaError(`error aborting the transaction of '${this.settings.transactionalId}' after ${error.message}`, e, undefined)
    )
  }

  /**
   * Abort the open transaction. A call that timed out is resumed (librdkafka
   * refuses every other transactional call with ERR__CONFLICT until it is
   * done), until the transaction's own timeout. Resolves with the error that
   * leaves the producer unable to take another transaction (a fatal one, or
   * the last time-out), if any; other failures are left to the next
   * transaction's start, or the broker's timeout.
   */
  private async abort(): Promise<unknown> {
    const until = Date.now() + TRANSACTION_TIMEOUT_MS
    for (;;) {
      try {
        await this.op((cb) => this.producer.abortTransaction(CALL_TIMEOUT_MS, cb))
        return undefined
      } catch (e) {
        const r = e as Partial<LibrdKafkaError>
        if (r.isFatal === true) return e
        if (r.isRetriable !== true) return undefined
        if (Date.now() > until) return e
      }
    }
  }

  private kafkaError(what: string, e: unknown, topic: string | undefined): KafkaProduceError {
    const info: KafkaErrorInfo = infoOfLibrdKafkaError(e)
    return new KafkaProduceError(`${what}: ${describeInfo(info)} (writing to ${brokersText(this.settings.brokers)})`, {
      brokers: this.settings.brokers,
      topic,
      info,
      cause: e instanceof Error ? e : undefined
    })
  }

  /** One call into the client, unless closing began. */
  private op(f: (cb: (err: LibrdKafkaError | null | undefined) => void) => void): Promise<void> {
    if (this.closing) {
      return Promise.reject(new TransactionFailure("fail", new Error(`the producer '${this.settings.transactionalId}' is closing`)))
    }
    const p = call(f)
    this.busy = p.catch(() => undefined)
    return p
  }

  /** Produce one message, unless closing began (queued messages of an open transaction are aborted with it). */
  private produce(m: OutboxMessage): void {
    if (this.closing) throw new TransactionFailure("fail", new Error(`the producer '${this.settings.transactionalId}' is closing`))
    this.producer.produce(m.topic, m.partition, m.value, m.key, m.timestamp, undefined, m.headers)
  }

  async close(): Promise<void> {
    this.closing = true
    await this.busy
    await Promise.all([disconnect(this.producer), disconnect(this.consumer)])
  }
}

const initTransactions = async (producer: Producer, settings: TransactionalSettings): Promise<void> => {
  try {
    await call((cb) => producer.initTransactions(CALL_TIMEOUT_MS * 3, cb))
  } catch (e) {
    const info = infoOfLibrdKafkaError(e)
    const error = new KafkaProduceError(
      `error initialising Kafka transactions as '${settings.transactionalId}' on ${brokersText(settings.brokers)}: ${describeInfo(info)}` +
        (info.code === 50
          ? ": transaction.timeout.ms is above the broker's transaction.max.timeout.ms (900000 unless the broker sets another)"
          : ""),
      { brokers: settings.brokers, info, cause: e instanceof Error ? e : undefined }
    )
    // A broker that does not answer may come back; a setting the broker refuses will not.
    throw new TransactionFailure(info.code === 50 || (info.fatal && !info.retriable) ? "fail" : "retry", error)
  }
}

/** The settings of `addConfig` a consumer also takes (security, timeouts); producer-only ones are left out. */
const consumerSettingsOf = (config: ClientConfig): ClientConfig => {
  const out: Record<string, string | number | boolean> = {}
  for (const [k, v] of Object.entries(config)) {
    if (/^(security\.|sasl\.|ssl\.|socket\.|client\.rack$|broker\.address\.family$|reconnect\.backoff)/.test(k)) out[k] = v
  }
  return out
}

/**
 * Publish epochs through one writer, retrying what may pass until a
 * deadline (an unreachable broker or coordinator, a transaction Kafka
 * aborted). A dead producer — fenced by a newer instance with the same
 * `transactional.id`, or whose transaction outlived `transaction.timeout.ms`
 * (Kafka reports both alike) — fails the run: a new producer would fence the
 * newer instance in turn. Resuming the flow publishes what is left, exactly
 * once.
 */
export class Publisher {
  private writer: TransactionalWriter | undefined = undefined

  constructor(
    private readonly settings: TransactionalSettings,
    /** This process's run, recorded in each marker. */
    readonly run: string
  ) {}

  /** Open the writer now (fencing older instances). */
  async open(): Promise<TransactionalWriter> {
    this.writer ??= await TransactionalWriter.open(this.settings)
    return this.writer
  }

  /**
   * Publish `epoch`'s messages in one transaction. With `skip`, read the
   * marker first, and publish nothing if `skip(marker)` says it covers the
   * epoch.
   */
  async publish(epoch: number, messages: ReadonlyArray<OutboxMessage>, markerTopic: string, skip?: (marker: Marker) => boolean): Promise<void> {
    const deadline = Date.now() + PUBLISH_DEADLINE_MS
    let checked = skip === undefined
    // After a renewed producer, the old one's last transaction may have committed: the marker says, if
    // this run wrote it (a marker of an earlier run, even of a higher epoch, says nothing of this one).
    const covered = skip ?? ((marker: Marker) => marker.run === this.run && marker.epoch >= epoch)
    for (let attempt = 1;; attempt++) {
      try {
        const writer = await this.open()
        if (!checked) {
          if (covered(await writer.marker(markerTopic))) return
          checked = true
        }
        await writer.publish(epoch, messages, markerTopic, this.run)
        return
      } catch (e) {
        const failure = e instanceof TransactionFailure ? e : undefined
        const remedy: Remedy = failure?.remedy ??
          (e instanceof KafkaConnectorError && !(e instanceof KafkaConfigError) ? "retry" : "fail")
        const error = failure?.error ?? e
        if (remedy === "renew" && Date.now() <= deadline) {
          const dead = this.writer
          this.writer = undefined
          await dead?.close()
          checked = false
          await delay(Math.min(100 * 2 ** attempt, 2_000))
          continue
        }
        if (remedy === "fenced" || remedy === "renew") {
          const dead = this.writer
          this.writer = undefined
          await dead?.close()
          throw new KafkaProduceError(
            `the transactional producer '${this.settings.transactionalId}' can't go on with epoch ${epoch}: ${
              (error as Error).message
            }. Either another instance of this flow started with the same transactional.id (a second run, or ` +
              "another deployment using the same transactionalIdPrefix), or a transaction stayed open longer than " +
              "transaction.timeout.ms (a stall, or a broker outage). Nothing is lost: resume the flow from its recovery " +
              "store and it publishes what is left, exactly once",
            { brokers: this.settings.brokers, topic: markerTopic, info: (error as KafkaProduceError).info, cause: error }
          )
        }
        if (remedy === "fail" || Date.now() > deadline) throw error
        await delay(Math.min(100 * 2 ** attempt, 2_000))
      }
    }
  }

  async close(): Promise<void> {
    const w = this.writer
    this.writer = undefined
    await w?.close()
  }
}

/** A fresh id for this process's run of a writer (markers record it). */
export const newRun = (): string => `${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`
