/**
 * The items that flow between Kafka and a dataflow: {@link KafkaSourceMessage}
 * (what a `KafkaSource` reads), {@link KafkaSinkMessage} (what a `KafkaSink`
 * writes) and {@link KafkaError} (a failure that flows down as an item instead
 * of stopping the run).
 *
 * @since 0.1.0
 */
import { errorName } from "./internal/errors.js"

/**
 * What a `KafkaSink` writes. A plain object: only `value` is needed.
 *
 * - `topic` overrides the sink's default topic for this message;
 * - `partition` picks the partition (otherwise the producer's partitioner
 *   picks one from the key);
 * - `timestamp` is the message's create time (otherwise "now");
 * - `headers` follow the KafkaJS convention: header name → value.
 *
 * @example
 * ```ts
 * const msg: KafkaSinkMessage = { key: "user-1", value: JSON.stringify({ clicks: 3 }), topic: "clicks", headers: { source: "web" } }
 * ```
 * @since 0.1.0
 */
export interface KafkaSinkMessage<K = string | Buffer | null, V = string | Buffer | null> {
  readonly key?: K
  readonly value: V
  readonly topic?: string
  readonly partition?: number
  readonly timestamp?: Date
  readonly headers?: Readonly<Record<string, string | Buffer>>
}

/**
 * The fields of a {@link KafkaSourceMessage}, for building one by hand (tests,
 * replays).
 *
 * @example
 * ```ts
 * const fields: KafkaSourceMessageFields<null, Buffer> = { key: null, value: Buffer.from("v"), topic: "t", partition: 0, offset: 0, timestamp: new Date() }
 * new KafkaSourceMessage(fields)
 * ```
 * @since 0.1.0
 */
export interface KafkaSourceMessageFields<K, V> {
  readonly key: K
  readonly value: V
  readonly topic: string
  readonly partition: number
  readonly offset: number
  readonly timestamp: Date
  readonly headers?: Readonly<Record<string, Buffer>> | undefined
  readonly latency?: number | undefined
}

const NO_HEADERS: Readonly<Record<string, Buffer>> = Object.freeze({})

/**
 * One message read from Kafka: key and value (raw `Buffer`s until a
 * deserializer turns them into something else), where it came from
 * (`topic`, `partition`, `offset`), its timestamp and its headers.
 *
 * @example
 * ```ts
 * const msg = new KafkaSourceMessage({
 *   key: Buffer.from("k"), value: Buffer.from("v"), topic: "t", partition: 0, offset: 41, timestamp: new Date()
 * })
 * msg.toSink() // { key: <Buffer 6b>, value: <Buffer 76>, headers: {} }
 * ```
 * @since 0.1.0
 */
export class KafkaSourceMessage<K = Buffer | null, V = Buffer | null> {
  readonly key: K
  readonly value: V
  readonly topic: string
  readonly partition: number
  readonly offset: number
  readonly timestamp: Date
  /** Header name → value. When a header name repeats, the last value wins. */
  readonly headers: Readonly<Record<string, Buffer>>
  /** Producer-side latency in milliseconds, when known; never set for consumed messages. */
  readonly latency?: number

  constructor(fields: KafkaSourceMessageFields<K, V>) {
    this.key = fields.key
    this.value = fields.value
    this.topic = fields.topic
    this.partition = fields.partition
    this.offset = fields.offset
    this.timestamp = fields.timestamp
    this.headers = fields.headers ?? NO_HEADERS
    if (fields.latency !== undefined) this.latency = fields.latency
  }

  /**
   * The message to write back to Kafka: key, value and headers (not the topic,
   * partition or timestamp, so the sink's defaults apply).
   *
   * @example
   * ```ts
   * declare const messages: Stream<KafkaSourceMessage>
   * op.map("forward", messages, (m: KafkaSourceMessage) => m.toSink())
   * ```
   */
  toSink(): KafkaSinkMessage<K, V> {
    return { key: this.key, value: this.value, headers: this.headers }
  }

  /** A copy with another key (used by the deserializing operators). */
  withKey<K2>(key: K2): KafkaSourceMessage<K2, V> {
    return new KafkaSourceMessage<K2, V>({ ...this.fields(), key, value: this.value })
  }

  /** A copy with another value (used by the deserializing operators). */
  withValue<V2>(value: V2): KafkaSourceMessage<K, V2> {
    return new KafkaSourceMessage<K, V2>({ ...this.fields(), key: this.key, value })
  }

  private fields(): Omit<KafkaSourceMessageFields<unknown, unknown>, "key" | "value"> {
    const base = {
      topic: this.topic,
      partition: this.partition,
      offset: this.offset,
      timestamp: this.timestamp,
      headers: this.headers
    }
    return this.latency === undefined ? base : { ...base, latency: this.latency }
  }

  /** @internal */
  toString(): string {
    return `KafkaSourceMessage(topic='${this.topic}', partition=${this.partition}, offset=${this.offset})`
  }
}

/**
 * What went wrong, in librdkafka's terms: `code` is librdkafka's error code
 * (negative for client-side conditions, positive for broker errors) and
 * `name` its symbolic name, e.g. `ERR__ALL_BROKERS_DOWN` or
 * `ERR__VALUE_DESERIALIZATION`.
 *
 * @example
 * ```ts
 * const info: KafkaErrorInfo = { code: -159, name: "ERR__VALUE_DESERIALIZATION", message: "bad JSON", fatal: false, retriable: false }
 * ```
 * @since 0.1.0
 */
export interface KafkaErrorInfo {
  readonly code: number
  readonly name: string
  readonly message: string
  readonly fatal: boolean
  readonly retriable: boolean
  /** The exception behind it, for (de)serialization failures. */
  readonly cause?: unknown
}

/**
 * A failure that flows down the stream as an item: reading (with
 * `raiseOnErrors: false`) or deserializing. `msg` is the message concerned —
 * for read errors a stand-in with `null` key and value that names the topic,
 * partition and offset.
 *
 * @example
 * ```ts
 * declare const brokers: ReadonlyArray<string>   // e.g. ["127.0.0.1:9092"]
 * const { oks, errs } = kop.input("in", flow, { brokers, topics: ["events"] })
 * op.inspect("log_errors", errs, (_step, e: KafkaError) => console.error(`${e.msg.topic}[${e.msg.partition}]: ${e.err.message}`))
 * ```
 * @since 0.1.0
 */
export class KafkaError<K = Buffer | null, V = Buffer | null> {
  readonly _tag = "KafkaError" as const
  constructor(
    readonly err: KafkaErrorInfo,
    readonly msg: KafkaSourceMessage<K, V>
  ) {}

  /** @internal */
  toString(): string {
    return `KafkaError(${this.err.name}: ${this.err.message}; topic='${this.msg.topic}', partition=${this.msg.partition}, offset=${this.msg.offset})`
  }
}

/**
 * `true` for a {@link KafkaSourceMessage}: a type guard for splitting a
 * stream of messages and errors.
 *
 * @example
 * ```ts
 * declare const items: Stream<KafkaSourceMessage | KafkaError>   // a KafkaSource with `raiseOnErrors: false`
 * const { trues: oks, falses: errs } = op.branch("split", items, isKafkaSourceMessage)
 * ```
 * @since 0.1.0
 */
export const isKafkaSourceMessage = <T>(u: T): u is Extract<T, KafkaSourceMessage<unknown, unknown>> =>
  u instanceof KafkaSourceMessage

/**
 * `true` for a {@link KafkaError}: a type guard for splitting a stream of
 * messages and errors.
 *
 * @example
 * ```ts
 * declare const items: Stream<KafkaSourceMessage | KafkaError>   // a KafkaSource with `raiseOnErrors: false`
 * const { trues: errs, falses: oks } = op.branch("split", items, isKafkaError)
 * ```
 * @since 0.1.0
 */
export const isKafkaError = <T>(u: T): u is Extract<T, KafkaError<unknown, unknown>> => u instanceof KafkaError

/** @internal an error info for an exception thrown by user code (a (de)serializer). */
export const errorInfoOf = (code: number, cause: unknown): KafkaErrorInfo => ({
  code,
  name: errorName(code),
  message: cause instanceof Error ? cause.message : String(cause),
  fatal: false,
  retriable: false,
  cause
})
