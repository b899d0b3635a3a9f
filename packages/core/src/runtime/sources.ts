/**
 * Input partitions as the worker loop sees them: when each is due, what it
 * returned, whether it has ended. Asynchronous `nextBatch` results are kept
 * here until the loop picks them up, so one slow partition never blocks the
 * others.
 */
import { AbortExecution, EOF, type StatefulSourcePartition, type StatelessSourcePartition } from "../inputs.js"
import { isAsync, stepError, toArray, toPromise } from "./async.js"
import type { Emit } from "./steps.js"

/** No snapshot taken. */
const NONE: unique symbol = Symbol("none")

/** What polling a partition gave. */
export type PollOutcome =
  | { readonly kind: "items"; readonly count: number }
  | { readonly kind: "waiting" }
  | { readonly kind: "eof" }
  | { readonly kind: "abort" }

export class InputPartition {
  /** Earliest time (ms) `nextBatch` may be called again. */
  awake = 0
  ended = false
  /** Polled (or ended) since the last epoch close: its snapshot may have changed. */
  touched = false
  /** The snapshot taken when the partition ended. */
  finalSnapshot: unknown = undefined
  /**
   * `nextBatch` has returned a Promise or an Effect at least once. From then
   * on the position is snapshotted before each call, because a source may
   * advance it before its batch arrives.
   */
  private asyncSeen = false
  /** The position as of the last delivered batch, taken before the call now in flight (or {@link NONE}). */
  private beforeFlight: unknown = NONE
  private inFlight = false
  private settled = false
  private result: unknown = undefined
  private failure: unknown = undefined

  constructor(
    readonly stepId: string,
    /** The partition name (fixed sources) or `worker N` (dynamic sources). */
    readonly name: string,
    readonly part: StatefulSourcePartition<unknown, unknown> | StatelessSourcePartition<unknown>,
    /** Fixed-partitioned: snapshotted and resumable. */
    readonly fixed: boolean,
    /** The worker that reads it. */
    readonly worker: number,
    private readonly emit: Emit,
    /** Called when an asynchronous batch has arrived. */
    private readonly wake: () => void
  ) {}

  get waiting(): boolean {
    return this.inFlight && !this.settled
  }

  /**
   * A batch is in flight and the position as of the last delivered batch is
   * not known: the epoch must not close before the batch is delivered, or
   * its commit would record a position past items that never entered the
   * dataflow. Only the first asynchronous call of a partition can do this.
   */
  get holdsEpoch(): boolean {
    return this.fixed && this.inFlight && this.beforeFlight === NONE
  }

  private where(): string {
    return this.fixed ? ` for partition '${this.name}'` : ""
  }

  private what(): string {
    return this.fixed ? "StatefulSourcePartition" : "StatelessSourcePartition"
  }

  /** Poll if due; emit what arrived. */
  poll(now: number): PollOutcome {
    let r: unknown
    if (this.inFlight) {
      if (!this.settled) return { kind: "waiting" }
      this.inFlight = false
      this.settled = false
      if (this.failure !== undefined) {
        const f = this.failure
        this.failure = undefined
        if (f instanceof AbortExecution) return { kind: "abort" }
        throw stepError(`${this.what()}.nextBatch`, this.stepId, f, this.where())
      }
      r = this.result
      this.result = undefined
      this.beforeFlight = NONE
    } else {
      if (now < this.awake) return { kind: "waiting" }
      if (this.asyncSeen && this.fixed) this.beforeFlight = this.snapshot()
      try {
        r = this.part.nextBatch()
      } catch (e) {
        if (e instanceof AbortExecution) return { kind: "abort" }
        throw stepError(`${this.what()}.nextBatch`, this.stepId, e, this.where())
      }
      if (isAsync(r)) {
        this.asyncSeen = true
        this.inFlight = true
        this.touched = true
        toPromise(r).then(
          (v) => {
            this.result = v
            this.settled = true
            this.wake()
          },
          (e) => {
            this.failure = e ?? new Error("nextBatch failed")
            this.settled = true
            this.wake()
          }
        )
        return { kind: "waiting" }
      }
    }
    this.touched = true
    if (r === EOF) {
      // Snapshot first: once ended, `snapshot()` answers from `finalSnapshot`.
      if (this.fixed) this.finalSnapshot = this.snapshot()
      this.ended = true
      return { kind: "eof" }
    }
    let items: Array<unknown>
    try {
      items = toArray(r as Iterable<unknown>, "return value of `nextBatch`", this.stepId)
    } catch (e) {
      throw stepError(`${this.what()}.nextBatch`, this.stepId, e, this.where())
    }
    this.schedule(now, items.length > 0)
    if (items.length > 0) this.emit(items)
    return { kind: "items", count: items.length }
  }

  private schedule(now: number, gotItems: boolean): void {
    let next: Date | undefined
    try {
      next = this.part.nextAwake?.()
    } catch (e) {
      throw stepError(`${this.what()}.nextAwake`, this.stepId, e, this.where())
    }
    if (next instanceof Date) this.awake = next.getTime()
    else this.awake = gotItems ? now : now + 1
  }

  /** Initial pacing, asked right after the partition is built. */
  start(now: number): void {
    let next: Date | undefined
    try {
      next = this.part.nextAwake?.()
    } catch (e) {
      throw stepError(`${this.what()}.nextAwake`, this.stepId, e, this.where())
    }
    this.awake = next instanceof Date ? next.getTime() : now
  }

  /**
   * The position to commit: as of the last batch delivered to the dataflow.
   * While a batch is in flight that is the snapshot taken before the call;
   * the partition stays touched, so the next epoch records the batch.
   */
  snapshot(): unknown {
    if (this.ended) return this.finalSnapshot
    if (this.inFlight && this.beforeFlight !== NONE) {
      this.touched = true
      return this.beforeFlight
    }
    try {
      return (this.part as StatefulSourcePartition<unknown, unknown>).snapshot()
    } catch (e) {
      throw stepError("StatefulSourcePartition.snapshot", this.stepId, e, this.where())
    }
  }
}
