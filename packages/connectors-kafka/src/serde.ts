/**
 * Ready-made (de)serializers for the `kop.serialize*` / `kop.deserialize*`
 * operators: JSON checked by an Effect `Schema`, and Avro (raw binary, no
 * schema-registry framing) through `avsc`.
 *
 * ```ts
 * import { serde } from "@weir/connectors-kafka"
 * ```
 *
 * @since 0.1.0
 */
import avro from "avsc"
import { Schema } from "effect"

/**
 * What a deserializer gets: the raw key or value of a message.
 *
 * @example
 * ```ts
 * const text = (data: RawData): string => (data == null ? "" : data.toString())
 * ```
 * @since 0.1.0
 */
export type RawData = Buffer | string | null | undefined

const bytesOf = (data: RawData, what: string): Buffer => {
  if (data === null || data === undefined) throw new TypeError(`Can't deserialize null data (${what})`)
  return typeof data === "string" ? Buffer.from(data, "utf8") : data
}

/**
 * A deserializer of UTF-8 JSON checked against `schema`: the decoded value
 * (after the schema's transformations), or a throw (so the message lands in
 * `errs`) for `null`, invalid JSON or a value the schema rejects.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import type { Stream } from "@weir/core"
 * import { type KafkaSourceMessage, kop, serde } from "@weir/connectors-kafka"
 *
 * declare const msgs: Stream<KafkaSourceMessage>   // e.g. the `oks` of `kop.input`
 * const Order = Schema.Struct({ id: Schema.String, amount: Schema.Number })
 * const { oks, errs } = kop.deserializeValue("orders", msgs, serde.jsonDeserializer(Order))
 * ```
 * @since 0.1.0
 */
export const jsonDeserializer = <T, E>(schema: Schema.Codec<T, E, never, never>): (data: RawData) => T => {
  const decode = Schema.decodeUnknownSync(schema)
  return (data) => decode(JSON.parse(bytesOf(data, "JSON").toString("utf8")))
}

/**
 * A serializer to UTF-8 JSON: `value` is encoded with `schema` (checking it)
 * and stringified.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import type { Stream } from "@weir/core"
 * import { type KafkaSinkMessage, kop, serde } from "@weir/connectors-kafka"
 *
 * const Order = Schema.Struct({ id: Schema.String, amount: Schema.Number })
 * declare const orders: Stream<KafkaSinkMessage<string, typeof Order.Type>>
 * kop.serializeValue("json", orders, serde.jsonSerializer(Order))
 * ```
 * @since 0.1.0
 */
export const jsonSerializer = <T, E>(schema: Schema.Codec<T, E, never, never>): (value: T) => Buffer => {
  const encode = Schema.encodeSync(schema)
  return (value) => Buffer.from(JSON.stringify(encode(value)), "utf8")
}

/**
 * An Avro schema as `avsc` takes it (a JSON object, a type name, …) or a
 * ready `avsc` type.
 *
 * @example
 * ```ts
 * const schema: AvroSchema = { type: "record", name: "Order", fields: [{ name: "id", type: "string" }] }
 * ```
 * @since 0.1.0
 */
export type AvroSchema = avro.Schema | avro.Type

const avroTypeOf = (schema: AvroSchema): avro.Type => (schema instanceof avro.Type ? schema : avro.Type.forSchema(schema))

/**
 * A deserializer of raw Avro binary (no magic byte or schema id, like
 * Bytewax's `PlainAvroDeserializer`). Give `writerSchema` when the data was
 * written with another (compatible) schema, to resolve it into `schema`.
 * `null` data throws `Can't deserialize null data`; strings are taken as
 * UTF-8 bytes.
 *
 * @example
 * ```ts
 * declare const msgs: Stream<KafkaSourceMessage>   // e.g. the `oks` of `kop.input`
 * const schema: AvroSchema = { type: "record", name: "Order", fields: [{ name: "id", type: "string" }, { name: "amount", type: "double" }] }
 * const { oks, errs } = kop.deserializeValue("orders", msgs, serde.avroDeserializer<{ id: string; amount: number }>(schema))
 * ```
 * @since 0.1.0
 */
export const avroDeserializer = <T = unknown>(
  schema: AvroSchema,
  options: { readonly writerSchema?: AvroSchema } = {}
): (data: RawData) => T => {
  const type = avroTypeOf(schema)
  const resolver = options.writerSchema === undefined ? undefined : type.createResolver(avroTypeOf(options.writerSchema))
  return (data) => type.fromBuffer(bytesOf(data, "Avro"), resolver) as T
}

/**
 * A serializer to raw Avro binary (like Bytewax's `PlainAvroSerializer`); a
 * value that does not match the schema throws.
 *
 * @example
 * ```ts
 * declare const orders: Stream<KafkaSinkMessage<string, { id: string; amount: number }>>
 * const schema: AvroSchema = { type: "record", name: "Order", fields: [{ name: "id", type: "string" }, { name: "amount", type: "double" }] }
 * kop.serializeValue("avro", orders, serde.avroSerializer<{ id: string; amount: number }>(schema))
 * ```
 * @since 0.1.0
 */
export const avroSerializer = <T = unknown>(schema: AvroSchema): (value: T) => Buffer => {
  const type = avroTypeOf(schema)
  return (value) => type.toBuffer(value)
}
