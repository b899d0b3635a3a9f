/**
 * The generic `window` operator: per key, a clock, a windower and one
 * {@link WindowLogic} per open window, all inside one `statefulBatch` step so
 * windows are snapshotted and resumed like any other state, and closed by
 * `notifyAt` timers.
 *
 * @since 0.1.0
 */
import { defineOperator, type KeyedStream, op, StatefulBatchLogic, type Stream } from "@weir/core"
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

class WindowKeyLogic<V, W, S> extends StatefulBatchLogic<V, Tagged, WindowKeyState> {
  private readonly clock: ClockLogic<V, unknown>
  private readonly windower: WindowerLogic<unknown>
  private readonly logics = new Map<number, WindowLogic<V, W, S>>()
  private queue: Array<readonly [V, number]>
  /** The wake-up last asked for; kept while still ahead, since waking a window early is harmless. */
  private wake: Date | undefined = undefined

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
    this.queue = (resume?.queue as Array<readonly [V, number]> | undefined)?.slice() ?? []
  }

  onBatch(values: Array<V>) {
    const out: Array<Tagged> = []
    this.clock.beforeBatch()
    let watermark = -Infinity
    for (const v of values) {
      const [ts, wm] = this.clock.onItem(v)
      watermark = wm
      if (ts < wm) {
        for (const id of this.windower.lateFor(ts)) out.push([1, id, v])
      } else this.queue.push([v, ts])
    }
    this.flush(watermark, out)
    return [out, this.isEmpty()] as const
  }

  override onNotify() {
    const out: Array<Tagged> = []
    this.flush(this.clock.onNotify(), out)
    return [out, this.isEmpty()] as const
  }

  override onEof() {
    const out: Array<Tagged> = []
    this.flush(this.clock.onEof(), out)
    return [out, this.isEmpty()] as const
  }

  override notifyAt(): Date | undefined {
    let at = this.windower.notifyAt()
    if (this.ordered && this.queue.length > 0) {
      const first = this.queue[0]![1]
      if (at === undefined || first < at) at = first
    }
    if (at === undefined) return (this.wake = undefined)
    const system = this.clock.toSystemTime(at)
    if (system === undefined) return (this.wake = undefined)
    // An event clock's wake-up time moves with every new item; re-arming the timer each batch would
    // cost a heap entry per key per batch. Waking earlier than needed only re-checks the windows.
    const wake = this.wake
    if (wake !== undefined && wake.getTime() === system) return wake
    return (this.wake = new Date(system))
  }

  snapshot(): WindowKeyState {
    return {
      clock: this.clock.snapshot(),
      windower: this.windower.snapshot(),
      logics: Array.from(this.logics, ([id, logic]) => [id, logic.snapshot()] as const),
      queue: this.queue.slice()
    }
  }

  private isEmpty(): boolean {
    return this.logics.size === 0 && this.queue.length === 0 && this.windower.isEmpty()
  }

  private flush(watermark: number, out: Array<Tagged>): void {
    let take: Array<readonly [V, number]>
    if (this.queue.length === 1 && (!this.ordered || this.queue[0]![1] <= watermark)) {
      take = this.queue
      this.queue = []
    } else if (this.ordered) {
      take = []
      const keep: Array<readonly [V, number]> = []
      for (const entry of this.queue) (entry[1] <= watermark ? take : keep).push(entry)
      take.sort((a, b) => a[1] - b[1])
      this.queue = keep
    } else {
      take = this.queue
      this.queue = []
    }
    for (const [value, ts] of take) {
      for (const id of this.windower.openFor(ts)) {
        let logic = this.logics.get(id)
        if (logic === undefined) {
          logic = this.builder(undefined)
          this.logics.set(id, logic)
        }
        for (const w of logic.onValue(value)) out.push([0, id, w])
      }
    }
    for (const [original, target] of this.windower.merged()) {
      if (original === target) continue
      const from = this.logics.get(original)
      if (from === undefined) continue
      let into = this.logics.get(target)
      if (into === undefined) {
        into = this.builder(undefined)
        this.logics.set(target, into)
      }
      for (const w of into.onMerge(from)) out.push([0, target, w])
      this.logics.delete(original)
    }
    for (const [id, meta] of this.windower.closeFor(watermark)) {
      const logic = this.logics.get(id)
      if (logic !== undefined) {
        this.logics.delete(id)
        for (const w of logic.onClose()) out.push([0, id, w])
      }
      out.push([2, id, meta])
    }
  }
}

const pick = (tag: 0 | 1 | 2) => (batch: Array<readonly [string, Tagged]>) => {
  const out: Array<readonly [string, readonly [number, unknown]]> = []
  for (let i = 0; i < batch.length; i++) {
    const [key, t] = batch[i]!
    if (t[0] === tag) out.push([key, [t[1], t[2]]])
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
 * const out = win.window("sums", readings, new EventClock((r: Reading) => r.at, "10 seconds"),
 *   new TumblingWindower("1 minute", new Date(0)), (resume: number | undefined) => new Sum(resume))
 * out.down // [key, [windowId, sum]]
 * ```
 * @since 0.1.0
 */
export const window: <V, W, S>(
  stepId: string,
  up: KeyedStream<V>,
  clock: Clock<V, unknown>,
  windower: Windower<unknown>,
  builder: (resumeState: S | undefined) => WindowLogic<V, W, S>,
  options?: WindowOptions
) => WindowOut<V, W> = defineOperator(
  "window",
  { ups: [{ name: "up", index: 0, kind: "one" }] },
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
      (resume: WindowKeyState | undefined) => new WindowKeyLogic<V, W, S>(clock, windower, builder, ordered, resume)
    )
    const down = op.flatMapBatch("down", tagged, pick(0)) as Stream<readonly [string, readonly [number, W]]>
    const late = op.flatMapBatch("late", tagged, pick(1)) as Stream<readonly [string, readonly [number, V]]>
    const meta = op.flatMapBatch("meta", tagged, pick(2)) as Stream<readonly [string, readonly [number, WindowMetadata]]>
    return { down, late, meta }
  }
)
