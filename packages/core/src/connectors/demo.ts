/**
 * A demo source of random metrics.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import { EOF, FixedPartitionedSource, type StatefulSourcePartition } from "../inputs.js"
import { nowMillis } from "../runtime/clock.js"

/** The resume state of a {@link RandomMetricSource}: when the next value is due and how many were emitted. */
export interface RandomMetricState {
  readonly awakeAt: number
  readonly count: number
}

/**
 * Emits `[metricName, value]` once per `interval` (the first at once) until
 * `count` values were emitted, then ends. One partition named after the
 * metric; resumable (the state is when the next value is due and how many
 * were emitted).
 *
 * Values come at a fixed cadence: each is due one `interval` after the
 * previous one was due (not after it was emitted), on the run's clock, so a
 * run on a virtual clock is deterministic. As in Bytewax, a run resumed long
 * after the last one first catches up on the values it missed. Defaults: `interval` 700 ms,
 * `count` unlimited, `nextRandom` an integer in 0..9.
 *
 * @example
 * ```ts
 * const volts = op.input("volts", flow, new RandomMetricSource("volts", { interval: "100 millis", count: 50 }))
 * // ["volts", 3], ["volts", 7], … one every 100 ms, 50 in all
 * ```
 * @since 0.1.0
 */
export class RandomMetricSource extends FixedPartitionedSource<readonly [string, number], RandomMetricState> {
  readonly intervalMs: number
  readonly count: number
  readonly nextRandom: () => number
  constructor(
    readonly metricName: string,
    options: {
      readonly interval?: Duration.Input | undefined
      readonly count?: number | undefined
      readonly nextRandom?: (() => number) | undefined
    } = {}
  ) {
    super()
    this.intervalMs = Duration.toMillis(Duration.fromInputUnsafe(options.interval ?? 700))
    this.count = options.count ?? Number.MAX_SAFE_INTEGER
    this.nextRandom = options.nextRandom ?? (() => Math.floor(Math.random() * 10))
  }
  listParts(): ReadonlyArray<string> {
    return [this.metricName]
  }
  buildPart(
    _stepId: string,
    _forPart: string,
    resume: RandomMetricState | undefined
  ): StatefulSourcePartition<readonly [string, number], RandomMetricState> {
    let awakeAt = resume?.awakeAt ?? nowMillis()
    let count = resume?.count ?? 0
    return {
      nextBatch: () => {
        if (count >= this.count) return EOF
        count++
        awakeAt += this.intervalMs
        return [[this.metricName, this.nextRandom()] as const]
      },
      nextAwake: () => new Date(awakeAt),
      snapshot: () => ({ awakeAt, count })
    }
  }
}
