/**
 * The scale-out tests' pieces: a flow's topics and store, a feeder producing
 * numbered inputs at a steady rate, `weir run --cluster` processes (each
 * spawned by a function given: in a network namespace, or here), and the
 * check of the output against what was fed.
 */
import { RdKafka } from "@confluentinc/kafka-javascript"
import { type ChildProcess, execFile } from "node:child_process"
import * as path from "node:path"
import { createTopics, readTopic } from "../kafka.js"

export const weirBin = path.resolve(import.meta.dirname, "../../../cli/bin/weir.js")
export const flowFile = path.resolve(import.meta.dirname, "../fixtures/scale-flow.ts")

/** One run's names: its flow (and so its store schema and group), topics and store. */
export interface ScaleOutFlow {
  readonly flowId: string
  readonly inTopic: string
  readonly outTopic: string
  readonly brokers: ReadonlyArray<string>
  readonly pgUrl: string
  readonly keyGroups: number
}

let counter = 0

/** Topics and a store of `keyGroups` key groups for a new flow. */
export const makeFlow = async (options: {
  readonly name: string
  readonly brokers: ReadonlyArray<string>
  readonly pgUrl: string
  readonly inPartitions: number
  readonly keyGroups: number
}): Promise<ScaleOutFlow> => {
  const tag = `${options.name}_${process.pid}_${Date.now().toString(36)}_${counter++}`
  const flow: ScaleOutFlow = {
    flowId: `scale_${tag}`,
    inTopic: `weir-scale-in-${tag}`,
    outTopic: `weir-scale-out-${tag}`,
    brokers: options.brokers,
    pgUrl: options.pgUrl,
    keyGroups: options.keyGroups
  }
  await createTopics(options.brokers, [flow.inTopic], options.inPartitions)
  await createTopics(options.brokers, [flow.outTopic], 3)
  await new Promise<void>((resolve, reject) =>
    execFile(
      process.execPath,
      [weirBin, "recovery", "init", "--postgres", options.pgUrl, String(options.keyGroups), "--flow", flow.flowId],
      { encoding: "utf8" },
      (e, _out, err) => (e ? reject(new Error(`weir recovery init failed: ${err || e.message}`)) : resolve())
    )
  )
  return flow
}

/** Produces `k<i>` → `<n>` (n = 1, 2, …, amounts) round the keys, at a steady rate, remembering what each key got. */
export class Feeder {
  private producer: RdKafka.Producer | undefined
  private timer: NodeJS.Timeout | undefined
  private seq = 0
  private inFlight = 0
  private failed: Error | undefined
  /** Per key, its amounts in the order produced (one partition per key, so the flow sees them so). */
  readonly fed = new Map<string, Array<number>>()

  constructor(
    private readonly brokers: ReadonlyArray<string>,
    private readonly topic: string,
    private readonly keys: number
  ) {}

  async start(perSecond: number): Promise<void> {
    const producer = new RdKafka.Producer({
      "bootstrap.servers": this.brokers.join(","),
      dr_cb: true,
      "linger.ms": 5,
      "enable.idempotence": true,
      "message.timeout.ms": 120_000
    })
    await new Promise<void>((resolve, reject) => producer.connect({ timeout: 10_000 }, (e) => (e ? reject(e) : resolve())))
    producer.setPollInterval(10)
    producer.on("delivery-report", (e) => {
      this.inFlight--
      if (e) this.failed ??= new Error(`input not delivered: ${e.message}`)
    })
    this.producer = producer
    const perTick = Math.max(1, Math.round(perSecond / 20))
    this.timer = setInterval(() => {
      for (let i = 0; i < perTick; i++) this.produceOne()
    }, 50)
  }

  private produceOne(): void {
    const n = ++this.seq
    const key = `k${n % this.keys}`
    let list = this.fed.get(key)
    if (list === undefined) this.fed.set(key, (list = []))
    list.push(n)
    this.inFlight++
    this.producer!.produce(this.topic, null, Buffer.from(String(n)), key)
  }

  get produced(): number {
    return this.seq
  }

  /** Stop feeding; resolves once everything produced is acknowledged. */
  async stop(): Promise<void> {
    clearInterval(this.timer)
    const producer = this.producer
    if (producer === undefined) return
    this.producer = undefined
    const deadline = Date.now() + 120_000
    while (this.inFlight > 0 && Date.now() < deadline) {
      await new Promise<void>((resolve) => producer.flush(1000, () => resolve()))
    }
    await new Promise<void>((resolve) => producer.disconnect(() => resolve()))
    if (this.failed !== undefined) throw this.failed
    if (this.inFlight > 0) throw new Error(`${this.inFlight} input messages were never acknowledged`)
  }
}

/** Starts a process: `weir`'s arguments and environment in, the child out. */
export type Spawner = (host: number, args: ReadonlyArray<string>, env: NodeJS.ProcessEnv) => ChildProcess

/** Client settings of the tests: a crash is noticed in 6 s, a cut in about 10 s. */
export const FAST_FAILURE =
  "session.timeout.ms=6000&heartbeat.interval.ms=1000&socket.timeout.ms=10000&reconnect.backoff.max.ms=2000"

/** A `weir run --cluster` process of the flow, with its output kept. */
export class Member {
  readonly child: ChildProcess
  readonly output: Array<string> = []
  readonly exited: Promise<number | null>

  constructor(
    spawner: Spawner,
    readonly host: number,
    flow: ScaleOutFlow,
    options: { readonly workUs?: number; readonly exactlyOnce?: boolean } = {}
  ) {
    const cluster = `kafka://${flow.brokers.join(",")}?${FAST_FAILURE}`
    this.child = spawner(host, [weirBin, "run", `${flowFile}:flow`, "--cluster", cluster, "-r", flow.pgUrl, "-s", "0.5", "-b", "0"], {
      ...process.env,
      BROKERS: flow.brokers.join(","),
      IN: flow.inTopic,
      OUT: flow.outTopic,
      FLOW: flow.flowId,
      WORK_US: String(options.workUs ?? 0),
      EXACTLY_ONCE: options.exactlyOnce === true ? "1" : "0"
    })
    const keep = (chunk: Buffer) => {
      for (const line of chunk.toString().split("\n")) if (line.trim() !== "") this.output.push(line)
    }
    this.child.stdout?.on("data", keep)
    this.child.stderr?.on("data", keep)
    this.exited = new Promise((resolve) => this.child.on("exit", (code, signal) => resolve(signal === null ? code : -1)))
  }

  /** Whether a line of its log matches. */
  said(pattern: RegExp): boolean {
    return this.output.some((l) => pattern.test(l))
  }

  /** Wait until its log has a line matching `pattern`. */
  async waitFor(pattern: RegExp, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (!this.said(pattern)) {
      if (Date.now() > deadline) {
        throw new Error(`host ${this.host}: no line matching ${pattern} in ${timeoutMs} ms; its log:\n${this.tail()}`)
      }
      if (this.child.exitCode !== null) throw new Error(`host ${this.host} exited (${this.child.exitCode}):\n${this.tail()}`)
      await sleep(200)
    }
  }

  tail(lines = 40): string {
    return this.output.slice(-lines).join("\n")
  }

  /** Stop it with `signal` and wait for it to exit. */
  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal)
    return this.exited
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** What the output said, per key: every count seen, with the sum it came with. */
export interface Outcome {
  readonly messages: number
  /** Output messages beyond one per input (replays after a crash or a move). */
  readonly duplicates: number
  /** Problems found (empty: the output is right). */
  readonly problems: ReadonlyArray<string>
}

/**
 * Wait until the output has, for every key fed, the count of all its inputs;
 * then check that every count from 1 up came out (no output lost) with the
 * sum of exactly that many first inputs (state exactly-once, in order), and
 * nothing beyond.
 */
export const settle = async (
  flow: ScaleOutFlow,
  fed: ReadonlyMap<string, ReadonlyArray<number>>,
  timeoutMs: number,
  isolation: "read_committed" | "read_uncommitted" = "read_uncommitted"
): Promise<Outcome> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const out = await readTopic(flow.brokers, flow.outTopic, isolation)
    const seen = new Map<string, Map<number, Set<number>>>()
    for (const m of out) {
      const [c, s] = String(m.value).split(":").map(Number)
      let byCount = seen.get(String(m.key))
      if (byCount === undefined) seen.set(String(m.key), (byCount = new Map()))
      let sums = byCount.get(c!)
      if (sums === undefined) byCount.set(c!, (sums = new Set()))
      sums.add(s!)
    }
    const done = Array.from(fed).every(([key, amounts]) => seen.get(key)?.has(amounts.length) === true)
    if (done || Date.now() > deadline) {
      const problems: Array<string> = []
      let inputs = 0
      for (const [key, amounts] of fed) {
        inputs += amounts.length
        const byCount = seen.get(key) ?? new Map<number, Set<number>>()
        let sum = 0
        for (let c = 1; c <= amounts.length; c++) {
          sum += amounts[c - 1]!
          const sums = byCount.get(c)
          if (sums === undefined) problems.push(`${key}: no output for count ${c} of ${amounts.length}`)
          else if (sums.size !== 1 || !sums.has(sum)) problems.push(`${key}: count ${c} came with sums ${[...sums].join(",")}, expected ${sum}`)
        }
        for (const c of byCount.keys()) if (c > amounts.length) problems.push(`${key}: count ${c} but only ${amounts.length} inputs`)
      }
      for (const key of seen.keys()) if (!fed.has(key)) problems.push(`unexpected key ${key}`)
      return { messages: out.length, duplicates: out.length - inputs, problems: problems.slice(0, 20) }
    }
    await sleep(2000)
  }
}
