/**
 * The kernel operators: the only steps the runtime implements. Every other
 * operator is composed from these.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import { buildingStep, dataLast, defineOperator, kernelOutput, typeName, type KeyedStream, type Stream, type Tagged } from "../Dataflow.js"
import type { Dataflow } from "../Dataflow.js"
import { isSource, type Source } from "../inputs.js"
import { mustBeFunction, upPort as up0 } from "./checks.js"
import type { ChainLogic, ItemStage, KernelStep } from "../internal/kernel.js"
import { isSink, type Sink } from "../outputs.js"
import { StatefulBatchLogic } from "../StatefulLogic.js"

const setKernel = (k: KernelStep): void => {
  buildingStep().kernel = k
}


/**
 * Introduce items from a source into the dataflow.
 *
 * @example
 * ```ts
 * const nums = op.input("inp", flow, new TestingSource([1, 2, 3]))
 * ```
 * @since 0.1.0
 */
export const input: <X>(stepId: string, flow: Dataflow, source: Source<X>) => Stream<X> = defineOperator(
  "input",
  { flow: 0, ups: [] },
  <X>(_flow: Dataflow, source: Source<X>): Stream<X> => {
    if (!isSource(source)) {
      throw new TypeError(
        `operator 'input': 'source' must be a \`FixedPartitionedSource\` or \`DynamicSource\`; got a \`${typeName(source)}\` instead`
      )
    }
    setKernel({ kind: "input", source })
    return kernelOutput<X>()
  }
)

/**
 * Write every item of a stream to a sink. A `FixedPartitionedSink` needs a keyed stream.
 *
 * @example
 * ```ts
 * op.output("out", nums, new StdOutSink())
 * nums.pipe(op.output("out2", new StdOutSink()))
 * ```
 * @since 0.1.0
 */
export const output: {
  <X>(stepId: string, sink: Sink<X>): (up: Stream<X>) => void
  <X>(stepId: string, up: Stream<X>, sink: Sink<X>): void
} & Tagged<"output"> = dataLast(2, defineOperator(
  "output",
  up0,
  <X>(_up: Stream<X>, sink: Sink<X>): void => {
    if (!isSink(sink)) {
      throw new TypeError(
        `operator 'output': 'sink' must be a \`FixedPartitionedSink\` or \`DynamicSink\`; got a \`${typeName(sink)}\` instead`
      )
    }
    setKernel({ kind: "output", sink: sink as Sink<unknown> })
  }
))

/**
 * Transform whole batches: `mapper` gets every item that arrived together and
 * returns the items to emit. The building block of the stateless operators.
 *
 * @example
 * ```ts
 * const words = op.flatMapBatch("split", lines, (batch: string[]) => batch.flatMap((l) => l.split(" ")))
 * const words2 = lines.pipe(op.flatMapBatch("split2", (batch) => batch.flatMap((l) => l.split(" "))))
 * ```
 * @since 0.1.0
 */
export const flatMapBatch: {
  <X, Y>(stepId: string, mapper: (xs: Array<X>) => Iterable<Y>): (up: Stream<X>) => Stream<Y>
  <X, Y>(stepId: string, up: Stream<X>, mapper: (xs: Array<X>) => Iterable<Y>): Stream<Y>
} & Tagged<"flatMapBatch"> = dataLast(2, defineOperator("flatMapBatch", up0, <X, Y>(_up: Stream<X>, mapper: (xs: Array<X>) => Iterable<Y>): Stream<Y> => {
    mustBeFunction("flatMapBatch", "mapper", mapper)
    setKernel({ kind: "flatMapBatch", mapper: mapper as (xs: Array<unknown>) => Iterable<unknown> })
    return kernelOutput<Y>()
  }))

/**
 * @internal `flatMapBatch` for operators whose work is per item: `stage`
 * describes that work so the runtime can fuse chains of them into one loop;
 * `mapper` is the same work over a batch.
 */
export const flatMapBatchStage = <X, Y>(
  stepId: string,
  up: Stream<X>,
  mapper: (xs: Array<X>) => Iterable<Y>,
  stage: ItemStage
): Stream<Y> =>
  flatMapBatchWith(stepId, up as Stream<unknown>, mapper as (xs: Array<unknown>) => Iterable<unknown>, stage) as Stream<Y>

const flatMapBatchWith = defineOperator(
  "flatMapBatch",
  up0,
  (_up: Stream<unknown>, mapper: (xs: Array<unknown>) => Iterable<unknown>, stage: ItemStage): Stream<unknown> => {
    setKernel({ kind: "flatMapBatch", mapper, stage })
    return kernelOutput<unknown>()
  }
)

/** The two streams of {@link branch}. */
export interface BranchOut<T, F> {
  /** Items for which the predicate returned `true`. */
  readonly trues: Stream<T>
  /** Items for which the predicate returned `false`. */
  readonly falses: Stream<F>
}

/**
 * Split a stream in two by a predicate, which must return a boolean. With a
 * type guard both sides are narrowed.
 *
 * @example
 * ```ts
 * declare const mixed: Stream<number | string>
 * const { trues: ints, falses: strs } = op.branch("split", mixed, (x: number | string): x is number => typeof x === "number")
 * const { trues: ints2, falses: strs2 } = mixed.pipe(op.branch("split2", (x): x is number => typeof x === "number"))
 * ```
 * @since 0.1.0
 */
export const branch: {
  <X, Y extends X>(stepId: string, predicate: (x: X) => x is Y): (up: Stream<X>) => BranchOut<Y, Exclude<X, Y>>
  <X>(stepId: string, predicate: (x: X) => boolean): (up: Stream<X>) => BranchOut<X, X>
  <X, Y extends X>(stepId: string, up: Stream<X>, predicate: (x: X) => x is Y): BranchOut<Y, Exclude<X, Y>>
  <X>(stepId: string, up: Stream<X>, predicate: (x: X) => boolean): BranchOut<X, X>
} & Tagged<"branch"> = dataLast(2, defineOperator("branch", up0, (_up: Stream<unknown>, predicate: (x: unknown) => boolean) => {
  mustBeFunction("branch", "predicate", predicate)
  setKernel({ kind: "branch", predicate })
  return { trues: kernelOutput<never>("trues"), falses: kernelOutput<never>("falses") }
}))

/**
 * Combine streams into one. No order is guaranteed between items of different upstreams.
 *
 * @example
 * ```ts
 * declare const lefts: Stream<number>
 * declare const rights: Stream<number>
 * const all = op.merge("all", lefts, rights)
 * ```
 * @since 0.1.0
 */
export const merge: <X>(stepId: string, ...ups: Array<Stream<X>>) => Stream<X> = defineOperator(
  "merge",
  { ups: [{ name: "ups", index: 0, kind: "rest" }] },
  <X>(...ups: Array<Stream<X>>): Stream<X> => {
    if (ups.length === 0) throw new TypeError("operator 'merge' requires at least one upstream")
    setKernel({ kind: "merge" })
    return kernelOutput<X>()
  }
)

/**
 * Spread items evenly over workers, before CPU-heavy stateless steps.
 *
 * @example
 * ```ts
 * declare const images: Stream<Uint8Array>
 * const spread = op.redistribute("spread", images)
 * const spread2 = images.pipe(op.redistribute("spread2"))
 * ```
 * @since 0.1.0
 */
export const redistribute: {
  (stepId: string): <X>(up: Stream<X>) => Stream<X>
  <X>(stepId: string, up: Stream<X>): Stream<X>
} & Tagged<"redistribute"> = dataLast(1, defineOperator(
  "redistribute",
  up0,
  <X>(_up: Stream<X>): Stream<X> => {
    setKernel({ kind: "redistribute" })
    return kernelOutput<X>()
  }
))

const defaultDebugInspector = (stepId: string, item: unknown, epoch: number, worker: number): void => {
  process.stdout.write(`${stepId} W${worker} @${epoch}: ${repr(item)}\n`)
}

/** @internal how inspectors print items */
export const repr = (item: unknown): string => {
  if (typeof item === "string") return JSON.stringify(item)
  if (typeof item === "bigint") return `${item}n`
  if (item instanceof Date) return item.toISOString()
  if (typeof item === "object" && item !== null) {
    try {
      return JSON.stringify(item, (_k, v) => (typeof v === "bigint" ? `${v}n` : v))
    } catch {
      return String(item)
    }
  }
  return String(item)
}

/**
 * Call `inspector(stepId, item, epoch, workerIndex)` for every item and pass
 * items on unchanged. The default prints `step W0 @1: item`. Counts as an output.
 *
 * @example
 * ```ts
 * nums.then(op.inspectDebug, "dbg")  // prints: flow.dbg W0 @1: 1
 * nums.pipe(op.inspectDebug("dbg2"))  // prints: flow.dbg2 W0 @1: 1
 * ```
 * @since 0.1.0
 */
export const inspectDebug: {
  <X>(
    stepId: string,
    inspector?: (stepId: string, item: X, epoch: number, workerIndex: number) => void
  ): (up: Stream<X>) => Stream<X>
  <X>(
    stepId: string,
    up: Stream<X>,
    inspector?: (stepId: string, item: X, epoch: number, workerIndex: number) => void
  ): Stream<X>
} & Tagged<"inspectDebug"> = dataLast(2, defineOperator(
  "inspectDebug",
  up0,
  <X>(
    _up: Stream<X>,
    inspector: (stepId: string, item: X, epoch: number, workerIndex: number) => void = defaultDebugInspector
  ): Stream<X> => {
    mustBeFunction("inspectDebug", "inspector", inspector)
    setKernel({ kind: "inspectDebug", inspector: inspector as (s: string, i: unknown, e: number, w: number) => void })
    return kernelOutput<X>()
  }
))

/**
 * Options of the keyed stateful operators (`statefulMap`, `stateful`,
 * `statefulBatch`, `foldFinal`, …; `collect` and `join` take `ttl` in their
 * own options).
 *
 * @example
 * ```ts
 * const options: StatefulOptions = { ttl: "1 hour" }
 * const sums = op.statefulMap("sum", keyed, (sum: number | undefined, x: number) => [(sum ?? 0) + x, (sum ?? 0) + x] as const, options)
 * ```
 * @since 0.2.0
 */
export interface StatefulOptions {
  /**
   * Time-to-live of each key's state: a key that receives no item for this
   * long, on the run's clock, is discarded — its logic gets no `onNotify` or
   * `onEof` call and emits nothing — and its snapshot is removed from the
   * recovery store (a later item for the key starts from fresh state). Only
   * items touch a key: the logic's own `onNotify` does not extend its life.
   * Default: none (a key lives until its logic discards it).
   */
  readonly ttl?: Duration.Input | undefined
}

/**
 * `options.ttl` in milliseconds, or `undefined` for none (no options, no
 * `ttl`, or an infinite one): the check every operator with a `ttl` makes,
 * for operator authors who pass a `ttl` on. Throws at definition time, naming
 * the operator, when `options` is not an object or `ttl` not a positive
 * duration.
 *
 * @example
 * ```ts
 * ttlMillis("myOperator", { ttl: "1 hour" })   // 3600000
 * ttlMillis("myOperator", { ttl: 0 })
 * // TypeError: operator 'myOperator': 'ttl' must be a positive duration, e.g. "1 hour" or a number of milliseconds; got 0 instead
 * ```
 * @since 0.2.0
 */
export const ttlMillis = (opType: string, options: unknown): number | undefined => {
  if (options === undefined) return undefined
  if (typeof options !== "object" || options === null) {
    throw new TypeError(
      `operator '${opType}': 'options' must be an object such as \`{ ttl: "1 hour" }\`; got a \`${typeName(options)}\` instead`
    )
  }
  const ttl = (options as { readonly ttl?: unknown }).ttl
  if (ttl === undefined) return undefined
  const d = Duration.fromInput(ttl as Duration.Input)
  const ms = d._tag === "Some" ? Duration.toMillis(d.value) : NaN
  if (!(ms > 0)) {
    throw new TypeError(
      `operator '${opType}': 'ttl' must be a positive duration, e.g. "1 hour" or a number of milliseconds; ` +
        `got ${typeof ttl === "string" || typeof ttl === "number" ? JSON.stringify(ttl) : `a \`${typeName(ttl)}\``} instead`
    )
  }
  return Number.isFinite(ms) ? ms : undefined
}

/**
 * The lowest-level stateful operator: one {@link StatefulBatchLogic} per key,
 * built by `builder(resumeState)`, fed every value of its key that arrived
 * together. Keys route to one worker by a stable hash. With `ttl`, a key that
 * receives no item for that long is discarded without `onNotify`/`onEof`
 * (see {@link StatefulOptions}).
 *
 * @example
 * ```ts
 * class SumLogic extends StatefulBatchLogic<number, number, number> {
 *   constructor(private sum: number) { super() }
 *   onBatch(values: Array<number>) {
 *     for (const v of values) this.sum += v
 *     return [[this.sum], StatefulBatchLogic.RETAIN] as const
 *   }
 *   snapshot() { return this.sum }
 * }
 * const sums = op.statefulBatch("sum", keyed, (resume: number | undefined) => new SumLogic(resume ?? 0))
 * const sums2 = keyed.pipe(op.statefulBatch("sum2", (resume: number | undefined) => new SumLogic(resume ?? 0)))   // the state type is not inferred
 * ```
 * @example
 * ```ts
 * class Count extends StatefulBatchLogic<number, number, number> {
 *   constructor(private n: number) { super() }
 *   onBatch(values: Array<number>) {
 *     this.n += values.length
 *     return [[this.n], StatefulBatchLogic.RETAIN] as const
 *   }
 *   snapshot() { return this.n }
 * }
 * // A key idle for a day is forgotten, in memory and in the recovery store: its next item counts from 1.
 * const counts = op.statefulBatch("count", keyed, (resume: number | undefined) => new Count(resume ?? 0), { ttl: "1 day" })
 * ```
 * @since 0.1.0
 */
export const statefulBatch: {
  <V, W, S>(
    stepId: string,
    builder: (resumeState: S | undefined) => StatefulBatchLogic<V, W, S>,
    options?: StatefulOptions
  ): (up: KeyedStream<V>) => KeyedStream<W>
  <V, W, S>(
    stepId: string,
    up: KeyedStream<V>,
    builder: (resumeState: S | undefined) => StatefulBatchLogic<V, W, S>,
    options?: StatefulOptions
  ): KeyedStream<W>
} & Tagged<"statefulBatch"> = dataLast(3, defineOperator(
  "statefulBatch",
  up0,
  <V, W, S>(
    _up: KeyedStream<V>,
    builder: (resumeState: S | undefined) => StatefulBatchLogic<V, W, S>,
    options?: StatefulOptions
  ): KeyedStream<W> => {
    mustBeFunction("statefulBatch", "builder", builder)
    const ttlMs = ttlMillis("statefulBatch", options)
    setKernel({
      kind: "statefulBatch",
      builder: builder as (resume: unknown) => StatefulBatchLogic<unknown, unknown, unknown>,
      ...(ttlMs === undefined ? {} : { ttlMs })
    })
    return kernelOutput<readonly [string, W]>()
  }
))

/**
 * @internal The `statefulBatch` kernel step for a builder whose logics are
 * also {@link ChainLogic}s (statefulMap, statefulFlatMap): the runtime may
 * feed them values one at a time instead of calling `onBatch`.
 */
export const statefulBatchChained = <V, W, S>(
  stepId: string,
  up: KeyedStream<V>,
  builder: (resumeState: S | undefined) => StatefulBatchLogic<V, W, S> & ChainLogic,
  ttlMs: number | undefined
): KeyedStream<W> =>
  statefulBatchChainedWith(stepId, up as KeyedStream<unknown>, builder as (resume: unknown) => StatefulBatchLogic<unknown, unknown, unknown>, ttlMs) as KeyedStream<W>

const statefulBatchChainedWith = defineOperator(
  "statefulBatch",
  up0,
  (_up: KeyedStream<unknown>, builder: (resume: unknown) => StatefulBatchLogic<unknown, unknown, unknown>, ttlMs: number | undefined): KeyedStream<unknown> => {
    setKernel({ kind: "statefulBatch", builder, chained: true, ...(ttlMs === undefined ? {} : { ttlMs }) })
    return kernelOutput<readonly [string, unknown]>()
  }
)
