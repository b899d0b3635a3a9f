/**
 * Kafka operators, used as `kop`: reading with errors split off, writing, and
 * (de)serializing keys and values with plain functions.
 *
 * ```ts
 * import { kop } from "@weir/connectors-kafka"
 * ```
 *
 * @since 0.1.0
 */
import { type Dataflow, dataLast, defineOperator, op, type Stream, type Tagged, upPort } from "@weir/core"
import { ERR } from "./internal/errors.js"
import { KafkaSink } from "./KafkaSink.js"
import { KafkaSource, type StartingOffset } from "./KafkaSource.js"
import { errorInfoOf, KafkaError, type KafkaSinkMessage, KafkaSourceMessage } from "./messages.js"

/**
 * Two streams: what worked (`oks`) and what failed (`errs`). Errors nobody
 * reads are dropped.
 *
 * @example
 * ```ts
 * declare const brokers: ReadonlyArray<string>   // e.g. ["127.0.0.1:9092"]
 * const { oks, errs }: KafkaOpOut<KafkaSourceMessage, KafkaError> = kop.input("in", flow, { brokers, topics: ["t"] })
 * ```
 * @since 0.1.0
 */
export interface KafkaOpOut<X, E> {
  readonly oks: Stream<X>
  readonly errs: Stream<E>
}

/**
 * Options of {@link input}: where to read and how (see `KafkaSource`).
 *
 * @example
 * ```ts
 * const options: KafkaInputOptions = { brokers: ["127.0.0.1:9092"], topics: ["orders"], tail: false }
 * kop.input("in", flow, options)
 * ```
 * @since 0.1.0
 */
export interface KafkaInputOptions {
  readonly brokers: ReadonlyArray<string>
  readonly topics: ReadonlyArray<string>
  readonly tail?: boolean
  readonly startingOffset?: StartingOffset
  readonly addConfig?: Readonly<Record<string, string | number | boolean>>
  readonly batchSize?: number
  /** Default `"read_committed"`: see `KafkaSourceOptions.isolationLevel`. */
  readonly isolationLevel?: "read_committed" | "read_uncommitted"
}

/**
 * Options of {@link output}: where to write (see `KafkaSink`).
 *
 * @example
 * ```ts
 * declare const messages: Stream<KafkaSinkMessage>
 * const options: KafkaOutputOptions = { brokers: ["127.0.0.1:9092"], topic: "orders-copy" }
 * kop.output("out", messages, options)
 * ```
 * @since 0.1.0
 */
export interface KafkaOutputOptions {
  readonly brokers: ReadonlyArray<string>
  /** The default topic, for messages without their own. */
  readonly topic?: string
  readonly addConfig?: Readonly<Record<string, string | number | boolean>>
  /** Exactly-once output (needs a recovery store on the run): see `KafkaSinkOptions.exactlyOnce`. */
  readonly exactlyOnce?: boolean
  /** With `exactlyOnce`: see `KafkaSinkOptions.transactionalIdPrefix`. */
  readonly transactionalIdPrefix?: string
}

/**
 * Where a (de)serializer is applied: the message's topic and whether it is the
 * key or the value.
 *
 * @example
 * ```ts
 * interface Order { readonly id: string; readonly amount: number }
 * declare const decodeV1: (data: Buffer | null) => Order
 * declare const decodeV2: (data: Buffer | null) => Order
 * const byTopic = (data: Buffer | null, ctx: SerdeContext) => (ctx.topic === "legacy" ? decodeV1(data) : decodeV2(data))
 * ```
 * @since 0.1.0
 */
export interface SerdeContext {
  readonly topic: string | undefined
  readonly field: "key" | "value"
}

/**
 * Turns raw bytes into a value; throw to reject the message (it goes to
 * `errs`).
 *
 * @example
 * ```ts
 * const utf8: Deserializer<Buffer | null, string> = (data) => data?.toString("utf8") ?? ""
 * ```
 * @since 0.1.0
 */
export type Deserializer<In, Out> = (data: In, context: SerdeContext) => Out

/**
 * Turns a value into bytes (or a string); throwing fails the run.
 *
 * @example
 * ```ts
 * const asJson: Serializer<{ id: string }> = (value) => JSON.stringify(value)
 * ```
 * @since 0.1.0
 */
export type Serializer<In> = (value: In, context: SerdeContext) => Buffer | string | null

/**
 * What the serializing operators and `output` accept: a sink message, or a
 * message read from Kafka (converted with `toSink()`).
 *
 * @example
 * ```ts
 * declare const oks: Stream<KafkaSourceMessage>   // e.g. from `kop.input`
 * const forward: Stream<ToSink<Buffer | null, Buffer | null>> = oks
 * ```
 * @since 0.1.0
 */
export type ToSink<K, V> = KafkaSinkMessage<K, V> | KafkaSourceMessage<K, V>


const isMessage = <K, V>(x: KafkaSourceMessage<K, V> | KafkaError<K, V>): x is KafkaSourceMessage<K, V> =>
  x instanceof KafkaSourceMessage

const toSink = <K, V>(m: ToSink<K, V>): KafkaSinkMessage<K, V> => (m instanceof KafkaSourceMessage ? m.toSink() : m)

/**
 * Read Kafka topics (a `KafkaSource` with `raiseOnErrors: false`) and split
 * consumer errors off into `errs`.
 *
 * @example
 * ```ts
 * const flow = new Dataflow("orders")
 * const { oks, errs } = kop.input("in", flow, { brokers: ["127.0.0.1:9092"], topics: ["orders"], tail: false })
 * op.inspect("errors", errs)
 * ```
 * @since 0.1.0
 */
export const input: (stepId: string, flow: Dataflow, options: KafkaInputOptions) => KafkaOpOut<KafkaSourceMessage, KafkaError> =
  defineOperator("kafka_input", { flow: 0, ups: [] }, (flow: Dataflow, options: KafkaInputOptions) => {
    const source = new KafkaSource(options.brokers, options.topics, { ...options, raiseOnErrors: false })
    const items = op.input("kafka_input", flow, source)
    const { trues: oks, falses: errs } = op.branch("split_err", items, isMessage<Buffer | null, Buffer | null>)
    return { oks, errs }
  })

/**
 * Write messages to Kafka through a `KafkaSink`; messages read from Kafka are
 * written as their `toSink()`.
 *
 * @example
 * ```ts
 * declare const oks: Stream<KafkaSourceMessage>   // e.g. from `kop.input`
 * kop.output("out", oks, { brokers: ["127.0.0.1:9092"], topic: "orders-copy" })
 * ```
 * @since 0.1.0
 */
export const output: {
  <K extends string | Buffer | null, V extends string | Buffer | null>(
    stepId: string,
    options: KafkaOutputOptions
  ): (up: Stream<ToSink<K, V>>) => void
  <K extends string | Buffer | null, V extends string | Buffer | null>(
    stepId: string,
    up: Stream<ToSink<K, V>>,
    options: KafkaOutputOptions
  ): void
} & Tagged<"kafka_output"> = dataLast(2, defineOperator(
  "kafka_output",
  upPort,
  <K extends string | Buffer | null, V extends string | Buffer | null>(up: Stream<ToSink<K, V>>, options: KafkaOutputOptions) => {
    const sinkMessages = op.map("to_sink", up, toSink<K, V>)
    op.output("kafka_output", sinkMessages, new KafkaSink(options.brokers, options.topic, {
        addConfig: options.addConfig ?? {},
        ...(options.exactlyOnce === undefined ? {} : { exactlyOnce: options.exactlyOnce }),
        ...(options.transactionalIdPrefix === undefined ? {} : { transactionalIdPrefix: options.transactionalIdPrefix })
      }))
  }
))

/**
 * Deserialize every message's key; messages whose key fails go to `errs` as a
 * `KafkaError` (`ERR__KEY_DESERIALIZATION`) carrying the original message.
 *
 * @example
 * ```ts
 * declare const msgs: Stream<KafkaSourceMessage>   // e.g. the `oks` of `kop.input`
 * const { oks, errs } = kop.deserializeKey("key", msgs, (k: Buffer | null) => k?.toString("utf8") ?? "")
 * ```
 * @since 0.1.0
 */
export const deserializeKey: {
  <K, V, K2>(
    stepId: string,
    deserializer: Deserializer<K, K2>
  ): (up: Stream<KafkaSourceMessage<K, V>>) => KafkaOpOut<KafkaSourceMessage<K2, V>, KafkaError<K, V>>
  <K, V, K2>(
    stepId: string,
    up: Stream<KafkaSourceMessage<K, V>>,
    deserializer: Deserializer<K, K2>
  ): KafkaOpOut<KafkaSourceMessage<K2, V>, KafkaError<K, V>>
} & Tagged<"deserialize_key"> = dataLast(2, defineOperator(
  "deserialize_key",
  upPort,
  <K, V, K2>(up: Stream<KafkaSourceMessage<K, V>>, deserializer: Deserializer<K, K2>) => {
    mustBeFunction("deserializeKey", "deserializer", deserializer)
    const tried = op.map("map", up, (m: KafkaSourceMessage<K, V>): KafkaSourceMessage<K2, V> | KafkaError<K, V> => {
      try {
        return m.withKey(deserializer(m.key, { topic: m.topic, field: "key" }))
      } catch (e) {
        return new KafkaError(errorInfoOf(ERR.KEY_DESERIALIZATION, e), m)
      }
    })
    return split(tried)
  }
))

/**
 * Deserialize every message's value; failures go to `errs`
 * (`ERR__VALUE_DESERIALIZATION`).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import type { Stream } from "@weir/core"
 * import { type KafkaSourceMessage, kop, serde } from "@weir/connectors-kafka"
 *
 * const Order = Schema.Struct({ id: Schema.String, amount: Schema.Number })
 * declare const msgs: Stream<KafkaSourceMessage>   // e.g. the `oks` of `kop.input`
 * const { oks, errs } = kop.deserializeValue("json", msgs, serde.jsonDeserializer(Order))
 * ```
 * @since 0.1.0
 */
export const deserializeValue: {
  <K, V, V2>(
    stepId: string,
    deserializer: Deserializer<V, V2>
  ): (up: Stream<KafkaSourceMessage<K, V>>) => KafkaOpOut<KafkaSourceMessage<K, V2>, KafkaError<K, V>>
  <K, V, V2>(
    stepId: string,
    up: Stream<KafkaSourceMessage<K, V>>,
    deserializer: Deserializer<V, V2>
  ): KafkaOpOut<KafkaSourceMessage<K, V2>, KafkaError<K, V>>
} & Tagged<"deserialize_value"> = dataLast(2, defineOperator(
  "deserialize_value",
  upPort,
  <K, V, V2>(up: Stream<KafkaSourceMessage<K, V>>, deserializer: Deserializer<V, V2>) => {
    mustBeFunction("deserializeValue", "deserializer", deserializer)
    const tried = op.map("map", up, (m: KafkaSourceMessage<K, V>): KafkaSourceMessage<K, V2> | KafkaError<K, V> => {
      try {
        return m.withValue(deserializer(m.value, { topic: m.topic, field: "value" }))
      } catch (e) {
        return new KafkaError(errorInfoOf(ERR.VALUE_DESERIALIZATION, e), m)
      }
    })
    return split(tried)
  }
))

/**
 * Deserialize keys and values; the key is tried first, and a failure of
 * either sends the original message to `errs`.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import type { Stream } from "@weir/core"
 * import { type KafkaSourceMessage, kop, serde } from "@weir/connectors-kafka"
 *
 * const Order = Schema.Struct({ id: Schema.String, amount: Schema.Number })
 * declare const msgs: Stream<KafkaSourceMessage>   // e.g. the `oks` of `kop.input`
 * const { oks, errs } = kop.deserialize("de", msgs, {
 *   keyDeserializer: (k: Buffer | null) => k?.toString() ?? "",
 *   valDeserializer: serde.jsonDeserializer(Order)
 * })
 * ```
 * @since 0.1.0
 */
export const deserialize: {
  <K, V, K2, V2>(
    stepId: string,
    deserializers: { readonly keyDeserializer: Deserializer<K, K2>; readonly valDeserializer: Deserializer<V, V2> }
  ): (up: Stream<KafkaSourceMessage<K, V>>) => KafkaOpOut<KafkaSourceMessage<K2, V2>, KafkaError<K, V>>
  <K, V, K2, V2>(
    stepId: string,
    up: Stream<KafkaSourceMessage<K, V>>,
    deserializers: { readonly keyDeserializer: Deserializer<K, K2>; readonly valDeserializer: Deserializer<V, V2> }
  ): KafkaOpOut<KafkaSourceMessage<K2, V2>, KafkaError<K, V>>
} & Tagged<"deserialize"> = dataLast(2, defineOperator(
  "deserialize",
  upPort,
  <K, V, K2, V2>(
    up: Stream<KafkaSourceMessage<K, V>>,
    deserializers: { readonly keyDeserializer: Deserializer<K, K2>; readonly valDeserializer: Deserializer<V, V2> }
  ) => {
    const { keyDeserializer, valDeserializer } = deserializers ?? {}
    mustBeFunction("deserialize", "keyDeserializer", keyDeserializer)
    mustBeFunction("deserialize", "valDeserializer", valDeserializer)
    const tried = op.map("map", up, (m: KafkaSourceMessage<K, V>): KafkaSourceMessage<K2, V2> | KafkaError<K, V> => {
      let key: K2
      try {
        key = keyDeserializer(m.key, { topic: m.topic, field: "key" })
      } catch (e) {
        return new KafkaError(errorInfoOf(ERR.KEY_DESERIALIZATION, e), m)
      }
      try {
        return m.withKey(key).withValue(valDeserializer(m.value, { topic: m.topic, field: "value" }))
      } catch (e) {
        return new KafkaError(errorInfoOf(ERR.VALUE_DESERIALIZATION, e), m)
      }
    })
    return split(tried)
  }
))

/**
 * Serialize every message's key (messages read from Kafka are converted with
 * `toSink()` first). A serializer that throws, or returns `undefined`, fails
 * the run.
 *
 * @example
 * ```ts
 * declare const msgs: Stream<KafkaSinkMessage<number, string>>
 * const out = kop.serializeKey("key", msgs, (k: number) => String(k))
 * ```
 * @since 0.1.0
 */
export const serializeKey: {
  <K, V>(stepId: string, serializer: Serializer<K>): (up: Stream<ToSink<K, V>>) => Stream<KafkaSinkMessage<Buffer | string | null, V>>
  <K, V>(stepId: string, up: Stream<ToSink<K, V>>, serializer: Serializer<K>): Stream<KafkaSinkMessage<Buffer | string | null, V>>
} & Tagged<"serialize_key"> = dataLast(2, defineOperator(
  "serialize_key",
  upPort,
  <K, V>(up: Stream<ToSink<K, V>>, serializer: Serializer<K>) => {
    mustBeFunction("serializeKey", "serializer", serializer)
    return op.map("map", up, (x: ToSink<K, V>): KafkaSinkMessage<Buffer | string | null, V> => {
      const m = toSink(x)
      return { ...m, key: checked("key", serializer(m.key as K, { topic: m.topic, field: "key" })) }
    })
  }
))

/**
 * Serialize every message's value. A serializer that throws, or returns
 * `undefined`, fails the run.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import type { Stream } from "@weir/core"
 * import { type KafkaSinkMessage, kop, serde } from "@weir/connectors-kafka"
 *
 * const Order = Schema.Struct({ id: Schema.String, amount: Schema.Number })
 * declare const orders: Stream<KafkaSinkMessage<string, typeof Order.Type>>   // keyed by order id
 * const out = kop.serializeValue("json", orders, serde.jsonSerializer(Order))
 * ```
 * @since 0.1.0
 */
export const serializeValue: {
  <K, V>(stepId: string, serializer: Serializer<V>): (up: Stream<ToSink<K, V>>) => Stream<KafkaSinkMessage<K, Buffer | string | null>>
  <K, V>(stepId: string, up: Stream<ToSink<K, V>>, serializer: Serializer<V>): Stream<KafkaSinkMessage<K, Buffer | string | null>>
} & Tagged<"serialize_value"> = dataLast(2, defineOperator(
  "serialize_value",
  upPort,
  <K, V>(up: Stream<ToSink<K, V>>, serializer: Serializer<V>) => {
    mustBeFunction("serializeValue", "serializer", serializer)
    return op.map("map", up, (x: ToSink<K, V>): KafkaSinkMessage<K, Buffer | string | null> => {
      const m = toSink(x)
      return { ...m, value: checked("value", serializer(m.value, { topic: m.topic, field: "value" })) }
    })
  }
))

/**
 * Serialize keys and values.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import type { Stream } from "@weir/core"
 * import { type KafkaSinkMessage, kop, serde } from "@weir/connectors-kafka"
 *
 * const Order = Schema.Struct({ id: Schema.String, amount: Schema.Number })
 * declare const orders: Stream<KafkaSinkMessage<string, typeof Order.Type>>   // keyed by order id
 * declare const brokers: ReadonlyArray<string>   // e.g. ["127.0.0.1:9092"]
 * const out = kop.serialize("ser", orders, { keySerializer: (k: string) => k, valSerializer: serde.jsonSerializer(Order) })
 * kop.output("out", out, { brokers, topic: "orders-json" })
 * ```
 * @since 0.1.0
 */
export const serialize: {
  <K, V>(
    stepId: string,
    serializers: { readonly keySerializer: Serializer<K>; readonly valSerializer: Serializer<V> }
  ): (up: Stream<ToSink<K, V>>) => Stream<KafkaSinkMessage<Buffer | string | null, Buffer | string | null>>
  <K, V>(
    stepId: string,
    up: Stream<ToSink<K, V>>,
    serializers: { readonly keySerializer: Serializer<K>; readonly valSerializer: Serializer<V> }
  ): Stream<KafkaSinkMessage<Buffer | string | null, Buffer | string | null>>
} & Tagged<"serialize"> = dataLast(2, defineOperator(
  "serialize",
  upPort,
  <K, V>(
    up: Stream<ToSink<K, V>>,
    serializers: { readonly keySerializer: Serializer<K>; readonly valSerializer: Serializer<V> }
  ) => {
    const { keySerializer, valSerializer } = serializers ?? {}
    mustBeFunction("serialize", "keySerializer", keySerializer)
    mustBeFunction("serialize", "valSerializer", valSerializer)
    return op.map("map", up, (x: ToSink<K, V>): KafkaSinkMessage<Buffer | string | null, Buffer | string | null> => {
      const m = toSink(x)
      return {
        ...m,
        key: checked("key", keySerializer(m.key as K, { topic: m.topic, field: "key" })),
        value: checked("value", valSerializer(m.value, { topic: m.topic, field: "value" }))
      }
    })
  }
))

const split = <X, K, V>(tried: Stream<X | KafkaError<K, V>>): KafkaOpOut<X, KafkaError<K, V>> => {
  const { trues: errs, falses: oks } = op.branch(
    "split",
    tried,
    (x: X | KafkaError<K, V>): x is KafkaError<K, V> => x instanceof KafkaError
  )
  return { oks: oks as Stream<X>, errs }
}

const checked = (field: "key" | "value", out: Buffer | string | null): Buffer | string | null => {
  if (out === undefined) throw new TypeError(`the ${field} serializer returned undefined; return a Buffer, a string or null`)
  return out
}

function mustBeFunction(opName: string, name: string, f: unknown): asserts f is (...args: Array<never>) => unknown {
  if (typeof f !== "function") {
    throw new TypeError(`kop.${opName}: '${name}' must be a function; got a \`${f === null ? "null" : typeof f}\` instead`)
  }
}
