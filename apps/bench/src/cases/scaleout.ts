/**
 * Scale-out: the flow of ../flows/scaleout.ts (Kafka → running count + sum
 * per key → Kafka) in `weir run --cluster` child processes, on the broker of
 * WEIR_KAFKA_BROKERS (or `scripts/kafka.sh up`) and the PostgreSQL of
 * WEIR_PG_URL (or `scripts/postgres.sh up`), all measured in one bench run:
 *
 * 1. Throughput with 1, 2 and 3 processes (P = 6 key groups, a 6-partition
 *    input topic holding N messages over 1,000 keys, a fresh flow id, topics
 *    and store per run), against the same flow in one plain `weir run`
 *    process (no `--cluster`) with the same PostgreSQL store and 1-second
 *    epochs. The input is written in one Kafka transaction while the
 *    processes start, and committed once they all run their share (the
 *    source reads `read_committed`), so no process joins while items flow.
 *    Items/s go from the first output to the last (the output topic's high
 *    watermarks, polled every 200 ms), cores used = the children's CPU time
 *    (utime + stime of /proc/<pid>/stat) over the wall time from the commit
 *    of the input to the last output.
 * 2. What a hop through the exchange topic costs per item, from the CPU
 *    time per item at 1 process (every exchange in memory) and 2 processes.
 * 3. The pause while a third process joins a running pair, and while it
 *    leaves again (SIGTERM), under a steady feed: per key, the longest gap
 *    between consecutive outputs (their Kafka timestamps) around the change,
 *    less the key's normal inter-arrival.
 *
 * Every run's topics, consumer group and store schema are deleted at the
 * end, and every child process is stopped, also when a run fails.
 */
import { RdKafka } from "@confluentinc/kafka-javascript"
import type { IAdminClient, KafkaConsumer, LibrdKafkaError, Message } from "@confluentinc/kafka-javascript"
import { exchangeTopicOf } from "@weir/connectors-kafka"
import { stableHash } from "@weir/core"
import { defaultSchemaFor, initPostgres } from "@weir/recovery"
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { type BenchCase, type Measured, median, type Variant } from "../harness.js"

// ---------------------------------------------------------------------------
// Settings

/** Key groups of every store (P), and partitions of the input topic. */
const KEY_GROUPS = 6
const IN_PARTITIONS = 6
const OUT_PARTITIONS = 6
const KEYS = 1000
/** Input messages per throughput run at the default `--items` (10 M); scaled by `--items`. */
const DEFAULT_MESSAGES = 300_000
const PROCESS_COUNTS = [1, 2, 3] as const
/** The rebalance phase's feed. */
const FEED_PER_SECOND = 2000
/** How long the feed runs steadily before the third process is started (its last part is the quiet window). */
const STEADY_MS = 10_000
/** The quiet window: the same statistic as around a change, with no change, for comparison. */
const QUIET_MS = 8_000
/** A change's window ends this long after every key had an output again. */
const RESUMED_MARGIN_MS = 1000
/** Between the join's end (every key output again) and the leave. */
const BETWEEN_MS = 2000
const POLL_MS = 200
/** Before the input is let in, the processes idle, running (the deal must hold meanwhile): this long settling, then this long measured. */
const IDLE_SETTLE_MS = 500
const IDLE_MS = 1500
const EPOCH_SECONDS = "1"
/** Busy work per message in the flow, µs (the environment's WEIR_BENCH_SCALE_WORK_US; default 0). */
const WORK_US = Number(process.env.WEIR_BENCH_SCALE_WORK_US ?? "0")

const TOPIC_PREFIX = "weir-bench-scale-"
const FLOW_PREFIX = "bench_scale_"

const repo = path.resolve(import.meta.dirname, "../../../..")
const WEIR_BIN = path.join(repo, "packages/cli/bin/weir.js")
const FLOW_FILE = path.resolve(import.meta.dirname, "../flows/scaleout.ts")

// ---------------------------------------------------------------------------
// Services

const brokerList = (): string => {
  if (process.env.WEIR_KAFKA_BROKERS) return process.env.WEIR_KAFKA_BROKERS
  return execFileSync("bash", [path.join(repo, "scripts/kafka.sh"), "up"], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim()
}

const pgUrlOf = (): string => {
  if (process.env.WEIR_PG_URL) return process.env.WEIR_PG_URL
  return execFileSync("bash", [path.join(repo, "scripts/postgres.sh"), "up"], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim()
}

/** psql, to drop the runs' schemas (the cluster is shared with the tests). */
const psql = (): string => {
  const versions = fs.existsSync("/usr/lib/postgresql") ? fs.readdirSync("/usr/lib/postgresql").sort() : []
  const bin = versions.map((v) => `/usr/lib/postgresql/${v}/bin/psql`).filter((f) => fs.existsSync(f)).pop()
  return bin ?? "psql"
}
const sqlLines = (url: string, sql: string): Array<string> =>
  execFileSync(psql(), [url, "-qAt", "-c", sql], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).split("\n").filter((l) => l !== "")

const call = <A>(f: (cb: (err: LibrdKafkaError | null | undefined, a: A) => void) => void): Promise<A> =>
  new Promise((resolve, reject) => f((err, a) => (err ? reject(err) : resolve(a))))

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

const withAdmin = async <A>(brokers: string, f: (admin: IAdminClient) => Promise<A>): Promise<A> => {
  const admin = RdKafka.AdminClient.create({ "bootstrap.servers": brokers })
  try {
    return await f(admin)
  } finally {
    admin.disconnect()
  }
}

const createTopic = (brokers: string, topic: string, partitions: number): Promise<void> =>
  withAdmin(brokers, (admin) =>
    call<void>((cb) => admin.createTopic({ topic, num_partitions: partitions, replication_factor: 1 }, 30_000, (e) => cb(e, undefined))))

/** What the case made on the broker and in PostgreSQL, deleted by {@link Resources.release}. */
class Resources {
  readonly topics = new Set<string>()
  readonly groups = new Set<string>()
  readonly schemas = new Set<string>()

  constructor(readonly brokers: string, readonly pgUrl: string) {}

  /** Delete every topic, group and schema recorded; failures are printed, not thrown (the bench's results still count). */
  async release(): Promise<void> {
    const topics = [...this.topics]
    const groups = [...this.groups]
    const schemas = [...this.schemas]
    this.topics.clear()
    this.groups.clear()
    this.schemas.clear()
    await withAdmin(this.brokers, async (admin) => {
      const existing = new Set(await call<Array<string>>((cb) => admin.listTopics({ timeout: 10_000 }, cb)))
      await Promise.all(topics.filter((t) => existing.has(t)).map((t) =>
        call<void>((cb) => admin.deleteTopic(t, 30_000, (e) => cb(e, undefined))).catch((e: unknown) =>
          console.error(`scale-out: could not delete topic '${t}': ${String(e)}; delete it by hand`)
        )
      ))
      const listed = await call<{ groups: Array<{ groupId: string }> }>((cb) => admin.listGroups({ timeout: 10_000 }, cb))
      const present = groups.filter((g) => listed.groups.some((l) => l.groupId === g))
      if (present.length > 0) {
        await call<unknown>((cb) => admin.deleteGroups(present, { timeout: 30_000 }, cb)).catch((e: unknown) =>
          console.error(`scale-out: could not delete consumer groups ${present.join(", ")}: ${String(e)}; delete them by hand`)
        )
      }
    }).catch((e: unknown) => console.error(`scale-out: could not clean up the broker: ${String(e)}`))
    for (const s of schemas) {
      try {
        sqlLines(this.pgUrl, `DROP SCHEMA IF EXISTS "${s}" CASCADE`)
      } catch (e) {
        console.error(`scale-out: could not drop the PostgreSQL schema '${s}': ${String(e)}; drop it by hand`)
      }
    }
  }

  /** Record what an earlier bench run (killed before its clean-up) left: topics, groups and schemas with the case's prefixes. */
  async adoptLeftovers(): Promise<void> {
    await withAdmin(this.brokers, async (admin) => {
      const topics = await call<Array<string>>((cb) => admin.listTopics({ timeout: 10_000 }, cb))
      for (const t of topics) if (t.startsWith(TOPIC_PREFIX) || t.startsWith(`weir.${FLOW_PREFIX}`)) this.topics.add(t)
      const listed = await call<{ groups: Array<{ groupId: string }> }>((cb) => admin.listGroups({ timeout: 10_000 }, cb))
      for (const g of listed.groups) if (g.groupId.startsWith(`weir.${FLOW_PREFIX}`)) this.groups.add(g.groupId)
    })
    for (const s of sqlLines(this.pgUrl, `SELECT nspname FROM pg_namespace WHERE nspname LIKE 'weir\\_${FLOW_PREFIX.replaceAll("_", "\\_")}%'`)) {
      this.schemas.add(s)
    }
  }
}

/** One run's names: flow id (so its consumer group, exchange topic and schema), topics. */
interface RunNames {
  readonly flowId: string
  readonly inTopic: string
  readonly outTopic: string
}

let runCounter = 0

/** Fresh names for a run, recorded for deletion, the topics created and the store initialised with `keyGroups`. */
const newRun = async (res: Resources, keyGroups: number): Promise<RunNames> => {
  const tag = `${process.pid}_${Date.now().toString(36)}_${runCounter++}`
  const names: RunNames = { flowId: `${FLOW_PREFIX}${tag}`, inTopic: `${TOPIC_PREFIX}in-${tag}`, outTopic: `${TOPIC_PREFIX}out-${tag}` }
  res.topics.add(names.inTopic)
  res.topics.add(names.outTopic)
  res.topics.add(exchangeTopicOf(names.flowId))
  res.groups.add(`weir.${names.flowId}`)
  res.schemas.add(defaultSchemaFor(names.flowId))
  await createTopic(res.brokers, names.inTopic, IN_PARTITIONS)
  await createTopic(res.brokers, names.outTopic, OUT_PARTITIONS)
  await initPostgres(res.pgUrl, keyGroups, { flowId: names.flowId })
  return names
}

/** Delete one run's topics, group and schema now (so runs do not pile up on the broker). */
const endRun = async (res: Resources, names: RunNames): Promise<void> => {
  const one = new Resources(res.brokers, res.pgUrl)
  for (const t of [names.inTopic, names.outTopic, exchangeTopicOf(names.flowId)]) {
    one.topics.add(t)
    res.topics.delete(t)
  }
  one.groups.add(`weir.${names.flowId}`)
  res.groups.delete(`weir.${names.flowId}`)
  one.schemas.add(defaultSchemaFor(names.flowId))
  res.schemas.delete(defaultSchemaFor(names.flowId))
  await one.release()
}

// ---------------------------------------------------------------------------
// Input

const keyOf = (k: number): string => `k${k}`
/** Each key lives in one input partition. */
const partitionOfKey = (k: number): number => k % IN_PARTITIONS

let gateCounter = 0

/**
 * The throughput runs' input: `count` messages (key `k<i mod 1000>`, value
 * `i`) written in one Kafka transaction and left uncommitted, so the flow
 * (reading `read_committed`) sees none of them until {@link Gate.open}.
 */
class Gate {
  private constructor(private readonly producer: RdKafka.Producer) {}

  static async fill(brokers: string, topic: string, count: number): Promise<Gate> {
    const producer = new RdKafka.Producer({
      "bootstrap.servers": brokers,
      "transactional.id": `${TOPIC_PREFIX}gate-${process.pid}-${gateCounter++}`,
      "transaction.timeout.ms": 600_000,
      "linger.ms": 20,
      "batch.num.messages": 10_000,
      dr_cb: true
    })
    await call<unknown>((cb) => producer.connect({ timeout: 10_000 }, cb))
    producer.setPollInBackground(true)
    const gate = new Gate(producer)
    try {
      await call<void>((cb) => producer.initTransactions(30_000, (e) => cb(e, undefined)))
      await call<void>((cb) => producer.beginTransaction((e) => cb(e, undefined)))
      let delivered = 0
      let failure: unknown
      producer.on("delivery-report", (err) => {
        if (err) failure ??= err
        delivered++
      })
      for (let i = 0; i < count; i++) {
        const k = i % KEYS
        for (;;) {
          try {
            producer.produce(topic, partitionOfKey(k), Buffer.from(String(i)), keyOf(k))
            break
          } catch (e) {
            if ((e as { code?: number }).code !== -184) throw e
            await sleep(5)
          }
        }
      }
      const deadline = Date.now() + 120_000
      while (delivered < count && failure === undefined) {
        if (Date.now() > deadline) throw new Error(`filling '${topic}': ${delivered} of ${count} messages acknowledged after 120 s`)
        await sleep(10)
      }
      if (failure !== undefined) throw failure
      return gate
    } catch (e) {
      await gate.close()
      throw e
    }
  }

  private committed = false

  /** Commit the transaction: every message becomes visible at once. */
  async open(): Promise<void> {
    await call<void>((cb) => this.producer.commitTransaction(30_000, (e) => cb(e, undefined)))
    this.committed = true
  }

  /** Disconnect, aborting the transaction if it was never committed. */
  async close(): Promise<void> {
    if (!this.committed) await call<void>((cb) => this.producer.abortTransaction(10_000, (e) => cb(e, undefined))).catch(() => undefined)
    await call<unknown>((cb) => this.producer.disconnect(cb)).catch(() => undefined)
  }
}

/** The rebalance phase's steady feed: `perSecond` messages over the keys in turn, each valued at its send time. */
class Feeder {
  private producer: RdKafka.Producer | undefined
  private timer: ReturnType<typeof setInterval> | undefined
  private inFlight = 0
  private failed: unknown
  produced = 0
  readonly perKey = new Map<string, number>()

  constructor(private readonly brokers: string, private readonly topic: string) {}

  async start(perSecond: number): Promise<void> {
    const producer = new RdKafka.Producer({ "bootstrap.servers": this.brokers, dr_cb: true, "linger.ms": 5, "enable.idempotence": true })
    await call<unknown>((cb) => producer.connect({ timeout: 10_000 }, cb))
    producer.setPollInterval(10)
    producer.on("delivery-report", (err) => {
      this.inFlight--
      if (err) this.failed ??= err
    })
    this.producer = producer
    const perTick = Math.max(1, Math.round(perSecond / 20))
    this.timer = setInterval(() => {
      for (let i = 0; i < perTick; i++) {
        const k = this.produced++ % KEYS
        const key = keyOf(k)
        this.perKey.set(key, (this.perKey.get(key) ?? 0) + 1)
        this.inFlight++
        producer.produce(this.topic, partitionOfKey(k), Buffer.from(String(Date.now())), key)
      }
    }, 50)
  }

  /** Stop feeding; resolves once everything produced is acknowledged. */
  async stop(): Promise<void> {
    clearInterval(this.timer)
    const producer = this.producer
    if (producer === undefined) return
    this.producer = undefined
    const deadline = Date.now() + 60_000
    while (this.inFlight > 0 && Date.now() < deadline) await new Promise<void>((resolve) => producer.flush(1000, () => resolve()))
    await call<unknown>((cb) => producer.disconnect(cb)).catch(() => undefined)
    if (this.failed !== undefined) throw new Error(`scale-out feed: an input message was not delivered: ${String(this.failed)}`)
    if (this.inFlight > 0) throw new Error(`scale-out feed: ${this.inFlight} input messages were never acknowledged`)
  }
}

// ---------------------------------------------------------------------------
// Output

/** Counts a topic's messages: the sum of its partitions' high watermarks. */
class Counter {
  private constructor(private readonly consumer: KafkaConsumer) {}

  static async open(brokers: string): Promise<Counter> {
    const consumer = new RdKafka.KafkaConsumer({ "bootstrap.servers": brokers, "group.id": `${TOPIC_PREFIX}counter`, "enable.auto.commit": false })
    await call<unknown>((cb) => consumer.connect({ timeout: 10_000 }, cb))
    return new Counter(consumer)
  }

  async count(topic: string, partitions: number): Promise<number> {
    let total = 0
    for (let p = 0; p < partitions; p++) {
      const w = await call<{ highOffset: number }>((cb) => this.consumer.queryWatermarkOffsets(topic, p, 10_000, cb))
      total += w.highOffset
    }
    return total
  }

  async close(): Promise<void> {
    await call<unknown>((cb) => this.consumer.disconnect(cb)).catch(() => undefined)
  }
}

/**
 * Reads a topic's messages as they come (all partitions, from the start):
 * per key, every output's Kafka timestamp and the largest count of its
 * `<count>:<sum>` values.
 */
class OutputWatcher {
  readonly times = new Map<string, Array<number>>()
  readonly lastCount = new Map<string, number>()
  read = 0
  private running = true
  private loop: Promise<void> | undefined
  private failure: unknown

  private constructor(private readonly consumer: KafkaConsumer) {}

  static async start(brokers: string, topic: string, partitions: number): Promise<OutputWatcher> {
    const consumer = new RdKafka.KafkaConsumer({ "bootstrap.servers": brokers, "group.id": `${TOPIC_PREFIX}watcher`, "enable.auto.commit": false })
    await call<unknown>((cb) => consumer.connect({ timeout: 10_000 }, cb))
    consumer.assign(Array.from({ length: partitions }, (_, partition) => ({ topic, partition, offset: -2 })))
    consumer.setDefaultConsumeTimeout(100)
    const w = new OutputWatcher(consumer)
    w.loop = w.run()
    return w
  }

  private async run(): Promise<void> {
    try {
      while (this.running) {
        const batch = await call<Array<Message>>((cb) => this.consumer.consume(1000, cb))
        for (const m of batch) {
          const key = String(m.key)
          let list = this.times.get(key)
          if (list === undefined) this.times.set(key, (list = []))
          list.push(m.timestamp ?? -1)
          const count = Number(String(m.value).split(":")[0])
          if (count > (this.lastCount.get(key) ?? 0)) this.lastCount.set(key, count)
        }
        this.read += batch.length
      }
    } catch (e) {
      this.failure = e
    }
  }

  /** Fail if reading failed. */
  check(): void {
    if (this.failure !== undefined) throw new Error(`scale-out: reading the output failed: ${String(this.failure)}`)
  }

  /** Whether every key in `keys` has an output stamped after `t` (epoch ms). */
  allAfter(keys: Iterable<string>, t: number): boolean {
    for (const k of keys) {
      const list = this.times.get(k)
      if (list === undefined || !list.some((x) => x > t)) return false
    }
    return true
  }

  async stop(): Promise<void> {
    this.running = false
    await this.loop
    await call<unknown>((cb) => this.consumer.disconnect(cb)).catch(() => undefined)
  }
}

// ---------------------------------------------------------------------------
// Child processes

const CLK_TCK = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100
  } catch {
    return 100
  }
})()

/** Every child the case started and has not seen exit: killed if the bench itself ends first. */
const live = new Set<Child>()
const killAll = () => {
  for (const c of live) c.proc.kill("SIGKILL")
}
process.on("exit", killAll)
/** While children run, a SIGINT or SIGTERM of the bench kills them before it exits (as it would without handlers). */
const onSignal = (signal: NodeJS.Signals) => {
  killAll()
  process.exit(signal === "SIGINT" ? 130 : 143)
}
const adopt = (c: Child) => {
  if (live.size === 0) {
    process.on("SIGINT", onSignal)
    process.on("SIGTERM", onSignal)
  }
  live.add(c)
}
const release = (c: Child) => {
  live.delete(c)
  if (live.size === 0) {
    process.off("SIGINT", onSignal)
    process.off("SIGTERM", onSignal)
  }
}

/** A `weir run` child process with its log. */
class Child {
  readonly proc: ChildProcess
  readonly lines: Array<{ readonly at: number; readonly text: string }> = []
  readonly exited: Promise<number | null>
  readonly spawnedAt = performance.now()
  private lastCpuMs = 0

  constructor(readonly label: string, names: RunNames, args: ReadonlyArray<string>) {
    this.proc = spawn(process.execPath, [WEIR_BIN, "run", `${FLOW_FILE}:flow`, ...args, "-s", EPOCH_SECONDS, "-b", "0"], {
      env: { ...process.env, BROKERS: brokersUsed, IN: names.inTopic, OUT: names.outTopic, FLOW: names.flowId, WORK_US: String(WORK_US) },
      stdio: ["ignore", "pipe", "pipe"]
    })
    adopt(this)
    let partial = ""
    const keep = (chunk: Buffer) => {
      const at = performance.now()
      const text = partial + chunk.toString()
      const parts = text.split("\n")
      partial = parts.pop()!
      for (const line of parts) if (line.trim() !== "") this.lines.push({ at, text: line })
    }
    this.proc.stdout!.on("data", keep)
    this.proc.stderr!.on("data", keep)
    this.exited = new Promise((resolve) =>
      this.proc.on("exit", (code, signal) => {
        release(this)
        resolve(signal === null ? code : -1)
      })
    )
  }

  get alive(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null
  }

  /** utime + stime of the process (every thread), ms; the last reading once it exited. */
  cpuMs(): number {
    try {
      const stat = fs.readFileSync(`/proc/${this.proc.pid}/stat`, "utf8")
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
      // After the command: state is field 3, utime 14 and stime 15.
      this.lastCpuMs = ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK
    } catch {
      // Gone: keep the last reading.
    }
    return this.lastCpuMs
  }

  /**
   * The key groups it runs now: those of its last "running key groups"
   * line, with when it came; undefined before the first and while a change
   * is under way (a later "key groups assigned/revoked/lost" line).
   */
  running(): { readonly kgs: ReadonlyArray<number>; readonly at: number } | undefined {
    for (let i = this.lines.length - 1; i >= 0; i--) {
      const l = this.lines[i]!
      const m = /running key groups ([\d, ]+) from/.exec(l.text)
      if (m !== null) return { kgs: m[1]!.split(", ").map(Number), at: l.at }
      if (/key groups (revoked|lost|assigned)/.test(l.text)) return undefined
    }
    return undefined
  }

  said(pattern: RegExp): boolean {
    return this.lines.some((l) => pattern.test(l.text))
  }

  tail(n = 30): string {
    return this.lines.slice(-n).map((l) => `  ${this.label}| ${l.text}`).join("\n")
  }

  /** SIGTERM, then wait for the exit (SIGKILL after 30 s); resolves with the exit code. */
  async stop(): Promise<number | null> {
    this.cpuMs()
    if (this.alive) this.proc.kill("SIGTERM")
    const timer = setTimeout(() => this.proc.kill("SIGKILL"), 30_000)
    try {
      return await this.exited
    } finally {
      clearTimeout(timer)
    }
  }
}

let brokersUsed = ""

const clusterArgs = (pgUrl: string) => ["--cluster", `kafka://${brokersUsed}`, "-r", pgUrl]

const logs = (children: ReadonlyArray<Child>) => children.map((c) => c.tail()).join("\n")

/** Fail when a child exited. */
const checkAlive = (children: ReadonlyArray<Child>, what: string): void => {
  const dead = children.find((c) => !c.alive)
  if (dead !== undefined) {
    throw new Error(`scale-out: ${dead.label} exited (code ${dead.proc.exitCode}, signal ${dead.proc.signalCode}) ${what}; logs:\n${logs(children)}`)
  }
}

/**
 * Wait until what the children run now ({@link Child.running}) deals every
 * key group out once, each child some; resolves with the deal (per child)
 * and when the last of those lines came.
 */
const waitForDeal = async (
  children: ReadonlyArray<Child>,
  timeoutMs: number,
  what: string
): Promise<{ readonly deal: ReadonlyArray<ReadonlyArray<number>>; readonly at: number }> => {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    checkAlive(children, what)
    const now = children.map((c) => c.running())
    if (now.every((r) => r !== undefined && r.kgs.length > 0)) {
      const all = now.flatMap((r) => r!.kgs).sort((a, b) => a - b)
      if (all.length === KEY_GROUPS && all.every((kg, i) => kg === i)) {
        return { deal: now.map((r) => r!.kgs), at: Math.max(...now.map((r) => r!.at)) }
      }
    }
    if (performance.now() > deadline) {
      throw new Error(`scale-out: ${what}: the key groups were not dealt out among ${children.length} processes in ${timeoutMs / 1000} s; logs:\n${logs(children)}`)
    }
    await sleep(100)
  }
}

/** Stop every child (SIGTERM), reading their CPU time first; a child that exited otherwise than by the signal is an error. */
const stopAll = async (children: ReadonlyArray<Child>): Promise<void> => {
  const codes = await Promise.all(children.map((c) => c.stop()))
  const bad = children.filter((_, i) => codes[i] !== 143 && codes[i] !== 0)
  if (bad.length > 0) {
    throw new Error(`scale-out: ${bad.map((c) => `${c.label} exited with ${c.proc.exitCode ?? c.proc.signalCode}`).join(", ")} on SIGTERM; logs:\n${logs(children)}`)
  }
}

// ---------------------------------------------------------------------------
// Throughput runs

/** One throughput run's numbers. */
interface Sample {
  /** First output to last, ms. */
  readonly windowMs: number
  /** Outputs in that window. */
  readonly windowItems: number
  /** Input committed → last output, ms: the wall time the CPU time is taken over. */
  readonly wallMs: number
  /** Children's CPU time over `wallMs`, ms. */
  readonly cpuMs: number
  /** Input committed → first output, ms. */
  readonly firstMs: number
  /** Output messages after the processes stopped, less the input: duplicates (0 for a clean run). */
  readonly extra: number
  /** Per process, its key groups. */
  readonly deal: ReadonlyArray<ReadonlyArray<number>>
  /** Start-up: spawn → every process running its share, ms. */
  readonly startMs: number
  /** The children's CPU time over wall time while idle (all running, no input yet), over {@link IDLE_MS}. */
  readonly idleCores: number
}

type Mode = { readonly kind: "plain" } | { readonly kind: "cluster"; readonly processes: number }

const samples = new Map<string, Array<Sample>>()
let messages = 0

/**
 * The share of the input whose key's key group is held by another process
 * than the key group reading its partition (partition i is key group i):
 * these items cross processes through the exchange topic.
 */
const crossingShare = (deal: ReadonlyArray<ReadonlyArray<number>>): number => {
  const holder = new Map<number, number>()
  deal.forEach((kgs, p) => kgs.forEach((kg) => holder.set(kg, p)))
  let crossing = 0
  for (let k = 0; k < KEYS; k++) {
    const from = partitionOfKey(k) % KEY_GROUPS
    const to = stableHash(keyOf(k)) % KEY_GROUPS
    if (holder.get(from) !== holder.get(to)) crossing++
  }
  return crossing / KEYS
}

/** The share of the input that changes key group (in memory, at 1 process): partition i is key group i. */
const inMemoryShare = (): number => {
  let changing = 0
  for (let k = 0; k < KEYS; k++) if (partitionOfKey(k) % KEY_GROUPS !== stableHash(keyOf(k)) % KEY_GROUPS) changing++
  return changing / KEYS
}

/** One run: fresh names, the input in an open transaction, the processes up, then the input let in and the output counted. */
const throughputRun = async (res: Resources, counter: Counter, mode: Mode, into: Array<Sample>): Promise<Measured> => {
  const processes = mode.kind === "plain" ? 1 : mode.processes
  const names = await newRun(res, mode.kind === "plain" ? 1 : KEY_GROUPS)
  const children: Array<Child> = []
  let filling: Promise<Gate> | undefined
  try {
    const spawnedAt = performance.now()
    for (let i = 0; i < processes; i++) {
      children.push(new Child(`p${i + 1}`, names, mode.kind === "plain" ? ["-r", res.pgUrl] : clusterArgs(res.pgUrl)))
    }
    // The input is written while the processes start (they see none of it until the gate opens).
    filling = Gate.fill(res.brokers, names.inTopic, messages)
    const started = (async (): Promise<ReadonlyArray<ReadonlyArray<number>>> => {
      if (mode.kind === "cluster") return (await waitForDeal(children, 90_000, "starting")).deal
      const deadline = performance.now() + 60_000
      while (!children[0]!.said(/^epoch \d+:/)) {
        checkAlive(children, "before it ran")
        if (performance.now() > deadline) throw new Error(`scale-out: the plain run logged no epoch in 60 s; log:\n${logs(children)}`)
        await sleep(100)
      }
      return [Array.from({ length: KEY_GROUPS }, (_, i) => i)]
    })()
    const [[deal, startMs], input] = await Promise.all([started.then((d) => [d, performance.now() - spawnedAt] as const), filling])
    // Idle for a while (the deal must hold: no rebalance in flight): what the processes burn doing nothing.
    await sleep(IDLE_SETTLE_MS)
    const idle0 = children.reduce((s, c) => s + c.cpuMs(), 0)
    const idleFrom = performance.now()
    await sleep(IDLE_MS)
    const idleCores = (children.reduce((s, c) => s + c.cpuMs(), 0) - idle0) / (performance.now() - idleFrom)
    if (mode.kind === "cluster") {
      const again = await waitForDeal(children, 10_000, "starting")
      if (JSON.stringify(again.deal) !== JSON.stringify(deal)) throw new Error(`scale-out: the deal changed while the processes were idle: ${JSON.stringify(deal)} → ${JSON.stringify(again.deal)}`)
    }
    const cpu0 = children.reduce((s, c) => s + c.cpuMs(), 0)
    await input.open()
    const opened = performance.now()
    let first: { readonly at: number; readonly count: number } | undefined
    let last: { readonly at: number; readonly count: number } | undefined
    let cpu1 = 0
    const deadline = opened + Math.max(120_000, messages / 2)
    for (;;) {
      const count = await counter.count(names.outTopic, OUT_PARTITIONS)
      const at = performance.now()
      if (first === undefined && count > 0) first = { at, count }
      if (count >= messages) {
        cpu1 = children.reduce((s, c) => s + c.cpuMs(), 0)
        last = { at, count }
        break
      }
      checkAlive(children, "while processing")
      if (at > deadline) {
        throw new Error(`scale-out: ${count} of ${messages} outputs after ${((at - opened) / 1000).toFixed(0)} s (${processes} processes); logs:\n${logs(children)}`)
      }
      await sleep(Math.max(0, POLL_MS - (performance.now() - at)))
    }
    await stopAll(children)
    const final = await counter.count(names.outTopic, OUT_PARTITIONS)
    const windowMs = last.at - first!.at
    into.push({
      windowMs,
      windowItems: last.count - first!.count,
      wallMs: last.at - opened,
      cpuMs: cpu1 - cpu0,
      firstMs: first!.at - opened,
      extra: final - messages,
      deal,
      startMs,
      idleCores
    })
    // The table's time: first output to last, scaled to all N items (the harness divides by N).
    return { measuredMs: (windowMs * messages) / Math.max(1, last.count - first!.count) }
  } finally {
    for (const c of children) if (c.alive) await c.stop()
    await filling?.then((g) => g.close(), () => undefined)
    await endRun(res, names)
  }
}

// ---------------------------------------------------------------------------
// Rebalance phase

interface Pauses {
  /** Per key: longest gap around the change less the key's normal inter-arrival, ms. */
  readonly maxMs: number
  readonly medianMs: number
  readonly keys: number
}

interface RebalanceResult {
  readonly quiet: Pauses
  readonly join: Pauses
  /** The same, of the keys touched by the move (their key group, or their input partition's, changed process), and of the others. */
  readonly joinMoved: Pauses
  readonly joinStayed: Pauses
  readonly leaveMoved: Pauses
  readonly leaveStayed: Pauses
  readonly leave: Pauses
  /** Spawn of the third → its "running key groups" line, ms. */
  readonly joinRunningMs: number
  /** The first revocation in the two after the third's spawn → every process running its share of the new deal, ms. */
  readonly joinRebalanceMs: number
  /** The first revocation → every key's first output after the new deal runs everywhere, ms. */
  readonly joinResumedMs: number
  /** SIGTERM of the third → every key's first output after the other two run every key group, ms. */
  readonly leaveResumedMs: number
  /** SIGTERM of the third → it exited, ms. */
  readonly leaveExitMs: number
  /** SIGTERM of the third → the other two running every key group, ms. */
  readonly leaveSettledMs: number
  readonly normalMs: number
  readonly fed: number
  readonly outputs: number
  readonly deals: ReadonlyArray<string>
}

let rebalance: RebalanceResult | undefined

/**
 * Per key, the longest gap between consecutive outputs that overlaps
 * [from, to] (epoch ms), less `normal[key]`; the max and median over keys.
 */
const pausesIn = (
  byKey: ReadonlyMap<string, ReadonlyArray<number>>,
  normal: ReadonlyMap<string, number>,
  from: number,
  to: number,
  only: (key: string) => boolean = () => true
): Pauses => {
  const gaps: Array<number> = []
  for (const [key, ts] of byKey) {
    if (!only(key)) continue
    let longest = 0
    for (let i = 1; i < ts.length; i++) {
      if (ts[i]! < from || ts[i - 1]! > to) continue
      longest = Math.max(longest, ts[i]! - ts[i - 1]!)
    }
    gaps.push(longest - (normal.get(key) ?? 0))
  }
  return { maxMs: gaps.length === 0 ? NaN : Math.max(...gaps), medianMs: gaps.length === 0 ? NaN : median(gaps), keys: gaps.length }
}

const runRebalance = async (res: Resources, counter: Counter): Promise<RebalanceResult> => {
  const names = await newRun(res, KEY_GROUPS)
  const children: Array<Child> = []
  const feeder = new Feeder(res.brokers, names.inTopic)
  let watcher: OutputWatcher | undefined
  // performance.now() → epoch ms, for comparing with the outputs' Kafka timestamps.
  const toEpoch = (t: number) => t - performance.now() + Date.now()
  /**
   * Wait until every key fed has an output stamped after `t` (performance.now() ms): every key group
   * processes again. Resolves with the epoch ms of the last key's first such output.
   */
  const resumed = async (w: OutputWatcher, t: number, alive: ReadonlyArray<Child>, what: string): Promise<number> => {
    const after = toEpoch(t)
    const deadline = performance.now() + 60_000
    while (!w.allAfter(feeder.perKey.keys(), after)) {
      w.check()
      checkAlive(alive, what)
      if (performance.now() > deadline) {
        const silent = [...feeder.perKey.keys()].filter((k) => !w.allAfter([k], after))
        throw new Error(
          `scale-out: ${what}: ${silent.length} keys (${silent.slice(0, 5).join(", ")}…) had no output for 60 s after every process ` +
            `ran its share of the new deal; logs:\n${logs(children)}`
        )
      }
      await sleep(100)
    }
    let last = after
    for (const k of feeder.perKey.keys()) {
      const first = Math.min(...w.times.get(k)!.filter((x) => x > after))
      if (first > last) last = first
    }
    return last
  }
  try {
    children.push(new Child("p1", names, clusterArgs(res.pgUrl)), new Child("p2", names, clusterArgs(res.pgUrl)))
    const two = await waitForDeal(children, 90_000, "starting two processes")
    const w = (watcher = await OutputWatcher.start(res.brokers, names.outTopic, OUT_PARTITIONS))
    await sleep(1000)
    await feeder.start(FEED_PER_SECOND)
    await sleep(STEADY_MS)
    checkAlive(children, "under the steady feed")
    // Join: a third process.
    const joinAt = performance.now()
    const third = new Child("p3", names, clusterArgs(res.pgUrl))
    children.push(third)
    const three = await waitForDeal(children, 90_000, "the third process joining")
    const joinRunning = third.running()!.at
    const revocations = children.slice(0, 2).flatMap((c) => c.lines.filter((l) => l.at >= joinAt && /key groups (revoked|lost)/.test(l.text)))
    const firstRevoked = Math.min(joinRunning, ...revocations.map((l) => l.at))
    const joinResumed = await resumed(w, three.at, children, "the third process joining")
    await sleep(BETWEEN_MS)
    // Leave: SIGTERM to the third.
    const leaveAt = performance.now()
    const code = await third.stop()
    const leaveExit = performance.now()
    if (code !== 143 && code !== 0) throw new Error(`scale-out: the third process exited with ${code} on SIGTERM; logs:\n${logs(children)}`)
    const rest = children.slice(0, 2)
    const back = await waitForDeal(rest, 90_000, "the third process leaving")
    const leaveResumed = await resumed(w, back.at, rest, "the third process leaving")
    await sleep(BETWEEN_MS)
    checkAlive(rest, "after the third left")
    await feeder.stop()
    const fed = feeder.produced
    // Drain: every input's output written, then the processes stopped and the output read to its end.
    const deadline = performance.now() + 90_000
    const drained = async (what: string, target: () => Promise<number>) => {
      while (w.read < (await target())) {
        w.check()
        if (performance.now() > deadline) {
          throw new Error(`scale-out: ${what}: ${w.read} outputs of the rebalance phase's ${fed} inputs after 90 s; logs:\n${logs(children)}`)
        }
        await sleep(POLL_MS)
      }
    }
    await drained("draining the feed", () => Promise.resolve(fed))
    await stopAll(rest)
    const written = await counter.count(names.outTopic, OUT_PARTITIONS)
    await drained("reading the output", () => Promise.resolve(written))
    await w.stop()
    // Every key's last count is the number of its inputs (no output lost), and no count is past it.
    const problems: Array<string> = []
    for (const [key, n] of feeder.perKey) if (w.lastCount.get(key) !== n) problems.push(`${key}: last count ${w.lastCount.get(key)}, fed ${n}`)
    if (problems.length > 0 || w.lastCount.size !== feeder.perKey.size) {
      throw new Error(`scale-out: the rebalance phase's output is wrong (${problems.length} keys): ${problems.slice(0, 10).join("; ")}; logs:\n${logs(children)}`)
    }
    const byKey = new Map<string, Array<number>>()
    for (const [key, ts] of w.times) byKey.set(key, [...ts].sort((a, b) => a - b))
    // A key's normal inter-arrival: its mean gap in the quiet window before the join.
    const quietFrom = toEpoch(joinAt - QUIET_MS)
    const quietTo = toEpoch(joinAt)
    const normal = new Map<string, number>()
    for (const [key, ts] of byKey) {
      const inside = ts.filter((t) => t >= quietFrom && t <= quietTo)
      if (inside.length >= 2) normal.set(key, (inside[inside.length - 1]! - inside[0]!) / (inside.length - 1))
    }
    const normalMs = median([...normal.values()])
    const joinFrom = toEpoch(joinAt)
    const joinTo = joinResumed + RESUMED_MARGIN_MS
    const leaveFrom = toEpoch(leaveAt)
    const leaveTo = leaveResumed + RESUMED_MARGIN_MS
    // Key groups that changed process (p1 and p2 keep their places in the deals; p3 is the third).
    const holderIn = (deal: ReadonlyArray<ReadonlyArray<number>>) => (kg: number) => deal.findIndex((kgs) => kgs.includes(kg))
    const movedBetween = (a: ReadonlyArray<ReadonlyArray<number>>, b: ReadonlyArray<ReadonlyArray<number>>) =>
      new Set(Array.from({ length: KEY_GROUPS }, (_, kg) => kg).filter((kg) => holderIn(a)(kg) !== holderIn(b)(kg)))
    const joinMoved = movedBetween(two.deal, three.deal)
    const leaveMoved = movedBetween(three.deal, back.deal)
    // A key is touched by a move when its key group moved, or the key group reading its input partition did.
    const touched = (moved: ReadonlySet<number>, key: string) =>
      moved.has(stableHash(key) % KEY_GROUPS) || moved.has(partitionOfKey(Number(key.slice(1))) % KEY_GROUPS)
    return {
      quiet: pausesIn(byKey, normal, quietFrom, quietTo),
      join: pausesIn(byKey, normal, joinFrom, joinTo),
      joinMoved: pausesIn(byKey, normal, joinFrom, joinTo, (k) => touched(joinMoved, k)),
      joinStayed: pausesIn(byKey, normal, joinFrom, joinTo, (k) => !touched(joinMoved, k)),
      leave: pausesIn(byKey, normal, leaveFrom, leaveTo),
      leaveMoved: pausesIn(byKey, normal, leaveFrom, leaveTo, (k) => touched(leaveMoved, k)),
      leaveStayed: pausesIn(byKey, normal, leaveFrom, leaveTo, (k) => !touched(leaveMoved, k)),
      joinRunningMs: joinRunning - joinAt,
      joinRebalanceMs: three.at - firstRevoked,
      joinResumedMs: joinResumed - toEpoch(firstRevoked),
      leaveExitMs: leaveExit - leaveAt,
      leaveSettledMs: back.at - leaveAt,
      leaveResumedMs: leaveResumed - toEpoch(leaveAt),
      normalMs,
      fed,
      outputs: written,
      deals: [two.deal, three.deal, back.deal].map((d) => d.map((kgs) => `{${kgs.join(",")}}`).join(" "))
    }
  } finally {
    await feeder.stop().catch(() => undefined)
    await watcher?.stop()
    for (const c of children) if (c.alive) await c.stop()
    await endRun(res, names)
  }
}

// ---------------------------------------------------------------------------
// The case

const PLAIN = "plain `weir run` (1 process, no --cluster), PostgreSQL store"
const clusterName = (n: number) => `weir run --cluster, ${n} process${n === 1 ? "" : "es"}`

let skipped: string | undefined
let resources: Resources | undefined
let outputCounter: Counter | undefined
let runsDone = 0
let runsPlanned = 0

const fmt = (x: number, digits = 0) =>
  Number.isFinite(x) ? x.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits }) : "n/a"

export const scaleOut: BenchCase = {
  id: "scale-out",
  name: `scale-out: Kafka → running count+sum per key → Kafka, ${KEY_GROUPS} key groups, ${fmt(KEYS)} keys, ` +
    `1 / 2 / 3 \`weir run --cluster\` processes, 1 s epochs, PostgreSQL store`,
  unit: "msg",
  warmUp: false,
  async variants({ items, repeats }) {
    let brokers: string
    let pgUrl: string
    try {
      brokers = brokerList()
    } catch (e) {
      skipped = `skipped: no Kafka broker (set WEIR_KAFKA_BROKERS, or install Java 17+ and Maven for scripts/kafka.sh): ${
        e instanceof Error ? e.message.split("\n")[0] : String(e)
      }`
      return []
    }
    try {
      pgUrl = pgUrlOf()
    } catch (e) {
      skipped = `skipped: no PostgreSQL (set WEIR_PG_URL, or let scripts/postgres.sh install and start one): ${
        e instanceof Error ? e.message.split("\n")[0] : String(e)
      }`
      return []
    }
    brokersUsed = brokers
    messages = Math.max(KEYS * IN_PARTITIONS, Math.round((DEFAULT_MESSAGES * items) / 10_000_000))
    samples.clear()
    rebalance = undefined
    runsDone = 0
    const res = new Resources(brokers, pgUrl)
    await res.adoptLeftovers()
    await res.release()
    resources = res
    outputCounter = await Counter.open(brokers)
    const counter = outputCounter
    const modes: Array<readonly [string, Mode]> = [
      [PLAIN, { kind: "plain" }],
      ...PROCESS_COUNTS.map((n) => [clusterName(n), { kind: "cluster", processes: n }] as const)
    ]
    runsPlanned = modes.length * repeats
    return modes.map(([name, mode]): Variant => {
      const into: Array<Sample> = []
      samples.set(name, into)
      return {
        name,
        items: messages,
        run: async () => {
          const m = await throughputRun(res, counter, mode, into)
          runsDone++
          return m
        }
      }
    })
  },
  /** Untimed, after the throughput rounds: the rebalance phase (only if every run went through), then everything deleted. */
  async cleanup() {
    const res = resources
    try {
      if (res !== undefined && outputCounter !== undefined && runsDone === runsPlanned) rebalance = await runRebalance(res, outputCounter)
    } finally {
      killAll()
      await outputCounter?.close()
      outputCounter = undefined
      await res?.release()
      resources = undefined
    }
  },
  notes() {
    if (skipped !== undefined) return [skipped]
    const row = (name: string) => {
      const s = samples.get(name) ?? []
      const pick = (f: (x: Sample) => number) => (s.length === 0 ? NaN : median(s.map(f)))
      return {
        rate: pick((x) => x.windowItems / (x.windowMs / 1000)),
        cores: pick((x) => x.cpuMs / x.wallMs),
        idle: pick((x) => x.idleCores),
        cpuNs: pick((x) => (x.cpuMs * 1e6) / messages),
        busyNs: pick((x) => ((x.cpuMs - x.idleCores * x.wallMs) * 1e6) / messages),
        firstMs: pick((x) => x.firstMs),
        startMs: pick((x) => x.startMs),
        extra: s.reduce((a, x) => a + Math.max(0, x.extra), 0),
        crossing: pick((x) => crossingShare(x.deal)),
        deal: s.at(-1)?.deal
      }
    }
    const names = [PLAIN, ...PROCESS_COUNTS.map(clusterName)]
    const base = row(PLAIN)
    const width = Math.max(...names.map((n) => n.length))
    const columns: ReadonlyArray<readonly [string, number]> = [
      ["items/s", 8],
      ["× plain", 7],
      ["cores", 5],
      ["idle", 5],
      ["CPU ns/msg", 10],
      ["less idle", 9],
      ["1st out ms", 10],
      ["start-up ms", 11],
      ["crossing", 8]
    ]
    const line = (label: string, cells: ReadonlyArray<string>, deal: string) =>
      `  ${label.padEnd(width)}  ${cells.map((c, i) => c.padStart(columns[i]![1])).join("  ")}  ${deal}`
    const lines = [
      `scale-out (${os.availableParallelism()} cores, shared; ${fmt(messages)} messages per run, medians of ${samples.get(PLAIN)?.length ?? 0} runs; ` +
      `items/s from the first output to the last; cores = the children's CPU time / wall time from the input's commit to the last output; ` +
      `idle = the same while all run with no input (${IDLE_MS / 1000} s before it); CPU ns/msg = that CPU time / ${fmt(messages)}, ` +
      `"less idle" without the idle rate; 1st out = input's commit → first output; start-up = spawn → every process running its share; ` +
      `crossing = share of the input whose key's key group is in another process than the partition's; ` +
      `baseline: plain \`weir run\` (no --cluster), same PostgreSQL store (-r) and 1 s epochs` +
      `${WORK_US > 0 ? `; busy work ${WORK_US} µs per message` : ""}):`,
      line("", columns.map((c) => c[0]), "deal (key groups per process)")
    ]
    for (const name of names) {
      const r = row(name)
      const plain = name === PLAIN
      lines.push(
        line(
          name,
          [
            fmt(r.rate),
            fmt(r.rate / base.rate, 2),
            fmt(r.cores, 2),
            fmt(r.idle, 2),
            fmt(r.cpuNs),
            fmt(r.busyNs),
            fmt(r.firstMs),
            fmt(r.startMs),
            plain ? "-" : `${fmt(r.crossing * 100, 1)}%`
          ],
          (plain ? "-" : (r.deal ?? []).map((kgs) => `{${kgs.join(",")}}`).join(" ")) +
            (r.extra > 0 ? `  (${fmt(r.extra)} outputs beyond the input: duplicates)` : "")
        )
      )
    }
    const one = row(clusterName(1))
    const two = row(clusterName(2))
    const uniform = 1 - 1 / 2
    const ones = samples.get(clusterName(1)) ?? []
    const twos = samples.get(clusterName(2)) ?? []
    const perRound = twos.slice(0, ones.length).map((t, r) => ((t.cpuMs - ones[r]!.cpuMs) * 1e6) / messages / crossingShare(t.deal))
    lines.push(
      `  repartition hop through the exchange topic, per item crossing processes = (CPU/msg at 2 processes − at 1) / share crossing: ` +
        `${fmt((two.cpuNs - one.cpuNs) / uniform)} ns assuming keys spread uniformly over the key groups (share 1 − 1/2 = 50%), ` +
        `${fmt((two.cpuNs - one.cpuNs) / two.crossing)} ns with this deal's share (${fmt(two.crossing * 100, 1)}%); ` +
        `less idle: ${fmt((two.busyNs - one.busyNs) / two.crossing)} ns; per round (runs of a round share the machine's load): ` +
        `${perRound.length === 0 ? "-" : perRound.map((x) => fmt(x)).join(", ")} ns. At 1 process every exchange between key groups is in memory ` +
        `(${fmt(inMemoryShare() * 100, 1)}% of the items change key group); cluster 1 process − plain (no exchange, 1 worker): ` +
        `${fmt(one.cpuNs - base.cpuNs)} CPU-ns/msg (less idle ${fmt(one.busyNs - base.busyNs)})`
    )
    const rb = rebalance
    if (rb === undefined) {
      lines.push("  rebalance: not measured (a throughput run failed)")
      return lines
    }
    const p = (x: Pauses) => `max ${fmt(x.maxMs)} ms, median ${fmt(x.medianMs)} ms`
    const split = (moved: Pauses, stayed: Pauses) =>
      `; keys touched by the move (${moved.keys}): ${p(moved)}; the others (${stayed.keys}): ${p(stayed)}`
    lines.push(
      `  rebalance under a steady feed of ${fmt(FEED_PER_SECOND)} msg/s over ${fmt(KEYS)} keys (${fmt(rb.fed)} inputs, ${fmt(rb.outputs)} outputs, ` +
        `every key's last count = its inputs). Pause = per key, the longest gap between consecutive outputs (Kafka timestamps) in the window, ` +
        `less the key's normal inter-arrival (its mean gap in the quiet window; median ${fmt(rb.normalMs)} ms); max and median over keys. ` +
        `A change's window runs from the spawn (the SIGTERM) to ${RESUMED_MARGIN_MS / 1000} s after every key had an output again once the new deal ran ` +
        `everywhere; a key is touched when its key group or its input partition's key group changed process:`,
      `    no change (the ${QUIET_MS / 1000} s before the join): ${p(rb.quiet)}`,
      `    3rd process joins 2      : ${p(rb.join)}${split(rb.joinMoved, rb.joinStayed)}`,
      `      spawn → its "running key groups" line ${fmt(rb.joinRunningMs)} ms; first revocation → every process running the new deal ` +
        `${fmt(rb.joinRebalanceMs)} ms, → every key output again ${fmt(rb.joinResumedMs)} ms`,
      `    3rd leaves (SIGTERM)     : ${p(rb.leave)}${split(rb.leaveMoved, rb.leaveStayed)}`,
      `      SIGTERM → it exited ${fmt(rb.leaveExitMs)} ms, → the other two running every key group ${fmt(rb.leaveSettledMs)} ms, ` +
        `→ every key output again ${fmt(rb.leaveResumedMs)} ms`,
      `    deals: ${rb.deals.join(" → ")}`
    )
    return lines
  }
}
