import { Dataflow, op, runMain } from "@weir/core"
import { TestingSource } from "@weir/testing"
import { beforeAll, describe, expect, it } from "vitest"
import { KafkaSink, type KafkaSinkMessage, kop } from "../src/index.js"
import { brokers, createTopics, fileTopics, pairs, produce, readTopic } from "./kafka.js"

const topic = fileTopics()

const write = async (items: Array<KafkaSinkMessage>, sink: KafkaSink): Promise<void> => {
  const flow = new Dataflow("write")
  op.output("out", op.input("in", flow, new TestingSource(items, 3)), sink)
  await runMain(flow, { epochInterval: 5 })
}

describe("KafkaSink", () => {
  const [main, other] = [topic("sink-main"), topic("sink-other")]
  beforeAll(() => createTopics(brokers(), [main, other], 3))

  it("writes keys, values, headers and timestamps to per-message topics and explicit partitions", async () => {
    const at = new Date("2024-05-01T12:00:00.000Z")
    await write([
      { key: "a", value: "to main, partition 2", partition: 2, headers: { trace: "t-1", bin: Buffer.from([1, 2]) } },
      { key: "b", value: Buffer.from("to other, partition 1"), topic: other, partition: 1, timestamp: at },
      { key: null, value: "no key, partition 0", partition: 0 },
      { key: "c", value: null, topic: other, partition: 0 },
      { key: "d", value: "partitioner's choice" }
    ], new KafkaSink(brokers(), main))

    const inMain = await readTopic(brokers(), main)
    const inOther = await readTopic(brokers(), other)
    expect(inMain.map((m) => [m.partition, m.key, m.value])).toEqual(expect.arrayContaining([
      [2, "a", "to main, partition 2"],
      [0, null, "no key, partition 0"]
    ]))
    expect(inMain.find((m) => m.key === "d")?.value).toBe("partitioner's choice")
    expect(inMain).toHaveLength(3)
    expect(inMain.find((m) => m.key === "a")?.headers).toEqual({ trace: "t-1", bin: "\u0001\u0002" })
    expect(inOther.map((m) => [m.partition, m.key, m.value])).toEqual([[0, "c", null], [1, "b", "to other, partition 1"]])
    expect(inOther.find((m) => m.key === "b")?.timestamp).toBe(at.getTime())
  })

  it("fails the run when a message has no topic and the sink none either", async () => {
    const flow = new Dataflow("no_topic")
    op.output("out", op.input("in", flow, new TestingSource([{ key: "k", value: "v" }])), new KafkaSink(brokers()))
    await expect(runMain(flow)).rejects.toThrow(/no topic to produce to for a message with key k/)
  })

  it("fails the run on a partition the topic does not have", async () => {
    const flow = new Dataflow("bad_partition")
    op.output("out", op.input("in", flow, new TestingSource([{ value: "v", partition: 7 }])), new KafkaSink(brokers(), main))
    await expect(runMain(flow)).rejects.toThrow(new RegExp(`Unknown partition|ERR__UNKNOWN_PARTITION`))
  })

  it("copies messages between topics with kop.input and kop.output", async () => {
    const [from, to] = [topic("copy-from"), topic("copy-to")]
    await createTopics(brokers(), [from, to], 2)
    const produced = Array.from({ length: 40 }, (_, i) => ({
      topic: from,
      partition: i % 2,
      key: `k${i}`,
      value: `v${i}`,
      headers: { n: String(i) }
    }))
    await produce(brokers(), produced)
    const flow = new Dataflow("copy")
    const { oks } = kop.input("in", flow, { brokers: brokers(), topics: [from], tail: false })
    kop.output("out", oks, { brokers: brokers(), topic: to })
    await runMain(flow, { epochInterval: 5 })
    const copied = await readTopic(brokers(), to)
    expect(pairs(copied)).toEqual(pairs(produced))
    for (const m of copied) expect(m.headers).toEqual({ n: m.key!.slice(1) })
  })
})
