/**
 * Running statistics per metric: three random metric streams (cpu, memory,
 * disk) are merged, and for each metric a `statefulMap` keeps the count, mean,
 * minimum and maximum seen so far, printing the summary after every reading.
 *
 *   weir run apps/examples/src/metrics.ts
 *   METRICS_COUNT=100 weir run apps/examples/src/metrics.ts -s 1
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

const count = Number(process.env.METRICS_COUNT ?? 10)
const reading = (name: string, scale: number) =>
  new RandomMetricSource(name, { interval: "100 millis", count, nextRandom: () => Math.round(Math.random() * scale) })

export const flow = new Dataflow("metrics")
const cpu = op.input("cpu", flow, reading("cpu", 100))
const memory = op.input("memory", flow, reading("memory", 16_384))
const disk = op.input("disk", flow, reading("disk", 500))
op.merge("all", cpu, memory, disk)
  .then(op.statefulMap, "stats", (stats: Stats | undefined, value: number) => {
    const next = updateStats(stats, value)
    return [next, next] as const
  })
  .then(op.map, "format", ([metric, s]: readonly [string, Stats]) =>
    `${metric.padEnd(6)} n=${String(s.count).padStart(3)} mean=${s.mean.toFixed(1).padStart(8)} ` +
    `min=${String(s.min).padStart(5)} max=${String(s.max).padStart(5)}`)
  .then(op.output, "out", new StdOutSink())
