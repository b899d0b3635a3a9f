/**
 * Clocks decide, per key, each item's timestamp and the watermark: the time
 * before which no more on-time items are expected. Items older than the
 * watermark are late. Internally times are milliseconds since the Unix epoch,
 * with `-Infinity` as the beginning and `Infinity` as the end of time, so
 * nothing overflows.
 *
 * @since 0.1.0
 */
import { currentTime } from "@weir/core"

const nowMs = (): number => currentTime().getTime()
import * as Duration from "effect/Duration"

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
  /** The item's timestamp and the watermark after it, in milliseconds. */
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
 * const out = win.countWindow("count", events, new SystemClock(), new TumblingWindower("1 minute", new Date(0)), (e) => e.user)
 * ```
 * @since 0.1.0
 */
export class SystemClock implements Clock<unknown, undefined> {
  build(): ClockLogic<unknown, undefined> {
    let now = currentTime().getTime()
    return {
      beforeBatch: () => {
        now = currentTime().getTime()
      },
      onItem: () => [now, now],
      onNotify: () => {
        now = currentTime().getTime()
        return now
      },
      onEof: () => END_OF_TIME,
      toSystemTime: (timestamp) => timestamp,
      snapshot: () => undefined
    }
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
 * @example
 * ```ts
 * const clock = new EventClock((e: Reading) => e.at, "5 seconds")
 * const out = win.foldWindow("sum", readings, clock, new TumblingWindower("1 minute", new Date(0)), () => 0, (s, e) => s + e.value, (a, b) => a + b)
 * ```
 * @since 0.1.0
 */
export class EventClock<V> implements Clock<V, EventClockState> {
  /** The wait in milliseconds (may be `Infinity`). */
  readonly waitMillis: number
  readonly nowGetter: () => Date
  private readonly customNow: boolean
  constructor(
    readonly tsGetter: (value: V) => Date,
    waitForSystemDuration: Duration.Input,
    options: { readonly nowGetter?: (() => Date) | undefined } = {}
  ) {
    if (typeof tsGetter !== "function") throw new TypeError("EventClock: `tsGetter` must be a function returning a `Date`")
    const wait = Duration.fromInput(waitForSystemDuration)
    if (wait._tag === "None") {
      throw new TypeError(`EventClock: \`waitForSystemDuration\` must be a duration; got ${String(waitForSystemDuration)}`)
    }
    this.waitMillis = Duration.isFinite(wait.value) ? Duration.toMillis(wait.value) : Infinity
    if (this.waitMillis < 0) throw new RangeError("EventClock: `waitForSystemDuration` must not be negative")
    this.nowGetter = options.nowGetter ?? currentTime
    this.customNow = options.nowGetter !== undefined
  }

  /** The same clock reading timestamps through `f` first (used by `joinWindow` for labelled sides). */
  contramap<U>(f: (u: U) => V): EventClock<U> {
    const getter = this.tsGetter
    return new EventClock<U>((u) => getter(f(u)), this.waitMillis === Infinity ? Duration.infinity : this.waitMillis, {
      nowGetter: this.customNow ? this.nowGetter : undefined
    })
  }

  build(resumeState: EventClockState | undefined): ClockLogic<V, EventClockState> {
    const getter = this.tsGetter
    const wait = this.waitMillis
    const nowGetter = this.nowGetter
    const now = this.customNow ? () => nowGetter().getTime() : nowMs
    let systemNow = now()
    let base = resumeState?.watermarkBase ?? BEGINNING_OF_TIME
    let sysOfMax = resumeState?.systemTimeOfMax ?? systemNow
    /** System time only moves forward here, even if the OS clock steps back. */
    const refresh = () => {
      const t = now()
      if (t > systemNow) systemNow = t
    }
    const watermark = () => base + (systemNow - sysOfMax)
    return {
      beforeBatch: refresh,
      onItem: (value) => {
        const ts = timestampOf(getter, value)
        const candidate = ts - wait
        const current = watermark()
        if (candidate > current) {
          base = candidate
          sysOfMax = systemNow
          return [ts, candidate]
        }
        return [ts, current]
      },
      onNotify: () => {
        refresh()
        return watermark()
      },
      onEof: () => END_OF_TIME,
      toSystemTime: (timestamp) => {
        if (base === BEGINNING_OF_TIME) return undefined
        const at = timestamp - base + sysOfMax
        return Number.isFinite(at) ? at : undefined
      },
      snapshot: () => ({ watermarkBase: base, systemTimeOfMax: sysOfMax })
    }
  }
}

const timestampOf = <V>(getter: (v: V) => Date, value: V): number => {
  const ts = getter(value)
  if (!(ts instanceof Date) || Number.isNaN(ts.getTime())) {
    throw new TypeError(
      `EventClock's \`tsGetter\` must return a valid \`Date\`; got ${ts instanceof Date ? "an invalid Date" : `a \`${typeof ts}\``}`
    )
  }
  return ts.getTime()
}
