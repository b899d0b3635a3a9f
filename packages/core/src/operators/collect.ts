/**
 * `collect`: gather each key's values into lists by size or inactivity.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import { defineOperator, type KeyedStream } from "../Dataflow.js"
import { nowMillis } from "../runtime/clock.js"
import { type LogicResult, StatefulBatchLogic } from "../StatefulLogic.js"
import { statefulBatch } from "./kernel.js"

/** The persisted state of one key of {@link collect}. */
export interface CollectState<V> {
  readonly acc: ReadonlyArray<V>
  /** When the list is emitted if no value arrives (ms since the epoch). */
  readonly timeoutAt: number
}

/** @internal */
export class CollectLogic<V> extends StatefulBatchLogic<V, Array<V>, CollectState<V>> {
  private acc: Array<V>
  private timeoutAt: number
  constructor(
    resume: CollectState<V> | undefined,
    private readonly timeoutMs: number,
    private readonly maxSize: number,
    private readonly now: () => number = nowMillis
  ) {
    super()
    this.acc = resume?.acc.slice() ?? []
    this.timeoutAt = resume?.timeoutAt ?? this.now() + timeoutMs
  }
  onBatch(values: Array<V>): LogicResult<Array<V>> {
    const out: Array<Array<V>> = []
    for (let i = 0; i < values.length; i++) {
      this.acc.push(values[i]!)
      // The timeout measures inactivity: every value pushes it back.
      this.timeoutAt = this.now() + this.timeoutMs
      if (this.acc.length >= this.maxSize) {
        out.push(this.acc)
        this.acc = []
      }
    }
    return [out, this.acc.length === 0]
  }
  override onNotify(): LogicResult<Array<V>> {
    return [this.acc.length > 0 ? [this.acc] : [], true]
  }
  override onEof(): LogicResult<Array<V>> {
    return [this.acc.length > 0 ? [this.acc] : [], true]
  }
  override notifyAt(): Date {
    return new Date(this.timeoutAt)
  }
  snapshot(): CollectState<V> {
    return { acc: this.acc.slice(), timeoutAt: this.timeoutAt }
  }
}

/**
 * Collect each key's values, in arrival order, into arrays emitted when
 * `maxSize` values have arrived, when no value has arrived for `timeout`, or
 * at end of input.
 *
 * @example
 * ```ts
 * const batches = op.collect("batch", keyed, { timeout: "10 seconds", maxSize: 3 })
 * // [0..9] keyed "ALL" → ["ALL", [0, 1, 2]], ["ALL", [3, 4, 5]], ["ALL", [6, 7, 8]], ["ALL", [9]]
 * ```
 * @since 0.1.0
 */
export const collect: <V>(
  stepId: string,
  up: KeyedStream<V>,
  options: { readonly timeout: Duration.Input; readonly maxSize: number }
) => KeyedStream<Array<V>> = defineOperator(
  "collect",
  { ups: [{ name: "up", index: 0, kind: "one" }] },
  <V>(up: KeyedStream<V>, options: { readonly timeout: Duration.Input; readonly maxSize: number }) => {
    const timeout = Duration.fromInput(options?.timeout)
    if (timeout._tag === "None") throw new TypeError(`operator 'collect': 'timeout' must be a duration; got ${String(options?.timeout)}`)
    const maxSize = options.maxSize
    if (!Number.isInteger(maxSize) || maxSize < 1) {
      throw new TypeError(`operator 'collect': 'maxSize' must be a positive integer; got ${String(maxSize)}`)
    }
    const timeoutMs = Duration.toMillis(timeout.value)
    return statefulBatch(
      "statefulBatch",
      up,
      (resume: CollectState<V> | undefined) => new CollectLogic<V>(resume, timeoutMs, maxSize)
    )
  }
)
