/**
 * The stateful contract: one logic object per key, built lazily, snapshotted
 * at epoch close, rebuilt from its snapshot on resume.
 *
 * @since 0.1.0
 */

/** What a logic callback returns: the values to emit (each wrapped as `[key, w]`) and whether to discard the logic. */
export type LogicResult<W> = readonly [emit: Iterable<W>, discard: boolean]

const NOTHING: LogicResult<never> = [[], false]

/**
 * Per-key logic for {@link op.statefulBatch}: receives all values for its key
 * that arrived together, in arrival order.
 *
 * Return `[emit, StatefulBatchLogic.DISCARD]` to drop the logic (the next value
 * for the key builds a fresh one with `builder(undefined)`), or `RETAIN` to keep it.
 *
 * @example
 * ```ts
 * class Sum extends StatefulBatchLogic<number, number, number> {
 *   constructor(private sum = 0) { super() }
 *   onBatch(values: number[]) {
 *     for (const v of values) this.sum += v
 *     return [[this.sum], StatefulBatchLogic.RETAIN] as const
 *   }
 *   snapshot() { return this.sum }
 * }
 * op.statefulBatch("sum", keyed, (resume: number | undefined) => new Sum(resume))
 * ```
 * @since 0.1.0
 */
export abstract class StatefulBatchLogic<V, W, S> {
  /** Keep the logic after this call. */
  static readonly RETAIN = false
  /** Drop the logic (and its state) after this call. */
  static readonly DISCARD = true
  /** Called with the values for this key that arrived together, in arrival order. */
  abstract onBatch(values: Array<V>): LogicResult<W>
  /** Called once the time returned by {@link notifyAt} has passed. */
  onNotify(): LogicResult<W> {
    return NOTHING
  }
  /** Called once when every upstream has ended (after the last `onBatch`). */
  onEof(): LogicResult<W> {
    return NOTHING
  }
  /** When to call {@link onNotify} next, or `undefined` for never. Asked after every call. */
  notifyAt(): Date | undefined {
    return undefined
  }
  /** The state to persist at epoch close; must not alias mutable internals that change later. */
  abstract snapshot(): S
}

/**
 * Per-key logic for {@link op.stateful}: like {@link StatefulBatchLogic} but
 * called once per value. If `onItem` discards mid-batch, the next value of the
 * batch gets a fresh logic from the builder.
 *
 * @example
 * ```ts
 * class Latest extends StatefulLogic<string, readonly [string | undefined, string], string> {
 *   constructor(private last: string | undefined) { super() }
 *   onItem(value: string) {
 *     const prev = this.last
 *     this.last = value
 *     return [[[prev, value] as const], StatefulLogic.RETAIN] as const
 *   }
 *   snapshot() { return this.last! }
 * }
 * declare const statuses: KeyedStream<string>   // keyed by device
 * op.stateful("latest", statuses, (resume: string | undefined) => new Latest(resume))
 * ```
 * @since 0.1.0
 */
export abstract class StatefulLogic<V, W, S> {
  static readonly RETAIN = false
  static readonly DISCARD = true
  /** Called for each value of this key, in arrival order. */
  abstract onItem(value: V): LogicResult<W>
  onNotify(): LogicResult<W> {
    return NOTHING
  }
  onEof(): LogicResult<W> {
    return NOTHING
  }
  notifyAt(): Date | undefined {
    return undefined
  }
  abstract snapshot(): S
}
