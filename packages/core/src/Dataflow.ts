/**
 * The definition layer: a {@link Dataflow} is a plain, immutable-once-built
 * description of a graph of named steps. Nothing runs here; the runtime turns
 * the graph into a plan (see `runtime/plan.ts`).
 *
 * @since 0.1.0
 */
import { Pipeable } from "effect"
import type { KernelStep } from "./internal/kernel.js"
import type * as Duration from "effect/Duration"
import type { TTLCache } from "./operators/enrich.js"
import type { CollectOptions } from "./operators/collect.js"
import type { BranchOut, StatefulOptions } from "./operators/kernel.js"
import type { Sink } from "./outputs.js"
import type { StatefulBatchLogic, StatefulLogic } from "./StatefulLogic.js"

/** A container new steps are added to: the flow itself or a composite step. */
interface StepContainer {
  readonly id: string
  readonly substeps: Step[]
}

/** An input port of a step: which upstream streams feed it. */
export interface InputPort {
  readonly name: string
  readonly portId: string
  /** Port ids of the upstream streams, as the user wired them. */
  readonly fromPortIds: ReadonlyArray<string>
  /** The kernel-level stream ids those ports resolve to. */
  readonly fromStreamIds: ReadonlyArray<string>
  /** `true` when the port takes any number of streams (`merge`'s `ups`, `join`'s `sides`). */
  readonly multi: boolean
}

/** An output port of a step. */
export interface OutputPort {
  readonly name: string
  readonly portId: string
  /** For a composite step: the inner port that feeds this one (empty for kernel steps). */
  readonly fromPortIds: ReadonlyArray<string>
  /** For a composite step: the kernel stream id it resolves to (empty for kernel steps). */
  readonly fromStreamIds: ReadonlyArray<string>
}

/**
 * One step of a dataflow: an operator call. Kernel steps carry a
 * {@link KernelStep} the runtime executes; composite steps only hold substeps.
 *
 * @since 0.1.0
 */
export class Step implements StepContainer {
  readonly substeps: Step[] = []
  readonly inputs: InputPort[] = []
  readonly outputs: OutputPort[] = []
  /** @internal set for kernel (runtime-implemented) steps only */
  kernel: KernelStep | undefined = undefined
  constructor(
    /** The operator's name, e.g. `"map"`. */
    readonly opType: string,
    /** The name given by the user, e.g. `"add_one"`. */
    readonly stepName: string,
    /** The fully-qualified id, e.g. `"flow.add_one"`. */
    readonly id: string
  ) {}
}

const StreamScope: unique symbol = Symbol.for("@weir/core/Stream/scope")
const StreamCoreId: unique symbol = Symbol.for("@weir/core/Stream/coreId")

// The declaration merge gives `Stream` Effect's typed `pipe` overloads and `then`'s typed overloads: every
// `op.*` has two call forms, and TypeScript cannot infer through an overloaded function passed as an argument
// (it erases the operator's type parameters to `unknown`). So each built-in operator carries its name as a tag
// (`OperatorTag`), and `then` has one overload per tag stating the operator's arguments for items of type `X`;
// operators without a tag (your own `defineOperator` ones) use the generic overload at the end. Other packages add
// overloads for their operators by augmenting this interface (see `@weir/windowing`'s `then.ts`). Both methods
// are set on the prototype below.
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: `pipe` is implemented on the prototype
export interface Stream<X> extends Pipeable.Pipeable {
  /**
   * Fluent chaining: `up.then(op.map, "step", mapper)` is
   * `op.map("step", up, mapper)`, with the callbacks typed from the stream's
   * items. {@link Stream.pipe} with the data-last forms does the same and
   * also works for operators of other packages.
   *
   * @example
   * ```ts
   * op.input("inp", flow, new TestingSource([1, 2, 3]))
   *   .then(op.map, "add_one", (x) => x + 1)   // x: number
   *   .then(op.output, "out", new TestingSink<number>())
   * ```
   * @since 0.2.0
   */
  then(operator: Tagged<"output">, stepId: string, sink: Sink<X>): void
  then<Y>(operator: Tagged<"flatMapBatch">, stepId: string, mapper: (xs: Array<X>) => Iterable<Y>): Stream<Y>
  then<Y extends X>(operator: Tagged<"branch">, stepId: string, predicate: (x: X) => x is Y): BranchOut<Y, Exclude<X, Y>>
  then(operator: Tagged<"branch">, stepId: string, predicate: (x: X) => boolean): BranchOut<X, X>
  then(operator: Tagged<"redistribute">, stepId: string): Stream<X>
  then(
    operator: Tagged<"inspectDebug">,
    stepId: string,
    inspector?: (stepId: string, item: X, epoch: number, workerIndex: number) => void
  ): Stream<X>
  then<W, S>(
    operator: Tagged<"statefulBatch">,
    stepId: string,
    builder: (resumeState: S | undefined) => StatefulBatchLogic<ValueOf<X>, W, S>,
    options?: StatefulOptions
  ): KeyedStream<W>
  then<Y>(operator: Tagged<"map">, stepId: string, mapper: (item: X) => Y): Stream<Y>
  then<W>(operator: Tagged<"mapValue">, stepId: string, mapper: (value: ValueOf<X>) => W): KeyedStream<W>
  then<Y extends X>(operator: Tagged<"filter">, stepId: string, predicate: (item: X) => item is Y): Stream<Y>
  then(operator: Tagged<"filter">, stepId: string, predicate: (item: X) => boolean): Stream<X>
  then(operator: Tagged<"filterValue">, stepId: string, predicate: (value: ValueOf<X>) => boolean): KeyedStream<ValueOf<X>>
  then<Y>(operator: Tagged<"filterMap">, stepId: string, mapper: (item: X) => Y | undefined | null): Stream<Y>
  then<W>(
    operator: Tagged<"filterMapValue">,
    stepId: string,
    mapper: (value: ValueOf<X>) => W | undefined | null
  ): KeyedStream<W>
  then<Y>(operator: Tagged<"flatMap">, stepId: string, mapper: (item: X) => Iterable<Y>): Stream<Y>
  then<W>(operator: Tagged<"flatMapValue">, stepId: string, mapper: (value: ValueOf<X>) => Iterable<W>): KeyedStream<W>
  then(operator: Tagged<"flatten">, stepId: string): Stream<ItemOf<X>>
  then(operator: Tagged<"keyOn">, stepId: string, key: (item: X) => string): KeyedStream<X>
  then(operator: Tagged<"keyRm">, stepId: string): Stream<ValueOf<X>>
  then(operator: Tagged<"inspect">, stepId: string, inspector?: (stepId: string, item: X) => void): Stream<X>
  then(operator: Tagged<"raises">, stepId: string): void
  then<W, S>(
    operator: Tagged<"stateful">,
    stepId: string,
    builder: (resumeState: NoInfer<S> | undefined) => StatefulLogic<ValueOf<X>, W, S>,
    options?: StatefulOptions
  ): KeyedStream<W>
  then<W, S>(
    operator: Tagged<"statefulMap">,
    stepId: string,
    mapper: (state: S | undefined, value: ValueOf<X>) => readonly [S | undefined, W],
    options?: StatefulOptions
  ): KeyedStream<W>
  then<W, S>(
    operator: Tagged<"statefulFlatMap">,
    stepId: string,
    mapper: (state: S | undefined, value: ValueOf<X>) => readonly [S | undefined, Iterable<W>],
    options?: StatefulOptions
  ): KeyedStream<W>
  then<S>(
    operator: Tagged<"foldFinal">,
    stepId: string,
    builder: () => S,
    folder: (acc: S, value: ValueOf<X>) => S,
    options?: StatefulOptions
  ): KeyedStream<S>
  then(
    operator: Tagged<"reduceFinal">,
    stepId: string,
    reducer: (acc: ValueOf<X>, value: ValueOf<X>) => ValueOf<X>,
    options?: StatefulOptions
  ): KeyedStream<ValueOf<X>>
  then(
    operator: Tagged<"countFinal">,
    stepId: string,
    key: (item: X) => string,
    options?: StatefulOptions
  ): KeyedStream<number>
  then(
    operator: Tagged<"maxFinal" | "minFinal">,
    stepId: string,
    by?: (value: ValueOf<X>) => unknown,
    options?: StatefulOptions
  ): KeyedStream<ValueOf<X>>
  then(
    operator: Tagged<"collect">,
    stepId: string,
    options: CollectOptions
  ): KeyedStream<Array<ValueOf<X>>>
  then<Y, K, V>(
    operator: Tagged<"enrichCached">,
    stepId: string,
    getter: (key: K) => V,
    mapper: (cache: TTLCache<K, V>, item: X) => Y,
    options?: { readonly ttl?: Duration.Input | undefined }
  ): Stream<Y>
  /** Any other operator: `up.then(operator, stepId, ...args)` is `operator(stepId, up, ...args)`. */
  then<A extends Array<unknown>, R>(operator: (stepId: string, up: Stream<X>, ...args: A) => R, stepId: string, ...args: A): R
}

/**
 * The symbol under which each built-in operator function carries its name,
 * which {@link Stream.then}'s typed overloads match on.
 *
 * @since 0.2.0
 */
export const OperatorTag: unique symbol = Symbol.for("@weir/core/OperatorTag")

/**
 * An operator function tagged with its name `N` (see {@link OperatorTag}).
 *
 * @since 0.2.0
 */
export interface Tagged<N extends string> {
  readonly [OperatorTag]: N
}

/** The element type of an iterable item type (`never` for an item that is not iterable). */
export type ItemOf<X> = X extends Iterable<infer E> ? E : never

/** The value type of a keyed item type (`never` for an item that is not `[key, value]`). */
export type ValueOf<X> = X extends readonly [string, infer V] ? V : never

/**
 * A handle to the items flowing out of one step's port. Streams are cheap
 * descriptions; pass them to operators to add steps. A stream may be used
 * any number of times (each use sees every item).
 *
 * @example
 * ```ts
 * import { Dataflow, op } from "@weir/core"
 * import { TestingSource, TestingSink } from "@weir/testing"
 *
 * const flow = new Dataflow("example")
 * const out: number[] = []
 * op.input("inp", flow, new TestingSource([1, 2, 3])).pipe(
 *   op.map("double", (x) => x * 2),   // x: number, inferred
 *   op.filter("big", (x) => x > 2),
 *   op.output("out", new TestingSink(out))
 * )
 * ```
 *
 * `pipe(f, g, …)` is `g(f(stream))`, as in Effect: every operator whose
 * first stream argument is `up` has a data-last form, `op.map(stepId,
 * mapper)`, that returns `(up) => Stream`, so each step's item type flows
 * into the next callback with no annotation. The data-first form
 * (`op.map(stepId, up, mapper)`) and {@link Stream.then} stay.
 * @since 0.1.0
 */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: see the interface above
export class Stream<X> {
  /** @internal */
  readonly [StreamScope]: StepContainer
  /** @internal */
  readonly [StreamCoreId]: string
  /** @internal phantom field carrying the item type */
  declare readonly _X: (_: never) => X

  /** @internal use operators to create streams */
  constructor(
    /** The fully-qualified id of the port that produces this stream, e.g. `"flow.add_one.down"`. */
    readonly id: string,
    coreId: string,
    scope: StepContainer
  ) {
    this[StreamCoreId] = coreId
    this[StreamScope] = scope
  }

  /** @internal */
  toString(): string {
    return `Stream(${this.id})`
  }
}

// `then`: its typed overloads (one per built-in operator, and one for any other) are on the interface above.
Stream.prototype.then = function (
  this: Stream<unknown>,
  operator: (stepId: string, up: Stream<unknown>, ...args: Array<unknown>) => unknown,
  stepId: string,
  ...args: Array<unknown>
) {
  return operator(stepId, this, ...args)
} as Stream<unknown>["then"]

Stream.prototype.pipe = function (this: Stream<unknown>) {
  // biome-ignore lint/complexity/noArguments: Effect's pipe takes the arguments object
  return Pipeable.pipeArguments(this, arguments)
} as Pipeable.Pipeable["pipe"]

/** A stream of `[key, value]` pairs. Keys are strings so routing is stable across processes. */
export type KeyedStream<V> = Stream<readonly [string, V]>

/**
 * A dataflow: the root of a graph of steps. Create one, add an input with
 * `op.input`, transform, and end with `op.output` or `op.inspect`.
 *
 * @example
 * ```ts
 * import { Dataflow, op, runMain } from "@weir/core"
 * import { TestingSource, TestingSink } from "@weir/testing"
 *
 * const flow = new Dataflow("count_words")
 * const out: Array<readonly [string, number]> = []
 * op.input("lines", flow, new TestingSource(["a b", "b"]))
 *   .then(op.flatMap, "split", (line: string) => line.split(" "))
 *   .then(op.countFinal, "count", (word: string) => word)
 *   .then(op.output, "out", new TestingSink(out))
 * await runMain(flow) // out: [["a", 1], ["b", 2]]
 * ```
 * @since 0.1.0
 */
export class Dataflow implements StepContainer {
  /** Top-level steps, in the order they were added. */
  readonly substeps: Step[] = []
  readonly id: string
  constructor(readonly name: string) {
    if (typeof name !== "string" || name.length === 0) {
      throw new TypeError(`flow ID must be a non-empty string; got ${describeValue(name)} instead`)
    }
    if (name.includes(".")) {
      throw new TypeError(`flow ID can't contain a period \`.\`; got '${name}'`)
    }
    this.id = name
  }
}

/** `true` when `u` is a {@link Stream}. */
export const isStream = (u: unknown): u is Stream<unknown> => u instanceof Stream

/** `true` when `u` is a {@link Dataflow}. */
export const isDataflow = (u: unknown): u is Dataflow => u instanceof Dataflow

/** @internal */
export const coreIdOf = (s: Stream<unknown>): string => s[StreamCoreId]

/** Describes a value's type the way error messages show it: `number`, `string`, `Array`, `Foo`. */
export const typeName = (u: unknown): string => {
  if (u === null) return "null"
  if (u === undefined) return "undefined"
  const t = typeof u
  if (t !== "object" && t !== "function") return t
  const ctor = (u as { constructor?: { name?: string } }).constructor
  return ctor?.name ? ctor.name : "object"
}

const describeValue = (u: unknown): string => `a \`${typeName(u)}\``

// ---------------------------------------------------------------------------
// Defining operators

/** Where the streams are among an operator's arguments (after the step id). */
export interface OperatorPorts {
  /** Index of the `Dataflow` argument for operators that start a stream (`input`). */
  readonly flow?: number
  /** Input ports: argument index and whether it is a single stream, a rest parameter, or an array. */
  readonly ups: ReadonlyArray<{ readonly name: string; readonly index: number; readonly kind: "one" | "rest" | "array" }>
}

/** @internal the state handed to an operator body while it runs */
export interface OperatorContext {
  readonly step: Step
}

let currentStep: Step | undefined

/**
 * The fully-qualified id of the step whose body is running. Call it inside an
 * operator body (see {@link defineOperator}) to name the step in error messages.
 *
 * @since 0.1.0
 */
export const currentStepId = (): string => buildingStep().id

/** @internal the step whose body is being built (for kernel ops). */
export const buildingStep = (): Step => {
  if (currentStep === undefined) throw new Error("kernel operator called outside an operator body")
  return currentStep
}

const checkStepId = (stepId: unknown): string => {
  if (typeof stepId !== "string") {
    throw new TypeError(`'stepId' must be a \`string\`; got ${describeValue(stepId)} instead`)
  }
  if (stepId.length === 0) throw new TypeError("'stepId' must not be empty")
  if (stepId.includes(".")) {
    throw new TypeError(`'stepId' can't contain any periods '.'; got '${stepId}'`)
  }
  return stepId
}

const notAStream = (opType: string, port: string, u: unknown): TypeError =>
  new TypeError(
    `operator '${opType}': '${port}' must be a \`Stream\`; got ${describeValue(u)} instead; ` +
      "did you forget to unpack the result of an operator that returns multiple streams?"
  )

/**
 * Gives an operator whose first stream argument is `up` its data-last form
 * too: called with a `Stream` in `up`'s place, or with all `arity` arguments
 * (the data-first arguments after the step id, optional ones included), it
 * is the operator itself; called with fewer and no stream, it returns
 * `(up) => operator(stepId, up, ...args)` for {@link Stream.pipe}. The step
 * id is checked at once either way. The overloads are the caller's to
 * declare (data-last first, data-first last, so that `Stream.then` infers
 * from the data-first one).
 *
 * @example
 * ```ts
 * import { dataLast, defineOperator, op, type Stream } from "@weir/core"
 *
 * export const addOne: {
 *   (stepId: string): (up: Stream<number>) => Stream<number>
 *   (stepId: string, up: Stream<number>): Stream<number>
 * } = dataLast(
 *   1,
 *   defineOperator("addOne", { ups: [{ name: "up", index: 0, kind: "one" }] }, (up: Stream<number>) =>
 *     op.map("map", up, (x) => x + 1)
 *   )
 * )
 * // op.input("inp", flow, source).pipe(addOne("add"))
 * ```
 * @since 0.2.0
 */
export const dataLast = <Op>(arity: number, operator: (stepId: string, ...args: Array<never>) => unknown): Op => {
  const f = operator as ((stepId: string, ...args: Array<unknown>) => unknown) & Partial<Tagged<string>>
  const dual = (stepId: string, ...args: Array<unknown>): unknown => {
    if (args[0] instanceof Stream || args.length >= arity) return f(stepId, ...args)
    checkStepId(stepId)
    return (up: unknown) => f(stepId, up, ...args)
  }
  if (f[OperatorTag] !== undefined) Object.defineProperty(dual, OperatorTag, { value: f[OperatorTag] })
  return dual as Op
}

/**
 * Turns an operator body into an operator: checks the step id and the stream
 * arguments, adds a step to the graph under the upstreams' scope, runs the
 * body with streams scoped inside the new step, and wires the body's returned
 * streams to the step's output ports. This is how every operator, kernel or
 * composite, is made — and how users write their own.
 *
 * The body's return value may be a `Stream`, an object whose values are
 * `Stream`s (one output port per field), or `undefined` (no output).
 *
 * @example
 * ```ts
 * import { defineOperator, op, type Stream } from "@weir/core"
 *
 * export const addOne = defineOperator(
 *   "addOne",
 *   { ups: [{ name: "up", index: 0, kind: "one" }] },
 *   (up: Stream<number>): Stream<number> => op.map("map", up, (x) => x + 1)
 * )
 * ```
 * @since 0.1.0
 */
export const defineOperator = <A extends Array<any>, R>(
  opType: string,
  ports: OperatorPorts,
  body: (...args: A) => R
): ((stepId: string, ...args: A) => R) => {
  const op = (stepId: string, ...args: A): R => {
    checkStepId(stepId)
    let scope: StepContainer | undefined
    const innerArgs = args.slice() as A
    const collected: Array<{ name: string; multi: boolean; streams: Stream<unknown>[] }> = []
    const useScope = (s: StepContainer) => {
      if (scope === undefined) scope = s
      else if (scope !== s) {
        throw new Error(
          `inconsistent stream scoping in operator '${opType}' step '${stepId}': streams from different ` +
            "steps can't be mixed; pass streams only as the operator's stream arguments"
        )
      }
    }
    if (ports.flow !== undefined) {
      const flow = args[ports.flow]
      if (!(flow instanceof Dataflow)) {
        throw new TypeError(`operator '${opType}': 'flow' must be a \`Dataflow\`; got ${describeValue(flow)} instead`)
      }
      useScope(flow)
    }
    for (const port of ports.ups) {
      let streams: unknown[]
      if (port.kind === "one") streams = [args[port.index]]
      else if (port.kind === "rest") streams = args.slice(port.index)
      else {
        const arr = args[port.index]
        if (!Array.isArray(arr)) {
          throw new TypeError(
            `operator '${opType}': '${port.name}' must be an array of \`Stream\`s; got ${describeValue(arr)} instead`
          )
        }
        streams = arr
      }
      for (const s of streams) {
        if (!(s instanceof Stream)) throw notAStream(opType, port.name, s)
        useScope(s[StreamScope])
      }
      collected.push({ name: port.name, multi: port.kind !== "one", streams: streams as Stream<unknown>[] })
    }
    // Streams hidden in other arguments (e.g. a list passed as a plain argument) must come from the same scope too.
    const portIndices = new Set(ports.ups.map((p) => p.index))
    args.forEach((arg, i) => {
      if (portIndices.has(i) || ports.ups.some((p) => p.kind === "rest" && i >= p.index)) return
      const nested = Array.isArray(arg) ? arg : arg instanceof Stream ? [arg] : []
      for (const s of nested) if (s instanceof Stream) useScope(s[StreamScope])
    })
    if (scope === undefined) {
      throw new Error(`inconsistent stream scoping in operator '${opType}' step '${stepId}': no upstream stream given`)
    }
    const parent = scope
    const fullId = `${parent.id}.${stepId}`
    if (parent.substeps.some((s) => s.stepName === stepId)) {
      throw new Error(`step '${fullId}' already exists; do you have two steps with the same ID?`)
    }
    const step = new Step(opType, stepId, fullId)
    // Inside the body, a stream is seen as coming from the step's own input port.
    const rescope = (portName: string) => (s: Stream<unknown>) =>
      new Stream(`${fullId}.${portName}`, s[StreamCoreId], step)
    for (const port of collected) {
      step.inputs.push({
        name: port.name,
        portId: `${fullId}.${port.name}`,
        fromPortIds: port.streams.map((s) => s.id),
        fromStreamIds: port.streams.map((s) => s[StreamCoreId]),
        multi: port.multi
      })
    }
    for (const port of ports.ups) {
      const inner = rescope(port.name)
      if (port.kind === "one") innerArgs[port.index] = inner(args[port.index])
      else if (port.kind === "rest") {
        for (let i = port.index; i < args.length; i++) innerArgs[i] = inner(args[i])
      } else innerArgs[port.index] = (args[port.index] as Stream<unknown>[]).map(inner)
    }
    parent.substeps.push(step)
    const saved = currentStep
    currentStep = step
    let result: R
    try {
      result = body(...innerArgs)
    } catch (e) {
      // A failed definition leaves no half-built step behind.
      parent.substeps.splice(parent.substeps.indexOf(step), 1)
      throw e
    } finally {
      currentStep = saved
    }
    return wireOutputs(step, parent, result) as R
  }
  Object.defineProperty(op, "name", { value: opType })
  Object.defineProperty(op, OperatorTag, { value: opType })
  return op
}

const wireOutputs = (step: Step, parent: StepContainer, result: unknown): unknown => {
  if (result === undefined) return undefined
  const outer = (name: string, inner: Stream<unknown>): Stream<unknown> => {
    const portId = `${step.id}.${name}`
    if (step.kernel === undefined) {
      step.outputs.push({ name, portId, fromPortIds: [inner.id], fromStreamIds: [inner[StreamCoreId]] })
      return new Stream(portId, inner[StreamCoreId], parent)
    }
    step.outputs.push({ name, portId, fromPortIds: [], fromStreamIds: [] })
    return new Stream(portId, portId, parent)
  }
  if (result instanceof Stream) return outer("down", result)
  if (typeof result === "object" && result !== null) {
    const out: Record<string, unknown> = {}
    for (const [name, value] of Object.entries(result)) {
      out[name] = value instanceof Stream ? outer(name, value) : value
    }
    return out
  }
  return result
}

/** @internal used by kernel operators: a stream produced by the current kernel step. */
export const kernelOutput = <X>(name = "down"): Stream<X> => {
  const step = buildingStep()
  // A placeholder: wireOutputs replaces it with the port's real stream.
  return new Stream<X>(`${step.id}.${name}`, `${step.id}.${name}`, step)
}
