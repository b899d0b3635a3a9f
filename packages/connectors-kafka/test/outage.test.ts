/**
 * A broker that goes away mid-run. These tests start their own broker (a
 * second instance of scripts/kafka.sh with its own state directory) so that
 * stopping it disturbs no other test.
 */
import { Dataflow, EOF, FixedPartitionedSource, op, runMain, type StatefulSourcePartition } from "@weir/core"
import { initDbDir, RecoveryConfig } from "@weir/recovery"
import { TestingSink } from "@weir/testing"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { isKafkaError, KafkaError, KafkaSource, type KafkaSourceItem, KafkaSourceMessage } from "../src/index.js"
import { canStartBroker, createTopics, kafkaScript, produce, uniqueTopic } from "./kafka.js"


const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "weir-kafka-outage-"))
const env = { WEIR_KAFKA_DIR: stateDir }
let bs: Array<string> = []

beforeAll(async () => {
  if (canStartBroker) bs = [await kafkaScript("up", env)]
}, 120_000)
afterAll(async () => {
  if (canStartBroker) await kafkaScript("clean", env)
  fs.rmSync(stateDir, { recursive: true, force: true })
}, 60_000)

const until = async (what: string, cond: () => boolean, timeoutMs = 30_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** Ends every partition of the wrapped source once `stop` is set: a way to end a tailing run. */
class StoppableSource<X, S> extends FixedPartitionedSource<X, S> {
  stop = false
  constructor(private readonly inner: FixedPartitionedSource<X, S>) {
    super()
  }
  listParts() {
    return this.inner.listParts()
  }
  async buildPart(stepId: string, forPart: string, resume: S | undefined): Promise<StatefulSourcePartition<X, S>> {
    const part = (await this.inner.buildPart(stepId, forPart, resume)) as StatefulSourcePartition<X, S>
    return {
      nextBatch: () => (this.stop ? EOF : part.nextBatch()),
      nextAwake: () => part.nextAwake?.(),
      snapshot: () => part.snapshot(),
      close: () => part.close?.()
    }
  }
}

const values = (ms: Iterable<KafkaSourceMessage>): Array<string> => Array.from(ms, (m) => m.value!.toString()).sort()
const fixtures = (t: string, from: number, count: number) =>
  Array.from({ length: count }, (_, i) => ({ topic: t, partition: (from + i) % 2, key: `k${from + i}`, value: `v${from + i}` }))

describe.skipIf(!canStartBroker)("a broker stopped mid-run", () => {
  it("fails the run clearly; a resumed run loses nothing once the broker is back", async () => {
    const t = uniqueTopic("outage")
    await createTopics(bs, [t], 2)
    await produce(bs, fixtures(t, 0, 100))
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "weir-kafka-outage-rec-"))
    await initDbDir(dir, 1)
    const recovery = new RecoveryConfig(dir)
    const flowOf = (source: KafkaSource, out: Array<KafkaSourceMessage>) => {
      const flow = new Dataflow("outage")
      op.output("out", op.input("in", flow, source), new TestingSink(out))
      return flow
    }

    const first: Array<KafkaSourceMessage> = []
    const run = runMain(flowOf(new KafkaSource(bs, [t], { batchSize: 10 }), first), { epochInterval: 5, recovery })
    const failed = run.then(() => undefined, (e: unknown) => e)
    await until("the first 100 messages", () => first.length >= 100)
    await kafkaScript("down", env)
    const error = await failed
    expect(error).toBeInstanceOf(Error)
    expect(String((error as Error).message)).toMatch(
      new RegExp(`error consuming from Kafka topic '${t}' partition [01]: .*ERR__ALL_BROKERS_DOWN`)
    )

    await kafkaScript("up", env)
    await produce(bs, fixtures(t, 100, 50))
    const second: Array<KafkaSourceMessage> = []
    await runMain(flowOf(new KafkaSource(bs, [t], { tail: false, batchSize: 10 }), second), { epochInterval: 5, recovery })
    const all = values(fixtures(t, 0, 150).map((f) =>
      new KafkaSourceMessage({ ...f, key: null, value: Buffer.from(f.value), offset: 0, timestamp: new Date() })
    ))
    expect(new Set([...values(first), ...values(second)])).toEqual(new Set(all))
    // The first run was idle for a while before the broker stopped: its snapshots were current.
    expect(values(second)).toEqual(values(fixtures(t, 100, 50).map((f) =>
      new KafkaSourceMessage({ ...f, key: null, value: Buffer.from(f.value), offset: 0, timestamp: new Date() })
    )))
    fs.rmSync(dir, { recursive: true, force: true })
  }, 120_000)

  it("with raiseOnErrors: false, reports the outage as KafkaError items and carries on when the broker returns", async () => {
    const t = uniqueTopic("outage-items")
    await createTopics(bs, [t], 2)
    await produce(bs, fixtures(t, 0, 60))
    const oks: Array<KafkaSourceMessage> = []
    const errs: Array<KafkaError> = []
    const source = new StoppableSource<KafkaSourceItem<false>, number>(
      new KafkaSource(bs, [t], { batchSize: 10, raiseOnErrors: false })
    )
    const flow = new Dataflow("outage_items")
    const { trues, falses } = op.branch("split", op.input("in", flow, source), isKafkaError)
    op.output("errs", trues, new TestingSink(errs))
    op.output("oks", falses, new TestingSink(oks))
    const run = runMain(flow, { epochInterval: 5 })

    await until("the first 60 messages", () => oks.length >= 60)
    await kafkaScript("down", env)
    await until("an error item", () => errs.length >= 1)
    await kafkaScript("up", env)
    await produce(bs, fixtures(t, 60, 40))
    await until("the 40 messages produced after the restart", () => oks.length >= 100, 60_000)
    source.stop = true
    await run

    expect(errs[0]).toBeInstanceOf(KafkaError)
    expect(errs[0]!.err.name).toBe("ERR__ALL_BROKERS_DOWN")
    expect(errs[0]!.msg.topic).toBe(t)
    expect(values(oks)).toEqual(fixtures(t, 0, 100).map((f) => f.value).sort())
  }, 120_000)
})
