/**
 * The librdkafka client, wrapped in Promises: connecting, disconnecting and
 * listing partitions. Everything that calls into the native client besides the
 * per-batch hot paths lives here. Failures are the package's tagged errors,
 * naming the brokers and the topic.
 */
import { RdKafka } from "@confluentinc/kafka-javascript"
import type { ConsumerGlobalConfig, IAdminClient, LibrdKafkaError, ProducerGlobalConfig } from "@confluentinc/kafka-javascript"
import { KafkaConnectionError, KafkaMetadataError } from "../errors.js"
import type { KafkaErrorInfo } from "../messages.js"
import {
  brokersText,
  causeOf,
  configError,
  describeInfo,
  infoOfClientEvent,
  infoOfLibrdKafkaError,
  isUnanswered,
  requestError,
  unanswered,
  type Where
} from "./errors.js"

/** A configuration map as users give it (`addConfig`). */
export type ClientConfig = Readonly<Record<string, string | number | boolean>>

/**
 * librdkafka's `socket.connection.setup.timeout.ms` as Weir sets it: how long
 * one attempt to connect to a broker (TCP, TLS, SASL) may take. librdkafka's
 * own default is 30 s; `addConfig` may set another.
 */
export const CONNECTION_SETUP_TIMEOUT_MS = 5_000
/** How much longer than the connection setup the first request (metadata, partitions) may take. */
export const FIRST_REQUEST_MS = 1_000
/** How long closing may take. */
export const CLOSE_TIMEOUT_MS = 10_000

/** The settings every client gets before `addConfig`: the brokers and the connection timeout. */
export const baseConfig = (brokers: ReadonlyArray<string>): ClientConfig => ({
  "bootstrap.servers": brokers.join(","),
  "socket.connection.setup.timeout.ms": CONNECTION_SETUP_TIMEOUT_MS
})

/** The connection setup timeout in force under `config`, and how long to wait for the brokers' first answer. */
export const connectTimeouts = (config: ClientConfig): { readonly setupTimeoutMs: number; readonly waitMs: number } => {
  const given = Number(config["socket.connection.setup.timeout.ms"] ?? CONNECTION_SETUP_TIMEOUT_MS)
  const setupTimeoutMs = Number.isFinite(given) && given > 0 ? given : CONNECTION_SETUP_TIMEOUT_MS
  return { setupTimeoutMs, waitMs: setupTimeoutMs + FIRST_REQUEST_MS }
}

export type Consumer = InstanceType<typeof RdKafka.KafkaConsumer>
export type Producer = InstanceType<typeof RdKafka.Producer>

/**
 * Make a client with `make` and connect it. A configuration librdkafka refuses
 * fails with a `KafkaConfigError` naming the `kind` of client; a failed
 * connection with a {@link KafkaConnectionError} that names the brokers and
 * what the client was for.
 */
const connect = <C extends Consumer | Producer>(
  kind: "consumer" | "producer",
  make: () => C,
  config: ClientConfig,
  where: Where,
  what: string
): Promise<C> => {
  let client: C
  try {
    client = make()
  } catch (e) {
    return Promise.reject(configError(kind, where, e))
  }
  const { setupTimeoutMs, waitMs } = connectTimeouts(config)
  return new Promise((resolve, reject) => {
    client.connect({ timeout: waitMs }, (err) => {
      if (!err) return resolve(client)
      const info = infoOfLibrdKafkaError(err)
      const why = isUnanswered(info.code)
        ? unanswered(undefined, info, { waitMs, setupTimeoutMs, requestMs: FIRST_REQUEST_MS })
        : describeInfo(info)
      reject(
        new KafkaConnectionError(`error connecting to Kafka ${brokersText(where.brokers)} ${what}: ${why}`, {
          ...where,
          info,
          cause: causeOf(err)
        })
      )
    })
  })
}

/** A connected consumer; `what` says what it is for ("to read topic 'orders' partition 0"). */
export const connectConsumer = (config: ClientConfig, where: Where, what: string): Promise<Consumer> =>
  // No topic configuration object: an empty one would replace the topic-level settings given in `config` (auto.offset.reset, acks, …).
  connect("consumer", () => new RdKafka.KafkaConsumer(config as ConsumerGlobalConfig), config, where, what)

/** A connected producer; `what` says what it is for ("to write topic 'orders'"). */
export const connectProducer = (config: ClientConfig, where: Where, what: string): Promise<Producer> =>
  connect("producer", () => new RdKafka.Producer(config as ProducerGlobalConfig), config, where, what)

/** Disconnect a client; never rejects (closing is best effort). */
export const disconnect = (client: Consumer | Producer): Promise<void> =>
  new Promise((resolve) => {
    if (!client.isConnected()) return resolve()
    const timer = setTimeout(resolve, CLOSE_TIMEOUT_MS)
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

type Described = ReadonlyArray<{ name: string; error?: unknown; partitions: ReadonlyArray<{ partition: number }> }>

/**
 * The partition numbers of each topic, in the topics' order. A topic that
 * does not exist fails with a `KafkaTopicNotFoundError`, brokers that do not
 * answer within the connection timeout with a `KafkaConnectionError`; both
 * messages start `error listing partitions for Kafka topic '…'` and name the
 * brokers.
 */
/**
 * An admin client, with what explains a request of it that timed out: the
 * connection timeouts and the last connection trouble it reported.
 */
export const adminClient = (config: ClientConfig, where: Where) => {
  const timeouts = connectTimeouts(config)
  // The admin client reports connection trouble as it happens; the last report explains a timeout.
  let lastEvent: KafkaErrorInfo | undefined
  let admin: IAdminClient
  try {
    admin = RdKafka.AdminClient.create(config as ConsumerGlobalConfig, {
      "event.error": (e: LibrdKafkaError) => {
        lastEvent = infoOfClientEvent(e)
      }
    })
  } catch (e) {
    throw configError("admin client", where, e)
  }
  return { admin, timeouts, timing: () => ({ ...timeouts, requestMs: FIRST_REQUEST_MS, lastEvent }) }
}

export const listPartitions = async (
  config: ClientConfig,
  brokers: ReadonlyArray<string>,
  topics: ReadonlyArray<string>
): Promise<Array<{ readonly topic: string; readonly partitions: ReadonlyArray<number> }>> => {
  const named = topics.map((t) => `'${t}'`).join(", ")
  const what = (topic: string | undefined) => `error listing partitions for Kafka topic ${topic === undefined ? named : `'${topic}'`}`
  const all: Where = { brokers, topic: topics.length === 1 ? topics[0] : undefined }
  const { admin, timeouts, timing } = adminClient(config, all)
  try {
    const described = await new Promise<Described>((resolve, reject) => {
      admin.describeTopics([...topics], { timeout: timeouts.waitMs }, (err, result) => (err ? reject(err) : resolve(result)))
    }).catch((e: unknown) => {
      throw requestError(what(all.topic), all, e, timing())
    })
    return topics.map((topic) => {
      const d = described.find((t) => t.name === topic)
      if (d === undefined) {
        throw new KafkaMetadataError(`${what(topic)}: the answer of ${brokersText(brokers)} does not mention it`, { brokers, topic })
      }
      if (d.error !== undefined) throw requestError(what(topic), { brokers, topic }, d.error, timing())
      return { topic, partitions: d.partitions.map((p) => p.partition).sort((a, b) => a - b) }
    })
  } finally {
    admin.disconnect()
  }
}
