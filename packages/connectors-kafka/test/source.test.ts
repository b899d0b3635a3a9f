import { Dataflow, EOF, op, runMain, type StatefulSourcePartition } from "@weir/core"
import { pollNextBatch, TestingSink } from "@weir/testing"
import { beforeAll, describe, expect, it } from "vitest"
import { Context } from "effect"
import { PrometheusMetrics } from "effect/observability"
import { consumerLag, KafkaError, KafkaSource, KafkaSourceMessage } from "../src/index.js"
import { brokers, createTopics, fileTopics, type Fixture, pairs, produce } from "./kafka.js"

const topic = fileTopics()

const fixtures = (t: string, count: number, partitions = 3): Array<Fixture> =>
  Array.from({ length: count }, (_, i) => ({ topic: t, partition: i % partitions, key: `k${i}`, value: `${t}:v${i}` }))

/** Read a partition to its end, batch by batch. */
const drain = async <X>(part: StatefulSourcePartition<X, number>): Promise<Array<X>> => {
  const out: Array<X> = []
  for (;;) {
    const batch = await pollNextBatch(part, "10 seconds")
    if (batch === EOF) return out
    out.push(...batch)
  }
}

describe("KafkaSource", () => {
  const [t1, t2] = [topic("input-a"), topic("input-b")]
  const produced = [...fixtures(t1, 30), ...fixtures(t2, 21)]
  beforeAll(async () => {
    await createTopics(brokers(), [t1, t2], 3)
    await produce(brokers(), produced)
  })

  it("reads every message of several multi-partition topics and ends at their end with tail: false", async () => {
    const out: Array<KafkaSourceMessage> = []
    const flow = new Dataflow("read_all")
    op.output("out", op.input("in", flow, new KafkaSource(brokers(), [t1, t2], { tail: false, batchSize: 7 })), new TestingSink(out))
    await runMain(flow, { epochInterval: 5 })
    expect(pairs(out)).toEqual(pairs(produced))
    for (const m of out) {
      expect(m).toBeInstanceOf(KafkaSourceMessage)
      expect([t1, t2]).toContain(m.topic)
      expect(m.timestamp).toBeInstanceOf(Date)
      expect(Math.abs(m.timestamp.getTime() - Date.now())).toBeLessThan(120_000)
    }
    // Offsets run from 0 without gaps in every partition.
    for (const t of [t1, t2]) {
      for (let p = 0; p < 3; p++) {
        const offsets = out.filter((m) => m.topic === t && m.partition === p).map((m) => m.offset).sort((a, b) => a - b)
        expect(offsets).toEqual(offsets.map((_, i) => i))
      }
    }
  })

  it("names one partition per topic-partition as '<index>-<topic>'", async () => {
    const parts = await new KafkaSource(brokers(), [t1, t2]).listParts()
    expect(parts.sort()).toEqual([`0-${t1}`, `0-${t2}`, `1-${t1}`, `1-${t2}`, `2-${t1}`, `2-${t2}`].sort())
  })

  it("snapshots the next offset to read and resumes from it", async () => {
    // test_input_resume_state: read k0, k3 (partition 0 holds every third fixture), snapshot, read k6; rebuild from the snapshot.
    const source = new KafkaSource(brokers(), [t1], { tail: false, batchSize: 1 })
    const part = await source.buildPart("test.in", `0-${t1}`, undefined)
    expect(part.snapshot()).toBe(-2) // OFFSET_BEGINNING until something was read
    const first = [...(await pollNextBatch(part) as Array<KafkaSourceMessage>), ...(await pollNextBatch(part) as Array<KafkaSourceMessage>)]
    expect(first.map((m) => m.key?.toString())).toEqual(["k0", "k3"])
    const snap = part.snapshot()
    expect(snap).toBe(2)
    const third = await pollNextBatch(part) as Array<KafkaSourceMessage>
    expect(third.map((m) => m.key?.toString())).toEqual(["k6"])
    await part.close?.()

    const resumed = await source.buildPart("test.in", `0-${t1}`, snap)
    expect(resumed.snapshot()).toBe(snap)
    const rest = await drain(resumed)
    expect(rest.map((m) => (m as KafkaSourceMessage).key?.toString())).toEqual(
      ["k6", "k9", "k12", "k15", "k18", "k21", "k24", "k27"]
    )
    expect(resumed.snapshot()).toBe(10)
    await resumed.close?.()
  })

  it("reports consumer lag per partition", async () => {
    const source = new KafkaSource(brokers(), [t1], { tail: false, batchSize: 4 })
    const part = await source.buildPart("lag.in", `1-${t1}`, undefined)
    await pollNextBatch(part)
    expect(consumerLag.get("lag.in", t1, 1)).toBe(6)
    expect(consumerLag.toPrometheus()).toContain(`weir_kafka_consumer_lag{step_id="lag.in",topic="${t1}",partition="1"} 6`)
    // The same reading is in Effect's metric registry, which `weir run --metrics-port` serves.
    expect(PrometheusMetrics.formatUnsafe(Context.empty())).toContain(
      `weir_kafka_consumer_lag{step_id="lag.in",topic="${t1}",partition="1"} 6`
    )
    await drain(part)
    expect(consumerLag.get("lag.in", t1, 1)).toBe(0)
    await part.close?.()
    expect(consumerLag.get("lag.in", t1, 1)).toBeUndefined()
  })

  it("starts at the end with startingOffset 'end'", async () => {
    const part = await new KafkaSource(brokers(), [t2], { tail: false, startingOffset: "end" }).buildPart("s.in", `0-${t2}`, undefined)
    expect(await drain(part)).toEqual([])
    await part.close?.()
  })

  it("fails the run clearly when a topic does not exist", async () => {
    const missing = `weir-test-missing-${Date.now()}`
    const flow = new Dataflow("missing")
    op.output("out", op.input("in", flow, new KafkaSource(brokers(), [t1, missing], { tail: false })), new TestingSink())
    await expect(runMain(flow)).rejects.toThrow(
      new RegExp(`error listing partitions for Kafka topic '${missing}': Broker: Unknown topic or partition`)
    )
  })

  it("refuses a string where a list of brokers or topics is expected", () => {
    expect(() => new KafkaSource("127.0.0.1:9092" as unknown as Array<string>, [t1])).toThrow(
      new TypeError("brokers must be an iterable and not a string")
    )
    expect(() => new KafkaSource(brokers(), t1 as unknown as Array<string>)).toThrow(
      new TypeError("topics must be an iterable and not a string")
    )
    expect(() => new KafkaSource(brokers(), [t1], { batchSize: 0 })).toThrow(/batchSize must be a positive integer/)
    expect(() => new KafkaSource(brokers(), [t1], { startingOffset: -7 })).toThrow(/startingOffset must be/)
  })

  it("fails naming the topic and partition on a consumer error", async () => {
    // Offset 1000 is past the end and auto.offset.reset=error forbids jumping: librdkafka reports an error.
    const source = new KafkaSource(brokers(), [t2], { addConfig: { "auto.offset.reset": "error" } })
    const part = await source.buildPart("err.in", `1-${t2}`, 1000)
    await expect(pollNextBatch(part, "10 seconds")).rejects.toThrow(
      new RegExp(`error consuming from Kafka topic '${t2}' partition 1: .*ERR__AUTO_OFFSET_RESET`)
    )
    await part.close?.()
  })

  it("emits KafkaError items instead with raiseOnErrors: false", async () => {
    const source = new KafkaSource(brokers(), [t2], { addConfig: { "auto.offset.reset": "error" }, raiseOnErrors: false })
    const part = await source.buildPart("err.in", `2-${t2}`, 1000)
    const [item] = (await pollNextBatch(part, "10 seconds")) as Array<KafkaSourceMessage | KafkaError>
    expect(item).toBeInstanceOf(KafkaError)
    const err = item as KafkaError
    expect(err.err.name).toBe("ERR__AUTO_OFFSET_RESET")
    expect(err.msg.topic).toBe(t2)
    expect(err.msg.partition).toBe(2)
    expect(err.msg.offset).toBe(1000)
    expect(part.snapshot()).toBe(1000)
    await part.close?.()
  })
})
