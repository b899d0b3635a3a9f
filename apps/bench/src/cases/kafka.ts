/**
 * Kafka → map → Kafka: 1,000,000 messages of 100 bytes (or `--items`, if
 * fewer) read from a 3-partition topic, mapped, and written to another topic,
 * through Weir (`KafkaSource` → `op.map` → `KafkaSink`) and through a
 * hand-written consume → produce loop using the same client
 * (`@confluentinc/kafka-javascript`) and the same settings: batches of 1,000,
 * the idempotent producer, and every message's delivery confirmed before the
 * run counts as done. The hand loop uses one consumer assigned every partition,
 * blocks in `consume` for up to 100 ms when nothing is ready, keeps producing
 * while earlier messages are in flight and waits for the delivery reports at
 * the end; Weir confirms each batch before the runtime hands the sink the next
 * one (so an epoch never closes over an unconfirmed write).
 *
 * The broker is WEIR_KAFKA_BROKERS, or the one `scripts/kafka.sh up` starts.
 * The input is produced once before timing; each run writes to a fresh output
 * topic, deleted afterwards.
 */
import { RdKafka } from "@confluentinc/kafka-javascript"
import type { IAdminClient, LibrdKafkaError, Message } from "@confluentinc/kafka-javascript"
import { KafkaSink, type KafkaSinkMessage, KafkaSource, type KafkaSourceMessage } from "@weir/connectors-kafka"
import { Dataflow, op, runMain } from "@weir/core"
import { execFileSync } from "node:child_process"
import * as path from "node:path"
import type { BenchCase } from "../harness.js"

const MAX_MESSAGES = 1_000_000
const VALUE_BYTES = 100
const PARTITIONS = 3
const BATCH_SIZE = 1000
const PREFIX = "weir-bench-kafka-"

const brokerList = (): string => {
  if (process.env.WEIR_KAFKA_BROKERS) return process.env.WEIR_KAFKA_BROKERS
  const script = path.resolve(import.meta.dirname, "../../../../scripts/kafka.sh")
  return execFileSync("bash", [script, "up"], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim()
}

const call = <A>(f: (cb: (err: LibrdKafkaError | null | undefined, a: A) => void) => void): Promise<A> =>
  new Promise((resolve, reject) => f((err, a) => (err ? reject(err) : resolve(a))))

const withAdmin = async <A>(brokers: string, f: (admin: IAdminClient) => Promise<A>): Promise<A> => {
  const admin = RdKafka.AdminClient.create({ "bootstrap.servers": brokers })
  try {
    return await f(admin)
  } finally {
    admin.disconnect()
  }
}

const createTopic = (brokers: string, topic: string): Promise<void> =>
  withAdmin(brokers, (admin) =>
    call<void>((cb) => admin.createTopic({ topic, num_partitions: PARTITIONS, replication_factor: 1 }, 30_000, (e) => cb(e, undefined))))

const deleteBenchTopics = (brokers: string): Promise<void> =>
  withAdmin(brokers, async (admin) => {
    const topics = await call<Array<string>>((cb) => admin.listTopics({ timeout: 10_000 }, cb))
    for (const t of topics.filter((t) => t.startsWith(PREFIX))) {
      await call<void>((cb) => admin.deleteTopic(t, 30_000, (e) => cb(e, undefined)))
    }
  })

/** The settings both variants share. */
const consumerSettings = (brokers: string) => ({
  "bootstrap.servers": brokers,
  "group.id": "WEIR_IGNORED",
  "enable.auto.commit": false,
  "enable.auto.offset.store": false,
  "enable.partition.eof": true
})
const producerSettings = (brokers: string) => ({
  "bootstrap.servers": brokers,
  "enable.idempotence": true,
  dr_cb: true
})

/** Fill the input topic: `count` messages of 100 bytes, round-robin over the partitions. */
const fillInput = async (brokers: string, topic: string, count: number): Promise<void> => {
  const producer = new RdKafka.Producer({ ...producerSettings(brokers), "linger.ms": 20, "batch.num.messages": 10_000 })
  await call<unknown>((cb) => producer.connect({ timeout: 10_000 }, cb))
  producer.setPollInBackground(true)
  let delivered = 0
  let failure: unknown
  producer.on("delivery-report", (err) => {
    if (err) failure = err
    delivered++
  })
  const value = Buffer.alloc(VALUE_BYTES, "x")
  for (let i = 0; i < count; i++) {
    for (;;) {
      try {
        producer.produce(topic, i % PARTITIONS, value, `key-${i}`)
        break
      } catch (e) {
        if ((e as { code?: number }).code !== -184) throw e
        await new Promise((resolve) => setTimeout(resolve, 5))
      }
    }
  }
  while (delivered < count && failure === undefined) await new Promise((resolve) => setTimeout(resolve, 10))
  await call<unknown>((cb) => producer.disconnect(cb))
  if (failure !== undefined) throw failure
}

/** The map both variants apply: keep the key, upper-case the first byte of the value. */
const transform = (value: Buffer | null): Buffer | null => {
  if (value === null || value.length === 0) return value
  const out = Buffer.from(value)
  out[0] = out[0]! & 0xdf
  return out
}

/** The hand-written loop: one consumer assigned every partition, one producer, confirm every delivery. */
const handLoop = async (brokers: string, input: string, output: string, count: number): Promise<void> => {
  const consumer = new RdKafka.KafkaConsumer(consumerSettings(brokers))
  const producer = new RdKafka.Producer(producerSettings(brokers))
  await call<unknown>((cb) => consumer.connect({ timeout: 10_000 }, cb))
  await call<unknown>((cb) => producer.connect({ timeout: 10_000 }, cb))
  producer.setPollInBackground(true)
  let delivered = 0
  let failure: unknown
  producer.on("delivery-report", (err) => {
    if (err) failure = err
    delivered++
  })
  const ended = new Set<number>()
  consumer.on("partition.eof", (e) => ended.add(e.partition))
  consumer.assign(Array.from({ length: PARTITIONS }, (_, partition) => ({ topic: input, partition, offset: -2 })))
  consumer.setDefaultConsumeTimeout(100)
  let produced = 0
  while (ended.size < PARTITIONS) {
    const batch = await call<Array<Message>>((cb) => consumer.consume(BATCH_SIZE, cb))
    for (let i = 0; i < batch.length; i++) {
      const m = batch[i]!
      for (;;) {
        try {
          producer.produce(output, null, transform(m.value), m.key ?? null)
          break
        } catch (e) {
          if ((e as { code?: number }).code !== -184) throw e
          await new Promise((resolve) => setTimeout(resolve, 2))
        }
      }
      produced++
    }
  }
  while (delivered < produced && failure === undefined) await new Promise((resolve) => setTimeout(resolve, 1))
  await call<unknown>((cb) => consumer.disconnect(cb))
  await call<unknown>((cb) => producer.disconnect(cb))
  if (failure !== undefined) throw failure
  if (produced !== count) throw new Error(`the hand loop copied ${produced} messages, expected ${count}`)
}

/** Weir: KafkaSource → op.map → KafkaSink, with the same batch size and (default) settings. */
const weir = async (brokers: string, input: string, output: string, count: number): Promise<void> => {
  const flow = new Dataflow("kafka_bench")
  const msgs = op.input("in", flow, new KafkaSource([brokers], [input], { tail: false, batchSize: BATCH_SIZE }))
  let copied = 0
  const mapped = op.map("transform", msgs, (m: KafkaSourceMessage): KafkaSinkMessage => {
    copied++
    return { key: m.key, value: transform(m.value) }
  })
  op.output("out", mapped, new KafkaSink([brokers], output))
  await runMain(flow)
  if (copied !== count) throw new Error(`Weir copied ${copied} messages, expected ${count}`)
}

const timings = new Map<string, Array<number>>()
let messages = 0

const timed = (name: string, f: () => Promise<void>) => async () => {
  const t = performance.now()
  await f()
  const list = timings.get(name) ?? []
  list.push(performance.now() - t)
  timings.set(name, list)
}

const HAND = "hand-written consume → produce loop"
const WEIR = "Weir: KafkaSource → map → KafkaSink"
let cleanup: (() => Promise<void>) | undefined
let skipped: string | undefined

export const kafka: BenchCase = {
  id: "kafka",
  name: "kafka: Kafka → map → Kafka, 100-byte messages, 3 partitions, delivery confirmed",
  unit: "msg",
  async variants({ items, repeats }) {
    let brokers: string
    try {
      brokers = brokerList()
    } catch (e) {
      skipped = `skipped: no Kafka broker (set WEIR_KAFKA_BROKERS, or install Java 17+ and Maven for scripts/kafka.sh): ${
        e instanceof Error ? e.message.split("\n")[0] : String(e)
      }`
      return []
    }
    messages = Math.min(items, MAX_MESSAGES)
    await deleteBenchTopics(brokers)
    const input = `${PREFIX}in-${Date.now()}`
    await createTopic(brokers, input)
    await fillInput(brokers, input, messages)
    // A fresh output topic for every run (warm-up included), made before timing starts.
    const outputs = async (variant: string): Promise<Array<string>> => {
      const list: Array<string> = []
      for (let i = 0; i <= repeats; i++) {
        const t = `${PREFIX}out-${variant}-${Date.now()}-${i}`
        await createTopic(brokers, t)
        list.push(t)
      }
      return list
    }
    const handOutputs = await outputs("hand")
    const weirOutputs = await outputs("weir")
    cleanup = () => deleteBenchTopics(brokers)
    return [
      { name: HAND, items: messages, run: timed(HAND, () => handLoop(brokers, input, handOutputs.shift()!, messages)) },
      { name: WEIR, items: messages, run: timed(WEIR, () => weir(brokers, input, weirOutputs.shift()!, messages)) }
    ]
  },
  notes() {
    if (skipped !== undefined) return [skipped]
    const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
    // The first timing of each variant is its warm-up run.
    const rate = (name: string) => messages / (median((timings.get(name) ?? [NaN]).slice(1)) / 1000)
    const hand = rate(HAND)
    const weirRate = rate(WEIR)
    void cleanup?.().catch((e: unknown) => console.error(`could not delete the benchmark's topics: ${String(e)}`))
    return [
      `messages/s (median, excluding topic set-up): hand loop ${Math.round(hand).toLocaleString("en-US")}, ` +
      `Weir ${Math.round(weirRate).toLocaleString("en-US")}; Weir reaches ${(100 * weirRate / hand).toFixed(0)}% of the hand loop ` +
      "(target ≥ 80%)"
    ]
  }
}
