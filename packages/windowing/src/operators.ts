/**
 * The window operators, each a short composition over {@link window}.
 * Import them as a namespace: `import { win } from "@weir/windowing"`.
 *
 * @since 0.1.0
 */
import { dataLast, defineOperator, type KeyedStream, op, type Stream, type Tagged, mustBeFunction, upPort } from "@weir/core"
import { type Clock, EventClock } from "./clocks.js"
import { window, WindowLogic, type WindowOptions, type WindowOut } from "./window.js"
import type { Windower } from "./windowers.js"

export { window } from "./window.js"


const NOTHING: ReadonlyArray<never> = Object.freeze([])

class FoldLogic<V, S> extends WindowLogic<V, S, S> {
  constructor(
    public acc: S,
    private readonly folder: (acc: S, value: V) => S,
    private readonly merger: (target: S, original: S) => S
  ) {
    super()
  }
  onValue(value: V): ReadonlyArray<S> {
    this.acc = this.folder(this.acc, value)
    return NOTHING
  }
  onMerge(original: FoldLogic<V, S>): ReadonlyArray<S> {
    this.acc = this.merger(this.acc, original.acc)
    return NOTHING
  }
  onClose(): Array<S> {
    return [this.acc]
  }
  snapshot(): S {
    return this.acc
  }
}

/**
 * Fold each window's values into an accumulator, emitted when the window
 * closes. `merger(target, original)` combines accumulators when session
 * windows merge.
 *
 * @example
 * ```ts
 * interface Reading { readonly at: Date; readonly value: number }
 * declare const readings: KeyedStream<Reading>   // keyed by sensor
 *
 * const clock = new EventClock((r: Reading) => r.at, "10 seconds")
 * const sums = win.foldWindow("sum", readings, clock, new TumblingWindower("1 minute", new Date(0)),
 *   () => 0, (sum, r: Reading) => sum + r.value, (a, b) => a + b)
 * sums.down // [sensor, [windowId, sum]]
 * const sums2 = readings.pipe(win.foldWindow("sum2", clock, new TumblingWindower("1 minute", new Date(0)),
 *   () => 0, (sum, r) => sum + r.value, (a, b) => a + b))
 * ```
 *
 * `ttl` in the options discards a key that receives no item for that long,
 * with its open windows (see {@link WindowOptions}):
 *
 * @example
 * ```ts
 * interface Reading { readonly at: Date; readonly value: number }
 * declare const readings: KeyedStream<Reading>   // keyed by sensor
 *
 * const clock = new EventClock((r: Reading) => r.at, "10 seconds")
 * const sums = win.foldWindow("sum", readings, clock, new TumblingWindower("1 minute", new Date(0)),
 *   () => 0, (sum, r: Reading) => sum + r.value, (a, b) => a + b, { ttl: "1 hour" })
 * ```
 * @since 0.1.0
 */
export const foldWindow: {
  <V, S>(
    stepId: string,
    clock: Clock<NoInfer<V>, unknown>,
    windower: Windower<unknown>,
    builder: () => S,
    folder: (acc: S, value: V) => S,
    merger: (target: S, original: S) => S,
    options?: WindowOptions
  ): (up: KeyedStream<V>) => WindowOut<V, S>
  <V, S>(
    stepId: string,
    up: KeyedStream<V>,
    clock: Clock<V, unknown>,
    windower: Windower<unknown>,
    builder: () => S,
    folder: (acc: S, value: V) => S,
    merger: (target: S, original: S) => S,
    options?: WindowOptions
  ): WindowOut<V, S>
} & Tagged<"foldWindow"> = dataLast(7, defineOperator(
  "foldWindow",
  upPort,
  <V, S>(
    up: KeyedStream<V>,
    clock: Clock<V, unknown>,
    windower: Windower<unknown>,
    builder: () => S,
    folder: (acc: S, value: V) => S,
    merger: (target: S, original: S) => S,
    options: WindowOptions = {}
  ): WindowOut<V, S> => {
    for (const [name, f] of [["builder", builder], ["folder", folder], ["merger", merger]] as const) mustBeFunction("foldWindow", name, f)
    return window(
      "window",
      up,
      clock,
      windower,
      (resume: S | undefined) => new FoldLogic<V, S>(resume === undefined ? builder() : resume, folder, merger),
      options
    )
  }
))

const NONE: unique symbol = Symbol("none")

/**
 * Reduce each window's values pairwise (the first value starts the
 * accumulator); `reducer` also merges session windows. Values are taken in
 * arrival order unless `ordered: true`.
 *
 * @example
 * ```ts
 * declare const temps: KeyedStream<number>   // celsius, keyed by sensor
 *
 * const windower = new TumblingWindower("1 minute", new Date(0))
 * const maxes = win.reduceWindow("max", temps, new SystemClock(), windower, (a: number, b: number) => Math.max(a, b))
 * const maxes2 = temps.pipe(win.reduceWindow("max2", new SystemClock(), windower, (a, b) => Math.max(a, b)))
 * ```
 *
 * With `ttl` (see {@link WindowOptions}):
 *
 * @example
 * ```ts
 * declare const temps: KeyedStream<number>   // celsius, keyed by sensor
 *
 * const windower = new TumblingWindower("1 minute", new Date(0))
 * const maxes = win.reduceWindow("max", temps, new SystemClock(), windower, (a: number, b: number) => Math.max(a, b), {
 *   ttl: "1 hour"
 * })
 * ```
 * @since 0.1.0
 */
export const reduceWindow: {
  <V>(
    stepId: string,
    clock: Clock<NoInfer<V>, unknown>,
    windower: Windower<unknown>,
    reducer: (acc: V, value: V) => V,
    options?: WindowOptions
  ): (up: KeyedStream<V>) => WindowOut<V, V>
  <V>(
    stepId: string,
    up: KeyedStream<V>,
    clock: Clock<V, unknown>,
    windower: Windower<unknown>,
    reducer: (acc: V, value: V) => V,
    options?: WindowOptions
  ): WindowOut<V, V>
} & Tagged<"reduceWindow"> = dataLast(5, defineOperator(
  "reduceWindow",
  upPort,
  <V>(
    up: KeyedStream<V>,
    clock: Clock<V, unknown>,
    windower: Windower<unknown>,
    reducer: (acc: V, value: V) => V,
    options: WindowOptions = {}
  ): WindowOut<V, V> => {
    type Acc = V | typeof NONE
    const step = (a: Acc, b: Acc): Acc => (a === NONE ? b : b === NONE ? a : reducer(a, b))
    const folded = foldWindow<V, Acc>("foldWindow", up, clock, windower, () => NONE, step, step, {
      ordered: options.ordered ?? false,
      ttl: options.ttl
    })
    return {
      down: folded.down as unknown as KeyedStream<readonly [number, V]>,
      late: folded.late,
      meta: folded.meta
    }
  }
))

/**
 * Collect each window's values into an array (in timestamp order when
 * `ordered`, the default); merged sessions concatenate.
 *
 * @example
 * ```ts
 * interface Click { readonly at: Date; readonly page: string }
 * declare const clicks: KeyedStream<Click>   // keyed by user
 *
 * const clock = new EventClock((c: Click) => c.at, "30 seconds")
 * const batches = win.collectWindow("collect", clicks, clock, new SessionWindower("5 minutes"))
 * batches.down // [user, [sessionId, clicks[]]]
 * const batches2 = clicks.pipe(win.collectWindow("collect2", clock, new SessionWindower("5 minutes")))
 * ```
 *
 * With `ttl` (see {@link WindowOptions}):
 *
 * @example
 * ```ts
 * interface Click { readonly at: Date; readonly page: string }
 * declare const clicks: KeyedStream<Click>   // keyed by user
 *
 * const clock = new EventClock((c: Click) => c.at, "30 seconds")
 * // A user silent for a day is forgotten, with any session still open.
 * const sessions = win.collectWindow("sessions", clicks, clock, new SessionWindower("5 minutes"), { ttl: "1 day" })
 * ```
 * @since 0.1.0
 */
export const collectWindow: {
  <V>(
    stepId: string,
    clock: Clock<NoInfer<V>, unknown>,
    windower: Windower<unknown>,
    options?: WindowOptions
  ): (up: KeyedStream<V>) => WindowOut<V, Array<V>>
  <V>(
    stepId: string,
    up: KeyedStream<V>,
    clock: Clock<V, unknown>,
    windower: Windower<unknown>,
    options?: WindowOptions
  ): WindowOut<V, Array<V>>
} & Tagged<"collectWindow"> = dataLast(4, defineOperator(
  "collectWindow",
  upPort,
  <V>(up: KeyedStream<V>, clock: Clock<V, unknown>, windower: Windower<unknown>, options: WindowOptions = {}) =>
    foldWindow<V, Array<V>>(
      "foldWindow",
      up,
      clock,
      windower,
      () => [],
      (acc, v) => {
        acc.push(v)
        return acc
      },
      (target, original) => target.concat(original),
      options
    )
))

/**
 * Count items per key per window. The input is not keyed: `key` picks each
 * item's key, and the clock sees the whole item.
 *
 * @example
 * ```ts
 * interface Click { readonly user: string; readonly at: Date }
 * declare const clicks: Stream<Click>
 *
 * const perUser = win.countWindow("count", clicks, new EventClock((c: Click) => c.at, "1 minute"),
 *   new TumblingWindower("1 hour", new Date(0)), (c) => c.user)
 * const perUser2 = clicks.pipe(win.countWindow("count2", new EventClock((c: Click) => c.at, "1 minute"),
 *   new TumblingWindower("1 hour", new Date(0)), (c) => c.user))
 * ```
 *
 * `options` are the {@link WindowOptions} (`ordered` defaults to `false`
 * here), e.g. a `ttl`:
 *
 * @example
 * ```ts
 * interface Click { readonly user: string; readonly at: Date }
 * declare const clicks: Stream<Click>
 *
 * const perUser = win.countWindow("count", clicks, new EventClock((c: Click) => c.at, "1 minute"),
 *   new TumblingWindower("1 hour", new Date(0)), (c) => c.user, { ttl: "1 day" })
 * ```
 * @since 0.1.0
 */
export const countWindow: {
  <X>(
    stepId: string,
    clock: Clock<NoInfer<X>, unknown>,
    windower: Windower<unknown>,
    key: (item: X) => string,
    options?: WindowOptions
  ): (up: Stream<X>) => WindowOut<X, number>
  <X>(
    stepId: string,
    up: Stream<X>,
    clock: Clock<X, unknown>,
    windower: Windower<unknown>,
    key: (item: X) => string,
    options?: WindowOptions
  ): WindowOut<X, number>
} & Tagged<"countWindow"> = dataLast(5, defineOperator(
  "countWindow",
  upPort,
  <X>(up: Stream<X>, clock: Clock<X, unknown>, windower: Windower<unknown>, key: (item: X) => string, options: WindowOptions = {}) => {
    const keyed = op.keyOn("keyOn", up, key)
    return foldWindow<X, number>("foldWindow", keyed, clock, windower, () => 0, (n) => n + 1, (a, b) => a + b, {
      ordered: options.ordered ?? false,
      ttl: options.ttl
    })
  }
))

const byExtreme = <V>(pickLeft: (a: unknown, b: unknown) => boolean, by: (v: V) => unknown) => (a: V, b: V): V =>
  pickLeft(by(a), by(b)) ? a : b

/** The two call forms of `maxWindow` and `minWindow`. */
type ExtremeWindow = {
  <V>(
    stepId: string,
    clock: Clock<NoInfer<V>, unknown>,
    windower: Windower<unknown>,
    by?: (value: V) => unknown,
    options?: WindowOptions
  ): (up: KeyedStream<V>) => WindowOut<V, V>
  <V>(
    stepId: string,
    up: KeyedStream<V>,
    clock: Clock<V, unknown>,
    windower: Windower<unknown>,
    by?: (value: V) => unknown,
    options?: WindowOptions
  ): WindowOut<V, V>
}

/** `maxWindow` or `minWindow`: a `reduceWindow` keeping the value `pickLeft` prefers (ties keep the earlier). */
const extremeWindow = <N extends "maxWindow" | "minWindow">(
  name: N,
  pickLeft: (a: unknown, b: unknown) => boolean
): ExtremeWindow & Tagged<N> =>
  dataLast(
    5,
    defineOperator(
      name,
      upPort,
      <V>(
        up: KeyedStream<V>,
        clock: Clock<V, unknown>,
        windower: Windower<unknown>,
        by: (v: V) => unknown = (v) => v,
        options?: WindowOptions
      ) => reduceWindow("reduceWindow", up, clock, windower, byExtreme<V>(pickLeft, by), options)
    )
  )


/**
 * The largest value per key per window (by `by`, default the value itself);
 * on ties the earlier value wins.
 *
 * @example
 * ```ts
 * interface Reading { readonly at: Date; readonly celsius: number }
 * declare const readings: KeyedStream<Reading>   // keyed by sensor
 *
 * const clock = new EventClock((r: Reading) => r.at, "10 seconds")
 * const windower = new TumblingWindower("1 minute", new Date(0))
 * const hottest = win.maxWindow("max", readings, clock, windower, (r: Reading) => r.celsius)
 * const hottest2 = readings.pipe(win.maxWindow("max2", clock, windower, (r) => r.celsius))
 * ```
 *
 * With {@link WindowOptions} after `by`, e.g. a `ttl`:
 *
 * @example
 * ```ts
 * interface Reading { readonly at: Date; readonly celsius: number }
 * declare const readings: KeyedStream<Reading>   // keyed by sensor
 *
 * const clock = new EventClock((r: Reading) => r.at, "10 seconds")
 * const windower = new TumblingWindower("1 minute", new Date(0))
 * const hottest = win.maxWindow("max", readings, clock, windower, (r: Reading) => r.celsius, { ttl: "1 hour" })
 * ```
 * @since 0.1.0
 */
export const maxWindow: ExtremeWindow & Tagged<"maxWindow"> = extremeWindow("maxWindow", (a, b) => !((b as number) > (a as number)))

/**
 * The smallest value per key per window (by `by`); on ties the earlier value wins.
 *
 * @example
 * ```ts
 * interface Reading { readonly at: Date; readonly celsius: number }
 * declare const readings: KeyedStream<Reading>   // keyed by sensor
 *
 * const clock = new EventClock((r: Reading) => r.at, "10 seconds")
 * const windower = new TumblingWindower("1 minute", new Date(0))
 * const coldest = win.minWindow("min", readings, clock, windower, (r: Reading) => r.celsius)
 * const coldest2 = readings.pipe(win.minWindow("min2", clock, windower, (r) => r.celsius))
 * ```
 *
 * With {@link WindowOptions} after `by`, e.g. a `ttl`:
 *
 * @example
 * ```ts
 * interface Reading { readonly at: Date; readonly celsius: number }
 * declare const readings: KeyedStream<Reading>   // keyed by sensor
 *
 * const clock = new EventClock((r: Reading) => r.at, "10 seconds")
 * const windower = new TumblingWindower("1 minute", new Date(0))
 * const coldest = win.minWindow("min", readings, clock, windower, (r: Reading) => r.celsius, { ttl: "1 hour" })
 * ```
 * @since 0.1.0
 */
export const minWindow: ExtremeWindow & Tagged<"minWindow"> = extremeWindow("minWindow", (a, b) => !((b as number) < (a as number)))

/** How `joinWindow` records a new value of a side. */
export type JoinInsertMode = "first" | "last" | "product"
/** When `joinWindow` emits rows. */
export type JoinWindowEmitMode = "complete" | "final" | "running"

/** Options of {@link joinWindow}. */
export interface JoinWindowOptions extends WindowOptions {
  /** `first` keeps a side's first value, `last` its newest, `product` all of them. Default `last`. */
  readonly insertMode?: JoinInsertMode | undefined
  /** `final` (default) emits when the window closes; `complete` as soon as every side has a value (then clears); `running` on every value. */
  readonly emitMode?: JoinWindowEmitMode | undefined
}

type Labelled = readonly [side: number, value: unknown]

class JoinWindowLogic extends WindowLogic<Labelled, Array<unknown>, Array<Array<unknown>>> {
  constructor(
    public seen: Array<Array<unknown>>,
    private readonly insert: JoinInsertMode,
    private readonly emit: JoinWindowEmitMode
  ) {
    super()
  }
  onValue([side, value]: Labelled): Array<Array<unknown>> {
    const slot = this.seen[side]!
    if (this.insert === "product") slot.push(value)
    else if (this.insert === "last") slot[0] = value
    else if (slot.length === 0) slot.push(value)
    return this.check()
  }
  onMerge(original: JoinWindowLogic): Array<Array<unknown>> {
    // The target is the earlier session: `first` keeps its values, `last` takes the later session's.
    this.seen = this.seen.map((mine, i) => {
      const theirs = original.seen[i]!
      if (this.insert === "product") return mine.concat(theirs)
      if (this.insert === "first") return mine.length > 0 ? mine : theirs
      return theirs.length > 0 ? theirs : mine
    })
    return this.check()
  }
  onClose(): Array<Array<unknown>> {
    return this.emit === "final" ? op.joinRows(this.seen) : []
  }
  snapshot(): Array<Array<unknown>> {
    return this.seen.map((s) => s.slice())
  }
  private check(): Array<Array<unknown>> {
    if (this.emit === "running") return op.joinRows(this.seen)
    if (this.emit === "complete" && this.seen.every((s) => s.length > 0)) {
      const out = op.joinRows(this.seen)
      this.seen = this.seen.map(() => [])
      return out
    }
    return []
  }
}


/**
 * Join keyed streams within each window: rows have one slot per side
 * (`undefined` for a side with no value). Note the clock and windower come
 * before the sides. With an `EventClock`, its timestamp getter is applied to
 * each side's values.
 *
 * @example
 * ```ts
 * declare const orders: KeyedStream<{ readonly amount: number }>     // keyed by order id
 * declare const payments: KeyedStream<{ readonly paid: number }>    // keyed by order id
 *
 * const clock = new SystemClock()
 * const joined = win.joinWindow("join", clock, new TumblingWindower("1 minute", new Date(0)), [orders, payments])
 * joined.down // [orderId, [windowId, [order, payment]]]
 * ```
 *
 * `ttl` in the options (see {@link WindowOptions}) discards a key that receives
 * no item on any side for that long, with its open windows:
 *
 * @example
 * ```ts
 * declare const orders: KeyedStream<{ readonly amount: number }>     // keyed by order id
 * declare const payments: KeyedStream<{ readonly paid: number }>    // keyed by order id
 *
 * const windower = new TumblingWindower("1 minute", new Date(0))
 * const joined = win.joinWindow("join", new SystemClock(), windower, [orders, payments], { ttl: "1 hour" })
 * ```
 * @since 0.1.0
 */
export const joinWindow: <const Sides extends ReadonlyArray<KeyedStream<unknown>>>(
  stepId: string,
  clock: Clock<unknown, unknown>,
  windower: Windower<unknown>,
  sides: Sides,
  options?: JoinWindowOptions
) => WindowOut<unknown, { -readonly [I in keyof Sides]: SideValue<Sides[I]> | undefined }> = defineOperator(
  "joinWindow",
  { ups: [{ name: "sides", index: 2, kind: "array" }] },
  (
    clock: Clock<unknown, unknown>,
    windower: Windower<unknown>,
    sides: ReadonlyArray<KeyedStream<unknown>>,
    options: JoinWindowOptions = {}
  ) => {
    const insert = options.insertMode ?? "last"
    const emit = options.emitMode ?? "final"
    if (!["first", "last", "product"].includes(insert)) throw new TypeError(`unknown join insert mode '${String(insert)}'`)
    if (!["complete", "final", "running"].includes(emit)) throw new TypeError(`unknown join emit mode '${String(emit)}'`)
    if (sides.length === 0) throw new TypeError("joinWindow needs at least one side")
    const labelled = sides.map((side, i) =>
      op.mapValue(`label_${i}`, side, (v: unknown): Labelled => [i, v])
    )
    const merged = op.merge("merge", ...labelled)
    const sideClock: Clock<Labelled, unknown> = clock instanceof EventClock
      ? (clock as EventClock<unknown>).contramap((l: Labelled) => l[1]) as Clock<Labelled, unknown>
      : clock as Clock<Labelled, unknown>
    const n = sides.length
    return window(
      "window",
      merged,
      sideClock,
      windower,
      (resume: Array<Array<unknown>> | undefined) =>
        new JoinWindowLogic(resume ?? Array.from({ length: n }, () => []), insert, emit),
      options
    )
  }
) as never

/** The value type of a keyed stream. */
export type SideValue<S> = S extends KeyedStream<infer V> ? V : never
