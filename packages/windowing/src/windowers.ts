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

  openOf(id: number): number {
    return this.alignMillis + id * this.offsetMillis
  }

  closeOf(id: number): number {
    return this.openOf(id) + this.lengthMillis
  }

  build(resumeState: SlidingState | undefined): WindowerLogic<SlidingState> {
    const open = new Map<number, number>(resumeState ?? [])
    /** The earliest close among open windows (Infinity when none): lets most calls return at once. */
    let minClose = Infinity
    for (const close of open.values()) if (close < minClose) minClose = close
    return {
      openFor: (timestamp) => {
        const ids = this.idsFor(timestamp)
        for (const id of ids) {
          if (!open.has(id)) {
            const close = this.closeOf(id)
            open.set(id, close)
            if (close < minClose) minClose = close
          }
        }
        return ids
      },
      lateFor: (timestamp) => this.idsFor(timestamp),
      merged: () => [],
      closeFor: (watermark) => {
        if (watermark < minClose) return NONE_CLOSED
        const closed: Array<readonly [number, WindowMetadata]> = []
        minClose = Infinity
        for (const [id, close] of open) {
          if (close > watermark && close < minClose) minClose = close
          if (close <= watermark) {
            closed.push([id, { openTime: new Date(this.openOf(id)), closeTime: new Date(close), mergedIds: new Set() }])
          }
        }
        closed.sort((a, b) => a[0] - b[0])
        for (const [id] of closed) open.delete(id)
        return closed
      },
      notifyAt: () => (minClose === Infinity ? undefined : minClose),
      isEmpty: () => open.size === 0,
      snapshot: () => Array.from(open)
    }
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
  open: number
  close: number
  merged: Set<number>
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
    const gap = this.gapMillis
    let nextId = resumeState?.nextId ?? 0
    const sessions = new Map<number, Session>()
    for (const [id, open, close, merged] of resumeState?.sessions ?? []) {
      sessions.set(id, { open, close, merged: new Set(merged) })
    }
    const mergeQueue: Array<readonly [number, number]> = []
    const detectMerges = () => {
      if (sessions.size < 2) return
      const sorted = Array.from(sessions).sort((a, b) => a[1].open - b[1].open || a[0] - b[0])
      let last: [number, Session] | undefined
      for (const entry of sorted) {
        if (last !== undefined && entry[1].open - last[1].close <= gap) {
          const [id, s] = entry
          last[1].close = Math.max(last[1].close, s.close)
          last[1].merged.add(id)
          for (const m of s.merged) last[1].merged.add(m)
          sessions.delete(id)
          mergeQueue.push([id, last[0]])
        } else last = entry
      }
    }
    return {
      openFor: (ts) => {
        for (const [id, s] of sessions) {
          if (s.open <= ts && ts <= s.close) return [id]
          if (s.open - ts > 0 && s.open - ts <= gap) {
            s.open = ts
            detectMerges()
            return [survivorOf(id)]
          }
          if (ts - s.close > 0 && ts - s.close <= gap) {
            s.close = ts
            detectMerges()
            return [survivorOf(id)]
          }
        }
        const id = nextId++
        sessions.set(id, { open: ts, close: ts, merged: new Set() })
        return [id]
      },
      lateFor: () => [LATE_SESSION_ID],
      merged: () => mergeQueue.splice(0),
      closeFor: (watermark) => {
        const closed: Array<readonly [number, WindowMetadata]> = []
        for (const [id, s] of sessions) {
          if (s.close < watermark - gap) {
            closed.push([id, { openTime: new Date(s.open), closeTime: new Date(s.close), mergedIds: new Set(s.merged) }])
          }
        }
        for (const [id] of closed) sessions.delete(id)
        return closed
      },
      notifyAt: () => {
        let min = Infinity
        for (const s of sessions.values()) if (s.close < min) min = s.close
        return min === Infinity ? undefined : min + gap
      },
      isEmpty: () => sessions.size === 0,
      snapshot: () => ({
        nextId,
        sessions: Array.from(sessions, ([id, s]) => [id, s.open, s.close, Array.from(s.merged)] as const)
      })
    }

    /** The id a session ended up in after the merges just queued. */
    function survivorOf(id: number): number {
      let current = id
      for (const [original, target] of mergeQueue) if (original === current) current = target
      return current
    }
  }
}
