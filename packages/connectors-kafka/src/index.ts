/**
 * `@weir/connectors-kafka`: read Kafka topics into a Weir dataflow and write
 * streams back to Kafka, through librdkafka (`@confluentinc/kafka-javascript`).
 *
 * @since 0.1.0
 */
export {
  KafkaSource,
  type KafkaSourceItem,
  type KafkaSourceOptions,
  OFFSET_BEGINNING,
  OFFSET_END,
  OFFSET_STORED,
  type StartingOffset
} from "./KafkaSource.js"
export { KafkaSink, type KafkaSinkOptions } from "./KafkaSink.js"
export { exchangeTopicOf, kafkaCluster, type KafkaClusterOptions } from "./cluster.js"
export type { KafkaOutbox } from "./internal/exactlyOnce.js"
export {
  KafkaConfigError,
  KafkaConnectionError,
  KafkaConnectorError,
  type KafkaConnectorErrorDetails,
  KafkaConsumeError,
  KafkaMetadataError,
  KafkaProduceError,
  KafkaTopicNotFoundError
} from "./errors.js"
export {
  isKafkaError,
  isKafkaSourceMessage,
  KafkaError,
  type KafkaErrorInfo,
  type KafkaSinkMessage,
  KafkaSourceMessage,
  type KafkaSourceMessageFields
} from "./messages.js"
export { type ConsumerLagSample, ConsumerLagGauge, consumerLag } from "./metrics.js"
export * as kop from "./operators.js"
export type { KafkaThen } from "./then.js"
export type {
  Deserializer,
  KafkaInputOptions,
  KafkaOpOut,
  KafkaOutputOptions,
  SerdeContext,
  Serializer,
  ToSink
} from "./operators.js"
export * as serde from "./serde.js"
