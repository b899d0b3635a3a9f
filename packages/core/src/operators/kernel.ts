/**
 * The kernel operators: the only steps the runtime implements. Every other
 * operator is composed from these.
 *
 * @since 0.1.0
 */
import { buildingStep, dataLast, defineOperator, kernelOutput, typeName, type KeyedStream, type Stream, type Tagged } from "../Dataflow.js"
import type { Dataflow } from "../Dataflow.js"
import { isSource, type Source } from "../inputs.js"
import type { ItemStage, KernelStep } from "../internal/kernel.js"
import { isSink, type Sink } from "../outputs.js"
import { StatefulBatchLogic } from "../StatefulLogic.js"

const setKernel = (k: KernelStep): void => {
  buildingStep().kernel = k
}

const checkFunction = (opType: string, name: string, f: unknown): void => {
  if (typeof f !== "function") {
    throw new TypeError(`operator '${opType}': '${name}' must be a function; got a \`${typeName(f)}\` instead`)
  }
}

const up0 = { ups: [{ name: "up", index: 0, kind: "one" }] } as const

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
 * ```
 * @since 0.1.0
 */
export const flatMapBatch: {
  <X, Y>(stepId: string, mapper: (xs: Array<X>) => Iterable<Y>): (up: Stream<X>) => Stream<Y>
  <X, Y>(stepId: string, up: Stream<X>, mapper: (xs: Array<X>) => Iterable<Y>): Stream<Y>
} & Tagged<"flatMapBatch"> = dataLast(2, defineOperator("flatMapBatch", up0, <X, Y>(_up: Stream<X>, mapper: (xs: Array<X>) => Iterable<Y>): Stream<Y> => {
    checkFunction("flatMapBatch", "mapper", mapper)
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
 * const { trues: ints, falses: strs } = op.branch("split", mixed, (x: number | string): x is number => typeof x === "number")
 * ```
 * @since 0.1.0
 */
export const branch: {
  <X, Y extends X>(stepId: string, predicate: (x: X) => x is Y): (up: Stream<X>) => BranchOut<Y, Exclude<X, Y>>
  <X>(stepId: string, predicate: (x: X) => boolean): (up: Stream<X>) => BranchOut<X, X>
  <X, Y extends X>(stepId: string, up: Stream<X>, predicate: (x: X) => x is Y): BranchOut<Y, Exclude<X, Y>>
  <X>(stepId: string, up: Stream<X>, predicate: (x: X) => boolean): BranchOut<X, X>
} & Tagged<"branch"> = dataLast(2, defineOperator("branch", up0, (_up: Stream<unknown>, predicate: (x: unknown) => boolean) => {
  checkFunction("branch", "predicate", predicate)
  setKernel({ kind: "branch", predicate })
  return { trues: kernelOutput<never>("trues"), falses: kernelOutput<never>("falses") }
}))

/**
 * Combine streams into one. No order is guaranteed between items of different upstreams.
 *
 * @example
 * ```ts
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
 * const spread = op.redistribute("spread", images)
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
    checkFunction("inspectDebug", "inspector", inspector)
    setKernel({ kind: "inspectDebug", inspector: inspector as (s: string, i: unknown, e: number, w: number) => void })
    return kernelOutput<X>()
  }
))

/**
 * The lowest-level stateful operator: one {@link StatefulBatchLogic} per key,
 * built by `builder(resumeState)`, fed every value of its key that arrived
 * together. Keys route to one worker by a stable hash.
 *
 * @example
 * ```ts
 * const sums = op.statefulBatch("sum", keyed, (resume: number | undefined) => new SumLogic(resume ?? 0))
 * ```
 * @since 0.1.0
 */
export const statefulBatch: {
  <V, W, S>(
    stepId: string,
    builder: (resumeState: S | undefined) => StatefulBatchLogic<V, W, S>
  ): (up: KeyedStream<V>) => KeyedStream<W>
  <V, W, S>(
    stepId: string,
    up: KeyedStream<V>,
    builder: (resumeState: S | undefined) => StatefulBatchLogic<V, W, S>
  ): KeyedStream<W>
} & Tagged<"statefulBatch"> = dataLast(2, defineOperator(
  "statefulBatch",
  up0,
  <V, W, S>(
    _up: KeyedStream<V>,
    builder: (resumeState: S | undefined) => StatefulBatchLogic<V, W, S>
  ): KeyedStream<W> => {
    checkFunction("statefulBatch", "builder", builder)
    setKernel({
      kind: "statefulBatch",
      builder: builder as (resume: unknown) => StatefulBatchLogic<unknown, unknown, unknown>
    })
    return kernelOutput<readonly [string, W]>()
  }
))
