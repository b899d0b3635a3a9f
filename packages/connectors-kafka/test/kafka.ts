/**
 * Test helpers that talk to the broker directly (not through Weir): topics,
 * producing fixtures, reading back what a flow wrote.
 */
import { RdKafka } from "@confluentinc/kafka-javascript"
import type { IAdminClient, Message, MessageHeader } from "@confluentinc/kafka-javascript"
import { execFile, execFileSync } from "node:child_process"
import * as path from "node:path"
import { afterAll } from "vitest"

/** The broker the tests use (started by test/global-setup.ts unless WEIR_KAFKA_BROKERS is set). */
export const brokers = (): Array<string> => {
  const b = process.env.WEIR_KAFKA_BROKERS
  if (!b) throw new Error("WEIR_KAFKA_BROKERS is not set (test/global-setup.ts starts a broker)")
  return b.split(",")
}

let counter = 0
/** A topic name no other test (or earlier run) uses. */
export const uniqueTopic = (name: string): string =>
  `weir-test-${name}-${process.pid}-${Date.now().toString(36)}-${counter++}`

/**
 * Topic names for one test file: each call is {@link uniqueTopic}, and every
 * topic named is deleted once the file's tests are done. Call it at the top
 * level of the file: `const topic = fileTopics()`.
 */
export const fileTopics = (): ((name: string) => string) => {
  const topics: Array<string> = []
  afterAll(() => deleteTopics(brokers(), topics))
  return (name) => {
    const t = uniqueTopic(name)
    topics.push(t)
    return t
  }
}

const withAdmin = async <A>(bs: ReadonlyArray<string>, f: (admin: IAdminClient) => Promise<A>): Promise<A> => {
  const admin = RdKafka.AdminClient.create({ "bootstrap.servers": bs.join(",") })
  try {
    return await f(admin)
  } finally {
    admin.disconnect()
  }
}

export const createTopics = (bs: ReadonlyArray<string>, topics: ReadonlyArray<string>, partitions = 3): Promise<void> =>
  withAdmin(bs, async (admin) => {
    for (const topic of topics) {
      await new Promise<void>((resolve, reject) =>
        admin.createTopic({ topic, num_partitions: partitions, replication_factor: 1 }, 15_000, (e) => (e ? reject(e) : resolve()))
      )
    }
  })

export const deleteTopics = (bs: ReadonlyArray<string>, topics: ReadonlyArray<string>): Promise<void> =>
  withAdmin(bs, async (admin) => {
    for (const topic of topics) {
      await new Promise<void>((resolve) => admin.deleteTopic(topic, 15_000, () => resolve()))
    }
  })

export interface Fixture {
  readonly topic: string
  readonly partition?: number
  readonly key?: string | null
  readonly value: string | Buffer | null
  readonly headers?: Record<string, string>
}

/** Produce messages and wait until all are acknowledged. */
export const produce = async (bs: ReadonlyArray<string>, messages: ReadonlyArray<Fixture>): Promise<void> => {
  const producer = new RdKafka.Producer({ "bootstrap.servers": bs.join(","), dr_cb: true, "linger.ms": 1 })
  await new Promise<void>((resolve, reject) => producer.connect({ timeout: 10_000 }, (e) => (e ? reject(e) : resolve())))
  try {
    let pending = messages.length
    const delivered = new Promise<void>((resolve, reject) => {
      if (pending === 0) resolve()
      producer.on("delivery-report", (err) => {
        if (err) reject(err)
        else if (--pending === 0) resolve()
      })
    })
    producer.setPollInterval(5)
    for (const m of messages) {
      const headers: Array<MessageHeader> | undefined = m.headers === undefined
        ? undefined
        : Object.entries(m.headers).map(([k, v]) => ({ [k]: v }))
      producer.produce(
        m.topic,
        m.partition ?? null,
        m.value === null ? null : Buffer.from(m.value),
        m.key ?? null,
        null,
        undefined,
        headers
      )
    }
    await delivered
  } finally {
    await new Promise<void>((resolve) => producer.disconnect(() => resolve()))
  }
}

export interface ReadBack {
  readonly topic: string
  readonly partition: number
  readonly offset: number
  readonly key: string | null
  readonly value: string | null
  readonly timestamp: number
  readonly headers: Record<string, string>
}

/** Every message now in `topic` (all partitions), by partition then offset. */
export const readTopic = async (
  bs: ReadonlyArray<string>,
  topic: string,
  isolation: "read_committed" | "read_uncommitted" = "read_committed"
): Promise<Array<ReadBack>> => {
  const partitions = await withAdmin(bs, (admin) =>
    new Promise<Array<number>>((resolve, reject) =>
      admin.describeTopics([topic], { timeout: 10_000 }, (e, r) => (e ? reject(e) : resolve(r[0]!.partitions.map((p) => p.partition))))
    ))
  const consumer = new RdKafka.KafkaConsumer({
    "bootstrap.servers": bs.join(","),
    "group.id": "weir-test-reader",
    "isolation.level": isolation,
    "enable.auto.commit": false,
    "enable.partition.eof": true
  })
  await new Promise<void>((resolve, reject) => consumer.connect({ timeout: 10_000 }, (e) => (e ? reject(e) : resolve())))
  const out: Array<ReadBack> = []
  try {
    const atEnd = new Set<number>()
    consumer.on("partition.eof", (e) => atEnd.add(e.partition))
    consumer.assign(partitions.map((partition) => ({ topic, partition, offset: -2 })))
    consumer.setDefaultConsumeTimeout(100)
    const deadline = Date.now() + 20_000
    while (atEnd.size < partitions.length) {
      if (Date.now() > deadline) throw new Error(`timed out reading ${topic}`)
      const batch = await new Promise<Array<Message>>((resolve, reject) =>
        consumer.consume(1000, (e, m) => (e ? reject(e) : resolve(m)))
      )
      for (const m of batch) out.push(readBack(m))
    }
  } finally {
    await new Promise<void>((resolve) => consumer.disconnect(() => resolve()))
  }
  return out.sort((a, b) => a.partition - b.partition || a.offset - b.offset)
}

const readBack = (m: Message): ReadBack => {
  const headers: Record<string, string> = {}
  for (const h of m.headers ?? []) for (const [k, v] of Object.entries(h)) headers[k] = v.toString()
  return {
    topic: m.topic,
    partition: m.partition,
    offset: m.offset,
    key: m.key === undefined || m.key === null ? null : m.key.toString(),
    value: m.value === null ? null : m.value.toString(),
    timestamp: m.timestamp ?? -1,
    headers
  }
}

/** A private broker needs scripts/kafka.sh's tools (Java, Maven) even when WEIR_KAFKA_BROKERS names another broker. */
export const canStartBroker = ["java", "mvn"].every((tool) => {
  try {
    execFileSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore" })
    return true
  } catch {
    return false
  }
})

/** Run scripts/kafka.sh with a command and extra environment; resolves with its output. */
export const kafkaScript = (command: "up" | "down" | "clean" | "url", env: Record<string, string>): Promise<string> =>
  new Promise((resolve, reject) => {
    const script = path.resolve(import.meta.dirname, "../../../scripts/kafka.sh")
    execFile("bash", [script, command], { env: { ...process.env, ...env }, encoding: "utf8" }, (err, stdout, stderr) =>
      err ? reject(new Error(`kafka.sh ${command} failed: ${stderr || err.message}`)) : resolve(stdout.trim()))
  })

/** `[key, value]` pairs as strings, sorted: for comparing what was read with what was produced. */
export const pairs = (ms: Iterable<{ readonly key?: Buffer | string | null | undefined; readonly value: Buffer | string | null }>) =>
  Array.from(ms, (m) => [m.key == null ? null : m.key.toString(), m.value == null ? null : m.value.toString()] as const).sort(
    (a, b) => (String(a[0]) + "\u0000" + String(a[1])).localeCompare(String(b[0]) + "\u0000" + String(b[1]))
  )
