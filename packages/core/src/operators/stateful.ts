/**
 * Stateful operators: one state per key, on the key's worker, snapshotted at
 * epoch close. Each is the kernel's `statefulBatch` with a small logic class;
 * the common ones (`statefulMap`, `foldFinal`, …) loop over a key's whole
 * batch themselves instead of going through the per-item `stateful` shim.
 *
 * @since 0.1.0
 */
import { currentStepId, dataLast, defineOperator, type KeyedStream, type Stream, typeName, type Tagged } from "../Dataflow.js"
import { type LogicResult, StatefulBatchLogic, type StatefulLogic } from "../StatefulLogic.js"
import { isIterable, isPair, mustBeFunction, notIterable, notKeyed, shapeName, upPort as up0 } from "./checks.js"
import type { ChainLogic } from "../internal/kernel.js"
import { flatMapBatch, type StatefulOptions, statefulBatch, statefulBatchChained, ttlMillis } from "./kernel.js"
import { keyOn, mapValue } from "./stateless.js"

const RETAIN = false
const DISCARD = true

/** Appends the values of `emit` (any iterable) to `out`. */
const pushAll = <W>(out: Array<W>, emit: Iterable<W>, stepId: string, what: string): void => {
  if (Array.isArray(emit)) for (let j = 0; j < emit.length; j++) out.push(emit[j])
  else if (isIterable(emit)) for (const w of emit) out.push(w)
  else throw notIterable(stepId, what, emit)
}

// ---------------------------------------------------------------------------
// stateful

/**
 * @internal Runs a per-item {@link StatefulLogic} as batch logic: `onItem` per
 * value; after a mid-batch DISCARD the next value gets a fresh
 * `builder(undefined)` logic. Everything else delegates.
 */
export class StatefulShim<V, W, S> extends StatefulBatchLogic<V, W, S> {
  private logic: StatefulLogic<V, W, S>
  constructor(
    resume: S | undefined,
    private readonly builder: (resume: S | undefined) => StatefulLogic<V, W, S>,
    private readonly stepId: string
  ) {
    super()
    this.logic = this.build(resume)
  }
  private build(resume: S | undefined): StatefulLogic<V, W, S> {
    const logic: unknown = this.builder(resume)
    if (typeof (logic as { onItem?: unknown } | null | undefined)?.onItem !== "function") {
      throw new TypeError(
        `return value of \`builder\` in step '${this.stepId}' must be a \`StatefulLogic\`; got a \`${typeName(logic)}\` ` +
          "instead; return an instance of a class that extends `StatefulLogic`"
      )
    }
    return logic as StatefulLogic<V, W, S>
  }
  onBatch(values: Array<V>): LogicResult<W> {
    const out: Array<W> = []
    let discard: unknown = RETAIN
    for (let i = 0; i < values.length; i++) {
      if (discard === DISCARD) this.logic = this.build(undefined)
      const r: unknown = this.logic.onItem(values[i]!)
      if (!Array.isArray(r) || r.length !== 2) {
        throw new TypeError(
          `return value of \`onItem\` in step '${this.stepId}' must be a 2-element array \`[emit, discard]\`; ` +
            `got a \`${shapeName(r)}\` instead; return e.g. \`[[value], StatefulLogic.RETAIN]\``
        )
      }
      pushAll(out, r[0] as Iterable<W>, this.stepId, "`emit` returned by `onItem`")
      discard = r[1]
      if (discard !== RETAIN && discard !== DISCARD) {
        throw new TypeError(
          `the discard flag returned by \`onItem\` in step '${this.stepId}' must be a \`boolean\`; ` +
            `got a \`${typeName(discard)}\` instead; use \`StatefulLogic.RETAIN\` or \`StatefulLogic.DISCARD\``
        )
      }
    }
    return [out, discard as boolean]
  }
  override onNotify(): LogicResult<W> {
    return this.logic.onNotify()
  }
  override onEof(): LogicResult<W> {
    return this.logic.onEof()
  }
  override notifyAt(): Date | undefined {
    return this.logic.notifyAt()
  }
  snapshot(): S {
    return this.logic.snapshot()
  }
}

/**
 * Per-key state with a {@link StatefulLogic}, called once per value.
 * `builder(resumeState)` makes the logic when a key is first seen (with
 * `undefined`) or resumed from a snapshot. `onItem` returns `[emit, discard]`;
 * every emitted value goes out as `[key, value]`.
 *
 * @example
 * ```ts
 * class KeepLast extends StatefulLogic<string, readonly [string | undefined, string], string | undefined> {
 *   constructor(private last: string | undefined) { super() }
 *   onItem(value: string) {
 *     const old = this.last
 *     this.last = value
 *     return [[[old, value] as const], StatefulLogic.RETAIN] as const
 *   }
 *   snapshot() { return this.last }
 * }
 * declare const statuses: KeyedStream<string>   // keyed by device
 * const changes = op.stateful("changes", statuses, (resume: string | undefined) => new KeepLast(resume))
 * // ["a", "a1"], ["a", "a2"] → ["a", [undefined, "a1"]], ["a", ["a1", "a2"]]
 * const changes2 = statuses.pipe(op.stateful("changes2", (resume: string | undefined) => new KeepLast(resume)))   // the state type is not inferred
 * ```
 *
 * With `ttl` (see {@link StatefulOptions}), a key that receives no value for
 * that long on the run's clock is discarded without `onNotify`/`onEof`, and its
 * snapshot is removed from the recovery store:
 *
 * @example
 * ```ts
 * class Count extends StatefulLogic<number, number, number> {
 *   constructor(private n: number) { super() }
 *   onItem() {
 *     this.n += 1
 *     return [[this.n], StatefulLogic.RETAIN] as const
 *   }
 *   snapshot() { return this.n }
 * }
 * // A key quiet for 30 minutes starts counting from 1 again.
 * const visits = op.stateful("visits", keyed, (resume: number | undefined) => new Count(resume ?? 0), { ttl: "30 minutes" })
 * ```
 * @since 0.1.0
 */
export const stateful: {
  <V, W, S>(
    stepId: string,
    // `S` is inferred from the logic alone, so a state type that includes `undefined` works.
    builder: (resumeState: NoInfer<S> | undefined) => StatefulLogic<V, W, S>,
    options?: StatefulOptions
  ): (up: KeyedStream<V>) => KeyedStream<W>
  <V, W, S>(
    stepId: string,
    up: KeyedStream<V>,
    builder: (resumeState: NoInfer<S> | undefined) => StatefulLogic<V, W, S>,
    options?: StatefulOptions
  ): KeyedStream<W>
} & Tagged<"stateful"> = dataLast(3, defineOperator(
  "stateful",
  up0,
  <V, W, S>(
    up: KeyedStream<V>,
    builder: (resumeState: S | undefined) => StatefulLogic<V, W, S>,
    options?: StatefulOptions
  ): KeyedStream<W> => {
    mustBeFunction("stateful", "builder", builder)
    const ttl = ttlMillis("stateful", options)
    const stepId = currentStepId()
    return statefulBatch("statefulBatch", up, (resume: S | undefined) => new StatefulShim<V, W, S>(resume, builder, stepId), { ttl })
  }
))

// ---------------------------------------------------------------------------
// statefulMap, statefulFlatMap

const notStatePair = (stepId: string, emitName: string, r: unknown): TypeError =>
  new TypeError(
    `return value of \`mapper\` in step '${stepId}' must be a 2-element array \`[updatedState, ${emitName}]\`; ` +
      `got a \`${shapeName(r)}\` instead; return e.g. \`[state, ${emitName}] as const\``
  )

/** @internal {@link statefulMap}'s logic: the state in a local across the batch, one emit per value. */
export class StatefulMapLogic<V, W, S> extends StatefulBatchLogic<V, W, S | undefined> implements ChainLogic {
  constructor(
    private state: S | undefined,
    private readonly mapper: (state: S | undefined, value: V) => readonly [S | undefined, W],
    private readonly stepId: string
  ) {
    super()
  }
  onBatch(values: Array<V>): LogicResult<W> {
    const n = values.length
    const out: Array<W> = new Array(n)
    const mapper = this.mapper
    let state = this.state
    for (let i = 0; i < n; i++) {
      // A mapper returning an `undefined` state mid-batch: the next value sees `undefined`, as after a discard.
      const r = mapper(state, values[i]!)
      if (!Array.isArray(r) || r.length !== 2) throw notStatePair(this.stepId, "emitValue", r)
      state = r[0]
      out[i] = r[1]
    }
    this.state = state
    return [out, state === undefined]
  }
  onChain(batch: ReadonlyArray<readonly [string, unknown]>, next: Int32Array, head: number, key: string, out: Array<unknown>, n: number): number {
    const mapper = this.mapper
    let state = this.state
    for (let j = head; j !== -1; j = next[j]!) {
      const r = mapper(state, batch[j]![1] as V)
      if (!Array.isArray(r) || r.length !== 2) throw notStatePair(this.stepId, "emitValue", r)
      state = r[0]
      out[n++] = [key, r[1]]
    }
    this.state = state
    return n
  }
  get chainDiscard(): boolean {
    return this.state === undefined
  }
  snapshot(): S | undefined {
    return this.state
  }
}

/**
 * Per-key state with a plain function: `mapper(state, value)` returns
 * `[updatedState, emitValue]`. `state` is `undefined` for a new key;
 * `emitValue` is always emitted (as `[key, emitValue]`); an `updatedState` of
 * `undefined` discards the key's state.
 *
 * @example
 * ```ts
 * const runningSum = op.statefulMap("sum", keyed, (sum: number | undefined, x: number) => {
 *   const next = (sum ?? 0) + x
 *   return [next, next] as const
 * })
 * // ["a", 1], ["a", 2], ["b", 5] → ["a", 1], ["a", 3], ["b", 5]
 * const runningSum2 = keyed.pipe(op.statefulMap("sum2", (sum: number | undefined, x) => [(sum ?? 0) + x, (sum ?? 0) + x] as const))
 * ```
 *
 * With `ttl` (see {@link StatefulOptions}), a key that receives no value for
 * that long on the run's clock is discarded, and its snapshot is removed from
 * the recovery store: its next value sees `undefined` state again.
 *
 * @example
 * ```ts
 * // Sums over each key's current burst of activity: an hour of silence starts a new sum.
 * const bursts = op.statefulMap("burst", keyed, (sum: number | undefined, x: number) => {
 *   const next = (sum ?? 0) + x
 *   return [next, next] as const
 * }, { ttl: "1 hour" })
 * ```
 * @since 0.1.0
 */
export const statefulMap: {
  <V, W, S>(
    stepId: string,
    mapper: (state: S | undefined, value: V) => readonly [S | undefined, W],
    options?: StatefulOptions
  ): (up: KeyedStream<V>) => KeyedStream<W>
  <V, W, S>(
    stepId: string,
    up: KeyedStream<V>,
    mapper: (state: S | undefined, value: V) => readonly [S | undefined, W],
    options?: StatefulOptions
  ): KeyedStream<W>
} & Tagged<"statefulMap"> = dataLast(3, defineOperator(
  "statefulMap",
  up0,
  <V, W, S>(
    up: KeyedStream<V>,
    mapper: (state: S | undefined, value: V) => readonly [S | undefined, W],
    options?: StatefulOptions
  ): KeyedStream<W> => {
    mustBeFunction("statefulMap", "mapper", mapper)
    const ttl = ttlMillis("statefulMap", options)
    const stepId = currentStepId()
    return statefulBatchChained<V, W, S | undefined>("statefulBatch", up, (resume) => new StatefulMapLogic<V, W, S>(resume, mapper, stepId), ttl)
  }
))

/** @internal {@link statefulFlatMap}'s logic: like {@link StatefulMapLogic}, emitting every returned value. */
export class StatefulFlatMapLogic<V, W, S> extends StatefulBatchLogic<V, W, S | undefined> implements ChainLogic {
  constructor(
    private state: S | undefined,
    private readonly mapper: (state: S | undefined, value: V) => readonly [S | undefined, Iterable<W>],
    private readonly stepId: string
  ) {
    super()
  }
  onBatch(values: Array<V>): LogicResult<W> {
    const out: Array<W> = []
    const mapper = this.mapper
    let state = this.state
    for (let i = 0; i < values.length; i++) {
      const r = mapper(state, values[i]!)
      if (!Array.isArray(r) || r.length !== 2) throw notStatePair(this.stepId, "emitValues", r)
      state = r[0]
      pushAll(out, r[1] as Iterable<W>, this.stepId, "the values returned by `mapper`")
    }
    this.state = state
    return [out, state === undefined]
  }
  onChain(batch: ReadonlyArray<readonly [string, unknown]>, next: Int32Array, head: number, key: string, out: Array<unknown>, n: number): number {
    const mapper = this.mapper
    let state = this.state
    for (let j = head; j !== -1; j = next[j]!) {
      const r = mapper(state, batch[j]![1] as V)
      if (!Array.isArray(r) || r.length !== 2) throw notStatePair(this.stepId, "emitValues", r)
      state = r[0]
      const emit = r[1] as Iterable<W>
      if (Array.isArray(emit)) for (let k = 0; k < emit.length; k++) out[n++] = [key, emit[k]]
      else if (isIterable(emit)) for (const w of emit) out[n++] = [key, w]
      else throw notIterable(this.stepId, "the values returned by `mapper`", emit)
    }
    this.state = state
    return n
  }
  get chainDiscard(): boolean {
    return this.state === undefined
  }
  snapshot(): S | undefined {
    return this.state
  }
}

/**
 * Like {@link statefulMap}, but `mapper` returns `[updatedState, emitValues]`
 * and each of `emitValues` (any iterable) is emitted.
 *
 * @example
 * ```ts
 * const rises = op.statefulFlatMap("rises", keyed, (last: number | undefined, x: number) =>
 *   [x, last === undefined || x > last ? [x] : []] as const)
 * // ["a", 2], ["a", 5], ["a", 1], ["a", 3] → ["a", 2], ["a", 5], ["a", 3]
 * const rises2 = keyed.pipe(op.statefulFlatMap("rises2", (last: number | undefined, x) => [x, last === undefined || x > last ? [x] : []] as const))
 * ```
 *
 * With `ttl` (see {@link StatefulOptions}), a key quiet for that long on the
 * run's clock is discarded (and removed from the recovery store):
 *
 * @example
 * ```ts
 * // A new high of the last hour: after an hour without values, the next one counts as a new high.
 * const highs = op.statefulFlatMap("highs", keyed, (best: number | undefined, x: number) =>
 *   [best === undefined || x > best ? x : best, best === undefined || x > best ? [x] : []] as const, { ttl: "1 hour" })
 * ```
 * @since 0.1.0
 */
export const statefulFlatMap: {
  <V, W, S>(
    stepId: string,
    mapper: (state: S | undefined, value: V) => readonly [S | undefined, Iterable<W>],
    options?: StatefulOptions
  ): (up: KeyedStream<V>) => KeyedStream<W>
  <V, W, S>(
    stepId: string,
    up: KeyedStream<V>,
    mapper: (state: S | undefined, value: V) => readonly [S | undefined, Iterable<W>],
    options?: StatefulOptions
  ): KeyedStream<W>
} & Tagged<"statefulFlatMap"> = dataLast(3, defineOperator(
  "statefulFlatMap",
  up0,
  <V, W, S>(
    up: KeyedStream<V>,
    mapper: (state: S | undefined, value: V) => readonly [S | undefined, Iterable<W>],
    options?: StatefulOptions
  ): KeyedStream<W> => {
    mustBeFunction("statefulFlatMap", "mapper", mapper)
    const ttl = ttlMillis("statefulFlatMap", options)
    const stepId = currentStepId()
    return statefulBatchChained<V, W, S | undefined>("statefulBatch", up, (resume) => new StatefulFlatMapLogic<V, W, S>(resume, mapper, stepId), ttl)
  }
))

// ---------------------------------------------------------------------------
// The `…Final` operators: one value per key, emitted at end of input

/** Marks "no accumulator yet", since `undefined` may be a legitimate one. */
const NO_STATE: unique symbol = Symbol("weir/no-state")

/** @internal {@link foldFinal}'s logic: folds every batch in, emits the accumulator at EOF and discards. */
export class FoldFinalLogic<V, S> extends StatefulBatchLogic<V, S, S> {
  private acc: S | typeof NO_STATE
  constructor(
    resume: S | undefined,
    private readonly builder: () => S,
    private readonly folder: (acc: S, value: V) => S
  ) {
    super()
    this.acc = resume === undefined ? NO_STATE : resume
  }
  onBatch(values: Array<V>): LogicResult<S> {
    const folder = this.folder
    let acc = this.acc === NO_STATE ? this.builder() : this.acc
    for (let i = 0; i < values.length; i++) acc = folder(acc, values[i]!)
    this.acc = acc
    return [[], RETAIN]
  }
  override onEof(): LogicResult<S> {
    return [this.acc === NO_STATE ? [] : [this.acc], DISCARD]
  }
  snapshot(): S {
    // A deep copy: the accumulator may be mutated in place after the snapshot is taken.
    return structuredClone(this.acc as S)
  }
}

/**
 * Fold each key's values into an accumulator, emitted once at end of input
 * (then the key is discarded). `builder()` makes a key's first accumulator.
 * Only useful on finite input.
 *
 * @example
 * ```ts
 * const totals = op.foldFinal("total", keyed, () => 0, (sum: number, x: number) => sum + x)
 * // ["a", 1], ["b", 5], ["a", 2] → at EOF: ["a", 3], ["b", 5]
 * const totals2 = keyed.pipe(op.foldFinal("total2", () => 0, (sum, x) => sum + x))
 * ```
 *
 * With `ttl` (see {@link StatefulOptions}), a key that receives no value for
 * that long is dropped without being emitted (and removed from the recovery
 * store): at end of input only the keys active within `ttl` are emitted.
 *
 * @example
 * ```ts
 * const recentTotals = op.foldFinal("recent", keyed, () => 0, (sum: number, x: number) => sum + x, { ttl: "1 day" })
 * ```
 * @since 0.1.0
 */
export const foldFinal: {
  <V, S>(
    stepId: string,
    builder: () => S,
    folder: (acc: S, value: V) => S,
    options?: StatefulOptions
  ): (up: KeyedStream<V>) => KeyedStream<S>
  <V, S>(
    stepId: string,
    up: KeyedStream<V>,
    builder: () => S,
    folder: (acc: S, value: V) => S,
    options?: StatefulOptions
  ): KeyedStream<S>
} & Tagged<"foldFinal"> = dataLast(4, defineOperator(
  "foldFinal",
  up0,
  <V, S>(up: KeyedStream<V>, builder: () => S, folder: (acc: S, value: V) => S, options?: StatefulOptions): KeyedStream<S> => {
    mustBeFunction("foldFinal", "builder", builder)
    mustBeFunction("foldFinal", "folder", folder)
    const ttl = ttlMillis("foldFinal", options)
    return statefulBatch("statefulBatch", up, (resume: S | undefined) => new FoldFinalLogic<V, S>(resume, builder, folder), { ttl })
  }
))

/** @internal {@link reduceFinal}'s logic: the first value starts the accumulator. */
export class ReduceFinalLogic<V> extends StatefulBatchLogic<V, V, V> {
  private acc: V | typeof NO_STATE
  constructor(resume: V | undefined, private readonly reducer: (acc: V, value: V) => V) {
    super()
    this.acc = resume === undefined ? NO_STATE : resume
  }
  onBatch(values: Array<V>): LogicResult<V> {
    let acc = this.acc
    for (let i = 0; i < values.length; i++) acc = acc === NO_STATE ? values[i]! : this.reducer(acc, values[i]!)
    this.acc = acc
    return [[], RETAIN]
  }
  override onEof(): LogicResult<V> {
    return [this.acc === NO_STATE ? [] : [this.acc], DISCARD]
  }
  snapshot(): V {
    return structuredClone(this.acc as V)
  }
}

/**
 * Reduce each key's values pairwise (the first value starts), emitted once at
 * end of input. Each batch is first reduced per key on the worker it arrived
 * at (a combiner), so that one value per key is routed: `reducer` must be
 * associative.
 *
 * @example
 * ```ts
 * const maxima = op.reduceFinal("max", keyed, (a: number, b: number) => Math.max(a, b))
 * // ["a", 1], ["a", 9], ["a", 4] → at EOF: ["a", 9]
 * const maxima2 = keyed.pipe(op.reduceFinal("max2", (a, b) => Math.max(a, b)))
 * ```
 *
 * With `ttl` (see {@link StatefulOptions}), a key that receives no value for
 * that long is dropped without being emitted (and removed from the recovery store).
 *
 * @example
 * ```ts
 * const recentMaxima = op.reduceFinal("recent_max", keyed, (a: number, b: number) => Math.max(a, b), { ttl: "1 day" })
 * ```
 * @since 0.1.0
 */
export const reduceFinal: {
  <V>(stepId: string, reducer: (acc: V, value: V) => V, options?: StatefulOptions): (up: KeyedStream<V>) => KeyedStream<V>
  <V>(stepId: string, up: KeyedStream<V>, reducer: (acc: V, value: V) => V, options?: StatefulOptions): KeyedStream<V>
} & Tagged<"reduceFinal"> = dataLast(3, defineOperator("reduceFinal", up0, <V>(
  up: KeyedStream<V>,
  reducer: (acc: V, value: V) => V,
  options?: StatefulOptions
): KeyedStream<V> => {
    mustBeFunction("reduceFinal", "reducer", reducer)
    const ttl = ttlMillis("reduceFinal", options)
    const stepId = currentStepId()
    const preReduced = flatMapBatch("preReduce", up, (xs: Array<readonly [string, V]>) => {
      // One [key, acc] per key of the batch, in order of first arrival.
      const out: Array<[string, V]> = []
      const indexOf = new Map<string, number>()
      for (let i = 0; i < xs.length; i++) {
        const item = xs[i]!
        if (!isPair(item)) throw notKeyed(stepId, item)
        const key = item[0]
        const j = indexOf.get(key)
        if (j === undefined) {
          indexOf.set(key, out.length)
          out.push([key, item[1]])
        } else {
          const entry = out[j]!
          entry[1] = reducer(entry[1], item[1])
        }
      }
      return out
    })
    return statefulBatch("statefulBatch", preReduced, (resume: V | undefined) => new ReduceFinalLogic<V>(resume, reducer), { ttl })
  }))

/**
 * Count items per key, emitted at end of input. The input is not keyed:
 * `key` picks each item's key.
 *
 * @example
 * ```ts
 * const counts = op.countFinal("count", words, (w: string) => w)
 * // "a", "b", "a" → at EOF: ["a", 2], ["b", 1]
 * const counts2 = words.pipe(op.countFinal("count2", (w) => w))
 * ```
 *
 * With `ttl` (see {@link StatefulOptions}), a key not seen for that long is
 * dropped without being emitted (and removed from the recovery store).
 *
 * @example
 * ```ts
 * const recentCounts = op.countFinal("recent", words, (w: string) => w, { ttl: "1 hour" })
 * ```
 * @since 0.1.0
 */
export const countFinal: {
  <X>(stepId: string, key: (item: X) => string, options?: StatefulOptions): (up: Stream<X>) => KeyedStream<number>
  <X>(stepId: string, up: Stream<X>, key: (item: X) => string, options?: StatefulOptions): KeyedStream<number>
} & Tagged<"countFinal"> = dataLast(3, defineOperator("countFinal", up0, <X>(
  up: Stream<X>,
  key: (item: X) => string,
  options?: StatefulOptions
): KeyedStream<number> => {
    const ttl = ttlMillis("countFinal", options)
    const ones = mapValue("initCount", keyOn("keyOn", up, key), (_item: X) => 1)
    return reduceFinal("sum", ones, (a: number, b: number) => a + b, { ttl })
  }))

const identity = <V>(v: V): unknown => v

/**
 * The largest value per key, comparing `by(value)` (default: the value
 * itself) with `>`; emitted at end of input. On ties the earlier value wins.
 *
 * @example
 * ```ts
 * declare const scores: KeyedStream<{ user: string; points: number }>   // keyed by game
 * const best = op.maxFinal("best", scores, (s: { user: string; points: number }) => s.points)
 * const best2 = scores.pipe(op.maxFinal("best2", (s) => s.points))
 * ```
 *
 * With `ttl` (see {@link StatefulOptions}), a key that receives no value for
 * that long is dropped without being emitted (and removed from the recovery store).
 *
 * @example
 * ```ts
 * const recent = op.maxFinal("recent_max", keyed, undefined, { ttl: "1 hour" })
 * ```
 * @since 0.1.0
 */
export const maxFinal: {
  <V>(stepId: string, by?: (value: V) => unknown, options?: StatefulOptions): (up: KeyedStream<V>) => KeyedStream<V>
  <V>(stepId: string, up: KeyedStream<V>, by?: (value: V) => unknown, options?: StatefulOptions): KeyedStream<V>
} & Tagged<"maxFinal"> = dataLast(3, defineOperator("maxFinal", up0, <V>(
  up: KeyedStream<V>,
  by: (value: V) => unknown = identity,
  options?: StatefulOptions
): KeyedStream<V> => {
    mustBeFunction("maxFinal", "by", by)
    const ttl = ttlMillis("maxFinal", options)
    return reduceFinal("reduceFinal", up, (a: V, b: V) => ((by(b) as number) > (by(a) as number) ? b : a), { ttl })
  }))

/**
 * The smallest value per key, comparing `by(value)` (default: the value
 * itself) with `<`; emitted at end of input. On ties the earlier value wins.
 *
 * @example
 * ```ts
 * declare const offers: KeyedStream<{ sku: string; price: number }>   // keyed by product
 * const cheapest = op.minFinal("cheapest", offers, (o: { sku: string; price: number }) => o.price)
 * const cheapest2 = offers.pipe(op.minFinal("cheapest2", (o) => o.price))
 * ```
 *
 * With `ttl` (see {@link StatefulOptions}), a key that receives no value for
 * that long is dropped without being emitted (and removed from the recovery store).
 *
 * @example
 * ```ts
 * const recent = op.minFinal("recent_min", keyed, undefined, { ttl: "1 hour" })
 * ```
 * @since 0.1.0
 */
export const minFinal: {
  <V>(stepId: string, by?: (value: V) => unknown, options?: StatefulOptions): (up: KeyedStream<V>) => KeyedStream<V>
  <V>(stepId: string, up: KeyedStream<V>, by?: (value: V) => unknown, options?: StatefulOptions): KeyedStream<V>
} & Tagged<"minFinal"> = dataLast(3, defineOperator("minFinal", up0, <V>(
  up: KeyedStream<V>,
  by: (value: V) => unknown = identity,
  options?: StatefulOptions
): KeyedStream<V> => {
    mustBeFunction("minFinal", "by", by)
    const ttl = ttlMillis("minFinal", options)
    return reduceFinal("reduceFinal", up, (a: V, b: V) => ((by(b) as number) < (by(a) as number) ? b : a), { ttl })
  }))
