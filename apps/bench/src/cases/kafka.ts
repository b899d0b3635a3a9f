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
 * Two more Weir variants measure what exactly-once costs: the same flow with
 * an embedded (SQLite) recovery store and 1-second epochs (the source's
 * positions committed every second), once at-least-once and once with
 * `KafkaSink`'s `exactlyOnce` (each epoch's output stored with the epoch's
 * state, then published in one Kafka transaction per worker once the epoch
 * is committed). Their ratio isolates the cost of exactly-once; the target is
 * at least 80%. Every exactly-once run's output topic is read back
 * `read_committed` after timing and must hold exactly one message per input
 * message (distinct keys).
 *
 * The broker is WEIR_KAFKA_BROKERS, or the one `scripts/kafka.sh up` starts.
 * The input is produced once before timing; each run writes to a fresh output
 * topic, deleted afterwards.
 */
import { RdKafka } from "@confluentinc/kafka-javascript"
import type { IAdminClient, LibrdKafkaError, Message } from "@confluentinc/kafka-javascript"
import { KafkaSink, type KafkaSinkMessage, KafkaSource, type KafkaSourceMessage } from "@weir/connectors-kafka"
import { Dataflow, op, runMain } from "@weir/core"
import { type CommitStats, initDbDir, RecoveryConfig } from "@weir/recovery"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { type BenchCase, median } from "../harness.js"

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

/** Delete the bench's topics, and the consumer groups holding the exactly-once sink's markers. */
const deleteBenchTopics = (brokers: string): Promise<void> =>
  withAdmin(brokers, async (admin) => {
    const topics = await call<Array<string>>((cb) => admin.listTopics({ timeout: 10_000 }, cb))
    for (const t of topics.filter((t) => t.startsWith(PREFIX))) {
      await call<void>((cb) => admin.deleteTopic(t, 30_000, (e) => cb(e, undefined)))
    }
    const { groups } = await call<{ groups: Array<{ groupId: string }> }>((cb) => admin.listGroups({ timeout: 10_000 }, cb))
    const markers = groups.map((g) => g.groupId).filter((g) => g.startsWith(PREFIX))
    if (markers.length > 0) await call<unknown>((cb) => admin.deleteGroups(markers, { timeout: 30_000 }, cb))
  })

/** The settings every variant shares. */
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

/** The map every variant applies: keep the key, upper-case the first byte of the value. */
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

/** How a Weir variant runs: plain (no store), or with the SQLite store and 1-second epochs, at-least-once or exactly-once. */
type WeirMode = "plain" | "at-least-once" | "exactly-once"

/** Per mode, the commits of the last run (from the store's observer). */
const commitLogs = new Map<WeirMode, Array<CommitStats & { readonly at: number }>>()
let transactionalRuns = 0

/** Weir: KafkaSource → op.map → KafkaSink, with the same batch size and (default) settings. */
const weir = async (brokers: string, input: string, output: string, count: number, mode: WeirMode = "plain"): Promise<void> => {
  const flow = new Dataflow("kafka_bench")
  const msgs = op.input("in", flow, new KafkaSource([brokers], [input], { tail: false, batchSize: BATCH_SIZE }))
  let copied = 0
  const mapped = op.map("transform", msgs, (m: KafkaSourceMessage): KafkaSinkMessage => {
    copied++
    return { key: m.key, value: transform(m.value) }
  })
  const sink = mode === "exactly-once"
    // A transactional.id prefix of its own per run, so no run fences another.
    ? new KafkaSink([brokers], output, { exactlyOnce: true, transactionalIdPrefix: `${PREFIX}eo-${Date.now()}-${transactionalRuns++}` })
    : new KafkaSink([brokers], output)
  op.output("out", mapped, sink)
  if (mode === "plain") {
    await runMain(flow)
  } else {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "weir-bench-kafka-"))
    try {
      await initDbDir(dir, 1)
      const commits: Array<CommitStats & { readonly at: number }> = []
      commitLogs.set(mode, commits)
      const observe = { committed: (c: CommitStats) => commits.push({ ...c, at: performance.now() }) }
      await runMain(flow, { epochInterval: "1 second", recovery: new RecoveryConfig(dir, { observe }) })
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }
  if (copied !== count) throw new Error(`Weir (${mode}) copied ${copied} messages, expected ${count}`)
}

/**
 * Read `topic` back as a `read_committed` consumer and check it holds exactly
 * `count` messages with distinct keys. Counting messages consumed, not
 * offsets: aborted transactions and transaction markers occupy offsets too.
 * Reading ends when every partition reported its end at or past the high
 * watermark taken first (no write is open any more once the run returned).
 */
const verifyCommitted = async (brokers: string, topic: string, count: number): Promise<void> => {
  const consumer = new RdKafka.KafkaConsumer({ ...consumerSettings(brokers), "isolation.level": "read_committed" })
  await call<unknown>((cb) => consumer.connect({ timeout: 10_000 }, cb))
  try {
    const high: Array<number> = []
    for (let partition = 0; partition < PARTITIONS; partition++) {
      const w = await call<{ highOffset: number }>((cb) => consumer.queryWatermarkOffsets(topic, partition, 10_000, cb))
      high.push(w.highOffset)
    }
    const reached = new Set<number>()
    consumer.on("partition.eof", (e) => {
      if (e.offset >= high[e.partition]!) reached.add(e.partition)
    })
    consumer.assign(Array.from({ length: PARTITIONS }, (_, partition) => ({ topic, partition, offset: -2 })))
    consumer.setDefaultConsumeTimeout(100)
    const keys = new Set<string>()
    let read = 0
    const deadline = Date.now() + 60_000
    while (reached.size < PARTITIONS) {
      if (Date.now() > deadline) {
        throw new Error(
          `reading '${topic}' read_committed: after 60 s ${read} messages, and partitions ${
            Array.from({ length: PARTITIONS }, (_, p) => p).filter((p) => !reached.has(p)).join(", ")
          } still short of their high watermarks ${high.join(", ")} (a transaction left open?)`
        )
      }
      const batch = await call<Array<Message>>((cb) => consumer.consume(BATCH_SIZE, cb))
      for (const m of batch) keys.add(m.key === undefined || m.key === null ? "" : m.key.toString())
      read += batch.length
    }
    if (read !== count || keys.size !== count) {
      throw new Error(
        `the exactly-once output topic '${topic}' holds ${read} committed messages with ${keys.size} distinct keys; expected ${count} of each`
      )
    }
  } finally {
    await call<unknown>((cb) => consumer.disconnect(cb))
  }
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
const ALO = "Weir at-least-once with SQLite store, 1 s epochs"
const EO = "Weir exactly-once (KafkaSink exactlyOnce, SQLite store, 1 s epochs)"
let cleanup: (() => Promise<void>) | undefined
let skipped: string | undefined
/** The exactly-once runs' output topics, read back after timing. */
const toVerify: Array<string> = []
let verified = 0
let brokersUsed = ""

/** "a b c; median m" of `xs`, rounded to `digits`. */
const listed = (xs: ReadonlyArray<number>, digits: number) =>
  xs.length === 0 ? "-" : `${xs.map((x) => x.toFixed(digits)).join(" ")}; median ${median(xs).toFixed(digits)}`

/** The last run's commits in `mode`: how many, their size, their time on the worker, and the real epoch length. */
const describeCommits = (label: string, mode: WeirMode): string => {
  const c = commitLogs.get(mode) ?? []
  const ms = (xs: ReadonlyArray<number>) => (xs.length === 0 ? "-" : median(xs).toFixed(0))
  const gaps: Array<number> = []
  for (let i = 1; i < c.length; i++) gaps.push(c[i]!.at - c[i - 1]!.at)
  const bytes = median(c.length === 0 ? [0] : c.map((x) => x.bytes))
  const size = bytes < 1e6 ? `${(bytes / 1e3).toFixed(1)} kB` : `${(bytes / 1e6).toFixed(1)} MB`
  return `${label}, last run: ${c.length} commits, median ${size}; ` +
    `commit ms on the worker median ${ms(c.map((x) => x.encodeMs + x.writeMs))} (serialize ${ms(c.map((x) => x.encodeMs))}, ` +
    `write ${ms(c.map((x) => x.writeMs))}); real epoch median ${ms(gaps)} ms (setting 1000)`
}

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
    const aloOutputs = await outputs("alo")
    const eoOutputs = await outputs("eo")
    brokersUsed = brokers
    cleanup = () => deleteBenchTopics(brokers)
    return [
      { name: HAND, items: messages, run: timed(HAND, () => handLoop(brokers, input, handOutputs.shift()!, messages)) },
      { name: WEIR, items: messages, run: timed(WEIR, () => weir(brokers, input, weirOutputs.shift()!, messages)) },
      { name: ALO, items: messages, run: timed(ALO, () => weir(brokers, input, aloOutputs.shift()!, messages, "at-least-once")) },
      {
        name: EO,
        items: messages,
        run: timed(EO, async () => {
          const topic = eoOutputs.shift()!
          await weir(brokers, input, topic, messages, "exactly-once")
          toVerify.push(topic)
        })
      }
    ]
  },
  /** Untimed, after the last round: every exactly-once run's output, read back read_committed. */
  async cleanup() {
    for (const topic of toVerify.splice(0)) {
      await verifyCommitted(brokersUsed, topic, messages)
      verified++
    }
  },
  notes() {
    if (skipped !== undefined) return [skipped]
    // The first timing of each variant is its warm-up run.
    const runs = (name: string) => (timings.get(name) ?? []).slice(1)
    const rate = (name: string) => messages / (median(runs(name).length === 0 ? [NaN] : runs(name)) / 1000)
    const hand = rate(HAND)
    const weirRate = rate(WEIR)
    const alo = rate(ALO)
    const eo = rate(EO)
    const int = (x: number) => Math.round(x).toLocaleString("en-US")
    // Runs of the same round share the machine's load: their ratio is steadier than the ratio of medians.
    const eoRuns = runs(EO)
    const paired = runs(ALO).slice(0, eoRuns.length).map((a, r) => a / eoRuns[r]!)
    void cleanup?.().catch((e: unknown) => console.error(`could not delete the benchmark's topics and groups: ${String(e)}`))
    return [
      `messages/s (median, excluding topic set-up): hand loop ${int(hand)}, ` +
      `Weir ${int(weirRate)}; Weir reaches ${(100 * weirRate / hand).toFixed(0)}% of the hand loop ` +
      "(target ≥ 80%)",
      `with the SQLite store and 1 s epochs: at-least-once ${int(alo)}, exactly-once ${int(eo)}; ` +
      `exactly-once reaches ${(100 * eo / alo).toFixed(0)}% of at-least-once (same store, same epochs; target ≥ 80%); ` +
      `exactly-once / at-least-once per round: ${listed(paired, 2)}`,
      `exactly-once output read back read_committed: ${verified} runs (warm-up included), each exactly ${int(messages)} messages, distinct keys`,
      describeCommits("at-least-once store", "at-least-once"),
      describeCommits("exactly-once store", "exactly-once")
    ]
  }
}
