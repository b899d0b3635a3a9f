/**
 * A source over an in-memory list, with sentinels to end, abort or pause.
 *
 * @since 0.1.0
 */
import { AbortExecution, currentTime, EOF, FixedPartitionedSource, type StatefulSourcePartition } from "@weir/core"
import * as Duration from "effect/Duration"

/** Ends the partition here; a later run (resume) continues after it. */
class EofSentinel {
  readonly _tag = "TestingSource.EOF"
}

/** Aborts the run here, once: the same instance is skipped by later runs. */
class AbortSentinel {
  readonly _tag = "TestingSource.ABORT"
  triggered = false
}

/** Ends the batch and sleeps for `duration` (on the run's clock). */
class PauseSentinel {
  readonly _tag = "TestingSource.PAUSE"
  readonly duration: Duration.Duration
  constructor(duration: Duration.Input) {
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
 * Sentinels: `new TestingSource.EOF()` ends the partition (a rerun continues
 * after it), `new TestingSource.ABORT()` aborts the run once (simulating a
 * crash), `new TestingSource.PAUSE(duration)` ends the batch and sleeps.
 *
 * @example
 * ```ts
 * const items = [0, 1, new TestingSource.ABORT(), 2]
 * const flow = new Dataflow("test")
 * op.input("inp", flow, new TestingSource(items)).then(op.output, "out", new TestingSink(out))
 * await runMain(flow) // out: [0, 1]; running again continues with 2
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
    return new TestingPartition(this.items, this.batchSize, resumeState ?? 0)
  }
}

class TestingPartition<X> implements StatefulSourcePartition<X, number> {
  private awake: Date | undefined = undefined
  private pendingEnd: "eof" | "abort" | undefined = undefined
  constructor(
    private readonly items: ReadonlyArray<TestingSourceItem<X>>,
    private readonly batchSize: number,
    private index: number
  ) {}

  nextBatch(): Array<X> | typeof EOF {
    if (this.pendingEnd === "eof") return EOF
    if (this.pendingEnd === "abort") {
      this.pendingEnd = undefined
      throw new AbortExecution()
    }
    this.awake = undefined
    const batch: Array<X> = []
    while (batch.length < this.batchSize && this.index < this.items.length) {
      const item = this.items[this.index]!
      if (item instanceof EofSentinel) {
        this.index++
        this.pendingEnd = "eof"
        break
      }
      if (item instanceof AbortSentinel) {
        // Not counted in the resume state: a rerun starts at it and skips it.
        this.index++
        if (item.triggered) continue
        item.triggered = true
        this.index--
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
    if (batch.length === 0 && this.pendingEnd === undefined && this.awake === undefined && this.index >= this.items.length) {
      return EOF
    }
    return batch
  }

  nextAwake(): Date | undefined {
    return this.awake
  }

  snapshot(): number {
    return this.index
  }
}
