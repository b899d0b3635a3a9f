/**
 * Stateful operators: one state per key, on the key's worker, snapshotted at
 * epoch close. All are `statefulBatch` with a small logic class.
 *
 * @since 0.1.0
 */
import { currentStepId, defineOperator, type KeyedStream, type Stream, typeName } from "../Dataflow.js"
import { type LogicResult, StatefulBatchLogic, type StatefulLogic } from "../StatefulLogic.js"
import { flatMapBatch, statefulBatch } from "./kernel.js"
import { keyOn, map } from "./stateless.js"

const up0 = { ups: [{ name: "up", index: 0, kind: "one" }] } as const
const RETAIN = false
const DISCARD = true

const mustBeFunction = (opType: string, name: string, f: unknown): void => {
  if (typeof f !== "function") {
    throw new TypeError(`operator '${opType}': '${name}' must be a function; got a \`${typeName(f)}\` instead`)
  }
}

/** Runs a per-item {@link StatefulLogic} as batch logic; rebuilds it after a mid-batch discard. */
class StatefulShim<V, W, S> extends StatefulBatchLogic<V, W, S> {
  constructor(
    private logic: StatefulLogic<V, W, S> | undefined,
    private readonly builder: (resume: S | undefined) => StatefulLogic<V, W, S>
  ) {
    super()
  }
  onBatch(values: Array<V>): LogicResult<W> {
    const out: Array<W> = []
    let discard = false
    for (let i = 0; i < values.length; i++) {
      if (this.logic === undefined) this.logic = this.builder(undefined)
      const r = this.logic.onItem(values[i]!)
      for (const w of r[0]) out.push(w)
      discard = r[1]
      if (discard === true) this.logic = undefined
      else if (discard !== false) return [out, discard]
    }
    return [out, discard]
  }
  override onNotify(): LogicResult<W> {
    return this.logic!.onNotify()
  }
  override onEof(): LogicResult<W> {
    return this.logic!.onEof()
  }
  override notifyAt(): Date | undefined {
    return this.logic!.notifyAt()
  }
  snapshot(): S {
    return this.logic!.snapshot()
  }
}

/**
 * Per-key state with a {@link StatefulLogic}, called once per value.
 * `builder(resumeState)` makes the logic when a key is first seen (with
 * `undefined`) or resumed.
 *
 * @example
 * ```ts
 * const changes = op.stateful("changes", keyed, (resume: string | undefined) => new KeepLast(resume))
 * ```
 * @since 0.1.0
 */
export const stateful: <V, W, S>(
  stepId: string,
  up: KeyedStream<V>,
  builder: (resumeState: S | undefined) => StatefulLogic<V, W, S>
) => KeyedStream<W> = defineOperator(
  "stateful",
  up0,
  <V, W, S>(up: KeyedStream<V>, builder: (resumeState: S | undefined) => StatefulLogic<V, W, S>): KeyedStream<W> => {
    mustBeFunction("stateful", "builder", builder)
    return statefulBatch(
      "statefulBatch",
      up,
      (resume: S | undefined) => new StatefulShim<V, W, S>(resume === undefined ? undefined : builder(resume), builder)
    )
  }
)

const notPair = (stepId: string, what: string, r: unknown): TypeError =>
  new TypeError(
    `return value of \`mapper\` in step '${stepId}' must be a 2-element array \`[updatedState, ${what}]\`; ` +
      `got a \`${Array.isArray(r) ? `Array(${r.length})` : typeName(r)}\` instead`
  )

class StatefulMapLogic<V, W, S> extends StatefulBatchLogic<V, W, S | undefined> {
  constructor(
    private state: S | undefined,
    private readonly mapper: (state: S | undefined, value: V) => readonly [S | undefined, W],
    private readonly stepId: string
  ) {
    super()
  }
  onBatch(values: Array<V>): LogicResult<W> {
    const out: Array<W> = new Array(values.length)
    let state = this.state
    const mapper = this.mapper
    for (let i = 0; i < values.length; i++) {
      const r = mapper(state, values[i]!)
      if (!Array.isArray(r) || r.length !== 2) throw notPair(this.stepId, "emitValue", r)
      state = r[0]
      out[i] = r[1]
    }
    this.state = state
    return [out, state === undefined]
  }
  snapshot(): S | undefined {
    return this.state
  }
}

/**
 * Per-key state with a plain function: `mapper(state, value)` returns
 * `[newState, emit]`; `emit` is always emitted with the key; a `newState` of
 * `undefined` discards the key's state.
 *
 * @example
 * ```ts
 * const runningSum = op.statefulMap("sum", keyed, (sum: number | undefined, x: number) => {
 *   const next = (sum ?? 0) + x
 *   return [next, next] as const
 * })
 * ```
 * @since 0.1.0
 */
export const statefulMap: <V, W, S>(
  stepId: string,
  up: KeyedStream<V>,
  mapper: (state: S | undefined, value: V) => readonly [S | undefined, W]
) => KeyedStream<W> = defineOperator(
  "statefulMap",
  up0,
  <V, W, S>(up: KeyedStream<V>, mapper: (state: S | undefined, value: V) => readonly [S | undefined, W]): KeyedStream<W> => {
    mustBeFunction("statefulMap", "mapper", mapper)
    const stepId = `${currentStepId()}.statefulBatch`
    return statefulBatch<V, W, S | undefined>("statefulBatch", up, (resume) => new StatefulMapLogic<V, W, S>(resume, mapper, stepId))
  }
)

class StatefulFlatMapLogic<V, W, S> extends StatefulBatchLogic<V, W, S | undefined> {
  constructor(
    private state: S | undefined,
    private readonly mapper: (state: S | undefined, value: V) => readonly [S | undefined, Iterable<W>],
    private readonly stepId: string
  ) {
    super()
  }
  onBatch(values: Array<V>): LogicResult<W> {
    const out: Array<W> = []
    let state = this.state
    for (let i = 0; i < values.length; i++) {
      const r = this.mapper(state, values[i]!)
      if (!Array.isArray(r) || r.length !== 2) throw notPair(this.stepId, "emitValues", r)
      state = r[0]
      const ws = r[1] as Iterable<W>
      if (Array.isArray(ws)) for (let j = 0; j < ws.length; j++) out.push(ws[j])
      else {
        if (ws == null || typeof (ws as { [Symbol.iterator]?: unknown })[Symbol.iterator] !== "function") {
          throw new TypeError(
            `the emitted values returned by \`mapper\` in step '${this.stepId}' must be an iterable; got a \`${typeName(ws)}\` instead`
          )
        }
        for (const w of ws) out.push(w)
      }
    }
    this.state = state
    return [out, state === undefined]
  }
  snapshot(): S | undefined {
    return this.state
  }
}

/**
 * Like {@link statefulMap} but `mapper` returns `[newState, values]` and every
 * value is emitted.
 *
 * @example
 * ```ts
 * const rises = op.statefulFlatMap("rises", keyed, (last: number | undefined, x: number) =>
 *   [x, last === undefined || x > last ? [x] : []] as const)
 * ```
 * @since 0.1.0
 */
export const statefulFlatMap: <V, W, S>(
  stepId: string,
  up: KeyedStream<V>,
  mapper: (state: S | undefined, value: V) => readonly [S | undefined, Iterable<W>]
) => KeyedStream<W> = defineOperator(
  "statefulFlatMap",
  up0,
  <V, W, S>(
    up: KeyedStream<V>,
    mapper: (state: S | undefined, value: V) => readonly [S | undefined, Iterable<W>]
  ): KeyedStream<W> => {
    mustBeFunction("statefulFlatMap", "mapper", mapper)
    const stepId = `${currentStepId()}.statefulBatch`
    return statefulBatch<V, W, S | undefined>(
      "statefulBatch",
      up,
      (resume) => new StatefulFlatMapLogic<V, W, S>(resume, mapper, stepId)
    )
  }
)

const NO_STATE: unique symbol = Symbol("weir/no-state")

class FoldFinalLogic<V, S> extends StatefulBatchLogic<V, S, S> {
  constructor(
    private acc: S | typeof NO_STATE,
    private readonly builder: () => S,
    private readonly folder: (acc: S, value: V) => S
  ) {
    super()
  }
  onBatch(values: Array<V>): LogicResult<S> {
    let acc = this.acc === NO_STATE ? this.builder() : this.acc
    for (let i = 0; i < values.length; i++) acc = this.folder(acc, values[i]!)
    this.acc = acc
    return [[], RETAIN]
  }
  override onEof(): LogicResult<S> {
    return this.acc === NO_STATE ? [[], DISCARD] : [[this.acc], DISCARD]
  }
  snapshot(): S {
    // Deep-copied so the snapshot can't change when the accumulator is mutated later.
    return structuredClone(this.acc as S)
  }
}

/**
 * Fold each key's values into an accumulator, emitted once at end of input.
 * `builder()` makes the initial accumulator for a key.
 *
 * @example
 * ```ts
 * const totals = op.foldFinal("total", keyed, () => 0, (sum: number, x: number) => sum + x)
 * ```
 * @since 0.1.0
 */
export const foldFinal: <V, S>(
  stepId: string,
  up: KeyedStream<V>,
  builder: () => S,
  folder: (acc: S, value: V) => S
) => KeyedStream<S> = defineOperator(
  "foldFinal",
  up0,
  <V, S>(up: KeyedStream<V>, builder: () => S, folder: (acc: S, value: V) => S): KeyedStream<S> => {
    mustBeFunction("foldFinal", "builder", builder)
    mustBeFunction("foldFinal", "folder", folder)
    return statefulBatch(
      "statefulBatch",
      up,
      (resume: S | undefined) => new FoldFinalLogic<V, S>(resume === undefined ? NO_STATE : resume, builder, folder)
    )
  }
)

/**
 * Reduce each key's values pairwise (the first value starts), emitted once at
 * end of input. Each batch is pre-reduced per key before routing, so
 * `reducer` must be associative.
 *
 * @example
 * ```ts
 * const maxima = op.reduceFinal("max", keyed, (a: number, b: number) => Math.max(a, b))
 * ```
 * @since 0.1.0
 */
export const reduceFinal: <V>(stepId: string, up: KeyedStream<V>, reducer: (acc: V, value: V) => V) => KeyedStream<V> =
  defineOperator("reduceFinal", up0, <V>(up: KeyedStream<V>, reducer: (acc: V, value: V) => V): KeyedStream<V> => {
    mustBeFunction("reduceFinal", "reducer", reducer)
    const preReduced = flatMapBatch("preReduce", up, (xs: Array<readonly [string, V]>) => {
      const accs = new Map<string, V>()
      for (let i = 0; i < xs.length; i++) {
        const [k, v] = xs[i]!
        const acc = accs.get(k)
        accs.set(k, acc === undefined && !accs.has(k) ? v : reducer(acc as V, v))
      }
      return accs
    })
    return statefulBatch(
      "statefulBatch",
      preReduced,
      (resume: V | undefined) => new ReduceFinalLogic<V>(resume === undefined ? NO_STATE : resume, reducer)
    )
  })

class ReduceFinalLogic<V> extends StatefulBatchLogic<V, V, V> {
  constructor(private acc: V | typeof NO_STATE, private readonly reducer: (acc: V, value: V) => V) {
    super()
  }
  onBatch(values: Array<V>): LogicResult<V> {
    let acc = this.acc
    for (let i = 0; i < values.length; i++) acc = acc === NO_STATE ? values[i]! : this.reducer(acc, values[i]!)
    this.acc = acc
    return [[], RETAIN]
  }
  override onEof(): LogicResult<V> {
    return this.acc === NO_STATE ? [[], DISCARD] : [[this.acc], DISCARD]
  }
  snapshot(): V {
    return structuredClone(this.acc as V)
  }
}

/**
 * Count items per key, emitted at end of input. The input is not keyed:
 * `key` picks each item's key.
 *
 * @example
 * ```ts
 * const counts = op.countFinal("count", words, (w: string) => w)   // ["a", "b", "a"] → ["a", 2], ["b", 1]
 * ```
 * @since 0.1.0
 */
export const countFinal: <X>(stepId: string, up: Stream<X>, key: (item: X) => string) => KeyedStream<number> =
  defineOperator("countFinal", up0, <X>(up: Stream<X>, key: (item: X) => string): KeyedStream<number> => {
    const ones = map("initCount", keyOn("keyOn", up, key), ([k]: readonly [string, X]) => [k, 1] as const)
    return reduceFinal("sum", ones, (a: number, b: number) => a + b)
  })

const identity = <V>(v: V): unknown => v

/**
 * The largest value per key (by `by`), emitted at end of input; on ties the earlier value wins.
 *
 * @example
 * ```ts
 * const best = op.maxFinal("best", scores, (s: Score) => s.points)
 * ```
 * @since 0.1.0
 */
export const maxFinal: <V>(stepId: string, up: KeyedStream<V>, by?: (value: V) => unknown) => KeyedStream<V> =
  defineOperator("maxFinal", up0, <V>(up: KeyedStream<V>, by: (value: V) => unknown = identity): KeyedStream<V> =>
    reduceFinal("reduceFinal", up, (a: V, b: V) => ((by(b) as number) > (by(a) as number) ? b : a)))

/**
 * The smallest value per key (by `by`), emitted at end of input; on ties the earlier value wins.
 *
 * @example
 * ```ts
 * const cheapest = op.minFinal("cheapest", offers, (o: Offer) => o.price)
 * ```
 * @since 0.1.0
 */
export const minFinal: <V>(stepId: string, up: KeyedStream<V>, by?: (value: V) => unknown) => KeyedStream<V> =
  defineOperator("minFinal", up0, <V>(up: KeyedStream<V>, by: (value: V) => unknown = identity): KeyedStream<V> =>
    reduceFinal("reduceFinal", up, (a: V, b: V) => ((by(b) as number) < (by(a) as number) ? b : a)))
