/**
 * Running statistics per metric: three random metric streams (cpu, memory,
 * disk) are merged, and for each metric a `statefulMap` keeps the count, mean,
 * minimum and maximum seen so far, printing the summary after every reading.
 *
 *   weir run apps/examples/src/metrics.ts
 *   METRICS_COUNT=100 weir run apps/examples/src/metrics.ts -s 1
 *   weir run apps/examples/src/metrics.ts --metrics-port 9100   # then: curl 127.0.0.1:9100/metrics
 *
 * Environment: `METRICS_COUNT` sets the readings per metric (default 10,
 * 100 ms apart); `METRICS_SEED` (an integer) makes the readings the same on
 * every run.
 *
 * The state of each metric is snapshotted at every epoch, so with recovery
 * (`-r`) a restarted run continues the statistics where they were.
 */
import { Dataflow, op, RandomMetricSource, StdOutSink } from "@weir/core"

/** The running summary of one metric. */
export interface Stats {
  readonly count: number
  readonly mean: number
  readonly min: number
  readonly max: number
}

/** Fold one reading into the summary (`undefined` before the first). */
export const updateStats = (stats: Stats | undefined, value: number): Stats =>
  stats === undefined
    ? { count: 1, mean: value, min: value, max: value }
    : {
      count: stats.count + 1,
      mean: stats.mean + (value - stats.mean) / (stats.count + 1),
      min: Math.min(stats.min, value),
      max: Math.max(stats.max, value)
    }

/** One output line: `cpu    n=  3 mean=    47.0 min=   34 max=   61`. */
export const formatStats = (metric: string, s: Stats): string =>
  `${metric.padEnd(6)} n=${String(s.count).padStart(3)} mean=${s.mean.toFixed(1).padStart(8)} ` +
  `min=${String(s.min).padStart(5)} max=${String(s.max).padStart(5)}`

/** A small seeded generator of numbers in [0, 1) (mulberry32): the same sequence for the same seed. */
export const seededRandom = (seed: number): () => number => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** The metrics, the largest value each can take, and the offset added to the seed for each. */
export const METRICS = [["cpu", 100, 1], ["memory", 16_384, 2], ["disk", 500, 3]] as const

const count = Number(process.env.METRICS_COUNT ?? 10)
const seed = process.env.METRICS_SEED === undefined ? undefined : Number(process.env.METRICS_SEED)
const reading = (name: string, scale: number, seedOffset: number) => {
  const random = seed === undefined ? Math.random : seededRandom(seed + seedOffset)
  return new RandomMetricSource(name, { interval: "100 millis", count, nextRandom: () => Math.round(random() * scale) })
}

export const flow = new Dataflow("metrics")
const inputs = METRICS.map(([name, scale, seedOffset]) => op.input(name, flow, reading(name, scale, seedOffset)))
op.merge("all", ...inputs).pipe(
  op.statefulMap("stats", (stats: Stats | undefined, value) => {
    const next = updateStats(stats, value)
    return [next, next] as const
  }),
  op.map("format", ([metric, s]) => formatStats(metric, s)),
  op.output("out", new StdOutSink())
)
