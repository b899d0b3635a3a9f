/**
 * Execution of the kernel steps on one worker. Each step takes whole batches
 * and pushes whole batches downstream, synchronously. A chain of per-item
 * steps (map, filter, keyOn, …) runs as one generated loop instead (see
 * `fusion.ts`).
 */
import type { StatefulBatchLogic } from "../StatefulLogic.js"
import type { ChainLogic } from "../internal/kernel.js"
import { stepError, toArray, wrongType } from "./async.js"
import { nowMillis } from "./clock.js"
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
  /** Chained steps: the batch index of this key's first and last value in the batch being processed (-1: none). */
  head = -1
  tail = -1
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
  protected readonly touched: Array<KeyState> = []

  constructor(
    readonly stepId: string,
    private readonly builder: (resume: unknown) => StatefulBatchLogic<unknown, unknown, unknown>,
    protected readonly timers: TimerHeap<KeyState>,
    private readonly trackSnapshots: boolean,
    protected readonly emit: Emit
  ) {}

  protected build(key: string, resume: unknown): StatefulBatchLogic<unknown, unknown, unknown> {
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

  /**
   * Restore a key from a snapshot (on resume). A snapshot written by the step
   * when it had a `ttl` is unwrapped: without one the key simply lives on.
   */
  restore(key: string, state: unknown): void {
    const st = new KeyState(this, key, this.build(key, isTtlSnapshot(state) ? state[TTL_STATE] : state))
    this.states.set(key, st)
    this.reschedule(st)
  }

  /**
   * Set when the logics are {@link ChainLogic}s: each batch index's next
   * value of the same key (-1: the last), reused across batches.
   */
  private chain: Int32Array | undefined = undefined

  /** The state of `item`'s key (checked to be a `[string, value]` pair), created when the key is new. */
  private stateOf(item: readonly [string, unknown]): KeyState {
    const key = Array.isArray(item) && item.length === 2 && typeof item[0] === "string" ? item[0] : checkKeyed(this.stepId, item)
    let st = this.states.get(key)
    if (st === undefined) {
      st = new KeyState(this, key, undefined)
      this.states.set(key, st)
    }
    return st
  }

  /** The builder's logics are {@link ChainLogic}s: values go to them straight from the batch (see {@link pushChained}). */
  chained(): this {
    this.chain = new Int32Array(1024)
    return this
  }

  push(_port: number, batch: Array<unknown>): void {
    if (this.chain !== undefined) return this.pushChained(batch)
    const touched = this.touched
    for (let i = 0; i < batch.length; i++) {
      const item = batch[i] as readonly [string, unknown]
      const st = this.stateOf(item)
      if (st.pending === undefined) {
        st.pending = [item[1]]
        touched.push(st)
      } else st.pending.push(item[1])
    }
    const out: Array<unknown> = []
    this.runTouched(out)
    if (out.length > 0) this.emit(out)
  }

  /**
   * `push` for {@link ChainLogic}s: the batch's values are linked per key by
   * index (no array per key), then each key, in order of first arrival, maps
   * its values in arrival order straight into the output — the same output,
   * in the same order, as `onBatch` per key. Their `notifyAt` is never set,
   * so there is no timer to reschedule.
   */
  private pushChained(batch: Array<unknown>): void {
    const n = batch.length
    let next = this.chain!
    if (next.length < n) next = this.chain = new Int32Array(Math.max(n, 2 * next.length))
    const touched = this.touched
    for (let i = 0; i < n; i++) {
      const st = this.stateOf(batch[i] as readonly [string, unknown])
      if (st.head === -1) {
        st.head = i
        touched.push(st)
      } else next[st.tail] = i
      st.tail = i
      next[i] = -1
    }
    const items = batch as Array<readonly [string, unknown]>
    const out: Array<unknown> = new Array(n)
    let m = 0
    try {
      for (let t = 0; t < touched.length; t++) {
        const st = touched[t]!
        const head = st.head
        st.head = -1
        const logic = (st.logic ?? (st.logic = this.build(st.key, undefined))) as unknown as ChainLogic
        try {
          m = logic.onChain(items, next, head, st.key, out, m)
        } catch (e) {
          throw stepError("StatefulBatchLogic.onBatch", this.stepId, e, ` for key '${st.key}'`)
        }
        if (logic.chainDiscard) this.drop(st)
        else this.markDirty(st)
      }
    } finally {
      for (let t = 0; t < touched.length; t++) touched[t]!.head = -1
      touched.length = 0
    }
    if (m === 0) return
    out.length = m
    this.emit(out)
  }

  /** Give each key of `touched` its pending values (`onBatch`, once per key), then clear `touched`. */
  protected runTouched(out: Array<unknown>): void {
    const touched = this.touched
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

  protected call(st: KeyState, method: LogicCall, arg?: Array<unknown>): unknown {
    try {
      const logic = st.logic!
      return method === "onBatch" ? logic.onBatch(arg!) : logic[method]()
    } catch (e) {
      throw stepError(`StatefulBatchLogic.${method}`, this.stepId, e, ` for key '${st.key}'`)
    }
  }

  protected apply(st: KeyState, result: unknown, method: LogicCall, out: Array<unknown>): void {
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
      this.drop(st)
      return
    }
    if (discard !== false) {
      throw stepError(
        `StatefulBatchLogic.${method}`,
        this.stepId,
        wrongType("`discard` flag", this.stepId, "a `boolean` (RETAIN = false, DISCARD = true)", discard),
        ` for key '${key}'`
      )
    }
    this.reschedule(st)
    this.markDirty(st)
  }

  /** Drop the key's state (a discard, or an expiry): no timer, out of the map, a tombstone at the next snapshot. */
  protected drop(st: KeyState): void {
    st.logic = undefined
    this.timers.cancel(st)
    if (this.states.get(st.key) === st) this.states.delete(st.key)
    this.markDirty(st)
  }

  private markDirty(st: KeyState): void {
    if (this.trackSnapshots && !st.dirty) {
      st.dirty = true
      this.dirty.push(st)
    }
  }

  /** Ask the logic when it wants `onNotify` next and set the key's timer to that. */
  protected reschedule(st: KeyState): void {
    let at: unknown
    try {
      at = st.logic!.notifyAt()
    } catch (e) {
      throw notifyAtFailed(this.stepId, st.key, e)
    }
    if (at === undefined || at === null) {
      this.timers.cancel(st)
      return
    }
    if (!(at instanceof Date) || Number.isNaN(at.getTime())) throw badNotifyAt(this.stepId, st.key, at)
    const ms = at.getTime()
    if (ms !== st.notifyAt) this.timers.schedule(st, ms)
  }
}

const notifyAtFailed = (stepId: string, key: string, e: unknown) =>
  stepError("StatefulBatchLogic.notifyAt", stepId, e, ` for key '${key}'`)

const badNotifyAt = (stepId: string, key: string, at: unknown) =>
  stepError(
    "StatefulBatchLogic.notifyAt",
    stepId,
    wrongType("return value of `notifyAt`", stepId, "a valid `Date` or `undefined`", at),
    ` for key '${key}'`
  )

// ---------------------------------------------------------------------------
// Time-to-live

/** The field of a ttl step's snapshot that holds the logic's own snapshot. */
export const TTL_STATE = "weir:state"
/** The field of a ttl step's snapshot that holds when the key last received items (ms since the epoch). */
export const TTL_TOUCHED_AT = "weir:touchedAt"

/**
 * What a stateful step with a `ttl` stores for a key: the logic's snapshot
 * and when the key last received items, so that a resumed run expires the
 * key when an uninterrupted one would.
 */
export interface TtlSnapshot {
  readonly [TTL_STATE]: unknown
  readonly [TTL_TOUCHED_AT]: number
}

/** Whether a stored state is a {@link TtlSnapshot} (a plain object with exactly its two fields). */
export const isTtlSnapshot = (u: unknown): u is TtlSnapshot => {
  if (typeof u !== "object" || u === null || Array.isArray(u)) return false
  const o = u as Record<string, unknown>
  if (typeof o[TTL_TOUCHED_AT] !== "number" || !(TTL_STATE in o)) return false
  let n = 0
  for (const _ in o) n++
  return n === 2
}

/** One key's state inside a stateful step with a `ttl`. */
export class TtlKeyState extends KeyState {
  /** When the key last received items (ms on the run's clock). */
  touchedAt = 0
  /** When the logic wants `onNotify` (ms), or `Infinity` for never. */
  logicAt = Infinity
}

/**
 * `statefulBatch` with a time-to-live: a key that has received no items for
 * `ttlMs` (on the run's clock) is discarded — no `onNotify` or `onEof` call,
 * nothing emitted — and written as {@link DISCARDED} at the next snapshot.
 *
 * "Touched" means receiving items: the time is read once per batch, and a
 * logic's own `onNotify` does not extend it. A key's timer is the earlier of
 * its logic's `notifyAt` and its expiry; the logic's wake-ups due no later
 * than the expiry come first (so a logic that times out before its ttl still
 * gets its `onNotify`), then the key is dropped. A key found expired when
 * items arrive for it (its timer not fired yet) is dropped the same way
 * first, so an item never sees state older than the ttl. Touching a key does
 * not move its timer: a timer set earlier than needed is kept, and when it
 * fires before anything is due the key is only re-armed, so a key that
 * receives an item every batch costs one timer move per `ttl`, not one per
 * batch.
 *
 * Snapshots are {@link TtlSnapshot}s; a snapshot written without a ttl
 * counts as touched when it is restored.
 */
export class TtlStatefulStep extends StatefulStep {
  constructor(
    stepId: string,
    builder: (resume: unknown) => StatefulBatchLogic<unknown, unknown, unknown>,
    timers: TimerHeap<KeyState>,
    trackSnapshots: boolean,
    emit: Emit,
    private readonly ttlMs: number
  ) {
    super(stepId, builder, timers, trackSnapshots, emit)
  }

  override restore(key: string, state: unknown): void {
    let touchedAt: number
    let logicState: unknown
    if (isTtlSnapshot(state)) {
      touchedAt = state[TTL_TOUCHED_AT]
      logicState = state[TTL_STATE]
    } else {
      touchedAt = nowMillis()
      logicState = state
    }
    const st = new TtlKeyState(this, key, this.build(key, logicState))
    st.touchedAt = touchedAt
    this.states.set(key, st)
    this.reschedule(st)
  }

  override push(_port: number, batch: Array<unknown>): void {
    const now = nowMillis()
    const ttlMs = this.ttlMs
    const states = this.states
    const touched = this.touched
    // What lapsing keys' last `onNotify` emits goes out before what the batch makes.
    const out: Array<unknown> = []
    // Every live key's timer is due no later than its expiry: with no timer due, no key has expired, and the
    // per-item check below (a second field read per item) is skipped.
    const mayHaveExpired = this.timers.nextAt() <= now
    for (let i = 0; i < batch.length; i++) {
      const item = batch[i] as readonly [string, unknown]
      const key = Array.isArray(item) && item.length === 2 && typeof item[0] === "string" ? item[0] : checkKeyed(this.stepId, item)
      let st = states.get(key) as TtlKeyState | undefined
      // Expired, and its timer has not fired yet (a thread takes in arrivals before its timers): never fed again.
      if (mayHaveExpired && st !== undefined && st.pending === undefined && st.logic !== undefined && st.touchedAt + ttlMs <= now) {
        this.lapse(st, out)
        st = undefined
      }
      if (st === undefined) {
        st = new TtlKeyState(this, key, undefined)
        states.set(key, st)
      }
      if (st.pending === undefined) {
        st.pending = [item[1]]
        st.touchedAt = now
        touched.push(st)
      } else st.pending.push(item[1])
    }
    this.runTouched(out)
    if (out.length > 0) this.emit(out)
  }

  override notify(due: ReadonlyArray<KeyState>): void {
    const now = nowMillis()
    const out: Array<unknown> = []
    for (let i = 0; i < due.length; i++) {
      const st = due[i] as TtlKeyState
      if (st.logic === undefined || this.states.get(st.key) !== st) continue
      if (st.touchedAt + this.ttlMs <= now) this.lapse(st, out)
      else if (st.logicAt <= now) this.apply(st, this.call(st, "onNotify"), "onNotify", out)
      // Woken before anything was due (see the class comment): set the timer to what is due now.
      else this.arm(st)
    }
    if (out.length > 0) this.emit(out)
  }

  /** Keys past their ttl at end of input are discarded, not given `onEof`. */
  override eof(): void {
    const now = nowMillis()
    const out: Array<unknown> = []
    for (const st of this.states.values()) {
      if (st.logic !== undefined && (st as TtlKeyState).touchedAt + this.ttlMs <= now) this.lapse(st as TtlKeyState, out)
    }
    if (out.length > 0) this.emit(out)
    super.eof()
  }

  override takeSnapshots(full: boolean, keys: Array<string>, states: Array<unknown>): void {
    const from = states.length
    super.takeSnapshots(full, keys, states)
    for (let i = from; i < states.length; i++) {
      const state = states[i]
      if (state === DISCARDED) continue
      // A live state written is the key's state in the map (see `takeSnapshots`).
      const st = this.states.get(keys[i]!) as TtlKeyState
      const snapshot: TtlSnapshot = { [TTL_STATE]: state, [TTL_TOUCHED_AT]: st.touchedAt }
      states[i] = snapshot
    }
  }

  protected override reschedule(st: KeyState): void {
    const ttl = st as TtlKeyState
    let at: unknown
    try {
      at = st.logic!.notifyAt()
    } catch (e) {
      throw notifyAtFailed(this.stepId, st.key, e)
    }
    if (at === undefined || at === null) ttl.logicAt = Infinity
    else if (!(at instanceof Date) || Number.isNaN(at.getTime())) throw badNotifyAt(this.stepId, st.key, at)
    else ttl.logicAt = at.getTime()
    this.arm(ttl)
  }

  /** Set the key's timer to the earlier of its logic's wake-up and its expiry, unless it is set no later already. */
  private arm(st: TtlKeyState): void {
    const expiresAt = st.touchedAt + this.ttlMs
    const at = st.logicAt < expiresAt ? st.logicAt : expiresAt
    if (!(st.notifyAt <= at)) this.timers.schedule(st, at)
  }

  /**
   * The key's ttl has passed: first the logic's wake-ups due no later than
   * the expiry (after a resume long after it, there may be several; an
   * uninterrupted run had each on its own timer), then drop the key.
   */
  private lapse(st: TtlKeyState, out: Array<unknown>): void {
    const expiresAt = st.touchedAt + this.ttlMs
    while (st.logicAt <= expiresAt) {
      const before = st.logicAt
      this.apply(st, this.call(st, "onNotify"), "onNotify", out)
      if (st.logic === undefined) return
      // A logic asking again for a time already past would never let go.
      if (!(st.logicAt > before)) break
    }
    this.drop(st)
  }
}
