/**
 * `Stream.then` overloads for the Kafka operators (`up.then(kop.output, "out",
 * { brokers, topic })`), typed from the stream's messages like the core
 * operators' (see `Stream.then` in `@weir/core`). `Stream.pipe` with the
 * data-last forms needs none of this.
 *
 * @since 0.2.0
 */
import type { Stream, Tagged } from "@weir/core"
import type { KafkaError, KafkaSinkMessage, KafkaSourceMessage } from "./messages.js"
import type { Deserializer, KafkaOpOut, KafkaOutputOptions, Serializer, ToSink } from "./operators.js"

declare module "@weir/core" {
  interface Stream<X> {
    then<K extends string | Buffer | null, V extends string | Buffer | null>(
      this: Stream<ToSink<K, V>>,
      operator: Tagged<"kafka_output">,
      stepId: string,
      options: KafkaOutputOptions
    ): void
    then<K, V, K2>(
      this: Stream<KafkaSourceMessage<K, V>>,
      operator: Tagged<"deserialize_key">,
      stepId: string,
      deserializer: Deserializer<K, K2>
    ): KafkaOpOut<KafkaSourceMessage<K2, V>, KafkaError<K, V>>
    then<K, V, V2>(
      this: Stream<KafkaSourceMessage<K, V>>,
      operator: Tagged<"deserialize_value">,
      stepId: string,
      deserializer: Deserializer<V, V2>
    ): KafkaOpOut<KafkaSourceMessage<K, V2>, KafkaError<K, V>>
    then<K, V, K2, V2>(
      this: Stream<KafkaSourceMessage<K, V>>,
      operator: Tagged<"deserialize">,
      stepId: string,
      deserializers: { readonly keyDeserializer: Deserializer<K, K2>; readonly valDeserializer: Deserializer<V, V2> }
    ): KafkaOpOut<KafkaSourceMessage<K2, V2>, KafkaError<K, V>>
    then<K, V>(
      this: Stream<ToSink<K, V>>,
      operator: Tagged<"serialize_key">,
      stepId: string,
      serializer: Serializer<K>
    ): Stream<KafkaSinkMessage<Buffer | string | null, V>>
    then<K, V>(
      this: Stream<ToSink<K, V>>,
      operator: Tagged<"serialize_value">,
      stepId: string,
      serializer: Serializer<V>
    ): Stream<KafkaSinkMessage<K, Buffer | string | null>>
    then<K, V>(
      this: Stream<ToSink<K, V>>,
      operator: Tagged<"serialize">,
      stepId: string,
      serializers: { readonly keySerializer: Serializer<K>; readonly valSerializer: Serializer<V> }
    ): Stream<KafkaSinkMessage<Buffer | string | null, Buffer | string | null>>
  }
}

/** @internal keeps this module's augmentation in the package's import graph. */
export type KafkaThen = Stream<unknown>["then"]
