/**
 * `collect`: gather each key's values into lists by size or inactivity.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import { dataLast, defineOperator, type KeyedStream, typeName, type Tagged } from "../Dataflow.js"
import { nowMillis } from "../runtime/clock.js"
import { type LogicResult, StatefulBatchLogic } from "../StatefulLogic.js"
import { upPort } from "./checks.js"
import { statefulBatch, ttlMillis } from "./kernel.js"

const DISCARD = true

/**
 * The persisted state of one key of {@link collect}.
 *
 * @since 0.1.0
 */
export interface CollectState<V> {
  readonly acc: ReadonlyArray<V>
  /** When the list is emitted if no value arrives (ms since the epoch). */
  readonly timeoutAt: number
}

/**
 * @internal {@link collect}'s logic. `now` is the run's clock; tests pass a
 * fixed one.
 */
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
    // The timeout measures inactivity: every value pushes it back (to the same time, within one batch).
    this.timeoutAt = this.now() + this.timeoutMs
    for (let i = 0; i < values.length; i++) {
      this.acc.push(values[i]!)
      if (this.acc.length >= this.maxSize) {
        out.push(this.acc)
        this.acc = []
      }
    }
    return [out, this.acc.length === 0]
  }
  override onNotify(): LogicResult<Array<V>> {
    return [this.acc.length > 0 ? [this.acc] : [], DISCARD]
  }
  override onEof(): LogicResult<Array<V>> {
    return [this.acc.length > 0 ? [this.acc] : [], DISCARD]
  }
  override notifyAt(): Date {
    return new Date(this.timeoutAt)
  }
  snapshot(): CollectState<V> {
    return { acc: this.acc.slice(), timeoutAt: this.timeoutAt }
  }
}

/**
 * Options of {@link collect}.
 *
 * @since 0.2.0
 */
export interface CollectOptions {
  /** Emit a key's list when no value has arrived for this long. */
  readonly timeout: Duration.Input
  /** Emit a key's list once it holds this many values. */
  readonly maxSize: number
  /**
   * Time-to-live of a key's state (see `StatefulOptions`): a key that receives
   * no value for this long is discarded, with its snapshot. A list still
   * pending then is lost, so keep `ttl` above `timeout` (the timeout then
   * always emits first) unless dropping is what you want. Default: none.
   */
  readonly ttl?: Duration.Input | undefined
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
 * const batches2 = keyed.pipe(op.collect("batch2", { timeout: "10 seconds", maxSize: 3 }))
 * ```
 *
 * `ttl` bounds how long a key's state may sit untouched (see {@link CollectOptions}):
 *
 * @example
 * ```ts
 * // Lists of up to 100 values or 10 seconds of quiet; a key idle for an hour is forgotten.
 * const lists = op.collect("lists", keyed, { timeout: "10 seconds", maxSize: 100, ttl: "1 hour" })
 * ```
 * @since 0.1.0
 */
export const collect: {
  <V>(stepId: string, options: CollectOptions): (up: KeyedStream<V>) => KeyedStream<Array<V>>
  <V>(stepId: string, up: KeyedStream<V>, options: CollectOptions): KeyedStream<Array<V>>
} & Tagged<"collect"> = dataLast(2, defineOperator(
  "collect",
  upPort,
  <V>(up: KeyedStream<V>, options: CollectOptions) => {
    if (typeof options !== "object" || options === null) {
      throw new TypeError(
        `operator 'collect': 'options' must be an object \`{ timeout, maxSize }\`; got a \`${typeName(options)}\` instead`
      )
    }
    const timeout = Duration.fromInput(options.timeout)
    if (timeout._tag === "None") throw new TypeError(`operator 'collect': 'timeout' must be a duration; got ${String(options.timeout)}`)
    const maxSize = options.maxSize
    if (!Number.isInteger(maxSize) || maxSize < 1) {
      throw new TypeError(`operator 'collect': 'maxSize' must be a positive integer; got ${String(maxSize)}`)
    }
    const timeoutMs = Duration.toMillis(timeout.value)
    const ttl = ttlMillis("collect", options)
    return statefulBatch(
      "statefulBatch",
      up,
      (resume: CollectState<V> | undefined) => new CollectLogic<V>(resume, timeoutMs, maxSize),
      { ttl }
    )
  }
))
