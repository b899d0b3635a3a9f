/**
 * Execution of the kernel steps on one worker. Each step takes whole batches
 * and pushes whole batches downstream, synchronously. A chain of per-item
 * steps (map, filter, keyOn, …) runs as one generated loop instead (see
 * `fusion.ts`).
 */
import type { StatefulBatchLogic } from "../StatefulLogic.js"
import { stepError, toArray, wrongType } from "./async.js"
import { DISCARDED } from "./recovery.js"
import type { TimerHeap, TimerTarget } from "./timers.js"

/** Pushes a batch to every consumer of one output stream. */
export type Emit = (batch: Array<unknown>) => void

/** What steps read from their worker while they run. */
export interface WorkerView {
  readonly workerIndex: number
  /** The epoch items are currently processed in. */
  readonly epoch: number
}

/** A kernel step running on one worker. */
export interface RuntimeStep {
  readonly stepId: string
  /** Process a batch arriving on input port `port`. */
  push(port: number, batch: Array<unknown>): void
  /** Every upstream has ended: flush. Called once, in topological order. */
  eof(): void
}

// ---------------------------------------------------------------------------
// Stateless steps

export class FlatMapBatchStep implements RuntimeStep {
  constructor(
    readonly stepId: string,
    private readonly mapper: (xs: Array<unknown>) => Iterable<unknown>,
    private readonly emit: Emit
  ) {}
  push(_port: number, batch: Array<unknown>): void {
    let out: Array<unknown>
    try {
      out = toArray(this.mapper(batch), "return value of `mapper`", this.stepId)
    } catch (e) {
      throw stepError("mapper", this.stepId, e)
    }
    if (out.length > 0) this.emit(out)
  }
  eof(): void {}
}

export class BranchStep implements RuntimeStep {
  constructor(
    readonly stepId: string,
    private readonly predicate: (x: unknown) => boolean,
    private readonly emitTrues: Emit,
    private readonly emitFalses: Emit
  ) {}
  push(_port: number, batch: Array<unknown>): void {
    const trues: Array<unknown> = []
    const falses: Array<unknown> = []
    const predicate = this.predicate
    for (let i = 0; i < batch.length; i++) {
      const item = batch[i]
      let r: unknown
      try {
        r = predicate(item)
      } catch (e) {
        throw stepError("predicate", this.stepId, e)
      }
      if (r === true) trues.push(item)
      else if (r === false) falses.push(item)
      else throw stepError("predicate", this.stepId, wrongType("return value of `predicate`", this.stepId, "a `boolean`", r))
    }
    if (trues.length > 0) this.emitTrues(trues)
    if (falses.length > 0) this.emitFalses(falses)
  }
  eof(): void {}
}

/** `merge` and (on one worker) `redistribute`: items pass through. */
export class PassThroughStep implements RuntimeStep {
  constructor(readonly stepId: string, private readonly emit: Emit) {}
  push(_port: number, batch: Array<unknown>): void {
    this.emit(batch)
  }
  eof(): void {}
}

export class InspectDebugStep implements RuntimeStep {
  constructor(
    readonly stepId: string,
    private readonly inspector: (stepId: string, item: unknown, epoch: number, worker: number) => void,
    private readonly worker: WorkerView,
    private readonly emit: Emit
  ) {}
  push(_port: number, batch: Array<unknown>): void {
    const { epoch, workerIndex } = this.worker
    const inspector = this.inspector
    try {
      for (let i = 0; i < batch.length; i++) inspector(this.stepId, batch[i], epoch, workerIndex)
    } catch (e) {
      throw stepError("inspector", this.stepId, e)
    }
    this.emit(batch)
  }
  eof(): void {}
}

// ---------------------------------------------------------------------------
// The stateful step

/** One key's state inside a stateful step. */
export class KeyState implements TimerTarget {
  notifyAt = NaN
  heapIndex = -1
  /** Values that arrived for this key in the batch being processed. */
  pending: Array<unknown> | undefined = undefined
  /** Changed since the last snapshot (listed in the step's `dirty`). */
  dirty = false
  constructor(
    readonly step: StatefulStep,
    readonly key: string,
    public logic: StatefulBatchLogic<unknown, unknown, unknown> | undefined
  ) {}
}

/** Checks that keyed items are `[key, value]` pairs with string keys. */
export const checkKeyed = (stepId: string, item: unknown): string => {
  if (!Array.isArray(item) || item.length !== 2) {
    throw new TypeError(
      `step '${stepId}' requires \`[key, value]\` 2-element arrays from upstream for routing; ` +
        `got a \`${describeShape(item)}\` instead; key the stream first, e.g. with \`op.keyOn\``
    )
  }
  const key = item[0]
  if (typeof key !== "string") {
    throw new TypeError(
      `step '${stepId}' requires \`string\` keys in \`[key, value]\` from upstream; got a \`${describeShape(key)}\` instead; ` +
        "convert keys with `String(...)` in `op.keyOn`"
    )
  }
  return key
}

const describeShape = (u: unknown): string => {
  if (Array.isArray(u)) return `Array(${u.length})`
  if (u === null) return "null"
  if (typeof u === "object") return (u as object).constructor?.name ?? "object"
  return typeof u
}

type LogicCall = "onBatch" | "onNotify" | "onEof" | "notifyAt"

/**
 * `statefulBatch`: one logic per key. For each batch, values are grouped per
 * key (keys in order of first arrival, values in arrival order) and each
 * key's logic gets `onBatch` once. Discarded logics are dropped at once;
 * `notifyAt` is asked after every call and scheduled on the timer heap.
 */
export class StatefulStep implements RuntimeStep {
  readonly states = new Map<string, KeyState>()
  /**
   * Key states changed since the last snapshot (only tracked with recovery).
   * A key discarded and seen again has two entries: the old state's (now
   * dead) and the new one's.
   */
  private readonly dirty: Array<KeyState> = []
  private readonly touched: Array<KeyState> = []

  constructor(
    readonly stepId: string,
    private readonly builder: (resume: unknown) => StatefulBatchLogic<unknown, unknown, unknown>,
    private readonly timers: TimerHeap<KeyState>,
    private readonly trackSnapshots: boolean,
    private readonly emit: Emit
  ) {}

  private build(key: string, resume: unknown): StatefulBatchLogic<unknown, unknown, unknown> {
    let logic: unknown
    try {
      logic = this.builder(resume)
    } catch (e) {
      throw stepError("builder", this.stepId, e, ` for key '${key}'`)
    }
    if (logic === null || typeof logic !== "object" || typeof (logic as { onBatch?: unknown }).onBatch !== "function") {
      throw stepError(
        "builder",
        this.stepId,
        wrongType("return value of `builder`", this.stepId, "a `StatefulBatchLogic`", logic),
        ` for key '${key}'`
      )
    }
    return logic as StatefulBatchLogic<unknown, unknown, unknown>
  }

  /** Restore a key from a snapshot (on resume). */
  restore(key: string, state: unknown): void {
    const st = new KeyState(this, key, this.build(key, state))
    this.states.set(key, st)
    this.reschedule(st)
  }

  push(_port: number, batch: Array<unknown>): void {
    const states = this.states
    const touched = this.touched
    for (let i = 0; i < batch.length; i++) {
      const item = batch[i] as readonly [string, unknown]
      const key = Array.isArray(item) && item.length === 2 && typeof item[0] === "string" ? item[0] : checkKeyed(this.stepId, item)
      let st = states.get(key)
      if (st === undefined) {
        st = new KeyState(this, key, undefined)
        states.set(key, st)
      }
      if (st.pending === undefined) {
        st.pending = [item[1]]
        touched.push(st)
      } else st.pending.push(item[1])
    }
    const out: Array<unknown> = []
    try {
      for (let t = 0; t < touched.length; t++) {
        const st = touched[t]!
        const values = st.pending!
        st.pending = undefined
        const logic = st.logic ?? (st.logic = this.build(st.key, undefined))
        // A direct call (not through `call`): this is the hot path.
        let result: unknown
        try {
          result = logic.onBatch(values)
        } catch (e) {
          throw stepError("StatefulBatchLogic.onBatch", this.stepId, e, ` for key '${st.key}'`)
        }
        this.apply(st, result, "onBatch", out)
      }
    } finally {
      for (let t = 0; t < touched.length; t++) touched[t]!.pending = undefined
      touched.length = 0
    }
    if (out.length > 0) this.emit(out)
  }

  /** Wake the given keys (their time has come). */
  notify(due: ReadonlyArray<KeyState>): void {
    const out: Array<unknown> = []
    for (const st of due) {
      if (st.logic === undefined || this.states.get(st.key) !== st) continue
      const result = this.call(st, "onNotify")
      this.apply(st, result, "onNotify", out)
    }
    if (out.length > 0) this.emit(out)
  }

  eof(): void {
    const out: Array<unknown> = []
    const keys = Array.from(this.states.keys()).sort()
    for (const key of keys) {
      const st = this.states.get(key)!
      if (st.logic === undefined) continue
      const result = this.call(st, "onEof")
      this.apply(st, result, "onEof", out)
    }
    if (out.length > 0) this.emit(out)
  }

  /** Keys changed since the last snapshot (a key discarded and rebuilt counts twice). */
  get changedCount(): number {
    return this.dirty.length
  }

  /** Keys holding state now. */
  get liveCount(): number {
    return this.states.size
  }

  /**
   * Append to `keys`/`states` the snapshot of every key changed since the
   * last call (a discarded key as {@link DISCARDED}), or with `full` of every
   * key holding state; either way the changes are then taken.
   */
  takeSnapshots(full: boolean, keys: Array<string>, states: Array<unknown>): void {
    const dirty = this.dirty
    // Called once per key that changed, on every epoch close: a plain loop, `snapshot` called directly.
    let st: KeyState | undefined
    try {
      if (full) {
        for (let i = 0; i < dirty.length; i++) dirty[i]!.dirty = false
        for (st of this.states.values()) {
          const logic = st.logic
          if (logic === undefined) continue
          keys.push(st.key)
          states.push(logic.snapshot())
        }
      } else {
        for (let i = 0; i < dirty.length; i++) {
          st = dirty[i]!
          st.dirty = false
          const logic = st.logic
          if (logic !== undefined) {
            // A live state is the key's state in the map (a discard drops both).
            keys.push(st.key)
            states.push(logic.snapshot())
            continue
          }
          // Discarded, and not rebuilt since (a rebuilt key is written by its live entry).
          const now = this.states.get(st.key)
          if (now === undefined || now.logic === undefined) {
            keys.push(st.key)
            states.push(DISCARDED)
          }
        }
      }
    } catch (e) {
      throw stepError("StatefulBatchLogic.snapshot", this.stepId, e, ` for key '${st!.key}'`)
    }
    dirty.length = 0
  }

  private call(st: KeyState, method: LogicCall, arg?: Array<unknown>): unknown {
    try {
      const logic = st.logic!
      return method === "onBatch" ? logic.onBatch(arg!) : logic[method]()
    } catch (e) {
      throw stepError(`StatefulBatchLogic.${method}`, this.stepId, e, ` for key '${st.key}'`)
    }
  }

  private apply(st: KeyState, result: unknown, method: LogicCall, out: Array<unknown>): void {
    if (!Array.isArray(result) || result.length !== 2) {
      throw stepError(
        `StatefulBatchLogic.${method}`,
        this.stepId,
        wrongType(`return value of \`${method}\``, this.stepId, "a 2-element array `[emit, discard]`", result),
        ` for key '${st.key}'`
      )
    }
    const emit = result[0] as Iterable<unknown>
    const discard = result[1]
    const key = st.key
    if (Array.isArray(emit)) {
      for (let i = 0; i < emit.length; i++) out.push([key, emit[i]])
    } else {
      let values: Array<unknown>
      try {
        values = toArray(emit, `\`emit\` returned by \`${method}\``, this.stepId)
      } catch (e) {
        throw stepError(`StatefulBatchLogic.${method}`, this.stepId, e, ` for key '${key}'`)
      }
      for (let i = 0; i < values.length; i++) out.push([key, values[i]])
    }
    if (discard === true) {
      st.logic = undefined
      this.timers.cancel(st)
      if (this.states.get(key) === st) this.states.delete(key)
    } else if (discard === false) {
      this.reschedule(st)
    } else {
      throw stepError(
        `StatefulBatchLogic.${method}`,
        this.stepId,
        wrongType("`discard` flag", this.stepId, "a `boolean` (RETAIN = false, DISCARD = true)", discard),
        ` for key '${key}'`
      )
    }
    if (this.trackSnapshots && !st.dirty) {
      st.dirty = true
      this.dirty.push(st)
    }
  }

  private reschedule(st: KeyState): void {
    let at: unknown
    try {
      at = st.logic!.notifyAt()
    } catch (e) {
      throw stepError("StatefulBatchLogic.notifyAt", this.stepId, e, ` for key '${st.key}'`)
    }
    if (at === undefined || at === null) {
      this.timers.cancel(st)
      return
    }
    if (!(at instanceof Date) || Number.isNaN(at.getTime())) {
      throw stepError(
        "StatefulBatchLogic.notifyAt",
        this.stepId,
        wrongType("return value of `notifyAt`", this.stepId, "a valid `Date` or `undefined`", at),
        ` for key '${st.key}'`
      )
    }
    const ms = at.getTime()
    if (ms !== st.notifyAt) this.timers.schedule(st, ms)
  }
}
