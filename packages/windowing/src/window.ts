/**
 * The generic `window` operator: per key, a clock, a windower and one
 * {@link WindowLogic} per open window, all inside one `statefulBatch` step so
 * windows are snapshotted and resumed like any other state, and closed by
 * `notifyAt` timers.
 *
 * @since 0.1.0
 */
import { currentTimeMillis, dataLast, defineOperator, type Tagged as OperatorTagged, type KeyedStream, type LogicResult, op, StatefulBatchLogic, type Stream, upPort, ttlMillis } from "@weir/core"
import * as Duration from "effect/Duration"
import type { Clock, ClockLogic } from "./clocks.js"
import type { WindowMetadata, Windower, WindowerLogic } from "./windowers.js"

/**
 * The logic of one window of one key.
 *
 * @example
 * ```ts
 * class Sum extends WindowLogic<number, number, number> {
 *   constructor(private sum = 0) { super() }
 *   onValue(v: number) { this.sum += v; return [] }
 *   onMerge(original: Sum) { this.sum += original.sum; return [] }
 *   onClose() { return [this.sum] }
 *   snapshot() { return this.sum }
 * }
 * ```
 * @since 0.1.0
 */
export abstract class WindowLogic<V, W, S> {
  /** A value arrived for this window (in timestamp order when `ordered`). */
  abstract onValue(value: V): Iterable<W>
  /** Another session window was merged into this one; absorb its state. */
  abstract onMerge(original: this): Iterable<W>
  /** The window closed; emit the final values. */
  abstract onClose(): Iterable<W>
  abstract snapshot(): S
}

/**
 * The three outputs of a window operator.
 *
 * @since 0.1.0
 */
export interface WindowOut<V, W> {
  /** `[key, [windowId, value]]` emitted by the windows' logic. */
  readonly down: KeyedStream<readonly [number, W]>
  /** `[key, [windowId, item]]` for items that arrived after the watermark passed them. */
  readonly late: KeyedStream<readonly [number, V]>
  /** `[key, [windowId, metadata]]` once per closed window. */
  readonly meta: KeyedStream<readonly [number, WindowMetadata]>
}

/** Options common to window operators. */
export interface WindowOptions {
  /** Process a key's items in timestamp order once the watermark passes them (default `true`). */
  readonly ordered?: boolean | undefined
  /**
   * Time-to-live of a key's window state, on the run's (system) clock: a key
   * that receives no item for this long is discarded with every window it
   * still has open — those windows emit nothing, not even `meta` — and its
   * snapshot is removed from the recovery store. A key whose windows have all
   * closed is dropped anyway, so `ttl` matters for windows that would stay
   * open: an event-time window waiting for a watermark that a quiet key no
   * longer advances, or one opened by a timestamp far in the future. Keep it
   * longer than a window's length plus the clock's wait if windows should
   * close before their key expires (a window due no later than the expiry
   * always closes first). Default: none.
   */
  readonly ttl?: Duration.Input | undefined
}

/** What the per-key logic emits before it is split into `down`, `late` and `meta`. */
type Tagged =
  | readonly [tag: 0, id: number, value: unknown]
  | readonly [tag: 1, id: number, value: unknown]
  | readonly [tag: 2, id: number, meta: WindowMetadata]

/** The persisted state of one key. */
export interface WindowKeyState {
  readonly clock: unknown
  readonly windower: unknown
  readonly logics: ReadonlyArray<readonly [number, unknown]>
  readonly queue: ReadonlyArray<readonly [value: unknown, timestamp: number]>
}

/** Results with nothing to emit are shared, not allocated per key per batch. */
const NOTHING_RETAIN: LogicResult<Tagged> = Object.freeze([Object.freeze([]), false] as const)
const NOTHING_DISCARD: LogicResult<Tagged> = Object.freeze([Object.freeze([]), true] as const)

/**
 * One key's clock, windower and window logics. A batch usually holds about one
 * item per key, so everything here is paid per item: the hot path allocates
 * nothing unless a window emits.
 */
class WindowKeyLogic<V, W, S> extends StatefulBatchLogic<V, Tagged, WindowKeyState> {
  private readonly clock: ClockLogic<V, unknown>
  private readonly windower: WindowerLogic<unknown>
  private readonly logics = new Map<number, WindowLogic<V, W, S>>()
  /** The window last fed and its logic: a key's consecutive items mostly go to the same window. */
  private lastId = NaN
  private lastLogic: WindowLogic<V, W, S> | undefined = undefined
  /**
   * Items waiting for the watermark, in arrival order: the first `queued`
   * entries of two parallel arrays (no tuple per item; slots are reused).
   */
  private readonly queueValues: Array<V | undefined> = []
  private readonly queueTimes: Array<number> = []
  private queued = 0
  /** The watermark after the last call. */
  private watermark = -Infinity
  /** The wake-up handed to the runtime and not yet fired; may be earlier than needed (see `notifyAt`). */
  private wake: Date | undefined = undefined
  /** The system time the windows really need a wake-up at (while `wake` is set). */
  private due = NaN

  constructor(
    clock: Clock<V, unknown>,
    windower: Windower<unknown>,
    private readonly builder: (resume: S | undefined) => WindowLogic<V, W, S>,
    private readonly ordered: boolean,
    resume: WindowKeyState | undefined
  ) {
    super()
    this.clock = clock.build(resume?.clock)
    this.windower = windower.build(resume?.windower)
    for (const [id, state] of resume?.logics ?? []) this.logics.set(id, builder(state as S))
    for (const [value, ts] of resume?.queue ?? []) this.enqueue(value as V, ts)
  }

  onBatch(values: Array<V>): LogicResult<Tagged> {
    const clock = this.clock
    clock.beforeBatch()
    let out: Array<Tagged> | undefined
    let watermark = -Infinity
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!
      const stamped = clock.onItem(v)
      const ts = stamped[0]
      watermark = stamped[1]
      if (ts < watermark) {
        for (const id of this.windower.lateFor(ts)) (out ??= []).push([1, id, v])
      } else this.enqueue(v, ts)
    }
    this.watermark = watermark
    return this.result(this.flush(watermark, out))
  }

  override onNotify(): LogicResult<Tagged> {
    const wake = this.wake
    this.wake = undefined
    // Woken early on purpose (see `notifyAt`) and nothing is due yet: behave as if not woken at all,
    // so that windows close exactly when they would with an exact wake-up.
    const early = wake !== undefined && wake.getTime() < this.due
    if (early && currentTimeMillis() < this.due) return this.result(undefined)
    const watermark = (this.watermark = this.clock.onNotify())
    return this.result(this.flush(watermark, undefined))
  }

  override onEof(): LogicResult<Tagged> {
    const watermark = (this.watermark = this.clock.onEof())
    return this.result(this.flush(watermark, undefined))
  }

  override notifyAt(): Date | undefined {
    let at = this.windower.notifyAt()
    if (this.ordered && this.queued > 0) {
      const first = this.queueTimes[0]!
      if (at === undefined || first < at) at = first
    }
    const system = at === undefined ? undefined : this.clock.toSystemTime(at)
    if (at === undefined || system === undefined) {
      this.due = NaN
      return (this.wake = undefined)
    }
    this.due = system
    // Every new wake-up costs a `Date` and a timer-heap move, so a pending one that is not late is
    // kept: if it fires before `due`, `onNotify` ignores it and the exact time is asked for then.
    const wake = this.wake
    if (wake === undefined) return (this.wake = new Date(system))
    if (wake.getTime() <= system) return wake
    return (this.wake = new Date(this.earlierWake(at, system)))
  }

  /**
   * The wake-up must move earlier: event time is outrunning system time (a backlog), so it will
   * move earlier again with the next item. Wake when the watermark is halfway to `at` instead: a
   * backlog then re-arms a key's timer a few times per window rather than on every batch.
   */
  private earlierWake(at: number, system: number): number {
    const watermark = this.watermark
    if (!Number.isFinite(watermark) || watermark >= at) return system
    const halfway = this.clock.toSystemTime(watermark + (at - watermark) / 2)
    return halfway !== undefined && halfway < system ? halfway : system
  }

  snapshot(): WindowKeyState {
    const queue: Array<readonly [unknown, number]> = []
    for (let i = 0; i < this.queued; i++) queue.push([this.queueValues[i], this.queueTimes[i]!])
    return {
      clock: this.clock.snapshot(),
      windower: this.windower.snapshot(),
      logics: Array.from(this.logics, ([id, logic]) => [id, logic.snapshot()] as const),
      queue
    }
  }

  private result(out: Array<Tagged> | undefined): LogicResult<Tagged> {
    const discard = this.logics.size === 0 && this.queued === 0 && this.windower.isEmpty()
    if (out === undefined) return discard ? NOTHING_DISCARD : NOTHING_RETAIN
    return [out, discard]
  }

  private enqueue(value: V, ts: number): void {
    const n = this.queued
    this.queueValues[n] = value
    this.queueTimes[n] = ts
    this.queued = n + 1
  }

  /** Take the queued items the watermark has passed, feed them to their windows, then merge and close windows. */
  private flush(watermark: number, out: Array<Tagged> | undefined): Array<Tagged> | undefined {
    const n = this.queued
    if (n > 0) {
      const values = this.queueValues
      const times = this.queueTimes
      // The usual case: every queued item is due and already in timestamp order, so take them as they are.
      let asQueued = true
      if (this.ordered) {
        for (let i = 0; i < n; i++) {
          const t = times[i]!
          if (!(t <= watermark) || (i > 0 && t < times[i - 1]!)) {
            asQueued = false
            break
          }
        }
      }
      if (asQueued) {
        this.queued = 0
        for (let i = 0; i < n; i++) {
          const value = values[i] as V
          values[i] = undefined
          out = this.open(value, times[i]!, out)
        }
      } else out = this.flushSorted(watermark, out)
    }
    const merges = this.windower.merged()
    if (!isEmptyArray(merges)) {
      for (const [original, target] of merges) {
        if (original === target) continue
        const from = this.logics.get(original)
        if (from === undefined) continue
        let into = this.logics.get(target)
        if (into === undefined) {
          into = this.builder(undefined)
          this.logics.set(target, into)
        }
        out = emit(out, target, into.onMerge(from))
        this.forget(original)
      }
    }
    const closed = this.windower.closeFor(watermark)
    if (!isEmptyArray(closed)) {
      for (const [id, meta] of closed) {
        const logic = this.logics.get(id)
        if (logic !== undefined) {
          this.forget(id)
          out = emit(out, id, logic.onClose())
        }
        ;(out ??= []).push([2, id, meta])
      }
    }
    return out
  }

  /**
   * Ordered, with items not yet due or out of order: take the due ones sorted by timestamp
   * (stable), and keep the rest queued in arrival order.
   */
  private flushSorted(watermark: number, out: Array<Tagged> | undefined): Array<Tagged> | undefined {
    const values = this.queueValues
    const times = this.queueTimes
    const n = this.queued
    const taken: Array<number> = []
    for (let i = 0; i < n; i++) if (times[i]! <= watermark) taken.push(i)
    if (taken.length === 0) return out
    taken.sort((a, b) => times[a]! - times[b]! || a - b)
    const takenValues = taken.map((i) => values[i] as V)
    const takenTimes = taken.map((i) => times[i]!)
    let kept = 0
    for (let i = 0; i < n; i++) {
      if (!(times[i]! <= watermark)) {
        values[kept] = values[i]
        times[kept] = times[i]!
        kept++
      }
    }
    for (let i = kept; i < n; i++) values[i] = undefined
    this.queued = kept
    for (let j = 0; j < takenValues.length; j++) out = this.open(takenValues[j]!, takenTimes[j]!, out)
    return out
  }

  /** Feed one on-time item to every window it belongs to, creating their logics. */
  private open(value: V, ts: number, out: Array<Tagged> | undefined): Array<Tagged> | undefined {
    const ids = this.windower.openFor(ts)
    if (Array.isArray(ids)) {
      for (let i = 0; i < ids.length; i++) out = this.feed(ids[i] as number, value, out)
    } else {
      for (const id of ids) out = this.feed(id, value, out)
    }
    return out
  }

  private feed(id: number, value: V, out: Array<Tagged> | undefined): Array<Tagged> | undefined {
    let logic = id === this.lastId ? this.lastLogic! : this.logics.get(id)
    if (logic === undefined) {
      logic = this.builder(undefined)
      this.logics.set(id, logic)
    }
    this.lastId = id
    this.lastLogic = logic
    return emit(out, id, logic.onValue(value))
  }

  private forget(id: number): void {
    this.logics.delete(id)
    if (id === this.lastId) {
      this.lastId = NaN
      this.lastLogic = undefined
    }
  }
}

const isEmptyArray = (it: Iterable<unknown>): boolean => Array.isArray(it) && it.length === 0

/** Append a window's values to `out` (created on the first one). */
const emit = (out: Array<Tagged> | undefined, id: number, ws: Iterable<unknown>): Array<Tagged> | undefined => {
  if (Array.isArray(ws)) {
    for (let i = 0; i < ws.length; i++) (out ??= []).push([0, id, ws[i]])
  } else {
    for (const w of ws) (out ??= []).push([0, id, w])
  }
  return out
}

/** One of the three streams out of the tagged one: counted first, so the array is made at its size (no growing). */
const pick = (tag: 0 | 1 | 2) => (batch: Array<readonly [string, Tagged]>) => {
  let n = 0
  for (let i = 0; i < batch.length; i++) if (batch[i]![1][0] === tag) n++
  const out: Array<readonly [string, readonly [number, unknown]]> = new Array(n)
  if (n === 0) return out
  let j = 0
  for (let i = 0; i < batch.length; i++) {
    const item = batch[i]!
    const t = item[1]
    if (t[0] === tag) out[j++] = [item[0], [t[1], t[2]]]
  }
  return out
}

/**
 * The generic window operator: per key, route each item through the clock
 * and windower to one {@link WindowLogic} per window; emit what the logics
 * return, the late items, and each closed window's metadata. All other
 * window operators are built on it.
 *
 * @example
 * ```ts
 * interface Reading { readonly at: Date; readonly value: number }
 * declare const readings: KeyedStream<Reading>   // keyed by sensor
 * class Sum extends WindowLogic<Reading, number, number> {
 *   constructor(private sum = 0) { super() }
 *   onValue(r: Reading) { this.sum += r.value; return [] }
 *   onMerge(original: Sum) { this.sum += original.sum; return [] }
 *   onClose() { return [this.sum] }
 *   snapshot() { return this.sum }
 * }
 *
 * const out = win.window("sums", readings, new EventClock((r: Reading) => r.at, "10 seconds"),
 *   new TumblingWindower("1 minute", new Date(0)), (resume: number | undefined) => new Sum(resume))
 * out.down // [key, [windowId, sum]]
 * const out2 = readings.pipe(win.window("sums2", new EventClock((r: Reading) => r.at, "10 seconds"),
 *   new TumblingWindower("1 minute", new Date(0)), (resume: number | undefined) => new Sum(resume)))
 * ```
 *
 * With `ttl` (see {@link WindowOptions}), a key that receives no item for that
 * long is discarded with its open windows, in memory and in the recovery store:
 *
 * @example
 * ```ts
 * interface Reading { readonly at: Date; readonly value: number }
 * declare const readings: KeyedStream<Reading>   // keyed by sensor
 * class Count extends WindowLogic<Reading, number, number> {
 *   constructor(private n = 0) { super() }
 *   onValue() { this.n += 1; return [] }
 *   onMerge(original: Count) { this.n += original.n; return [] }
 *   onClose() { return [this.n] }
 *   snapshot() { return this.n }
 * }
 * // A sensor silent for a day is forgotten, windows and all.
 * const counts = win.window("counts", readings, new EventClock((r: Reading) => r.at, "10 seconds"),
 *   new TumblingWindower("1 minute", new Date(0)), (resume: number | undefined) => new Count(resume), { ttl: "1 day" })
 * ```
 * @since 0.1.0
 */
export const window: {
  <V, W, S>(
    stepId: string,
    clock: Clock<NoInfer<V>, unknown>,
    windower: Windower<unknown>,
    builder: (resumeState: S | undefined) => WindowLogic<V, W, S>,
    options?: WindowOptions
  ): (up: KeyedStream<V>) => WindowOut<V, W>
  <V, W, S>(
    stepId: string,
    up: KeyedStream<V>,
    clock: Clock<V, unknown>,
    windower: Windower<unknown>,
    builder: (resumeState: S | undefined) => WindowLogic<V, W, S>,
    options?: WindowOptions
  ): WindowOut<V, W>
} & OperatorTagged<"window"> = dataLast(5, defineOperator(
  "window",
  upPort,
  <V, W, S>(
    up: KeyedStream<V>,
    clock: Clock<V, unknown>,
    windower: Windower<unknown>,
    builder: (resumeState: S | undefined) => WindowLogic<V, W, S>,
    options: WindowOptions = {}
  ): WindowOut<V, W> => {
    if (typeof (clock as { build?: unknown })?.build !== "function") {
      throw new TypeError("window operators need a `clock` such as `new EventClock(...)` or `new SystemClock()`")
    }
    if (typeof (windower as { build?: unknown })?.build !== "function") {
      throw new TypeError("window operators need a `windower` such as `new TumblingWindower(...)`")
    }
    const ordered = options.ordered ?? true
    const tagged = op.statefulBatch(
      "statefulBatch",
      up,
      (resume: WindowKeyState | undefined) => new WindowKeyLogic<V, W, S>(clock, windower, builder, ordered, resume),
      { ttl: ttlMillis("window", options) }
    )
    const down = op.flatMapBatch("down", tagged, pick(0)) as Stream<readonly [string, readonly [number, W]]>
    const late = op.flatMapBatch("late", tagged, pick(1)) as Stream<readonly [string, readonly [number, V]]>
    const meta = op.flatMapBatch("meta", tagged, pick(2)) as Stream<readonly [string, readonly [number, WindowMetadata]]>
    return { down, late, meta }
  }
))
