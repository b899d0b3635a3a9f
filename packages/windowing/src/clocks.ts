/**
 * Clocks decide, per key, each item's timestamp and the watermark: the time
 * before which no more on-time items are expected. Items older than the
 * watermark are late. Internally times are milliseconds since the Unix epoch,
 * with `-Infinity` as the beginning and `Infinity` as the end of time, so
 * nothing overflows.
 *
 * @since 0.1.0
 */
import { currentTime, currentTimeMillis } from "@weir/core"
import * as Duration from "effect/Duration"

const nowMs = (): number => currentTimeMillis()

/** The beginning of time, as a watermark. */
export const BEGINNING_OF_TIME = -Infinity
/** The end of time: the watermark at end of input, which closes every window. */
export const END_OF_TIME = Infinity

/**
 * One key's clock.
 *
 * @since 0.1.0
 */
export interface ClockLogic<V, S> {
  /** Called once before each batch of `onItem` calls. */
  beforeBatch(): void
  /**
   * The item's timestamp and the watermark after it, in milliseconds. The
   * caller reads the pair at once and keeps neither it nor a reference to it,
   * so a logic may return the same array every time (the built-in clocks do).
   */
  onItem(value: V): readonly [timestamp: number, watermark: number]
  /** The watermark when woken without items. */
  onNotify(): number
  /** The watermark at end of input (built-in clocks: the end of time). Must not change the snapshotted state. */
  onEof(): number
  /** The system time (ms) at which the watermark reaches `timestamp`, or `undefined` if it never will by itself. */
  toSystemTime(timestamp: number): number | undefined
  snapshot(): S
}

/**
 * A clock definition: builds one {@link ClockLogic} per key, from its snapshot on resume.
 *
 * @since 0.1.0
 */
export interface Clock<V, S = unknown> {
  build(resumeState: S | undefined): ClockLogic<V, S>
}

/**
 * Timestamps every item with the current system time (the run's clock,
 * virtual in tests), sampled once per batch. Nothing is ever late. Not
 * deterministic across resumes: on resume, windows open at the snapshot close
 * as soon as time is read.
 *
 * @example
 * ```ts
 * interface Visit { readonly user: string }
 * declare const visits: Stream<Visit>
 *
 * const out = win.countWindow("count", visits, new SystemClock(), new TumblingWindower("1 minute", new Date(0)), (v) => v.user)
 * ```
 * @since 0.1.0
 */
export class SystemClock<V = unknown> implements Clock<V, undefined> {
  /** @internal phantom: `V` is taken from where the clock is used, so callbacks beside it see the items' type */
  declare readonly _V?: (v: V) => void
  build(): ClockLogic<V, undefined> {
    return new SystemClockLogic()
  }
}

class SystemClockLogic implements ClockLogic<unknown, undefined> {
  private now = nowMs()
  beforeBatch(): void {
    this.now = nowMs()
  }
  onItem(): readonly [number, number] {
    return [this.now, this.now]
  }
  onNotify(): number {
    this.now = nowMs()
    return this.now
  }
  onEof(): number {
    return END_OF_TIME
  }
  toSystemTime(timestamp: number): number {
    return timestamp
  }
  snapshot(): undefined {
    return undefined
  }
}

/** The persisted state of one key's {@link EventClock}. */
export interface EventClockState {
  /** The largest `timestamp - wait` seen, or `-Infinity`. */
  readonly watermarkBase: number
  /** The system time when that largest timestamp arrived. */
  readonly systemTimeOfMax: number
}

/**
 * Timestamps items by `tsGetter` (event time). The watermark is the largest
 * timestamp seen minus `waitForSystemDuration`, and from then on advances with
 * system time, so a quiet key's windows still close. It never goes backwards,
 * even when the system clock does. An infinite wait (`Duration.infinity`)
 * means windows close only at end of input.
 *
 * Wake-ups are scheduled at the system time when the watermark will reach a
 * window's close (Bytewax schedules at the event time read as wall time).
 *
 * `tsGetter` returns a `Date`, or the same instant as a number of
 * milliseconds since the Unix epoch — which saves allocating a `Date` per item
 * when the events carry epoch milliseconds already.
 *
 * @example
 * ```ts
 * interface Reading { readonly at: Date; readonly value: number }
 * declare const readings: KeyedStream<Reading>   // keyed by sensor
 *
 * const clock = new EventClock((e: Reading) => e.at, "5 seconds")
 * const out = win.foldWindow("sum", readings, clock, new TumblingWindower("1 minute", new Date(0)), () => 0, (s, e) => s + e.value, (a, b) => a + b)
 *
 * // Events carrying epoch milliseconds: no Date per item.
 * const msClock = new EventClock((e: { readonly atMs: number }) => e.atMs, "5 seconds")
 * ```
 * @since 0.1.0
 */
export class EventClock<V> implements Clock<V, EventClockState> {
  /** The wait in milliseconds (may be `Infinity`). */
  readonly waitMillis: number
  readonly nowGetter: () => Date
  /** See the constructor's `toSystemTime` option; `undefined`: from the clock's own progress. */
  readonly toSystemTime: ((timestamp: Date) => Date | undefined) | undefined
  private readonly customNow: boolean
  /**
   * @param options.nowGetter The system time the watermark advances with
   *   (default: the run's clock).
   * @param options.toSystemTime When, on the run's clock, the watermark will
   *   reach `timestamp` — the time a window closing then gets its wake-up —
   *   or `undefined` for no wake-up (windows then close only as items move
   *   the watermark, or at end of input). Default: from the clock's progress
   *   so far. Give it with a `nowGetter` that is not the run's time (frozen,
   *   replayed), whose wake-ups the run's clock can't place; `() => undefined`
   *   for none, as Bytewax's `to_system_utc=lambda _: None`.
   */
  constructor(
    readonly tsGetter: (value: V) => Date | number,
    waitForSystemDuration: Duration.Input,
    options: {
      readonly nowGetter?: (() => Date) | undefined
      readonly toSystemTime?: ((timestamp: Date) => Date | undefined) | undefined
    } = {}
  ) {
    if (typeof tsGetter !== "function") throw new TypeError("EventClock: `tsGetter` must be a function returning a `Date` (or epoch milliseconds)")
    const wait = Duration.fromInput(waitForSystemDuration)
    if (wait._tag === "None") {
      throw new TypeError(`EventClock: \`waitForSystemDuration\` must be a duration; got ${String(waitForSystemDuration)}`)
    }
    this.waitMillis = Duration.isFinite(wait.value) ? Duration.toMillis(wait.value) : Infinity
    if (this.waitMillis < 0) throw new RangeError("EventClock: `waitForSystemDuration` must not be negative")
    this.nowGetter = options.nowGetter ?? currentTime
    this.customNow = options.nowGetter !== undefined
    if (options.toSystemTime !== undefined && typeof options.toSystemTime !== "function") {
      throw new TypeError(`EventClock: \`toSystemTime\` must be a function from a \`Date\` to a \`Date\` or \`undefined\`; got a \`${typeof options.toSystemTime}\``)
    }
    this.toSystemTime = options.toSystemTime
  }

  /** The same clock reading timestamps through `f` first (used by `joinWindow` for labelled sides). */
  contramap<U>(f: (u: U) => V): EventClock<U> {
    const getter = this.tsGetter
    return new EventClock<U>((u) => getter(f(u)), this.waitMillis === Infinity ? Duration.infinity : this.waitMillis, {
      nowGetter: this.customNow ? this.nowGetter : undefined,
      toSystemTime: this.toSystemTime
    })
  }

  build(resumeState: EventClockState | undefined): ClockLogic<V, EventClockState> {
    const nowGetter = this.nowGetter
    const now = this.customNow ? () => nowGetter().getTime() : nowMs
    return new EventClockLogic(this.tsGetter, this.waitMillis, now, this.toSystemTime, resumeState)
  }
}

/** One key's event clock. A class, not a closure bag: it is called for every item. */
class EventClockLogic<V> implements ClockLogic<V, EventClockState> {
  // Numeric fields start as numbers (not `undefined`), so V8 keeps them as unboxed doubles
  // instead of allocating a number on every store.
  private readonly wait: number = 0
  /** System time as last read; only moves forward here, even if the OS clock steps back. */
  private systemNow = 0
  private base = BEGINNING_OF_TIME
  private sysOfMax = 0
  /** What `onItem` returns, reused: it is called for every item. */
  private readonly stamped: [number, number] = [0, 0]
  constructor(
    private readonly getter: (value: V) => Date | number,
    wait: number,
    private readonly now: () => number,
    private readonly toSystem: ((timestamp: Date) => Date | undefined) | undefined,
    resumeState: EventClockState | undefined
  ) {
    this.wait = wait
    this.systemNow = now()
    this.base = resumeState?.watermarkBase ?? BEGINNING_OF_TIME
    this.sysOfMax = resumeState?.systemTimeOfMax ?? this.systemNow
  }

  beforeBatch(): void {
    const t = this.now()
    if (t > this.systemNow) this.systemNow = t
  }

  onItem(value: V): readonly [number, number] {
    const ts = timestampOf(this.getter, value)
    const candidate = ts - this.wait
    const current = this.base + (this.systemNow - this.sysOfMax)
    const stamped = this.stamped
    stamped[0] = ts
    if (candidate > current) {
      this.base = candidate
      this.sysOfMax = this.systemNow
      stamped[1] = candidate
    } else stamped[1] = current
    return stamped
  }

  onNotify(): number {
    this.beforeBatch()
    return this.base + (this.systemNow - this.sysOfMax)
  }

  onEof(): number {
    return END_OF_TIME
  }

  toSystemTime(timestamp: number): number | undefined {
    const toSystem = this.toSystem
    if (toSystem !== undefined) {
      if (!Number.isFinite(timestamp)) return undefined
      const at = toSystem(new Date(timestamp))
      if (at === undefined) return undefined
      const ms = at instanceof Date ? at.getTime() : NaN
      if (Number.isNaN(ms)) {
        throw new TypeError(
          `EventClock's \`toSystemTime\` must return a valid \`Date\` or \`undefined\`; got ${at instanceof Date ? "an invalid Date" : `a \`${typeof at}\``}`
        )
      }
      return ms
    }
    if (this.base === BEGINNING_OF_TIME) return undefined
    const at = timestamp - this.base + this.sysOfMax
    return Number.isFinite(at) ? at : undefined
  }

  snapshot(): EventClockState {
    return { watermarkBase: this.base, systemTimeOfMax: this.sysOfMax }
  }
}

const timestampOf = <V>(getter: (v: V) => Date | number, value: V): number => {
  const ts = getter(value)
  if (typeof ts === "number") {
    if (Number.isFinite(ts)) return ts
    throw new TypeError(
      `EventClock's \`tsGetter\` must return a valid \`Date\` or a finite number of epoch milliseconds; got the number ${ts}`
    )
  }
  const ms = ts instanceof Date ? ts.getTime() : NaN
  if (Number.isNaN(ms)) {
    throw new TypeError(
      `EventClock's \`tsGetter\` must return a valid \`Date\` or a finite number of epoch milliseconds; got ${ts instanceof Date ? "an invalid Date" : `a \`${typeof ts}\``}`
    )
  }
  return ms
}
