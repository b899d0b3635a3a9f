/**
 * Sources: where items come from. Write a {@link FixedPartitionedSource} for
 * replayable, partitioned data (files, Kafka) and a {@link DynamicSource} for
 * data that every worker reads its own share of.
 *
 * Every partition method may return a plain value, a `Promise`, or an `Effect`.
 * `nextBatch` must not block: return an empty batch when nothing is ready.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import { nowMillis } from "./runtime/clock.js"

/** A value, a Promise of it, or an Effect producing it. */
export type MaybeAsync<A> = A | Promise<A> | Effect.Effect<A, unknown>

/**
 * Returned by `nextBatch` to say the partition has ended. The runtime then
 * snapshots (partitioned sources) and closes the partition.
 *
 * @since 0.1.0
 */
export const EOF: unique symbol = Symbol.for("@weir/core/EOF")
/** The type of {@link EOF}. */
export type EOF = typeof EOF

/**
 * Thrown from `nextBatch` to stop the whole run at once, without closing
 * partitions or flushing: the run returns normally. Tests use it to simulate a
 * crash; only safe with one worker.
 *
 * @since 0.1.0
 */
export class AbortExecution extends Error {
  /** A tag, like every error class of Weir's (`Effect.catchTag("AbortExecution", …)`). */
  readonly _tag = "AbortExecution" as const
  constructor(message = "execution aborted") {
    super(message)
    this.name = "AbortExecution"
  }
}

const SourceTypeId: unique symbol = Symbol.for("@weir/core/Source")

/** The common marker of every source; subclass {@link FixedPartitionedSource} or {@link DynamicSource}. */
export abstract class Source<X> {
  /** @internal */
  readonly [SourceTypeId] = SourceTypeId
  /** @internal phantom */
  declare readonly _X: (_: never) => X
  /**
   * `true` for a connector that can't run in a worker thread — one whose
   * client is a native addon that is not context-aware, as librdkafka's
   * Node binding is. A run on worker threads (`runCluster` with a flow
   * module, `weir run -w N`) of a flow holding one runs its workers
   * interleaved on the calling thread instead, with a warning.
   *
   * @since 0.3.0
   */
  get mainThreadOnly(): boolean {
    return false
  }
}

/** One partition of a {@link FixedPartitionedSource}: it reads, and can say where it is. */
export interface StatefulSourcePartition<X, S> {
  /** The next items, an empty iterable when none are ready, or {@link EOF}. Must not block. */
  nextBatch(): MaybeAsync<Iterable<X> | EOF>
  /** When to call `nextBatch` next; `undefined` means right away (1 ms later if the last batch was empty). */
  nextAwake?(): Date | undefined
  /** The position *after* the last item returned, to resume from. */
  snapshot(): S
  /** Release resources; called at EOF or when the run ends normally. */
  close?(): void | Promise<void> | Effect.Effect<void, unknown>
}

/**
 * A source split into named partitions, each read by exactly one worker and
 * able to resume from a snapshot. Supports exactly-once when the underlying
 * data can be re-read from a position.
 *
 * @example
 * ```ts
 * class Counter extends FixedPartitionedSource<number, number> {
 *   listParts() { return ["only"] }
 *   buildPart(_stepId: string, _part: string, resume: number | undefined) {
 *     let next = resume ?? 0
 *     return {
 *       nextBatch: () => (next < 10 ? [next++] : EOF),
 *       snapshot: () => next
 *     }
 *   }
 * }
 * ```
 * @since 0.1.0
 */
export abstract class FixedPartitionedSource<X, S> extends Source<X> {
  /** The partitions this worker can reach. */
  abstract listParts(): MaybeAsync<ReadonlyArray<string>>
  /** Build the reader of one partition, resuming from `resumeState` when given. */
  abstract buildPart(
    stepId: string,
    forPart: string,
    resumeState: S | undefined
  ): MaybeAsync<StatefulSourcePartition<X, S>>
}

/** One worker's reader of a {@link DynamicSource}. */
export interface StatelessSourcePartition<X> {
  nextBatch(): MaybeAsync<Iterable<X> | EOF>
  nextAwake?(): Date | undefined
  close?(): void | Promise<void> | Effect.Effect<void, unknown>
}

/**
 * A source every worker reads from independently (each must get distinct
 * data). Not recoverable: at-most-once.
 *
 * @example
 * ```ts
 * class Ticks extends DynamicSource<number> {
 *   build(_stepId: string, workerIndex: number, _workerCount: number) {
 *     let n = 0
 *     return { nextBatch: () => (n < 3 ? [workerIndex * 100 + n++] : EOF) }
 *   }
 * }
 * ```
 * @since 0.1.0
 */
export abstract class DynamicSource<X> extends Source<X> {
  abstract build(stepId: string, workerIndex: number, workerCount: number): MaybeAsync<StatelessSourcePartition<X>>
}

/** `true` when `u` is a source. */
export const isSource = (u: unknown): u is Source<unknown> =>
  typeof u === "object" && u !== null && SourceTypeId in u

// ---------------------------------------------------------------------------
// SimplePollingSource

/**
 * Thrown from {@link SimplePollingSource.nextItem} to try again after `timeout`
 * instead of the regular interval.
 */
export class Retry extends Error {
  /** A tag, like every error class of Weir's. */
  readonly _tag = "Retry" as const
  readonly timeout: Duration.Duration
  constructor(timeout: Duration.Input) {
    super("retry")
    this.name = "Retry"
    this.timeout = Duration.fromInputUnsafe(timeout)
  }
}

/**
 * Polls {@link nextItem} at a fixed cadence (`interval`, optionally aligned to
 * `alignTo`). A single partition named `"singleton"`, so one worker polls.
 * Override `snapshot`/`resume` to make it resumable.
 *
 * @example
 * ```ts
 * declare const readThermometer: () => number
 * class Weather extends SimplePollingSource<number> {
 *   constructor() { super("1 minute") }
 *   nextItem() { return readThermometer() }
 * }
 * ```
 * @since 0.1.0
 */
export abstract class SimplePollingSource<X, S = undefined> extends FixedPartitionedSource<X, S> {
  /** Thrown by `nextItem` to retry sooner than the interval. */
  static readonly Retry = Retry
  readonly interval: Duration.Duration
  constructor(
    interval: Duration.Input,
    readonly alignTo?: Date,
    /** Where "now" comes from; defaults to the runtime's clock. */
    readonly options: { readonly nowGetter?: () => Date } = {}
  ) {
    super()
    this.interval = Duration.fromInputUnsafe(interval)
  }
  /** The next item; `undefined` emits nothing this time; {@link EOF} ends; throw {@link Retry} to retry sooner. */
  abstract nextItem(): X | undefined | EOF
  /** The state to resume from; default `undefined` (not resumable). */
  snapshot(): S {
    return undefined as S
  }
  /** Called once before the first `nextItem` when resuming with a state. */
  resume(_state: S): void {}
  listParts(): ReadonlyArray<string> {
    return ["singleton"]
  }
  buildPart(_stepId: string, _forPart: string, resumeState: S | undefined): StatefulSourcePartition<X, S> {
    if (resumeState !== undefined) this.resume(resumeState)
    return new SimplePollingPartition(this)
  }
}

class SimplePollingPartition<X, S> implements StatefulSourcePartition<X, S> {
  private awake: number
  private readonly intervalMs: number
  private readonly now: () => number
  constructor(private readonly source: SimplePollingSource<X, S>) {
    const getter = source.options.nowGetter
    this.now = getter ? () => getter().getTime() : nowMillis
    this.intervalMs = Duration.toMillis(source.interval)
    const now = this.now()
    const align = source.alignTo
    if (align === undefined || this.intervalMs <= 0) {
      this.awake = now
    } else {
      const since = now - align.getTime()
      const k = Math.ceil(since / this.intervalMs)
      this.awake = align.getTime() + k * this.intervalMs
    }
  }
  nextBatch(): Iterable<X> | EOF {
    let item: X | undefined | EOF
    try {
      item = this.source.nextItem()
    } catch (e) {
      if (e instanceof Retry) {
        this.awake += Duration.toMillis(e.timeout)
        return []
      }
      throw e
    }
    this.awake += this.intervalMs
    if (item === EOF) return EOF
    return item === undefined ? [] : [item]
  }
  nextAwake(): Date {
    return new Date(this.awake)
  }
  snapshot(): S {
    return this.source.snapshot()
  }
}
