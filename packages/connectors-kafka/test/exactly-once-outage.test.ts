/**
 * The exactly-once Kafka sink (`exactlyOnce: true`) when a transaction is
 * cut in the middle: by the broker killed (SIGKILL) and restarted — the run
 * retries and finishes — and by the process stalled (SIGSTOP) past
 * `transaction.timeout.ms` — the broker aborts the transaction, the run
 * fails, and a resume finishes it. Either way a `read_committed` read of the
 * output has every input exactly once.
 *
 * The flow (Kafka → map → a slowed inspect → the sink, with a SQLite
 * recovery store) runs in a child process, fixtures/exactly-once-flow.ts,
 * so that the tails of the output here react at once. A transaction is cut
 * the moment the `read_uncommitted` tail gets the first message of a
 * transaction on a partition that the `read_committed` tail has not: the
 * producer sends one message per request (`SLOW_DELIVERY`), and commits only
 * once the last is delivered, so the transaction is still open then.
 *
 * These tests start their own broker (a second instance of scripts/kafka.sh
 * with its own state directory, as in outage.test.ts) so that killing it
 * disturbs no other test.
 */
import { RdKafka } from "@confluentinc/kafka-javascript"
import type { Message } from "@confluentinc/kafka-javascript"
import { initDbDir } from "@weir/recovery"
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { brokers, canStartBroker, createTopics, deleteTopics, kafkaScript, produce, readTopic, uniqueTopic } from "./kafka.js"


const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "weir-kafka-eos-outage-"))
const env = { WEIR_KAFKA_DIR: stateDir }
const fixture = path.resolve(import.meta.dirname, "fixtures/exactly-once-flow.ts")
let bs: Array<string> = []
/** Topics to delete at the end, with their brokers. */
const topics: Array<readonly [ReadonlyArray<string>, string]> = []
const dirs: Array<string> = []

beforeAll(async () => {
  if (canStartBroker) bs = [await kafkaScript("up", env)]
}, 120_000)
afterAll(async () => {
  if (canStartBroker) {
    for (const [where, t] of topics) await deleteTopics(where, [t])
    await kafkaScript("clean", env)
  }
  for (const dir of [stateDir, ...dirs]) fs.rmSync(dir, { recursive: true, force: true })
}, 60_000)

const PARTITIONS = 3
/**
 * The sink's producer sends one message per request, one request at a time:
 * a transaction's messages arrive over a while and its commit only after the
 * last, so a cut at its first message lands inside it.
 */
const SLOW_DELIVERY = { "batch.num.messages": 1, "max.in.flight.requests.per.connection": 1 }
const N = 3_000

/**
 * A fresh input topic on `inputBrokers` holding `N` messages, and a fresh
 * output topic on the private broker; resolves with the values the output
 * must hold.
 */
const topicsWithInput = async (
  name: string,
  inputBrokers: ReadonlyArray<string>
): Promise<{ input: string; output: string; want: Array<string> }> => {
  const [input, output] = [uniqueTopic(`${name}-in`), uniqueTopic(`${name}-out`)]
  topics.push([inputBrokers, input], [bs, output])
  await createTopics(inputBrokers, [input], PARTITIONS)
  await createTopics(bs, [output], PARTITIONS)
  await produce(inputBrokers, Array.from({ length: N }, (_, i) => ({ topic: input, key: `k${i % 17}`, value: `m${i}` })))
  return { input, output, want: Array.from({ length: N }, (_, i) => `m${i}!`).sort() }
}

const freshStoreDir = async (): Promise<string> => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "weir-eos-outage-store-"))
  dirs.push(dir)
  await initDbDir(dir, 1)
  return dir
}

const until = async (what: string, cond: () => boolean, timeoutMs = 60_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(10)
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

const at = (m: { readonly partition: number; readonly offset: number }): string => `${m.partition}:${m.offset}`

/** A consumer following every partition of `topic` from its start: what it has seen so far, as it arrives. */
class Tail {
  readonly seen = new Set<string>()
  private readonly listeners: Array<(m: Message) => void> = []
  private running = true
  private readonly loop: Promise<void>

  private constructor(private readonly consumer: InstanceType<typeof RdKafka.KafkaConsumer>) {
    this.loop = this.follow()
  }

  static async open(topic: string, isolation: "read_committed" | "read_uncommitted"): Promise<Tail> {
    const consumer = new RdKafka.KafkaConsumer({
      "bootstrap.servers": bs.join(","),
      "group.id": `weir-test-tail-${isolation}-${process.pid}-${Date.now().toString(36)}`,
      "isolation.level": isolation,
      "enable.auto.commit": false,
      "fetch.wait.max.ms": 10
    })
    await new Promise<void>((resolve, reject) => consumer.connect({ timeout: 10_000 }, (e) => (e ? reject(e) : resolve())))
    consumer.assign(Array.from({ length: PARTITIONS }, (_, partition) => ({ topic, partition, offset: -2 })))
    consumer.setDefaultConsumeTimeout(20)
    return new Tail(consumer)
  }

  private async follow(): Promise<void> {
    while (this.running) {
      // One at a time, to see each as soon as it arrives; errors while the broker is away are retried by the client.
      const batch = await new Promise<Array<Message>>((resolve) => this.consumer.consume(1, (e, ms) => resolve(e ? [] : ms)))
      for (const m of batch) {
        this.seen.add(at(m))
        for (const l of this.listeners) l(m)
      }
    }
  }

  onMessage(l: (m: Message) => void): void {
    this.listeners.push(l)
  }

  async close(): Promise<void> {
    this.running = false
    this.listeners.length = 0
    await this.loop
    this.consumer.unassign()
    await new Promise<void>((resolve) => this.consumer.disconnect(() => resolve()))
  }
}

/**
 * Tails of the output: calls `cut` (once per `arm()`), once `after` messages
 * were seen, the moment the `read_uncommitted` tail gets the first message
 * of a transaction on a partition (the offset before it is the previous
 * transaction's commit marker) that the `read_committed` one has not.
 */
const watchTransactions = async (output: string, after: number, cut: (m: Message) => void) => {
  const committed = await Tail.open(output, "read_committed")
  const uncommitted = await Tail.open(output, "read_uncommitted")
  const last = new Map<number, number>()
  let armed = true
  uncommitted.onMessage((m) => {
    const first = m.offset > (last.get(m.partition) ?? -1) + 1
    last.set(m.partition, m.offset)
    if (armed && first && uncommitted.seen.size >= after && !committed.seen.has(at(m))) {
      armed = false
      cut(m)
    }
  })
  return {
    committed,
    uncommitted,
    arm: () => {
      armed = true
    },
    close: () => Promise.all([committed.close(), uncommitted.close()])
  }
}

interface Exited {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stderr: string
}

/** Run fixtures/exactly-once-flow.ts in a child process with `vars` in its environment. */
const runChild = (vars: Record<string, string>): { readonly process: ChildProcess; readonly exited: Promise<Exited> } => {
  const child = spawn(process.execPath, ["--conditions=@weir/source", "--import", "tsx", fixture], {
    cwd: path.resolve(import.meta.dirname, ".."),
    env: { ...process.env, ...vars },
    stdio: ["ignore", "ignore", "pipe"]
  })
  let stderr = ""
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()))
  const exited = new Promise<Exited>((resolve, reject) => {
    child.on("error", reject)
    child.on("close", (code, signal) => resolve({ code, signal, stderr }))
  })
  return { process: child, exited }
}

const values = (ms: ReadonlyArray<{ readonly value: string | null }>): Array<string> => ms.map((m) => String(m.value)).sort()

describe.skipIf(!canStartBroker)("KafkaSink with exactlyOnce: true, a transaction cut in the middle", () => {
  it("a broker restarted in the middle of a transaction: the run retries, finishes, and writes every input exactly once", async () => {
    // The input is on the shared broker: a KafkaSource fails the run when its broker goes away (outage.test.ts).
    const { input, output, want } = await topicsWithInput("eos-restart", brokers())
    const child = runChild({
      WEIR_EOS_BROKERS: bs.join(","),
      WEIR_EOS_INPUT_BROKERS: brokers().join(","),
      WEIR_EOS_INPUT: input,
      WEIR_EOS_OUTPUT: output,
      WEIR_EOS_STORE: await freshStoreDir(),
      WEIR_EOS_PREFIX: `weir-test-restart-${Date.now().toString(36)}`,
      WEIR_EOS_ADD_CONFIG: JSON.stringify(SLOW_DELIVERY),
      WEIR_EOS_BUSY_MS: "3"
    })
    const brokerPid = Number(fs.readFileSync(path.join(stateDir, "broker.pid"), "utf8"))
    let killedAt: string | undefined
    const watch = await watchTransactions(output, 600, (m) => {
      process.kill(brokerPid, "SIGKILL")
      killedAt = at(m)
    })
    try {
      const early = await Promise.race([until("a transaction in flight", () => killedAt !== undefined), child.exited])
      expect(killedAt, `the run ended before the broker was killed: ${JSON.stringify(early)}`).toBeDefined()
      await sleep(3_000)
      await kafkaScript("up", env)
    } finally {
      await watch.close()
    }
    // The run survives the restart (its publish retries), and goes to the end.
    const run = await child.exited
    expect(run.code, run.stderr).toBe(0)

    const committed = await readTopic(bs, output, "read_committed")
    const all = await readTopic(bs, output, "read_uncommitted")
    expect(values(committed)).toEqual(want)
    console.info(
      `broker killed at a message (${killedAt}) not yet committed; read_uncommitted has ${all.length} messages, ` +
        `read_committed ${committed.length}${all.length > committed.length ? " (a transaction was aborted)" : ""}`
    )
  }, 150_000)

  it("a transaction that times out (a stalled process): the run fails, and a resume writes every input exactly once", async () => {
    const { input, output, want } = await topicsWithInput("eos-stall", bs)
    const childEnv = {
      WEIR_EOS_BROKERS: bs.join(","),
      WEIR_EOS_INPUT: input,
      WEIR_EOS_OUTPUT: output,
      WEIR_EOS_STORE: await freshStoreDir(),
      WEIR_EOS_PREFIX: `weir-test-stall-${Date.now().toString(36)}`,
      WEIR_EOS_ADD_CONFIG: JSON.stringify({ ...SLOW_DELIVERY, "transaction.timeout.ms": 2_000 }),
      WEIR_EOS_BUSY_MS: "2"
    }
    const child = runChild(childEnv)
    let stalled: ((at: string) => void) | undefined
    const watch = await watchTransactions(output, 300, (m) => {
      if (child.process.exitCode === null && child.process.kill("SIGSTOP")) stalled?.(at(m))
    })
    /** How many stalls the commit won (it was sent before the stop), and the one that cut a transaction. */
    let lost = 0
    let cut: string | undefined
    try {
      for (let attempt = 0; attempt < 4 && cut === undefined; attempt++) {
        const stalledAt = await Promise.race([
          new Promise<string>((resolve) => (stalled = resolve)),
          child.exited.then(() => undefined)
        ])
        if (stalledAt === undefined) break
        // A commit sent before the stop shows at once; an open transaction stays open while the process is stopped.
        await sleep(1_500)
        if (!watch.committed.seen.has(stalledAt)) {
          // Past transaction.timeout.ms (2 s) and the broker's next scan for expired transactions (every 10 s).
          await sleep(13_500)
          if (!watch.committed.seen.has(stalledAt)) cut = stalledAt
        }
        if (cut === undefined) {
          lost++
          watch.arm()
        }
        child.process.kill("SIGCONT")
      }
    } finally {
      child.process.kill("SIGCONT")
      await watch.close()
    }
    const stalledRun = await child.exited
    expect(cut, `no stall cut a transaction: in ${lost} the commit was sent before the stop`).toBeDefined()
    expect(stalledRun.code, stalledRun.stderr).toBe(1)
    expect(stalledRun.stderr).toMatch(
      /the transactional producer 'weir-test-stall-.*\.eos\.out\.0' can't go on with epoch \d+: .*resume the flow/s
    )

    // The resume, on the same store: it publishes what the stalled run left.
    const resumed = await runChild({ ...childEnv, WEIR_EOS_BUSY_MS: "0" }).exited
    expect(resumed.code, resumed.stderr).toBe(0)
    const committed = await readTopic(bs, output, "read_committed")
    const all = await readTopic(bs, output, "read_uncommitted")
    expect(values(committed)).toEqual(want)
    // The stalled transaction's messages were written, and aborted.
    expect(all.length).toBeGreaterThan(committed.length)
    console.info(
      `stalled at ${cut} (${lost} earlier stall(s) lost the race to a commit); read_uncommitted has ${all.length} messages, ` +
        `read_committed ${committed.length}`
    )
  }, 150_000)
})
