/**
 * The exactly-once Kafka sink with real processes: `weir run` on a Kafka →
 * running count per key → Kafka flow with `exactlyOnce: true` and an
 * embedded store, SIGKILLed over and over and resumed until it finishes — on
 * 1 and 2 worker threads in turn (each resume a rescale). The kills come at
 * random moments and at the protocol's commit points, seen from outside:
 *
 * - right after a store commit (the store's files changed): the epoch is
 *   committed, its output not yet published;
 * - while a transaction is open (a `read_uncommitted` reader sees new
 *   output that a `read_committed` one does not have yet);
 * - right after a Kafka commit (a `read_committed` reader sees new output),
 *   before the store records that the epoch was published.
 *
 * Then a `read_committed` read of the output has every input exactly once,
 * and the counts show the state was exactly-once too. A control run with
 * the at-least-once sink, killed once, shows the same read would catch
 * duplicates.
 */
import { RdKafka } from "@confluentinc/kafka-javascript"
import type { KafkaConsumer, Message } from "@confluentinc/kafka-javascript"
import { initDbDir } from "@weir/recovery"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
// The same way the CLI's crash test watches its `weir run` processes.
import { type Exited, exited } from "../../cli/test/processes.js"
import { brokers, createTopics, fileTopics, produce, readTopic, type ReadBack } from "./kafka.js"

const bin = fileURLToPath(new URL("../../cli/bin/weir.js", import.meta.url))
const fixtures = fileURLToPath(new URL("./fixtures/", import.meta.url))
const topic = fileTopics()

const MESSAGES = 20_000
const KEYS = 40
const KILLS = 24

type Trigger = "random" | "after store commit" | "in transaction" | "after Kafka commit"
const TRIGGERS: ReadonlyArray<Trigger> = ["random", "after store commit", "in transaction", "after Kafka commit"]

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** A reader of `topic` from its current end that counts what arrives, at one isolation level. */
const tail = async (t: string, isolation: "read_committed" | "read_uncommitted") => {
  const consumer: KafkaConsumer = new RdKafka.KafkaConsumer({
    "bootstrap.servers": brokers().join(","),
    "group.id": "weir-test-tail",
    "isolation.level": isolation,
    "enable.auto.commit": false,
    "fetch.wait.max.ms": 5
  })
  await new Promise<void>((resolve, reject) => consumer.connect({ timeout: 10_000 }, (e) => (e ? reject(e) : resolve())))
  consumer.assign([0, 1, 2].map((partition) => ({ topic: t, partition, offset: -1 })))
  consumer.setDefaultConsumeTimeout(5)
  let seen = 0
  let stopped = false
  const loop = (async () => {
    while (!stopped) {
      const batch = await new Promise<Array<Message>>((resolve) => consumer.consume(500, (e, m) => resolve(e ? [] : m)))
      seen += batch.length
      if (batch.length === 0) await delay(1)
    }
  })()
  return {
    get seen() {
      return seen
    },
    async stop() {
      stopped = true
      await loop
      await new Promise<void>((resolve) => consumer.disconnect(() => resolve()))
    }
  }
}

/** The store's files' sizes and times: they change when an epoch commit is written. */
const storeStamp = (dir: string): string =>
  fs.readdirSync(dir).map((f) => {
    const s = fs.statSync(path.join(dir, f))
    return `${f}:${s.size}:${s.mtimeMs}`
  }).join("|")

/**
 * Run `weir run` until a run finishes, SIGKILLing the first `kills` runs at the moment
 * `triggers` name in turn (the runs alternate between 1 and 2 worker threads). Returns the
 * kills made, by trigger.
 */
const runWithKills = async (
  env: Record<string, string>,
  store: string,
  output: string,
  kills: number,
  triggers: ReadonlyArray<Trigger>,
  epochSeconds: string
): Promise<Map<Trigger, number>> => {
  const made = new Map<Trigger, number>()
  let killed = 0
  for (let attempt = 0; attempt < kills + 20; attempt++) {
    const workers = String(1 + (attempt % 2))
    const committed = await tail(output, "read_committed")
    const uncommitted = await tail(output, "read_uncommitted")
    const child = spawn(process.execPath, [bin, "run", "eos-flow.ts:flow", "-r", store, "-b", "0", "-s", epochSeconds, "-w", workers], {
      cwd: fixtures,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    const done = exited(child)
    let finished: Exited | undefined
    void done.then((e) => (finished = e))
    try {
      if (killed < kills) {
        const trigger = triggers[killed % triggers.length]!
        const deadline = Date.now() + 20_000
        const waitFor = async (cond: () => boolean) => {
          while (finished === undefined && Date.now() < deadline && !cond()) await delay(1)
        }
        switch (trigger) {
          case "random":
            await delay(300 + Math.random() * 3_000)
            break
          case "after store commit": {
            // Past start-up (its first commits), then the next commit.
            await waitFor(() => uncommitted.seen > 0)
            const stamp = storeStamp(store)
            await waitFor(() => storeStamp(store) !== stamp)
            break
          }
          case "in transaction": {
            await waitFor(() => committed.seen > 0)
            const base = committed.seen
            await waitFor(() => uncommitted.seen > base + 0 && uncommitted.seen > committed.seen)
            break
          }
          case "after Kafka commit": {
            await waitFor(() => committed.seen > 0)
            const base = committed.seen
            await waitFor(() => committed.seen > base)
            break
          }
        }
        if (finished === undefined) {
          child.kill("SIGKILL")
          killed++
          made.set(trigger, (made.get(trigger) ?? 0) + 1)
        }
      }
      const result = await done
      if (result.signal === "SIGKILL") continue
      if (result.code !== 0) throw new Error(`weir run exited with ${result.code}:\n${result.stderr}`)
      return made
    } finally {
      await committed.stop()
      await uncommitted.stop()
    }
  }
  throw new Error(`the flow did not finish after ${kills + 20} runs`)
}

/** Per input value, how often it is in `read`; and whether each key's counts are exactly 1..n. */
const examine = (read: ReadonlyArray<ReadBack>) => {
  const times = new Map<string, number>()
  const counts = new Map<string, Array<number>>()
  for (const m of read) {
    const [value, count] = m.value!.split("#") as [string, string]
    times.set(value, (times.get(value) ?? 0) + 1)
    let list = counts.get(m.key!)
    if (list === undefined) counts.set(m.key!, (list = []))
    list.push(Number(count))
  }
  const duplicated = [...times.values()].filter((n) => n > 1).length
  const stateExact = [...counts.values()].every((list) => list.every((c, i) => c === i + 1))
  return { times, duplicated, stateExact }
}

const setUp = async (name: string) => {
  const [input, output] = [topic(`${name}-in`), topic(`${name}-out`)]
  await createTopics(brokers(), [input, output])
  await produce(brokers(), Array.from({ length: MESSAGES }, (_, i) => ({ topic: input, partition: i % 3, key: `k${i % KEYS}`, value: `m${i}` })))
  const store = fs.mkdtempSync(path.join(os.tmpdir(), "weir-eos-kills-"))
  await initDbDir(store, 1)
  return { input, output, store }
}

describe("weir run with an exactly-once KafkaSink, killed with SIGKILL", () => {
  it(`survives ${KILLS} kills, at random moments and at every commit point: each input exactly once`, async () => {
    const { input, output, store } = await setUp("eos")
    const env = {
      BROKERS: brokers().join(","),
      IN: input,
      OUT: output,
      PREFIX: `weir-test-kills-${Date.now().toString(36)}`,
      WORK_MS: "1"
    }
    const made = await runWithKills(env, store, output, KILLS, TRIGGERS, "0.2")
    expect([...made.values()].reduce((a, b) => a + b, 0)).toBe(KILLS)

    const read = await readTopic(brokers(), output, "read_committed")
    const { times, duplicated, stateExact } = examine(read)
    expect(duplicated).toBe(0)
    expect(times.size).toBe(MESSAGES)
    expect(read).toHaveLength(MESSAGES)
    expect(stateExact).toBe(true)
    // The kills did interrupt transactions: what they had written is there, aborted.
    const everything = await readTopic(brokers(), output, "read_uncommitted")
    console.log(
      `exactly-once kill test: ${KILLS} kills (${[...made].map(([t, n]) => `${n} ${t}`).join(", ")}); ` +
        `read_committed ${read.length} messages, read_uncommitted ${everything.length}`
    )
  }, 600_000)

  it("(control) the same read finds duplicates from the at-least-once sink after one kill", async () => {
    const { input, output, store } = await setUp("alo")
    const env = {
      BROKERS: brokers().join(","),
      IN: input,
      OUT: output,
      PREFIX: "unused",
      EXACTLY_ONCE: "0"
    }
    // Long epochs: the kill comes before the first commit, so the resume writes that output again.
    await runWithKills(env, store, output, 1, ["after Kafka commit"], "30")
    const { times, duplicated } = examine(await readTopic(brokers(), output, "read_committed"))
    expect(times.size).toBe(MESSAGES)
    expect(duplicated).toBeGreaterThan(0)
  }, 120_000)
})
