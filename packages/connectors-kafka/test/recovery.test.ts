import { Dataflow, FixedPartitionedSource, op, runMain } from "@weir/core"
import { initDbDir, RecoveryConfig } from "@weir/recovery"
import { TestingSink } from "@weir/testing"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { KafkaSource, type KafkaSourceMessage } from "../src/index.js"
import { CrashingSource } from "./crashing.js"
import { brokers, createTopics, fileTopics, produce } from "./kafka.js"

const topic = fileTopics()

const flowOf = (source: FixedPartitionedSource<KafkaSourceMessage, number>, out: Array<string>): Dataflow => {
  const flow = new Dataflow("resume")
  const values = op.map("value", op.input("in", flow, source), (m: KafkaSourceMessage) => m.value!.toString())
  op.output("out", values, new TestingSink(out))
  return flow
}

describe("KafkaSource with recovery", () => {
  it("resumes from the snapshotted offsets after a crash: nothing lost, duplicates only from the resume epoch", async () => {
    const t = topic("resume")
    await createTopics(brokers(), [t], 3)
    const all = Array.from({ length: 90 }, (_, i) => `v${i}`)
    await produce(brokers(), all.map((value, i) => ({ topic: t, partition: i % 3, key: `k${i}`, value })))
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "weir-kafka-recovery-"))
    await initDbDir(dir, 1)
    const recovery = new RecoveryConfig(dir)
    const batchSize = 4

    const first: Array<string> = []
    const crashing = new CrashingSource(new KafkaSource(brokers(), [t], { tail: false, batchSize }), 40)
    await runMain(flowOf(crashing, first), { epochInterval: 1, recovery })
    expect(crashing.crashed).toBe(true)
    expect(first.length).toBeGreaterThanOrEqual(40)
    expect(first.length).toBeLessThan(90)

    const second: Array<string> = []
    await runMain(flowOf(new KafkaSource(brokers(), [t], { tail: false, batchSize }), second), { epochInterval: 1, recovery })
    expect(new Set([...first, ...second])).toEqual(new Set(all))
    // Only the batches of the epoch the crash interrupted are read again: at most one per partition.
    const again = second.filter((v) => first.includes(v))
    expect(again.length).toBeLessThanOrEqual(3 * batchSize)
    expect(second.length).toBe(90 - first.length + again.length)

    // Continuation: the end-of-input snapshots let a rerun read only what is new.
    const third: Array<string> = []
    await runMain(flowOf(new KafkaSource(brokers(), [t], { tail: false, batchSize }), third), { epochInterval: 1, recovery })
    expect(third).toEqual([])
    await produce(brokers(), [0, 1, 2, 3, 4, 5].map((i) => ({ topic: t, partition: i % 3, key: "new", value: `new${i}` })))
    await runMain(flowOf(new KafkaSource(brokers(), [t], { tail: false, batchSize }), third), { epochInterval: 1, recovery })
    expect(third.sort()).toEqual(["new0", "new1", "new2", "new3", "new4", "new5"])
    fs.rmSync(dir, { recursive: true, force: true })
  })
})
