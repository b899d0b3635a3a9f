/**
 * A partitioned source that hands out its items at a steady pace.
 *
 * @since 0.2.0
 */
import { currentTimeMillis, EOF, FixedPartitionedSource, type StatefulSourcePartition } from "@weir/core"
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"

/**
 * What a {@link PacedSource} emits and how fast.
 *
 * @since 0.2.0
 */
export interface PacedSourceOptions<X> {
  /** How many partitions, named `"p0"`, `"p1"`, …; default 1. */
  readonly parts?: number
  /** How many items each partition emits before it ends. */
  readonly perPart: number
  /** Items per batch; default 1. */
  readonly batchSize?: number
  /** How long a partition waits after a batch before it emits the next, on the run's clock. */
  readonly interval: Duration.Input
  /**
   * Item `index` (0 to `perPart - 1`) of partition `part` (0 to `parts - 1`).
   * Without it the items are the indexes, so every partition emits
   * `0, 1, …, perPart - 1`.
   */
  readonly item?: (part: number, index: number) => X
}

const positiveInteger = (name: string, value: number): number => {
  if (!Number.isInteger(value) || value < 1) {
    throw new TypeError(`PacedSource: ${name} must be a positive integer; got ${String(value)}`)
  }
  return value
}

/**
 * `parts` partitions of `perPart` items each, `batchSize` at a time, each
 * partition waiting `interval` after every batch: a flow over it runs for a
 * while, with items in flight across many epochs, which is what tests of
 * recovery, worker threads, stopping a run or observing one need. The first
 * batch comes at once and the last is followed by the end of the partition.
 *
 * The resume state is the number of items a partition has emitted, so a
 * resumed run continues after the last snapshotted item. The wait is on the
 * run's clock: on a `VirtualClock` the source runs without sleeping.
 *
 * @example
 * ```ts
 * const flow = new Dataflow("paced")
 * const out: Array<string> = []
 * const source = new PacedSource({ parts: 2, perPart: 100, batchSize: 10, interval: "5 millis", item: (p, i) => `p${p}-${i}` })
 * op.input("inp", flow, source).then(op.output, "out", new TestingSink(out))
 * await runMain(flow) // about 50 ms; out holds p0-0 … p0-99 and p1-0 … p1-99
 * ```
 * @since 0.2.0
 */
export class PacedSource<X = number> extends FixedPartitionedSource<X, number> {
  readonly parts: number
  readonly perPart: number
  readonly batchSize: number
  /** The wait after each batch, in milliseconds. */
  readonly intervalMillis: number
  private readonly item: (part: number, index: number) => X

  constructor(
    options: PacedSourceOptions<X> & (number extends X ? unknown : { readonly item: (part: number, index: number) => X })
  ) {
    super()
    this.parts = positiveInteger("parts", options.parts ?? 1)
    this.batchSize = positiveInteger("batchSize", options.batchSize ?? 1)
    if (!Number.isInteger(options.perPart) || options.perPart < 0) {
      throw new TypeError(`PacedSource: perPart must be a non-negative integer; got ${String(options.perPart)}`)
    }
    this.perPart = options.perPart
    const interval = Duration.fromInput(options.interval)
    const millis = Option.isSome(interval) && Duration.isFinite(interval.value) ? Duration.toMillis(interval.value) : Number.NaN
    if (!(millis >= 0)) {
      throw new TypeError(`PacedSource: interval must be a finite duration of 0 or more, such as "5 millis"; got ${String(options.interval)}`)
    }
    this.intervalMillis = millis
    // Without `item`, X is number (the constructor's type allows no other): the index is the item.
    this.item = options.item ?? ((_part, index) => index as X)
  }

  listParts(): ReadonlyArray<string> {
    return Array.from({ length: this.parts }, (_, i) => `p${i}`)
  }

  buildPart(_stepId: string, forPart: string, resumeState: number | undefined): StatefulSourcePartition<X, number> {
    const part = Number(forPart.slice(1))
    const { perPart, batchSize, intervalMillis, item } = this
    let at = resumeState ?? 0
    let next = 0
    return {
      nextBatch: () => {
        if (at >= perPart) return EOF
        const out: Array<X> = []
        for (let i = 0; i < batchSize && at < perPart; i++) out.push(item(part, at++))
        next = currentTimeMillis() + intervalMillis
        return out
      },
      nextAwake: () => new Date(next),
      snapshot: () => at
    }
  }
}
