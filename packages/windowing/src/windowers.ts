/**
 * Windowers decide, per key, which windows an item belongs to and when a
 * window closes. Times are milliseconds since the Unix epoch.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"

/**
 * What is known about a closed window.
 *
 * @since 0.1.0
 */
export interface WindowMetadata {
  /** Start of the window (inclusive). */
  readonly openTime: Date
  /** End of the window: exclusive for tumbling and sliding windows; the last item's time for sessions. */
  readonly closeTime: Date
  /** Ids of session windows merged into this one. */
  readonly mergedIds: ReadonlySet<number>
}

/**
 * One key's windowing logic.
 *
 * @since 0.1.0
 */
export interface WindowerLogic<S> {
  /** Ids of the windows an on-time item at `timestamp` belongs to; marks them open. */
  openFor(timestamp: number): Iterable<number>
  /** Ids a late item would have belonged to (records nothing). */
  lateFor(timestamp: number): Iterable<number>
  /** `[originalId, targetId]` merges since the last call. */
  merged(): Iterable<readonly [number, number]>
  /** Windows closed by `watermark` (never reopened). */
  closeFor(watermark: number): Iterable<readonly [number, WindowMetadata]>
  /** The next timestamp at which a window may close, or `undefined`. */
  notifyAt(): number | undefined
  /** `true` when no window is open: the key's state can be dropped. */
  isEmpty(): boolean
  snapshot(): S
}

/**
 * A windower definition: builds one {@link WindowerLogic} per key.
 *
 * @since 0.1.0
 */
export interface Windower<S = unknown> {
  build(resumeState: S | undefined): WindowerLogic<S>
}

const millisOf = (what: string, d: Duration.Input): number => {
  const o = Duration.fromInput(d)
  if (o._tag === "None" || !Duration.isFinite(o.value)) {
    throw new TypeError(`${what} must be a finite duration; got ${String(d)}`)
  }
  return Duration.toMillis(o.value)
}

const checkAlign = (alignTo: unknown): number => {
  if (!(alignTo instanceof Date) || Number.isNaN(alignTo.getTime())) {
    throw new TypeError("`alignTo` must be a valid `Date` (for example `new Date(0)`)")
  }
  return alignTo.getTime()
}

const NONE_CLOSED: ReadonlyArray<readonly [number, WindowMetadata]> = Object.freeze([])
const NO_MERGES: ReadonlyArray<readonly [number, number]> = Object.freeze([])

/** The open sliding windows of one key: id → close time. */
export type SlidingState = ReadonlyArray<readonly [number, number]>

/**
 * Fixed-length windows starting every `offset`, aligned to `alignTo`: window
 * `i` covers `[alignTo + i·offset, alignTo + i·offset + length)`, and ids are
 * negative before `alignTo`. With `offset < length` windows overlap (an item
 * belongs to several); with `offset > length` there are gaps, and items in a
 * gap belong to no window (they are dropped). A window closes when the
 * watermark reaches its end.
 *
 * @example
 * ```ts
 * // 10-second windows every 5 seconds, aligned to midnight UTC.
 * const windower = new SlidingWindower("10 seconds", "5 seconds", new Date("2024-01-01T00:00:00Z"))
 * ```
 * @since 0.1.0
 */
export class SlidingWindower implements Windower<SlidingState> {
  readonly lengthMillis: number
  readonly offsetMillis: number
  readonly alignMillis: number
  constructor(length: Duration.Input, offset: Duration.Input, readonly alignTo: Date) {
    this.lengthMillis = millisOf("window `length`", length)
    this.offsetMillis = millisOf("window `offset`", offset)
    this.alignMillis = checkAlign(alignTo)
    if (this.lengthMillis <= 0) throw new RangeError("window `length` must be positive")
    if (this.offsetMillis <= 0) throw new RangeError("sliding window `offset` must be positive")
  }

  /** Ids of the windows containing `timestamp`, in increasing order. */
  idsFor(timestamp: number): Array<number> {
    const d = timestamp - this.alignMillis
    if (this.offsetMillis === this.lengthMillis) return [Math.floor(d / this.lengthMillis)]
    const first = Math.floor((d - this.lengthMillis) / this.offsetMillis) + 1
    const last = Math.floor(d / this.offsetMillis)
    const ids: Array<number> = []
    for (let id = first; id <= last; id++) {
      // With gaps (offset > length) the arithmetic can name a window that ends before the item.
      if (this.closeOf(id) > timestamp) ids.push(id)
    }
    return ids
  }

  /**
   * The start (inclusive) and end (exclusive) of window `id`: what the
   * window ids in `down` and `late` stand for, without joining `meta`.
   *
   * @example
   * ```ts
   * const windower = new TumblingWindower("1 minute", new Date("2024-01-01T00:00:00Z"))
   * windower.bounds(2)   // { openTime: 2024-01-01T00:02:00Z, closeTime: 2024-01-01T00:03:00Z }
   * // [sensor, [id, max]] → [sensor, { start, end, max }]:
   * const readable = (out: WindowOut<number, number>) =>
   *   op.mapValue("bounds", out.down, ([id, max]) => {
   *     const { openTime, closeTime } = windower.bounds(id)
   *     return { start: openTime.toISOString(), end: closeTime.toISOString(), max }
   *   })
   * ```
   * @since 0.2.0
   */
  bounds(id: number): { readonly openTime: Date; readonly closeTime: Date } {
    if (!Number.isInteger(id)) {
      throw new TypeError(`window id must be an integer; got ${typeof id === "number" ? id : `a \`${typeof id}\``} instead`)
    }
    return { openTime: new Date(this.openOf(id)), closeTime: new Date(this.closeOf(id)) }
  }

  openOf(id: number): number {
    return this.alignMillis + id * this.offsetMillis
  }

  closeOf(id: number): number {
    return this.openOf(id) + this.lengthMillis
  }

  build(resumeState: SlidingState | undefined): WindowerLogic<SlidingState> {
    return new SlidingWindowerLogic(this, resumeState)
  }
}

/** One key's open sliding (or tumbling) windows. */
class SlidingWindowerLogic implements WindowerLogic<SlidingState> {
  /** id → close time. */
  private readonly open: Map<number, number>
  /** The earliest close among open windows (Infinity when none): lets most calls return at once. */
  private minClose = Infinity
  /** Tumbling: the window `openFor` returned last (`[lastOpenedId]`), while it is still open. */
  private lastOpenedId = NaN
  private lastOpened: ReadonlyArray<number> | undefined = undefined
  constructor(private readonly windower: SlidingWindower, resumeState: SlidingState | undefined) {
    this.open = new Map(resumeState ?? [])
    for (const close of this.open.values()) if (close < this.minClose) this.minClose = close
  }

  openFor(timestamp: number): ReadonlyArray<number> {
    const windower = this.windower
    // Tumbling: a key's consecutive items mostly land in the window the previous one opened.
    if (windower.offsetMillis === windower.lengthMillis) {
      const id = Math.floor((timestamp - windower.alignMillis) / windower.lengthMillis)
      if (id === this.lastOpenedId) return this.lastOpened!
      this.markOpen(id)
      this.lastOpenedId = id
      return (this.lastOpened = Object.freeze([id]))
    }
    const ids = windower.idsFor(timestamp)
    for (let i = 0; i < ids.length; i++) this.markOpen(ids[i]!)
    return ids
  }

  private markOpen(id: number): void {
    if (!this.open.has(id)) {
      const close = this.windower.closeOf(id)
      this.open.set(id, close)
      if (close < this.minClose) this.minClose = close
    }
  }

  lateFor(timestamp: number): Array<number> {
    return this.windower.idsFor(timestamp)
  }

  merged(): ReadonlyArray<readonly [number, number]> {
    return NO_MERGES
  }

  closeFor(watermark: number): ReadonlyArray<readonly [number, WindowMetadata]> {
    if (watermark < this.minClose) return NONE_CLOSED
    this.lastOpenedId = NaN
    this.lastOpened = undefined
    const closed: Array<readonly [number, WindowMetadata]> = []
    let minClose = Infinity
    for (const [id, close] of this.open) {
      if (close > watermark && close < minClose) minClose = close
      if (close <= watermark) {
        closed.push([id, { openTime: new Date(this.windower.openOf(id)), closeTime: new Date(close), mergedIds: new Set() }])
      }
    }
    this.minClose = minClose
    closed.sort((a, b) => a[0] - b[0])
    for (const [id] of closed) this.open.delete(id)
    return closed
  }

  notifyAt(): number | undefined {
    return this.minClose === Infinity ? undefined : this.minClose
  }

  isEmpty(): boolean {
    return this.open.size === 0
  }

  snapshot(): SlidingState {
    return Array.from(this.open)
  }
}

/**
 * Back-to-back fixed-length windows aligned to `alignTo`: window `i` covers
 * `[alignTo + i·length, alignTo + (i+1)·length)`.
 *
 * @example
 * ```ts
 * const hourly = new TumblingWindower("1 hour", new Date("2024-01-01T00:00:00Z"))
 * ```
 * @since 0.1.0
 */
export class TumblingWindower extends SlidingWindower {
  constructor(length: Duration.Input, alignTo: Date) {
    super(length, length, alignTo)
  }
}

/** One key's sessions, in creation order, and the next id. */
export interface SessionState {
  readonly nextId: number
  readonly sessions: ReadonlyArray<readonly [id: number, open: number, close: number, merged: ReadonlyArray<number>]>
}

/** The window id given to late items of session windows. */
export const LATE_SESSION_ID = -1

interface Session {
  readonly id: number
  /** `[id]`, what `openFor` returns for it (frozen, so it can be shared). */
  readonly ids: ReadonlyArray<number>
  open: number
  close: number
  /** Ids merged into this session (created on the first merge). */
  merged: Set<number> | undefined
}

/**
 * Sessions: a key's items closer than `gap` to each other (inclusive) belong to
 * one window. An item that bridges two sessions merges them; the merged-away
 * ids are listed in the survivor's metadata. A session closes once the
 * watermark is more than `gap` past its last item. Ids count from 0 per key;
 * late items get id -1. Unlike Bytewax, a key with no open session keeps no
 * state, so keys that never return don't leak.
 *
 * @example
 * ```ts
 * const sessions = new SessionWindower("30 minutes")
 * ```
 * @since 0.1.0
 */
export class SessionWindower implements Windower<SessionState> {
  readonly gapMillis: number
  constructor(gap: Duration.Input) {
    this.gapMillis = millisOf("session window `gap`", gap)
    if (this.gapMillis < 0) throw new RangeError("session window `gap` must not be negative")
  }

  build(resumeState: SessionState | undefined): WindowerLogic<SessionState> {
    return new SessionWindowerLogic(this.gapMillis, resumeState)
  }
}

const newSession = (id: number, open: number, close: number, merged: Set<number> | undefined): Session => ({
  id,
  ids: Object.freeze([id]),
  open,
  close,
  merged
})

/** One key's sessions. */
class SessionWindowerLogic implements WindowerLogic<SessionState> {
  private nextId: number
  /** Open sessions in creation order (a key rarely has more than two, so an array beats a Map). */
  private sessions: Array<Session> = []
  private mergeQueue: Array<readonly [number, number]> = []
  constructor(private readonly gap: number, resumeState: SessionState | undefined) {
    this.nextId = resumeState?.nextId ?? 0
    for (const [id, open, close, merged] of resumeState?.sessions ?? []) {
      this.sessions.push(newSession(id, open, close, merged.length > 0 ? new Set(merged) : undefined))
    }
  }

  openFor(ts: number): ReadonlyArray<number> {
    const gap = this.gap
    const sessions = this.sessions
    for (let i = 0; i < sessions.length; i++) {
      const s = sessions[i]!
      if (s.open <= ts && ts <= s.close) return s.ids
      if (s.open - ts > 0 && s.open - ts <= gap) {
        s.open = ts
        return this.afterGrowing(s)
      }
      if (ts - s.close > 0 && ts - s.close <= gap) {
        s.close = ts
        return this.afterGrowing(s)
      }
    }
    const s = newSession(this.nextId++, ts, ts, undefined)
    sessions.push(s)
    return s.ids
  }

  lateFor(): Array<number> {
    return [LATE_SESSION_ID]
  }

  merged(): ReadonlyArray<readonly [number, number]> {
    return this.mergeQueue.length === 0 ? NO_MERGES : this.mergeQueue.splice(0)
  }

  closeFor(watermark: number): ReadonlyArray<readonly [number, WindowMetadata]> {
    const sessions = this.sessions
    const before = watermark - this.gap
    let closed: Array<readonly [number, WindowMetadata]> | undefined
    for (let i = 0; i < sessions.length; i++) {
      const s = sessions[i]!
      if (s.close < before) {
        ;(closed ??= []).push([s.id, { openTime: new Date(s.open), closeTime: new Date(s.close), mergedIds: new Set(s.merged) }])
      }
    }
    if (closed === undefined) return NONE_CLOSED
    this.sessions = sessions.filter((s) => !(s.close < before))
    return closed
  }

  notifyAt(): number | undefined {
    let min = Infinity
    for (let i = 0; i < this.sessions.length; i++) if (this.sessions[i]!.close < min) min = this.sessions[i]!.close
    // A session closes once the watermark is strictly past its last item plus the gap
    // (Bytewax's `close_for`), so wake 1 ms after that, not at it: a wake at exactly
    // `close + gap` closes nothing and, on a clock that stands still, would fire forever.
    return min === Infinity ? undefined : min + this.gap + 1
  }

  isEmpty(): boolean {
    return this.sessions.length === 0
  }

  snapshot(): SessionState {
    return {
      nextId: this.nextId,
      sessions: this.sessions.map((s) => [s.id, s.open, s.close, s.merged === undefined ? [] : Array.from(s.merged)] as const)
    }
  }

  /** After session `s` grew: merge every session it now reaches, and return the ids of the one it ended up in. */
  private afterGrowing(s: Session): ReadonlyArray<number> {
    if (this.sessions.length < 2) return s.ids
    this.detectMerges()
    let current = s.id
    for (const [original, target] of this.mergeQueue) if (original === current) current = target
    return current === s.id ? s.ids : [current]
  }

  private detectMerges(): void {
    const gap = this.gap
    const sorted = this.sessions.slice().sort((a, b) => a.open - b.open || a.id - b.id)
    const gone = new Set<number>()
    let last: Session | undefined
    for (const s of sorted) {
      if (last !== undefined && s.open - last.close <= gap) {
        last.close = Math.max(last.close, s.close)
        const merged = (last.merged ??= new Set())
        merged.add(s.id)
        if (s.merged !== undefined) for (const m of s.merged) merged.add(m)
        gone.add(s.id)
        this.mergeQueue.push([s.id, last.id])
      } else last = s
    }
    if (gone.size > 0) this.sessions = this.sessions.filter((s) => !gone.has(s.id))
  }
}
