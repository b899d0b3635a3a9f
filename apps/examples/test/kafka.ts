/**
 * Talking to the test broker directly (not through Weir), as in
 * packages/connectors-kafka/test/kafka.ts: create and delete topics, produce
 * the input, read back what the example wrote.
 */
import { RdKafka } from "@confluentinc/kafka-javascript"
import type { IAdminClient, Message } from "@confluentinc/kafka-javascript"

/** The broker (started by connectors-kafka's test/global-setup.ts unless WEIR_KAFKA_BROKERS is set). */
export const brokers = (): string => {
  const b = process.env.WEIR_KAFKA_BROKERS
  if (!b) throw new Error("WEIR_KAFKA_BROKERS is not set (the global setup starts a broker)")
  return b
}

let counter = 0
/** A topic name no other test (or earlier run) uses; `weir-test-*`, as the broker's tests expect. */
export const uniqueTopic = (name: string): string => `weir-test-examples-${name}-${process.pid}-${Date.now().toString(36)}-${counter++}`

const withAdmin = async <A>(f: (admin: IAdminClient) => Promise<A>): Promise<A> => {
  const admin = RdKafka.AdminClient.create({ "bootstrap.servers": brokers() })
  try {
    return await f(admin)
  } finally {
    admin.disconnect()
  }
}

export const createTopic = (topic: string, partitions: number): Promise<void> =>
  withAdmin((admin) =>
    new Promise<void>((resolve, reject) =>
      admin.createTopic({ topic, num_partitions: partitions, replication_factor: 1 }, 15_000, (e) => (e ? reject(e) : resolve()))
    ))

export const deleteTopic = (topic: string): Promise<void> =>
  withAdmin((admin) => new Promise<void>((resolve) => admin.deleteTopic(topic, 15_000, () => resolve())))

/**
 * Produce `[key, value]` messages to partition 0 of `topic` (or, with `partition: null`, to the
 * partition the producer picks from the key), in order, and wait until all are acknowledged.
 */
export const produce = async (
  topic: string,
  messages: ReadonlyArray<readonly [string, string]>,
  partition: number | null = 0
): Promise<void> => {
  const producer = new RdKafka.Producer({ "bootstrap.servers": brokers(), dr_cb: true, "linger.ms": 1, "enable.idempotence": true })
  await new Promise<void>((resolve, reject) => producer.connect({ timeout: 10_000 }, (e) => (e ? reject(e) : resolve())))
  try {
    let pending = messages.length
    const delivered = new Promise<void>((resolve, reject) => {
      producer.on("delivery-report", (err) => {
        if (err) reject(err)
        else if (--pending === 0) resolve()
      })
    })
    producer.setPollInterval(5)
    for (const [key, value] of messages) producer.produce(topic, partition, Buffer.from(value), key)
    await delivered
  } finally {
    await new Promise<void>((resolve) => producer.disconnect(() => resolve()))
  }
}

/**
 * Every `[key, value]` now in partitions 0 to `partitions - 1` of `topic` (default: partition 0),
 * partition by partition in offset order, as a reader with `isolation` (default `read_committed`:
 * without the messages of aborted transactions) sees them.
 */
export const readTopic = async (
  topic: string,
  { partitions = 1, isolation = "read_committed" }: {
    readonly partitions?: number
    readonly isolation?: "read_committed" | "read_uncommitted"
  } = {}
): Promise<Array<readonly [string | null, string | null]>> => {
  const consumer = new RdKafka.KafkaConsumer({
    "bootstrap.servers": brokers(),
    "group.id": "weir-test-examples-reader",
    "isolation.level": isolation,
    "enable.auto.commit": false,
    "enable.partition.eof": true
  })
  await new Promise<void>((resolve, reject) => consumer.connect({ timeout: 10_000 }, (e) => (e ? reject(e) : resolve())))
  const read: Array<Array<readonly [string | null, string | null]>> = Array.from({ length: partitions }, () => [])
  try {
    const atEnd = new Set<number>()
    consumer.on("partition.eof", (e) => atEnd.add(e.partition))
    consumer.assign(read.map((_, partition) => ({ topic, partition, offset: -2 }))) // -2: from the beginning
    consumer.setDefaultConsumeTimeout(100)
    const deadline = Date.now() + 20_000
    while (atEnd.size < partitions) {
      if (Date.now() > deadline) throw new Error(`timed out reading ${topic}`)
      const batch = await new Promise<Array<Message>>((resolve, reject) => consumer.consume(1000, (e, m) => (e ? reject(e) : resolve(m))))
      for (const m of batch) read[m.partition]!.push([m.key == null ? null : m.key.toString(), m.value === null ? null : m.value.toString()])
    }
  } finally {
    await new Promise<void>((resolve) => consumer.disconnect(() => resolve()))
  }
  return read.flat()
}

/**
 * The sum of the high watermarks of partitions 0 to `partitions - 1` of `topic`: how many offsets
 * have been written, counting messages of open and aborted transactions and transaction markers.
 */
export const highWatermarks = async (topic: string, partitions: number): Promise<number> => {
  const consumer = new RdKafka.KafkaConsumer({ "bootstrap.servers": brokers(), "group.id": "weir-test-examples-reader" })
  await new Promise<void>((resolve, reject) => consumer.connect({ timeout: 10_000 }, (e) => (e ? reject(e) : resolve())))
  try {
    let sum = 0
    for (let partition = 0; partition < partitions; partition++) {
      sum += await new Promise<number>((resolve, reject) =>
        consumer.queryWatermarkOffsets(topic, partition, 5_000, (e, w) => (e ? reject(e) : resolve(w.highOffset))))
    }
    return sum
  } finally {
    await new Promise<void>((resolve) => consumer.disconnect(() => resolve()))
  }
}
