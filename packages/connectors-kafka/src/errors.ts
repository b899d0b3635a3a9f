/**
 * The errors a Kafka source or sink fails with. Each is a tagged error: its
 * `_tag` is its class name, so `Effect.catchTag("KafkaTopicNotFoundError", …)`
 * picks one out. A run that fails on one of them fails with a
 * `WeirRuntimeError` naming the step, whose `cause` is the error here.
 *
 * @since 0.1.0
 */
import type { KafkaErrorInfo } from "./messages.js"

/**
 * What a Kafka connector error is about.
 *
 * @example
 * ```ts
 * import { KafkaConnectionError, type KafkaConnectorErrorDetails } from "@weir/connectors-kafka"
 *
 * const details: KafkaConnectorErrorDetails = { brokers: ["127.0.0.1:9092"], topic: "orders" }
 * new KafkaConnectionError("error connecting to Kafka broker 127.0.0.1:9092 to read topic 'orders': …", details)
 * ```
 * @since 0.1.0
 */
export interface KafkaConnectorErrorDetails {
  /** The bootstrap brokers the client was given. */
  readonly brokers: ReadonlyArray<string>
  /** The topic concerned, when there is one. */
  readonly topic?: string | undefined
  /** The partition concerned, when there is one. */
  readonly partition?: number | undefined
  /** librdkafka's error (code, symbolic name, text), when librdkafka reported one. */
  readonly info?: KafkaErrorInfo | undefined
  /** The error the client threw or reported. */
  readonly cause?: unknown
}

/**
 * Base class of the errors of `@weir/connectors-kafka`. The message says what
 * failed, names the brokers and the topic, and what to do; the fields hold the
 * same facts for code.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { type KafkaConnectionError, type KafkaTopicNotFoundError, KafkaSource } from "@weir/connectors-kafka"
 *
 * const source = new KafkaSource(["127.0.0.1:9092"], ["orders"])
 * const parts = Effect.tryPromise({
 *   try: () => source.listParts(),
 *   catch: (e) => e as KafkaConnectionError | KafkaTopicNotFoundError
 * })
 * parts.pipe(Effect.catchTag("KafkaConnectionError", (e) => Effect.logError(`is a broker up at ${e.brokers.join(", ")}?`)))
 * ```
 * @since 0.1.0
 */
export class KafkaConnectorError extends Error {
  readonly _tag: string
  /** The bootstrap brokers the client was given. */
  readonly brokers: ReadonlyArray<string>
  /** The topic concerned, when there is one. */
  readonly topic: string | undefined
  /** The partition concerned, when there is one. */
  readonly partition: number | undefined
  /** librdkafka's error (code, symbolic name, text), when librdkafka reported one. */
  readonly info: KafkaErrorInfo | undefined

  constructor(message: string, details: KafkaConnectorErrorDetails) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause })
    this.name = new.target.name
    this._tag = new.target.name
    this.brokers = details.brokers
    this.topic = details.topic
    this.partition = details.partition
    this.info = details.info
  }
}

/**
 * No broker answered: the addresses are wrong, nothing listens there, or the
 * brokers are down. Raised when listing a source's partitions or connecting a
 * consumer or producer takes longer than the connection timeout (librdkafka's
 * `socket.connection.setup.timeout.ms`, 5000 ms unless `addConfig` sets it,
 * plus one second for the request).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import type { KafkaConnectionError } from "@weir/connectors-kafka"
 *
 * declare const failing: Effect.Effect<void, KafkaConnectionError>
 * failing.pipe(Effect.catchTag("KafkaConnectionError", (e) => Effect.logError(e.message)))
 * ```
 * @since 0.1.0
 */
export class KafkaConnectionError extends KafkaConnectorError {
  declare readonly _tag: "KafkaConnectionError"
}

/**
 * A topic to read or write does not exist on the brokers: create it, or
 * check its name.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import type { KafkaTopicNotFoundError } from "@weir/connectors-kafka"
 *
 * declare const failing: Effect.Effect<void, KafkaTopicNotFoundError>
 * failing.pipe(Effect.catchTag("KafkaTopicNotFoundError", (e) => Effect.logError(`create topic ${e.topic}`)))
 * ```
 * @since 0.1.0
 */
export class KafkaTopicNotFoundError extends KafkaConnectorError {
  declare readonly _tag: "KafkaTopicNotFoundError"
  declare readonly topic: string
}

/**
 * The brokers answered, but describing a topic's partitions failed for
 * another reason (not authorized, a broker-side error).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import type { KafkaMetadataError } from "@weir/connectors-kafka"
 *
 * declare const failing: Effect.Effect<void, KafkaMetadataError>
 * failing.pipe(Effect.catchTag("KafkaMetadataError", (e) => Effect.logError(e.info?.name)))
 * ```
 * @since 0.1.0
 */
export class KafkaMetadataError extends KafkaConnectorError {
  declare readonly _tag: "KafkaMetadataError"
}

/**
 * librdkafka refused the client configuration (an unknown property or a
 * value out of range in `addConfig`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import type { KafkaConfigError } from "@weir/connectors-kafka"
 *
 * declare const failing: Effect.Effect<void, KafkaConfigError>
 * failing.pipe(Effect.catchTag("KafkaConfigError", (e) => Effect.logError(`fix addConfig: ${e.message}`)))
 * ```
 * @since 0.1.0
 */
export class KafkaConfigError extends KafkaConnectorError {
  declare readonly _tag: "KafkaConfigError"
}

/**
 * Reading a partition failed (all brokers down, an offset out of range with
 * `auto.offset.reset=error`, …). With `raiseOnErrors: false` such errors flow
 * down as `KafkaError` items instead.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import type { KafkaConsumeError } from "@weir/connectors-kafka"
 *
 * declare const failing: Effect.Effect<void, KafkaConsumeError>
 * failing.pipe(Effect.catchTag("KafkaConsumeError", (e) => Effect.logError(`${e.topic}[${e.partition}]: ${e.info?.name}`)))
 * ```
 * @since 0.1.0
 */
export class KafkaConsumeError extends KafkaConnectorError {
  declare readonly _tag: "KafkaConsumeError"
}

/**
 * Writing failed: Kafka rejected a message (or it timed out), the producer hit
 * a fatal error, or a message had no topic to go to.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import type { KafkaProduceError } from "@weir/connectors-kafka"
 *
 * declare const failing: Effect.Effect<void, KafkaProduceError>
 * failing.pipe(Effect.catchTag("KafkaProduceError", (e) => Effect.logError(`${e.topic}: ${e.info?.name}`)))
 * ```
 * @since 0.1.0
 */
export class KafkaProduceError extends KafkaConnectorError {
  declare readonly _tag: "KafkaProduceError"
}
