/**
 * The Kafka side of a scale-out run (`weir run --cluster kafka://…`): a
 * {@link ClusterLink} on one consumer group and one exchange topic.
 *
 * @since 0.3.0
 */
import { RdKafka } from "@confluentinc/kafka-javascript"
import type { LibrdKafkaError, Message, TopicPartition } from "@confluentinc/kafka-javascript"
import type { ClusterLink, ClusterLinkConfigLike, ClusterLinkHandler, ExchangeRecord } from "@weir/core"
import { WeirRuntimeError } from "@weir/core"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import { createHash } from "node:crypto"
import { hostname } from "node:os"
import { clientConfig, positiveInteger } from "./internal/arguments.js"
import { KafkaConfigError, KafkaConnectorError, KafkaConsumeError, KafkaMetadataError, KafkaProduceError } from "./errors.js"
import {
  adminClient,
  baseConfig,
  type ClientConfig,
  connectConsumer,
  connectProducer,
  type Consumer,
  disconnect,
  type Producer
} from "./internal/client.js"
import {
  brokersText,
  describeInfo,
  ERR,
  infoOfClientEvent,
  infoOfLibrdKafkaError,
  isUnknownTopic,
  requestError
} from "./internal/errors.js"

/**
 * Options of {@link kafkaCluster}.
 *
 * @example
 * ```ts
 * const options: KafkaClusterOptions = { topic: "orders.exchange", addConfig: { "session.timeout.ms": 10_000 } }
 * ```
 * @since 0.3.0
 */
export interface KafkaClusterOptions {
  /**
   * librdkafka settings for the link's consumer, producer and admin client,
   * applied over Weir's (`session.timeout.ms`, `heartbeat.interval.ms`,
   * `partition.assignment.strategy`, `linger.ms`, security, …). `group.id`
   * and `rebalance_cb` are the link's own and can't be set here.
   */
  readonly addConfig?: Readonly<Record<string, string | number | boolean>>
  /** The exchange topic; default `weir.<flow id>.exchange` (characters Kafka refuses become `_`). */
  readonly topic?: string
}

/**
 * The largest exchange record (a frame) the link sends: the producer's
 * `message.max.bytes` and the `max.message.bytes` of a topic the link
 * creates.
 */
const MAX_RECORD_BYTES = 16 * 1024 * 1024
/** The producer's `batch.size`. */
const BATCH_BYTES = 4 * 1024 * 1024
/** The consumer's `max.partition.fetch.bytes`. */
const PARTITION_FETCH_BYTES = 8 * 1024 * 1024
/** How long one `receive` waits for the first record. */
const RECEIVE_WAIT_MS = 50
/** Without a `receive` for this long, the link polls by itself (rebalances and `max.poll.interval.ms` need polling). */
const IDLE_POLL_MS = 100
/** How many records one poll of the link's own takes. */
const IDLE_POLL_BATCH = 100
/** Records the link polled by itself wait in memory up to this many bytes; past it, it stops polling until `receive` takes some. */
const BUFFER_LIMIT_BYTES = 64 * 1024 * 1024
/** One `producer.flush` call; `flush()` loops while deliveries are outstanding. */
const FLUSH_STEP_MS = 10_000
/** How long closing waits for outstanding deliveries. */
const CLOSE_FLUSH_MS = 30_000
/** How long to wait before retrying when the producer's local queue is full. */
const QUEUE_FULL_BACKOFF_MS = 2
/** How long `seek` retries librdkafka's "Erroneous state" (a partition assigned a moment ago). */
const SEEK_RETRY_MS = 10_000
const SEEK_BACKOFF_MS = 25
/** The longest a `seek` call waits for librdkafka. */
const SEEK_TIMEOUT_MS = 5_000
/** Transient client errors are logged at most once in this many milliseconds. */
const LOG_EVERY_MS = 5_000
/** librdkafka's default `max.poll.interval.ms`: how long a leave waits for the final revocation at most, unless addConfig sets another. */
const DEFAULT_MAX_POLL_INTERVAL_MS = 300_000
/** librdkafka's rebalance codes. */
const ASSIGN_PARTITIONS = -175
const REVOKE_PARTITIONS = -174
/** librdkafka's ERR__STATE ("Local: Erroneous state"). */
const ERR_STATE = -172
/** Kafka's TOPIC_ALREADY_EXISTS. */
const TOPIC_ALREADY_EXISTS = 36
/** Kafka's MESSAGE_TOO_LARGE and librdkafka's ERR_MSG_SIZE_TOO_LARGE. */
const MESSAGE_TOO_LARGE = 10
/** librdkafka's OFFSET_BEGINNING. */
const OFFSET_BEGINNING = -2

/** The settings of a link that only the link sets. */
const RESERVED = ["group.id", "rebalance_cb", "dr_cb", "dr_msg_cb", "transactional.id"] as const

const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/

/**
 * The exchange topic {@link kafkaCluster} uses for flow `flowId` unless told
 * another: `weir.<flow id>.exchange`, each character Kafka refuses in a topic
 * name replaced by `_` (a name past Kafka's 249 characters is shortened, with
 * a hash of the flow id).
 *
 * @example
 * ```ts
 * import { exchangeTopicOf } from "@weir/connectors-kafka"
 *
 * exchangeTopicOf("orders/eu") // "weir.orders_eu.exchange"
 * ```
 * @since 0.3.0
 */
export const exchangeTopicOf = (flowId: string): string => {
  const name = `weir.${flowId.replace(/[^a-zA-Z0-9._-]/g, "_")}.exchange`
  if (name.length <= 249) return name
  const hash = createHash("sha256").update(flowId).digest("hex").slice(0, 16)
  return `weir.${flowId.replace(/[^a-zA-Z0-9._-]/g, "_").slice(0, 249 - 15 - hash.length)}.${hash}.exchange`
}

/**
 * A scale-out run's link through Kafka: `weir run --cluster kafka://<brokers>`
 * uses it. Every process of the run joins one consumer group (`weir.<flow
 * id>` unless the run names another) subscribed to one exchange topic with
 * one partition per key group (`weir.<flow id>.exchange` unless `topic` names
 * another; created with P partitions if absent, the brokers' default
 * replication factor, and records up to 16 MiB). The group's assignment of
 * the topic's partitions decides which process runs which key groups:
 * cooperative-sticky, so a process joining or leaving moves only the key
 * groups that must move, and each is revoked from its old holder (which
 * commits it first) before its new holder is given it.
 *
 * Nothing is committed to Kafka: where to read each key group's partition
 * from is kept in Weir's store with the key group's state. Frames are
 * written by an idempotent producer (`acks=all`, `linger.ms` 5, lz4).
 *
 * `openLink` fails with a `WeirRuntimeError` when the brokers do not answer,
 * or when the topic exists with a partition count other than the store's
 * key groups.
 *
 * @example
 * ```ts
 * import { kafkaCluster } from "@weir/connectors-kafka"
 *
 * const cluster = kafkaCluster("127.0.0.1:9092", { addConfig: { "session.timeout.ms": 10_000 } })
 * cluster.description // "kafka://127.0.0.1:9092"
 * ```
 * @since 0.3.0
 */
export const kafkaCluster = (
  brokers: string | ReadonlyArray<string>,
  options: KafkaClusterOptions = {}
): ClusterLinkConfigLike => {
  const list = brokerList(brokers)
  const addConfig = clientConfig(options.addConfig)
  for (const key of RESERVED) {
    if (key in addConfig) {
      throw new TypeError(
        `kafkaCluster sets ${key} itself${key === "group.id" ? " (the run names the consumer group: weir.<flow id> unless told another)" : ""}: remove it from addConfig`
      )
    }
  }
  if (options.topic !== undefined && (typeof options.topic !== "string" || !TOPIC_NAME.test(options.topic) || options.topic === "." || options.topic === "..")) {
    throw new TypeError(`kafkaCluster's topic must be a Kafka topic name (1 to 249 of a-z A-Z 0-9 . _ -); got ${JSON.stringify(options.topic)}`)
  }
  const description = `kafka://${list.join(",")}`
  return {
    description,
    openLink: ({ flowId, groupId, keyGroups }) =>
      Effect.acquireRelease(
        Effect.flatMap(Effect.context<never>(), (context) =>
          Effect.tryPromise({
            try: () =>
              KafkaClusterLink.open({
                brokers: list,
                addConfig,
                topic: options.topic ?? exchangeTopicOf(flowId),
                groupId,
                keyGroups: positiveInteger("keyGroups", keyGroups),
                log: (message) => Effect.runForkWith(context)(Effect.logWarning(message)),
                description
              }),
            catch: (e) =>
              new WeirRuntimeError({
                message: `error opening the cluster link ${description} for flow '${flowId}': ${e instanceof Error ? e.message : String(e)}`,
                cause: e
              })
          })),
        (link) => Effect.promise(() => link.close())
      )
  }
}

const brokerList = (brokers: unknown): Array<string> => {
  const list = typeof brokers === "string" ? brokers.split(",").map((b) => b.trim()).filter((b) => b.length > 0) : brokers
  if (!Array.isArray(list) || list.length === 0 || list.some((b) => typeof b !== "string" || b.length === 0)) {
    throw new TypeError(`kafkaCluster's brokers must be "host:port[,host:port…]" or a non-empty array of them; got ${JSON.stringify(brokers)}`)
  }
  return list as Array<string>
}

interface LinkSettings {
  readonly brokers: ReadonlyArray<string>
  readonly addConfig: ClientConfig
  readonly topic: string
  readonly groupId: string
  readonly keyGroups: number
  readonly log: (message: string) => void
  /** `kafka://…`, for messages. */
  readonly description: string
}

/** The consumer's methods the typings of 1.10.1 leave out. */
interface GroupConsumer extends Consumer {
  incrementalAssign(assignments: Array<{ topic: string; partition: number; offset?: number }>): this
  incrementalUnassign(assignments: Array<TopicPartition>): this
  assignmentLost(): boolean
  rebalanceProtocol(): "NONE" | "COOPERATIVE" | "EAGER"
  setDefaultIsTimeoutOnlyForFirstMessage(only: boolean): void
}

type Protocol = "NONE" | "COOPERATIVE" | "EAGER"

/**
 * Make sure the exchange topic exists with `keyGroups` partitions: create it
 * if absent; fail if it has another count.
 */
const ensureTopic = async (s: LinkSettings): Promise<void> => {
  const config = { ...baseConfig(s.brokers), ...s.addConfig }
  const where = { brokers: s.brokers, topic: s.topic }
  const { admin, timeouts, timing } = adminClient(config, where)
  const partitions = () =>
    new Promise<number | undefined>((resolve, reject) => {
      admin.describeTopics([s.topic], { timeout: timeouts.waitMs }, (err, result) => {
        if (err) return reject(err)
        const d = result.find((t) => t.name === s.topic)
        if (d === undefined) return reject(new Error(`the answer does not mention topic '${s.topic}'`))
        const code = (d.error as { code?: unknown } | undefined)?.code
        if (d.error === undefined || d.error === null) return resolve(d.partitions.length)
        if (typeof code === "number" && isUnknownTopic(code)) return resolve(undefined)
        reject(d.error)
      })
    }).catch((e: unknown) => {
      throw requestError(`error describing the exchange topic '${s.topic}'`, where, e, timing())
    })
  try {
    let count = await partitions()
    if (count === undefined) {
      await new Promise<void>((resolve, reject) =>
        admin.createTopic(
          {
            topic: s.topic,
            num_partitions: s.keyGroups,
            replication_factor: -1,
            config: { "max.message.bytes": String(MAX_RECORD_BYTES) } as Record<string, string>
          },
          timeouts.waitMs + 10_000,
          (err) => (err && err.code !== TOPIC_ALREADY_EXISTS ? reject(err) : resolve())
        )
      ).catch((e: unknown) => {
        const info = infoOfLibrdKafkaError(e)
        throw new KafkaMetadataError(
          `error creating the exchange topic '${s.topic}' with ${s.keyGroups} partitions on ${brokersText(s.brokers)}: ${describeInfo(info)}` +
            "; create it yourself (one partition per key group), or check that the brokers allow creating topics",
          { ...where, info, cause: e }
        )
      })
      count = await partitions()
      if (count === undefined) return
    }
    if (count !== s.keyGroups) {
      throw new KafkaConfigError(
        `the store has ${s.keyGroups} key groups but the exchange topic '${s.topic}' has ${count} partitions: ` +
          `the topic must have one partition per key group. Delete the topic (the link creates it again with ${s.keyGroups}), ` +
          `or run with a store of ${count} key groups`,
        where
      )
    }
  } finally {
    admin.disconnect()
  }
}

/** One ClusterLink: a consumer in the group, a producer to the exchange topic. */
class KafkaClusterLink implements ClusterLink {
  readonly keyGroups: number
  private consumer!: GroupConsumer
  private producer!: Producer
  private handler: ClusterLinkHandler | undefined = undefined

  // Membership. `given`: key groups the handler was told it has (and not yet told it lost).
  // `held`: those whose records reach `receive` (not being revoked). `assigned`: what the link assigned in librdkafka.
  private readonly given = new Set<number>()
  private readonly held = new Set<number>()
  private readonly revoking = new Set<number>()
  private readonly assigned = new Set<number>()
  /** The handler calls and rebalance completions, one after another. */
  private chain: Promise<void> = Promise.resolve()
  private chainLength = 0

  // Consuming. One call into the consumer (consume, assign, seek) at a time.
  private lock: Promise<void> = Promise.resolve()
  private lockUsers = 0
  private lastPollAt = 0
  private buffer: Array<ExchangeRecord> = []
  private head = 0
  private bufferedBytes = 0
  private keeper: ReturnType<typeof setInterval> | undefined = undefined

  // Producing.
  private outstanding = 0
  private backlog: Array<readonly [keyGroup: number, value: Buffer]> = []
  private backlogHead = 0
  private draining: ReturnType<typeof setTimeout> | undefined = undefined
  private backlogWaiters: Array<() => void> = []
  private deliveryError: Error | undefined = undefined

  private failure: unknown = undefined
  private leaving: Promise<void> | undefined = undefined
  private closing: Promise<void> | undefined = undefined
  private closed = false
  private lastLogAt = 0
  private unlogged = 0

  private constructor(private readonly s: LinkSettings) {
    this.keyGroups = s.keyGroups
  }

  static async open(s: LinkSettings): Promise<KafkaClusterLink> {
    await ensureTopic(s)
    const link = new KafkaClusterLink(s)
    await link.connect()
    return link
  }

  private async connect(): Promise<void> {
    const { brokers, addConfig, topic, groupId } = this.s
    const id = `weir-cluster-${hostname()}-${process.pid}`
    this.producer = await connectProducer(
      {
        ...baseConfig(brokers),
        "client.id": id,
        "enable.idempotence": true,
        acks: "all",
        "linger.ms": 5,
        "compression.type": RdKafka.features.includes("lz4") ? "lz4" : "none",
        "message.max.bytes": MAX_RECORD_BYTES,
        "batch.size": BATCH_BYTES,
        ...addConfig,
        dr_cb: true
      },
      { brokers, topic },
      `to write the exchange topic '${topic}'`
    )
    this.producer.on("delivery-report", (err, report) => {
      this.outstanding--
      if (err) this.deliveryError ??= this.produceError(report.partition, err)
    })
    this.producer.on("event.error", (err) => this.clientEvent("producer", err))
    this.producer.setPollInBackground(true)
    const link = this
    const kip848 = String(addConfig["group.protocol"] ?? "classic") === "consumer"
    try {
      this.consumer = await connectConsumer(
        {
          ...baseConfig(brokers),
          "client.id": id,
          // KIP-848 groups choose their assignor on the broker (group.remote.assignor); the client refuses this setting there.
          // A cooperative rebalance takes a second round one heartbeat after the first: 1 s, not librdkafka's 3 s,
          // shortens every join and leave by about 2 s (at one small request a second).
          ...(kip848 ? {} : { "partition.assignment.strategy": "cooperative-sticky", "heartbeat.interval.ms": 1000 }),
          "enable.auto.commit": false,
          "enable.auto.offset.store": false,
          "auto.offset.reset": "earliest",
          "max.partition.fetch.bytes": PARTITION_FETCH_BYTES,
          ...addConfig,
          "group.id": groupId,
          rebalance_cb: function(this: GroupConsumer, err: LibrdKafkaError | undefined, assignment: Array<TopicPartition>) {
            link.rebalanced(this, err, assignment)
          }
        } as unknown as ClientConfig,
        { brokers, topic },
        `to join consumer group '${groupId}' on the exchange topic '${topic}'`
      ) as GroupConsumer
    } catch (e) {
      await disconnect(this.producer)
      throw e
    }
    this.consumer.setDefaultConsumeTimeout(RECEIVE_WAIT_MS)
    this.consumer.setDefaultIsTimeoutOnlyForFirstMessage(true)
    this.consumer.on("event.error", (err) => this.clientEvent("consumer", err))
  }

  async join(handler: ClusterLinkHandler): Promise<void> {
    if (this.closed || this.leaving !== undefined) throw new Error(`the cluster link ${this.s.description} has left its group: open another to join again`)
    if (this.handler !== undefined) throw new Error(`the cluster link ${this.s.description} already joined group '${this.s.groupId}'`)
    this.handler = handler
    try {
      this.consumer.subscribe([this.s.topic])
    } catch (e) {
      this.handler = undefined
      throw this.consumeError(`error subscribing consumer group '${this.s.groupId}' to the exchange topic '${this.s.topic}'`, e)
    }
    this.keeper = setInterval(() => this.keepPolling(), IDLE_POLL_MS / 2)
    this.keeper.unref()
  }

  async receive(max: number): Promise<ReadonlyArray<ExchangeRecord>> {
    if (this.failure !== undefined) throw this.failure
    if (this.closed) return []
    if (this.head === this.buffer.length) {
      if (this.lockUsers > 0) await this.lock
      else if (this.handler !== undefined) await this.poll(Math.max(1, max))
      if (this.failure !== undefined) throw this.failure
    }
    return this.take(max)
  }

  async seek(keyGroup: number, offset: number): Promise<void> {
    if (!Number.isInteger(offset) || offset < 0) throw new TypeError(`seek: the offset must be an integer ≥ 0; got ${String(offset)}`)
    if (!this.held.has(keyGroup)) {
      throw new Error(
        `seek: this process does not hold key group ${String(keyGroup)} (it holds ${[...this.held].sort((a, b) => a - b).join(", ") || "none"})`
      )
    }
    const deadline = Date.now() + SEEK_RETRY_MS
    for (;;) {
      const err = await this.exclusive(() =>
        new Promise<LibrdKafkaError | undefined>((resolve) => {
          this.consumer.seek({ topic: this.s.topic, partition: keyGroup, offset }, SEEK_TIMEOUT_MS, (e) => {
            // Whatever was read of the partition before is not wanted any more.
            if (!e) this.purge([keyGroup])
            resolve(e ?? undefined)
          })
        })
      )
      if (err === undefined) return
      if (err.code !== ERR_STATE || Date.now() > deadline || !this.held.has(keyGroup)) {
        throw this.consumeError(`error seeking key group ${keyGroup} (partition ${keyGroup} of the exchange topic '${this.s.topic}') to offset ${offset}`, err, keyGroup)
      }
      await delay(SEEK_BACKOFF_MS)
    }
  }

  send(keyGroup: number, value: Uint8Array): void {
    if (!Number.isInteger(keyGroup) || keyGroup < 0 || keyGroup >= this.keyGroups) {
      throw new RangeError(`send: the key group must be an integer from 0 to ${this.keyGroups - 1}; got ${String(keyGroup)}`)
    }
    if (this.closed) throw new Error(`send: the cluster link ${this.s.description} is closed`)
    const buffer = Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength)
    // Once something waits, everything after it waits too: a partition's records keep their order.
    if (this.backlogHead < this.backlog.length || !this.produce(keyGroup, buffer)) {
      this.backlog.push([keyGroup, buffer])
      this.drainLater()
    }
  }

  async flush(): Promise<void> {
    if (this.backlogHead < this.backlog.length) await new Promise<void>((resolve) => this.backlogWaiters.push(resolve))
    while (this.outstanding > 0 && this.producer.isConnected()) {
      await new Promise<void>((resolve) => this.producer.flush(FLUSH_STEP_MS, () => resolve()))
    }
    const e = this.deliveryError
    this.deliveryError = undefined
    if (e !== undefined) throw e
  }

  leave(): Promise<void> {
    this.leaving ??= this.leaveGroup().finally(() => this.disconnectAll())
    return this.leaving
  }

  /** The scope's release: leave (if joined), then disconnect. */
  close(): Promise<void> {
    this.closing ??= this.leave().catch((e: unknown) => this.s.log(`leaving consumer group '${this.s.groupId}' failed: ${String(e)}`))
    return this.closing
  }

  // --- membership -------------------------------------------------------------------------------

  /** librdkafka's rebalance callback (on the main thread): note it now, act on it in turn. */
  private rebalanced(consumer: GroupConsumer, err: LibrdKafkaError | undefined, assignment: Array<TopicPartition>): void {
    const code = err?.code
    const protocol = protocolOf(consumer)
    const mine = assignment.filter((tp) => tp.topic === this.s.topic).map((tp) => tp.partition)
    if (this.closed) {
      // The revocation of a consumer being destroyed: nothing can be done but to let it go.
      try {
        consumer.unassign()
      } catch {
        // closing anyway
      }
      return
    }
    if (code === REVOKE_PARTITIONS) {
      let lost = false
      try {
        lost = consumer.assignmentLost()
      } catch {
        lost = false
      }
      // No record of these reaches `receive` from now on.
      for (const kg of mine) {
        this.held.delete(kg)
        this.revoking.add(kg)
      }
      this.purge(mine)
      this.inTurn(() => this.revoke(consumer, assignment, mine, lost, protocol))
    } else if (code === ASSIGN_PARTITIONS) {
      this.inTurn(() => this.assign(consumer, assignment, mine, protocol))
    } else {
      this.transient(`consumer group '${this.s.groupId}' rebalance error: ${err === undefined ? "unknown" : describeInfo(infoOfLibrdKafkaError(err))}`)
      this.inTurn(() => this.revoke(consumer, assignment, [...this.assigned], false, "EAGER"))
    }
  }

  private inTurn(step: () => Promise<void>): void {
    this.chainLength++
    this.chain = this.chain.then(step).catch((e: unknown) => this.fail(e)).finally(() => {
      this.chainLength--
    })
  }

  private async assign(consumer: GroupConsumer, assignment: Array<TopicPartition>, mine: Array<number>, protocol: Protocol): Promise<void> {
    let offsets: ReadonlyMap<number, number> | undefined
    if (mine.length > 0 && this.handler !== undefined && this.failure === undefined && this.leaving === undefined) {
      try {
        offsets = await this.handler.assigned(mine)
      } catch (e) {
        this.fail(e)
      }
    }
    const list = assignment.map((tp) => {
      const offset = offsets?.get(tp.partition)
      if (offsets !== undefined && (offset === undefined || !Number.isInteger(offset) || offset < 0)) {
        this.fail(
          new Error(
            `the cluster handler's assigned(${mine.join(", ")}) gave ${offset === undefined ? "no offset" : `offset ${String(offset)}`} ` +
              `for key group ${tp.partition}: it must give an integer ≥ 0 for every key group it is given`
          )
        )
      }
      return { topic: tp.topic, partition: tp.partition, offset: offset ?? OFFSET_BEGINNING }
    })
    await this.exclusive(async () => {
      try {
        if (protocol === "COOPERATIVE") consumer.incrementalAssign(list)
        else consumer.assign(list)
      } catch (e) {
        this.fail(this.consumeError(`error assigning partitions ${mine.join(", ")} of the exchange topic '${this.s.topic}'`, e))
        return
      }
      if (protocol !== "COOPERATIVE") this.assigned.clear()
      for (const kg of mine) this.assigned.add(kg)
      // The handler was told: it hears of their revocation too. Their records flow only while the link is sound.
      if (offsets === undefined) return
      for (const kg of mine) {
        this.given.add(kg)
        if (!this.revoking.has(kg) && this.failure === undefined) this.held.add(kg)
      }
    })
  }

  private async revoke(
    consumer: GroupConsumer,
    assignment: Array<TopicPartition>,
    mine: Array<number>,
    lost: boolean,
    protocol: Protocol
  ): Promise<void> {
    const told = mine.filter((kg) => this.given.has(kg))
    if (told.length > 0 && this.handler !== undefined) {
      try {
        await this.handler.revoked(told, lost)
      } catch (e) {
        this.fail(e)
      }
    }
    for (const kg of told) this.given.delete(kg)
    await this.exclusive(async () => {
      try {
        if (protocol === "COOPERATIVE") consumer.incrementalUnassign(assignment)
        else consumer.unassign()
      } catch (e) {
        this.transient(`error unassigning partitions ${mine.join(", ")} of the exchange topic '${this.s.topic}': ${String(e)}`)
      }
      if (protocol === "COOPERATIVE") for (const kg of mine) this.assigned.delete(kg)
      else this.assigned.clear()
      for (const kg of mine) this.revoking.delete(kg)
      this.purge(mine)
    })
  }

  private async leaveGroup(): Promise<void> {
    if (this.handler === undefined) return
    try {
      this.consumer.unsubscribe()
    } catch (e) {
      this.transient(`error leaving consumer group '${this.s.groupId}': ${String(e)}`)
    }
    const limit = Number(this.s.addConfig["max.poll.interval.ms"] ?? DEFAULT_MAX_POLL_INTERVAL_MS)
    const deadline = Date.now() + (Number.isFinite(limit) && limit > 0 ? limit : DEFAULT_MAX_POLL_INTERVAL_MS)
    // The final revocation comes through a poll; it is done when nothing is assigned and no handler call is pending.
    let polls = 0
    while (Date.now() < deadline) {
      await this.poll(IDLE_POLL_BATCH)
      polls++
      if (polls >= 2 && this.chainLength === 0 && this.assigned.size === 0 && this.librdkafkaAssignment() === 0) break
    }
    await this.chain
    if (this.given.size > 0 && this.handler !== undefined) {
      // The group did not take them back in time: to this process they are lost.
      const left = [...this.given]
      this.given.clear()
      this.held.clear()
      await this.handler.revoked(left, true).catch((e: unknown) => this.fail(e))
    }
  }

  private librdkafkaAssignment(): number {
    try {
      return this.consumer.assignments().length
    } catch {
      return 0
    }
  }

  private async disconnectAll(): Promise<void> {
    if (this.keeper !== undefined) clearInterval(this.keeper)
    const deadline = Date.now() + CLOSE_FLUSH_MS
    while ((this.outstanding > 0 || this.backlogHead < this.backlog.length) && Date.now() < deadline && this.producer.isConnected()) {
      await new Promise<void>((resolve) => this.producer.flush(1_000, () => resolve()))
    }
    this.closed = true
    if (this.draining !== undefined) clearTimeout(this.draining)
    for (const w of this.backlogWaiters.splice(0)) w()
    await this.lock
    this.buffer = []
    this.head = 0
    this.bufferedBytes = 0
    await Promise.all([disconnect(this.consumer), disconnect(this.producer)])
  }

  // --- consuming ------------------------------------------------------------------------------------

  /** Run `f` with no other call into the consumer (consume, assign, seek) in flight. */
  private exclusive<A>(f: () => Promise<A>): Promise<A> {
    this.lockUsers++
    const run = this.lock.then(f).finally(() => {
      this.lockUsers--
    })
    this.lock = run.then(() => undefined, () => undefined)
    return run
  }

  /** One consume call; its records of held key groups go to the buffer. */
  private poll(max: number): Promise<void> {
    return this.exclusive(() =>
      new Promise<void>((resolve) => {
        if (this.closed) return resolve()
        this.lastPollAt = Date.now()
        try {
          this.consumer.consume(max, (err, messages) => {
            if (err) this.consumeFailed(err)
            else this.accept(messages)
            resolve()
          })
        } catch (e) {
          this.consumeFailed(e)
          resolve()
        }
      })
    )
  }

  /** Without `receive` calls, poll anyway: rebalances are served by polls, and a member that stops polling is put out of the group. */
  private keepPolling(): void {
    if (this.closed || this.lockUsers > 0 || Date.now() - this.lastPollAt < IDLE_POLL_MS) return
    if (this.bufferedBytes >= BUFFER_LIMIT_BYTES && this.leaving === undefined) return
    void this.poll(IDLE_POLL_BATCH)
  }

  private accept(messages: ReadonlyArray<Message>): void {
    const topic = this.s.topic
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i]!
      if (m.topic !== topic || !this.held.has(m.partition)) continue
      const value: Uint8Array = m.value ?? new Uint8Array(0)
      this.buffer.push({ keyGroup: m.partition, offset: m.offset, value })
      this.bufferedBytes += value.byteLength
    }
  }

  private take(max: number): Array<ExchangeRecord> {
    const out: Array<ExchangeRecord> = []
    const buffer = this.buffer
    while (this.head < buffer.length && out.length < max) {
      const r = buffer[this.head]!
      buffer[this.head++] = undefined as unknown as ExchangeRecord
      this.bufferedBytes -= r.value.byteLength
      if (this.held.has(r.keyGroup)) out.push(r)
    }
    if (this.head === buffer.length) {
      this.buffer = []
      this.head = 0
    } else if (this.head > 4096 && this.head * 2 > buffer.length) {
      this.buffer = buffer.slice(this.head)
      this.head = 0
    }
    return out
  }

  /** Drop buffered records of these key groups. */
  private purge(keyGroups: ReadonlyArray<number>): void {
    if (keyGroups.length === 0 || this.head === this.buffer.length) return
    const drop = new Set(keyGroups)
    const kept: Array<ExchangeRecord> = []
    let bytes = 0
    for (let i = this.head; i < this.buffer.length; i++) {
      const r = this.buffer[i]!
      if (drop.has(r.keyGroup)) continue
      kept.push(r)
      bytes += r.value.byteLength
    }
    this.buffer = kept
    this.head = 0
    this.bufferedBytes = bytes
  }

  private consumeFailed(e: unknown): void {
    const info = infoOfLibrdKafkaError(e)
    if (info.code === ERR.TIMED_OUT) return
    if (info.fatal || info.code === ERR.FATAL) {
      this.fail(this.consumeError(`fatal error reading the exchange topic '${this.s.topic}' in consumer group '${this.s.groupId}'`, e))
    } else {
      this.transient(`error reading the exchange topic '${this.s.topic}': ${describeInfo(info)}`)
    }
  }

  // --- producing ------------------------------------------------------------------------------------

  /** Queue one record; `false` when the producer's local queue is full. */
  private produce(keyGroup: number, value: Buffer): boolean {
    try {
      this.producer.produce(this.s.topic, keyGroup, value, null, null)
      this.outstanding++
      return true
    } catch (e) {
      if ((e as { code?: unknown }).code === ERR.QUEUE_FULL) return false
      this.deliveryError ??= this.produceError(keyGroup, e)
      return true
    }
  }

  private drainLater(): void {
    if (this.draining !== undefined || this.closed) return
    this.draining = setTimeout(() => {
      this.draining = undefined
      this.drain()
    }, QUEUE_FULL_BACKOFF_MS)
  }

  private drain(): void {
    while (this.backlogHead < this.backlog.length) {
      const [kg, value] = this.backlog[this.backlogHead]!
      if (!this.produce(kg, value)) {
        this.drainLater()
        return
      }
      this.backlog[this.backlogHead++] = undefined as unknown as readonly [number, Buffer]
    }
    this.backlog = []
    this.backlogHead = 0
    for (const w of this.backlogWaiters.splice(0)) w()
  }

  // --- errors ---------------------------------------------------------------------------------------

  private fail(e: unknown): void {
    this.failure ??= e
  }

  /** A client's error event: fatal ones fail the link, others are logged now and then. */
  private clientEvent(client: "consumer" | "producer", err: LibrdKafkaError): void {
    const info = infoOfClientEvent(err)
    if (info.fatal || info.code === ERR.FATAL) {
      const what = client === "consumer"
        ? `fatal error in the consumer of group '${this.s.groupId}' on the exchange topic '${this.s.topic}'`
        : `fatal error in the producer to the exchange topic '${this.s.topic}'`
      const e = client === "consumer" ? this.consumeError(what, err) : this.produceError(-1, err, what)
      this.fail(e)
      this.deliveryError ??= client === "producer" ? e : undefined
      return
    }
    this.transient(`Kafka ${client} of the cluster link ${this.s.description}: ${describeInfo(info)}`)
  }

  /** Log a transient problem, at most once per few seconds. */
  private transient(message: string): void {
    const now = Date.now()
    if (now - this.lastLogAt < LOG_EVERY_MS) {
      this.unlogged++
      return
    }
    const more = this.unlogged > 0 ? ` (and ${this.unlogged} more since the last report)` : ""
    this.lastLogAt = now
    this.unlogged = 0
    this.s.log(`${message}${more}; retrying`)
  }

  private consumeError(what: string, e: unknown, keyGroup?: number): KafkaConsumeError {
    const info = infoOfLibrdKafkaError(e)
    return new KafkaConsumeError(`${what}: ${describeInfo(info)} (${brokersText(this.s.brokers)})`, {
      brokers: this.s.brokers,
      topic: this.s.topic,
      partition: keyGroup,
      info,
      cause: e instanceof Error ? e : undefined
    })
  }

  private produceError(keyGroup: number, e: unknown, what?: string): KafkaConnectorError {
    if (e instanceof KafkaConnectorError) return e
    const info = infoOfLibrdKafkaError(e)
    const hint = info.code === MESSAGE_TOO_LARGE
      ? `: a frame is larger than the producer's message.max.bytes (${MAX_RECORD_BYTES} unless addConfig sets it) or the topic's max.message.bytes; raise them`
      : ""
    return new KafkaProduceError(
      `${what ?? `error sending to key group ${keyGroup} (partition ${keyGroup} of the exchange topic '${this.s.topic}')`}: ${describeInfo(info)}${hint} (${
        brokersText(this.s.brokers)
      })`,
      { brokers: this.s.brokers, topic: this.s.topic, partition: keyGroup >= 0 ? keyGroup : undefined, info, cause: e instanceof Error ? e : undefined }
    )
  }
}

const protocolOf = (consumer: GroupConsumer): Protocol => {
  try {
    return consumer.rebalanceProtocol()
  } catch {
    return "NONE"
  }
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))
