/**
 * A source over an in-memory list, with sentinels to end, abort or pause.
 *
 * @since 0.1.0
 */
import { AbortExecution, currentTime, EOF, FixedPartitionedSource, type StatefulSourcePartition } from "@weir/core"
import * as Duration from "effect/Duration"

/** What every sentinel is (one `instanceof` finds them all). */
abstract class Sentinel {}

/** Ends the partition here; a later run (resume) continues after it. */
class EofSentinel extends Sentinel {
  readonly _tag = "TestingSource.EOF"
}

/** Aborts the run here, once: the same instance is skipped by later runs. */
class AbortSentinel extends Sentinel {
  readonly _tag = "TestingSource.ABORT"
  triggered = false
}

/** Ends the batch and sleeps for `duration` (on the run's clock). */
class PauseSentinel extends Sentinel {
  readonly _tag = "TestingSource.PAUSE"
  readonly duration: Duration.Duration
  constructor(duration: Duration.Input) {
    super()
    this.duration = Duration.fromInputUnsafe(duration)
  }
}

/** An item of a {@link TestingSource}: a value or a sentinel. */
export type TestingSourceItem<X> = X | EofSentinel | AbortSentinel | PauseSentinel

/**
 * Emits the given items in batches of `batchSize` (default 1), from a single
 * partition named `"iterable"`. Resume state is the number of elements
 * consumed, so reuse the same array (and sentinel instances) across runs.
 *
 * Sentinels end the batch they are met in:
 * - `new TestingSource.EOF()` then ends the partition; a rerun with recovery
 *   continues after it.
 * - `new TestingSource.ABORT()` then aborts the run (`AbortExecution`,
 *   simulating a crash). Only the first time: the instance remembers it fired,
 *   and later runs skip it. One worker only.
 * - `new TestingSource.PAUSE(duration)` asks not to be polled again before
 *   `duration` has passed on the run's clock (instant on a `VirtualClock`).
 *
 * When a batch would be empty the sentinel acts at once. Unlike Bytewax, every
 * element met (sentinels included) counts in the resume state, so resuming
 * twice past a PAUSE or ABORT never replays an item.
 *
 * @example
 * ```ts
 * const items = [0, 1, new TestingSource.ABORT(), 2]
 * const out: number[] = []
 * const flow = new Dataflow("test")
 * op.input("inp", flow, new TestingSource(items)).then(op.output, "out", new TestingSink(out))
 * const recovery = new InMemoryRecovery()
 * await runMain(flow, { epochInterval: 0, recovery }) // out: [0, 1]
 * await runMain(flow, { epochInterval: 0, recovery }) // out: [0, 1, 2]
 * ```
 * @since 0.1.0
 */
export class TestingSource<X> extends FixedPartitionedSource<X, number> {
  static readonly EOF = EofSentinel
  static readonly ABORT = AbortSentinel
  static readonly PAUSE = PauseSentinel

  private readonly items: ReadonlyArray<TestingSourceItem<X>>
  constructor(items: Iterable<TestingSourceItem<X>>, readonly batchSize = 1) {
    super()
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new TypeError(`TestingSource: batchSize must be a positive integer; got ${String(batchSize)}`)
    }
    this.items = Array.isArray(items) ? items : Array.from(items)
  }

  listParts(): ReadonlyArray<string> {
    return ["iterable"]
  }

  buildPart(_stepId: string, _forPart: string, resumeState: number | undefined): StatefulSourcePartition<X, number> {
    return new TestingPartition(this.items, sentinelsOf(this.items), this.batchSize, resumeState ?? 0)
  }
}

/**
 * The indices of the sentinels in `items`, ascending, then `items.length`:
 * batches between them are plain slices, with no per-item check. Found
 * afresh for each partition built (each run), so a list changed between runs
 * is read as it is then.
 */
const sentinelsOf = (items: ReadonlyArray<unknown>): Array<number> => {
  const at: Array<number> = []
  for (let i = 0; i < items.length; i++) if (items[i] instanceof Sentinel) at.push(i)
  at.push(items.length)
  return at
}

class TestingPartition<X> implements StatefulSourcePartition<X, number> {
  private awake: Date | undefined = undefined
  /** A sentinel ended the last batch early: what the next call does. */
  private pendingEnd: "eof" | "abort" | undefined = undefined
  /** Where in `sentinels` the next one at or after `index` is (searched from here). */
  private nextSentinel = 0
  constructor(
    private readonly items: ReadonlyArray<TestingSourceItem<X>>,
    /** See {@link sentinelsOf}. */
    private readonly sentinels: ReadonlyArray<number>,
    private readonly batchSize: number,
    /** Elements consumed: the resume state. */
    private index: number
  ) {}

  nextBatch(): Array<X> | typeof EOF {
    if (this.pendingEnd !== undefined) return this.end()
    this.awake = undefined
    const items = this.items
    // The next sentinel at or after `index` (`items.length` when there is none).
    const sentinels = this.sentinels
    let s = this.nextSentinel
    while (sentinels[s]! < this.index) s++
    this.nextSentinel = s
    const stop = sentinels[s]!
    if (stop - this.index >= this.batchSize) {
      // A whole batch of plain items: one slice.
      const batch = items.slice(this.index, this.index + this.batchSize) as Array<X>
      this.index += this.batchSize
      return batch
    }
    // The plain items before the sentinel (or the end), then item by item from the sentinel on.
    const batch = items.slice(this.index, stop) as Array<X>
    this.index = stop
    while (batch.length < this.batchSize && this.index < items.length) {
      const item = items[this.index]!
      if (item instanceof EofSentinel) {
        // Counted, so a rerun continues after it.
        this.index++
        this.pendingEnd = "eof"
        break
      }
      if (item instanceof AbortSentinel) {
        if (item.triggered) {
          // Skipped by reruns, and counted, so a later resume starts after it.
          this.index++
          continue
        }
        // Not counted yet: a snapshot taken now points at it, and the rerun skips it.
        item.triggered = true
        this.pendingEnd = "abort"
        break
      }
      if (item instanceof PauseSentinel) {
        this.index++
        this.awake = new Date(currentTime().getTime() + Duration.toMillis(item.duration))
        break
      }
      batch.push(item)
      this.index++
    }
    if (batch.length > 0 || this.awake !== undefined) return batch
    // Nothing to emit: a sentinel that ends the partition or the run acts at once.
    if (this.pendingEnd !== undefined) return this.end()
    return EOF
  }

  private end(): typeof EOF {
    if (this.pendingEnd === "abort") {
      this.pendingEnd = undefined
      throw new AbortExecution()
    }
    return EOF
  }

  nextAwake(): Date | undefined {
    return this.awake
  }

  snapshot(): number {
    return this.index
  }
}

/**
 * The sentinel types, for annotating item lists:
 * `Array<number | TestingSource.EOF | TestingSource.ABORT>`.
 *
 * @example
 * ```ts
 * const items: Array<number | TestingSource.EOF> = [1, new TestingSource.EOF(), 2]
 * ```
 * @since 0.1.0
 */
export declare namespace TestingSource {
  /** See {@link TestingSource}: ends the partition. */
  type EOF = EofSentinel
  /** See {@link TestingSource}: aborts the run once. */
  type ABORT = AbortSentinel
  /** See {@link TestingSource}: pauses the partition. */
  type PAUSE = PauseSentinel
}
