/**
 * The runtime's metrics, through Effect's `Metric` (so any registry or
 * exporter an Effect program sets up sees them, and core needs no metrics
 * library). Counting must cost nothing per item: each step's items in and
 * out are plain numbers bumped once per batch, and {@link StepCounters}
 * publishes them to the `Metric`s now and then (every few hundred
 * milliseconds, at each epoch close and at the end), with `step_id` and
 * `worker` attributes.
 *
 * | metric | kind | attributes |
 * |---|---|---|
 * | `weir_items_in_total` | counter | `step_id`, `worker` |
 * | `weir_items_out_total` | counter | `step_id`, `worker` |
 * | `weir_epoch` | gauge | `worker` |
 * | `weir_state_keys` | gauge | `step_id`, `worker` |
 * | `weir_epoch_commit_seconds` | histogram | |
 */
import type * as Context from "effect/Context"
import * as Metric from "effect/Metric"
import type { Plan } from "./plan.js"

/** Items that entered each step. */
export const itemsIn = Metric.counter("weir_items_in_total", { description: "Items that entered the step, per step and worker" })
/** Items each step emitted (a source: items read). */
export const itemsOut = Metric.counter("weir_items_out_total", { description: "Items the step emitted, per step and worker" })
/** The epoch each worker is in. */
export const epochGauge = Metric.gauge("weir_epoch", { description: "The epoch the worker's inputs are in" })
/** Keys a stateful step holds. */
export const stateKeys = Metric.gauge("weir_state_keys", { description: "Keys a stateful step holds, per step and worker" })
/** How long epoch commits take. */
export const commitSeconds = Metric.histogram("weir_epoch_commit_seconds", {
  description: "Time to write an epoch's snapshots to the recovery store",
  boundaries: Metric.exponentialBoundaries({ start: 0.0005, factor: 2, count: 16 })
})

/** How often counts are published while a run is busy. */
export const PUBLISH_EVERY_MS = 250

/** One reading of a counter or gauge, as it crosses threads. */
export interface MetricReading {
  readonly id: string
  readonly kind: "counter" | "gauge"
  readonly attributes: Readonly<Record<string, string>>
  readonly value: number
}

/** Per step and local worker, the items in and out, as plain numbers; published to `Metric` in bulk. */
export class StepCounters {
  /** `[local worker * steps + step]`. */
  readonly in: Float64Array
  readonly out: Float64Array
  private readonly publishedIn: Float64Array
  private readonly publishedOut: Float64Array
  private readonly inMetrics: Array<Metric.Metric<number, unknown> | undefined>
  private readonly outMetrics: Array<Metric.Metric<number, unknown> | undefined>
  private lastPublished = 0

  constructor(private readonly plan: Plan, private readonly workers: ReadonlyArray<number>) {
    const n = plan.steps.length * workers.length
    this.in = new Float64Array(n)
    this.out = new Float64Array(n)
    this.publishedIn = new Float64Array(n)
    this.publishedOut = new Float64Array(n)
    this.inMetrics = new Array(n)
    this.outMetrics = new Array(n)
  }

  /** The slot of step `step` on the `local`-th worker of this thread. */
  slot(local: number, step: number): number {
    return local * this.plan.steps.length + step
  }

  /** Items the input steps of this thread read so far. */
  get itemsRead(): number {
    let n = 0
    for (let w = 0; w < this.workers.length; w++) {
      for (const s of this.plan.steps) if (s.kernel.kind === "input") n += this.out[this.slot(w, s.index)]!
    }
    return n
  }

  /** Publish the counts to the counters if it is due (or `force`); returns whether it did. */
  publish(context: Context.Context<never>, now: number, force: boolean): boolean {
    if (!force && now - this.lastPublished < PUBLISH_EVERY_MS) return false
    this.lastPublished = now
    for (let w = 0; w < this.workers.length; w++) {
      const worker = String(this.workers[w])
      for (const s of this.plan.steps) {
        const i = this.slot(w, s.index)
        const din = this.in[i]! - this.publishedIn[i]!
        if (din > 0) {
          this.publishedIn[i] = this.in[i]!
          ;(this.inMetrics[i] ??= Metric.withAttributes(itemsIn, { step_id: s.stepId, worker })).updateUnsafe(din, context)
        }
        const dout = this.out[i]! - this.publishedOut[i]!
        if (dout > 0) {
          this.publishedOut[i] = this.out[i]!
          ;(this.outMetrics[i] ??= Metric.withAttributes(itemsOut, { step_id: s.stepId, worker })).updateUnsafe(dout, context)
        }
      }
    }
    return true
  }
}

/** Set a gauge with attributes now (outside any Effect: the registry of `context`). */
export const setGauge = (
  gauge: Metric.Gauge<number>,
  attributes: Readonly<Record<string, string>>,
  value: number,
  context: Context.Context<never>
): void => {
  Metric.withAttributes(gauge, attributes).updateUnsafe(value, context)
}

/** Every counter and gauge of `context`'s registry, as readings (for a thread to send to the coordinator). */
export const readingsOf = (context: Context.Context<never>): Array<MetricReading> => {
  const out: Array<MetricReading> = []
  for (const m of Metric.snapshotUnsafe(context)) {
    const state = m.state as { readonly count?: number | bigint; readonly value?: number | bigint }
    const attributes = (m.attributes ?? {}) as Record<string, string>
    if (m.type === "Counter") out.push({ id: m.id, kind: "counter", attributes, value: Number(state.count ?? 0) })
    else if (m.type === "Gauge") out.push({ id: m.id, kind: "gauge", attributes, value: Number(state.value ?? 0) })
  }
  return out
}

const known = new Map<string, Metric.Metric<number, unknown>>([
  ["weir_items_in_total", itemsIn],
  ["weir_items_out_total", itemsOut],
  ["weir_epoch", epochGauge],
  ["weir_state_keys", stateKeys]
])

/**
 * Apply readings another thread sent: counters by how much they grew since
 * the last reading from that thread, gauges as they are. Keeps what it saw
 * in `seen`.
 */
export const applyReadings = (
  readings: ReadonlyArray<MetricReading>,
  seen: Map<string, number>,
  context: Context.Context<never>
): void => {
  for (const r of readings) {
    const key = `${r.id}\u0000${JSON.stringify(r.attributes)}`
    if (r.kind === "counter") {
      const prev = seen.get(key) ?? 0
      if (r.value > prev) {
        Metric.withAttributes(known.get(r.id) ?? Metric.counter(r.id), r.attributes).updateUnsafe(r.value - prev, context)
        seen.set(key, r.value)
      }
    } else {
      Metric.withAttributes(known.get(r.id) ?? Metric.gauge(r.id), r.attributes).updateUnsafe(r.value, context)
    }
  }
}
