/**
 * Worker threads: (1) `threads`, a CPU-heavy keyed pipeline (parse JSON,
 * ~1.5 µs of hashing per record, keyOn over 4,096 users, running sum, counting
 * sink) on 1, 2 and 4 threads, against 1 thread; (2) `threads-hop`, a cheap
 * keyed running sum over 1,000 keys, 2 workers interleaved on this thread
 * against 2 and 1 worker threads: what one exchange hop between threads
 * costs. Flows live in ../flows/threads.ts, which every thread imports.
 *
 * Notes give, per variant and from the timed runs: throughput, the cores used
 * (process CPU time, every thread's, over wall time), and the thread start-up
 * (runs of ~0 items, untimed), so throughput can be read without it.
 * `--only=threads` runs both cases (it is also the file's name);
 * `--only=threads-hop` only the second.
 */
import { clusterMain, type FlowModule, stableHash } from "@weir/core"
import * as os from "node:os"
import { hop, HOP_KEYS, PARTS, SCORE_ROUNDS, USERS } from "../flows/threads.js"
import type { BenchCase, Variant } from "../harness.js"
import { median } from "../harness.js"

/** The flow module the threads import (TypeScript: the threads load it through tsx). */
const FLOW = new URL("../flows/threads.ts", import.meta.url)
const EPOCH = "1 second"

/** The heavy case's share of `--items` (default 10 M → 2.5 M: a 1-thread run takes several seconds here). */
const heavyShare = (n: number) => Math.max(PARTS, Math.floor(n / 4))

/** One run: wall time and process CPU time (user + system, all threads), in ms. */
interface Sample {
  readonly wallMs: number
  readonly cpuMs: number
}

/** `clusterMain` with a flow module: `threads` worker threads. */
const onThreads = (module: FlowModule, threads: number): Promise<void> =>
  clusterMain(module, { workersPerProcess: threads, epochInterval: EPOCH })

/** A shared item counter the sinks of every thread add to. */
const newCounter = () => new Int32Array(new SharedArrayBuffer(4))

/** Run `body`, record its wall and CPU time in `into`, and check the sinks saw `items` items. */
const measured = async (into: Array<Sample>, counter: Int32Array, items: number, body: () => Promise<void>): Promise<void> => {
  Atomics.store(counter, 0, 0)
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  await body()
  const wallMs = performance.now() - t0
  const cpu = process.cpuUsage(cpu0)
  into.push({ wallMs, cpuMs: (cpu.user + cpu.system) / 1000 })
  const got = Atomics.load(counter, 0)
  if (got !== items) throw new Error(`the sinks counted ${got} items, expected ${items}`)
}

/** The timed runs' samples (the harness runs every variant once to warm up first: dropped). */
const timed = (xs: ReadonlyArray<Sample>): ReadonlyArray<Sample> => (xs.length > 1 ? xs.slice(1) : xs)
const wallOf = (xs: ReadonlyArray<Sample>) => median(timed(xs).map((s) => s.wallMs))
const cpuOf = (xs: ReadonlyArray<Sample>) => median(timed(xs).map((s) => s.cpuMs))
const coresOf = (xs: ReadonlyArray<Sample>) => median(timed(xs).map((s) => s.cpuMs / s.wallMs))

/** Thread start-up: the fastest (by wall time) of `runs` runs of a flow with ~0 items (`PARTS`, one per partition). */
const startUp = async (module: FlowModule, threads: number, runs = 2): Promise<Sample> => {
  let best: Sample = { wallMs: Infinity, cpuMs: Infinity }
  for (let r = 0; r < runs; r++) {
    const cpu0 = process.cpuUsage()
    const t0 = performance.now()
    await onThreads(module, threads)
    const wallMs = performance.now() - t0
    const cpu = process.cpuUsage(cpu0)
    if (wallMs < best.wallMs) best = { wallMs, cpuMs: (cpu.user + cpu.system) / 1000 }
  }
  return best
}
const NO_START: Sample = { wallMs: 0, cpuMs: 0 }

/** `ms` less the start-up's, or undefined when the run was not clearly longer than the start-up. */
const less = (ms: number, start: number): number | undefined => (ms > 1.2 * start ? ms - start : undefined)

const fmt = (x: number, digits = 0) => x.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits })
const fmtOr = (x: number | undefined, digits = 0) => (x === undefined || !Number.isFinite(x) ? "n/a" : fmt(x, digits))
const signed = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? "n/a" : `${x >= 0 ? "+" : "−"}${fmt(Math.abs(x), 1)}`)
const plural = (n: number) => `${n} thread${n === 1 ? "" : "s"}`
const machine = `${os.availableParallelism()} cores`
const SHORT = "n/a: the run was not clearly longer than the start-up; use more --items"

// ---------------------------------------------------------------------------

const THREAD_COUNTS = [1, 2, 4] as const
const heavySamples = new Map<number, Array<Sample>>()
const heavyStartUp = new Map<number, Sample>()
let heavyItems = 0

export const threads: BenchCase = {
  id: "threads",
  name: `threads: JSON parse → ${SCORE_ROUNDS} hash rounds (~1.5 µs) → keyOn over ${fmt(USERS)} users → running sum → count; ` +
    `${PARTS} partitions, 1 / 2 / 4 worker threads`,
  unit: "item",
  async variants({ items }) {
    const total = heavyShare(items)
    heavyItems = total
    heavySamples.clear()
    heavyStartUp.clear()
    const counter = newCounter()
    for (const n of THREAD_COUNTS) {
      heavyStartUp.set(n, await startUp({ module: FLOW, export: "heavy", args: [PARTS, newCounter()] }, n))
    }
    return THREAD_COUNTS.map((n): Variant => {
      const samples: Array<Sample> = []
      heavySamples.set(n, samples)
      const module: FlowModule = { module: FLOW, export: "heavy", args: [total, counter] }
      return {
        name: `${plural(n)} (clusterMain, flow module)`,
        items: total,
        run: () => measured(samples, counter, total, () => onThreads(module, n))
      }
    })
  },
  notes() {
    if ((heavySamples.get(1)?.length ?? 0) === 0) return []
    const row = (n: number) => {
      const s = heavySamples.get(n)!
      const start = heavyStartUp.get(n) ?? NO_START
      const wall = wallOf(s)
      return { wall, cpu: cpuOf(s), cores: coresOf(s), start, net: less(wall, start.wallMs) }
    }
    const base = row(1)
    const lines = [
      `threads (${machine}; ${fmt(heavyItems)} items; epochs of ${EPOCH}; medians of the timed runs; cores used = process CPU time ` +
      `of all threads / wall time; "excl. start-up" subtracts the start-up below from the wall time):`
    ]
    for (const n of THREAD_COUNTS) {
      const r = row(n)
      const netRate = r.net === undefined ? undefined : heavyItems / (r.net / 1000)
      const netSpeedUp = r.net === undefined || base.net === undefined ? undefined : base.net / r.net
      lines.push(
        `  ${plural(n).padEnd(9)}: ${fmt(heavyItems / (r.wall / 1000))} items/s, speed-up ×${fmt(base.wall / r.wall, 2)} over 1 thread, ` +
          `cores used ${fmt(r.cores, 2)} (CPU ${fmt(r.cpu)} ms / wall ${fmt(r.wall)} ms); ` +
          (r.net === undefined ? `excl. start-up ${SHORT}` : `excl. start-up ${fmtOr(netRate)} items/s, ×${fmtOr(netSpeedUp, 2)}`)
      )
    }
    lines.push(
      `  start-up (best of 2 untimed runs of ${PARTS} items; every thread imports the flow through tsx): ` +
        THREAD_COUNTS.map((n) => {
          const st = heavyStartUp.get(n) ?? NO_START
          return `${plural(n)} ${fmt(st.wallMs)} ms (CPU ${fmt(st.cpuMs)} ms)`
        }).join(", ")
    )
    return lines
  }
}

// ---------------------------------------------------------------------------

type HopVariant = "interleaved" | "2 threads" | "1 thread"
const hopSamples = new Map<HopVariant, Array<Sample>>()
const hopStartUp = new Map<HopVariant, Sample>()
let hopItems = 0
let hopCrossing = 0

/** The share of items whose key's owner (of 2 workers) is not the worker reading the item's partition: they hop. */
const crossingShare = (total: number): number => {
  const workers = 2
  const owner = Array.from({ length: HOP_KEYS }, (_, k) => stableHash(`key-${k}`) % workers)
  const per = Math.ceil(total / PARTS)
  let crossing = 0
  for (let i = 0; i < total; i++) if (owner[i % HOP_KEYS] !== Math.floor(i / per) % workers) crossing++
  return crossing / total
}

export const threadsHop: BenchCase = {
  id: "threads-hop",
  name: `threads-hop: keyOn over ${fmt(HOP_KEYS)} keys → running sum → count; 2 workers interleaved vs 2 and 1 worker threads`,
  unit: "item",
  async variants({ items }) {
    const total = Math.max(PARTS, items)
    hopItems = total
    hopCrossing = crossingShare(total)
    hopSamples.clear()
    hopStartUp.clear()
    const counter = newCounter()
    const module: FlowModule = { module: FLOW, export: "hop", args: [total, counter] }
    hopStartUp.set("2 threads", await startUp({ module: FLOW, export: "hop", args: [PARTS, newCounter()] }, 2))
    hopStartUp.set("1 thread", await startUp({ module: FLOW, export: "hop", args: [PARTS, newCounter()] }, 1))
    const variant = (key: HopVariant, name: string, body: () => Promise<void>): Variant => {
      const samples: Array<Sample> = []
      hopSamples.set(key, samples)
      return { name, items: total, run: () => measured(samples, counter, total, body) }
    }
    return [
      variant("interleaved", "2 workers interleaved on this thread (clusterMain, Dataflow object)", () =>
        clusterMain(hop(total, counter), { workersPerProcess: 2, epochInterval: EPOCH })),
      variant("2 threads", "2 worker threads (clusterMain, flow module)", () => onThreads(module, 2)),
      variant("1 thread", "1 worker thread (clusterMain, flow module)", () => onThreads(module, 1))
    ]
  },
  notes() {
    if ((hopSamples.get("interleaved")?.length ?? 0) === 0) return []
    const ns = (ms: number | undefined) => (ms === undefined ? undefined : (ms * 1e6) / hopItems)
    const row = (key: HopVariant) => {
      const s = hopSamples.get(key)!
      const start = hopStartUp.get(key) ?? NO_START
      const wall = wallOf(s)
      const cpu = cpuOf(s)
      return {
        wall: ns(wall)!,
        cpu: ns(cpu)!,
        cores: coresOf(s),
        start,
        netWall: ns(start.wallMs === 0 ? wall : less(wall, start.wallMs)),
        netCpu: ns(start.cpuMs === 0 ? cpu : less(cpu, start.cpuMs))
      }
    }
    const inter = row("interleaved")
    const two = row("2 threads")
    const one = row("1 thread")
    const minus = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? undefined : a - b)
    const perHop = (x: number | undefined) => (x === undefined || hopCrossing === 0 ? "" : ` (${signed(x / hopCrossing)} per item that changes worker)`)
    const lines = [
      `threads-hop (${machine}; ${fmt(hopItems)} items; epochs of ${EPOCH}; medians of the timed runs; CPU = process CPU time of all threads; ` +
      `with 2 workers ${fmt(hopCrossing * 100, 1)}% of the items change worker at the keyOn → running sum exchange; ` +
      `"excl. start-up" subtracts the wall and CPU time of a run of ${PARTS} items on as many threads):`
    ]
    for (const [label, r] of [["2 workers interleaved", inter], ["2 worker threads", two], ["1 worker thread", one]] as const) {
      lines.push(
        `  ${label.padEnd(21)}: ${fmt(r.wall, 1)} ns/item wall, ${fmt(r.cpu, 1)} CPU-ns/item, CPU / wall ${fmt(r.cores, 2)}` +
          (r.start.wallMs === 0
            ? ""
            : `; excl. start-up (${fmt(r.start.wallMs)} ms, CPU ${fmt(r.start.cpuMs)} ms): ` +
              `${fmtOr(r.netWall, 1)} ns/item wall, ${fmtOr(r.netCpu, 1)} CPU-ns/item`)
      )
    }
    lines.push(
      `  hop, 2 threads − 2 interleaved: wall ${signed(two.wall - inter.wall)} ns/item, CPU ${signed(two.cpu - inter.cpu)} ns/item; ` +
        `excl. start-up: wall ${signed(minus(two.netWall, inter.netWall))} ns/item, CPU ${signed(minus(two.netCpu, inter.netCpu))} ns/item` +
        perHop(minus(two.netCpu, inter.netCpu))
    )
    lines.push(
      `  hop, 2 threads − 1 thread:      wall ${signed(two.wall - one.wall)} ns/item, CPU ${signed(two.cpu - one.cpu)} ns/item; ` +
        `excl. start-up: wall ${signed(minus(two.netWall, one.netWall))} ns/item, CPU ${signed(minus(two.netCpu, one.netCpu))} ns/item` +
        perHop(minus(two.netCpu, one.netCpu))
    )
    return lines
  }
}

/** Run order: the heavy case first. */
export const cases = [threads, threadsHop]
