/**
 * The librdkafka client, wrapped in Promises: connecting, disconnecting and
 * listing partitions. Everything that calls into the native client besides the
 * per-batch hot paths lives here.
 */
import { RdKafka } from "@confluentinc/kafka-javascript"
import type { ConsumerGlobalConfig, IAdminClient, ProducerGlobalConfig } from "@confluentinc/kafka-javascript"
import { describeClientError } from "./errors.js"

/** A configuration map as users give it (`addConfig`). */
export type ClientConfig = Readonly<Record<string, string | number | boolean>>

/** How long connecting, listing partitions and closing may take. */
export const CLIENT_TIMEOUT_MS = 10_000

export type Consumer = InstanceType<typeof RdKafka.KafkaConsumer>
export type Producer = InstanceType<typeof RdKafka.Producer>

/** A connected consumer. */
export const connectConsumer = (config: ClientConfig): Promise<Consumer> => {
  // No topic configuration object: an empty one would replace the topic-level settings given in `config` (auto.offset.reset, acks, …).
  const consumer = new RdKafka.KafkaConsumer(config as ConsumerGlobalConfig)
  return new Promise((resolve, reject) => {
    consumer.connect({ timeout: CLIENT_TIMEOUT_MS }, (err) => (err ? reject(err) : resolve(consumer)))
  })
}

/** A connected producer. */
export const connectProducer = (config: ClientConfig): Promise<Producer> => {
  const producer = new RdKafka.Producer(config as ProducerGlobalConfig)
  return new Promise((resolve, reject) => {
    producer.connect({ timeout: CLIENT_TIMEOUT_MS }, (err) => (err ? reject(err) : resolve(producer)))
  })
}

/** Disconnect a client; never rejects (closing is best effort). */
export const disconnect = (client: Consumer | Producer): Promise<void> =>
  new Promise((resolve) => {
    if (!client.isConnected()) return resolve()
    const timer = setTimeout(resolve, CLIENT_TIMEOUT_MS)
    client.disconnect(() => {
      clearTimeout(timer)
      resolve()
    })
  })

/** Wait until every queued message is delivered (or failed). */
export const flush = (producer: Producer, timeoutMs: number): Promise<void> =>
  new Promise((resolve, reject) => {
    producer.flush(timeoutMs, (err) => (err ? reject(err) : resolve()))
  })

/**
 * The partition numbers of each topic, in the topics' order. A topic that
 * can't be described (it does not exist, the broker is unreachable) fails with
 * `error listing partitions for Kafka topic '…': …`.
 */
export const listPartitions = async (
  config: ClientConfig,
  topics: ReadonlyArray<string>
): Promise<Array<{ readonly topic: string; readonly partitions: ReadonlyArray<number> }>> => {
  const named = topics.map((t) => `'${t}'`).join(", ")
  let admin: IAdminClient
  try {
    admin = RdKafka.AdminClient.create(config as ConsumerGlobalConfig)
  } catch (e) {
    throw new Error(`error listing partitions for Kafka topic ${named}: ${describeClientError(e)}`, { cause: e })
  }
  try {
    const described = await new Promise<ReadonlyArray<{ name: string; error?: unknown; partitions: ReadonlyArray<{ partition: number }> }>>(
      (resolve, reject) => {
        admin.describeTopics([...topics], { timeout: CLIENT_TIMEOUT_MS }, (err, result) => (err ? reject(err) : resolve(result)))
      }
    ).catch((e: unknown) => {
      throw new Error(`error listing partitions for Kafka topic ${named}: ${describeClientError(e)}`, { cause: e })
    })
    return topics.map((topic) => {
      const d = described.find((t) => t.name === topic)
      if (d === undefined) throw new Error(`error listing partitions for Kafka topic '${topic}': not in the broker's answer`)
      if (d.error !== undefined) {
        throw new Error(`error listing partitions for Kafka topic '${topic}': ${describeClientError(d.error)}`, { cause: d.error })
      }
      return { topic, partitions: d.partitions.map((p) => p.partition).sort((a, b) => a - b) }
    })
  } finally {
    admin.disconnect()
  }
}
