/**
 * Entry points: {@link run} is the Effect; {@link runMain} and
 * {@link clusterMain} are Promise wrappers around the same code.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { type Dataflow, isDataflow, typeName } from "../Dataflow.js"
import { type WeirRecoveryError, WeirRuntimeError } from "../errors.js"
import type { WeirClock } from "./clock.js"
import * as Option from "effect/Option"
import { toJSON } from "../visualize.js"
import { Execution } from "./execution.js"
import { getDefaultLayer, RuntimeMetrics, StepSpanSampling } from "./observability.js"
import { type FlowModule, moduleUrl, runThreads } from "./threads/coordinator.js"
import { loadFlowModule } from "./threads/load.js"
import type { ClusterOptions, RunOptions } from "./options.js"
import { buildPlan } from "./plan.js"
import type { RecoveryStore } from "./recovery.js"
import { asClusterStore, runScaleOut } from "./cluster/run.js"

export type { ClusterOptions, RunOptions } from "./options.js"
export type { FlowModule } from "./threads/coordinator.js"

const DEFAULT_EPOCH_INTERVAL = Duration.seconds(10)

/** The run's clock: the given one, or Effect's `Clock` service (so `TestClock` drives it in tests). */
const clockOf = (options: RunOptions): Effect.Effect<WeirClock> =>
  options.clock !== undefined
    ? Effect.succeed(options.clock)
    : Effect.map(Effect.clockWith((clock: Clock.Clock) => Effect.succeed(clock)), (clock) => ({
      now: () => clock.currentTimeMillisUnsafe(),
      sleep: (millis: number) => Effect.sleep(millis)
    }))

const epochIntervalOf = (options: RunOptions): Effect.Effect<Duration.Duration, WeirRuntimeError> => {
  if (options.epochInterval === undefined) return Effect.succeed(DEFAULT_EPOCH_INTERVAL)
  const d = Duration.fromInput(options.epochInterval)
  if (d._tag === "None" || Duration.toMillis(d.value) < 0) {
    return Effect.fail(
      new WeirRuntimeError({
        message: `epochInterval must be a non-negative duration (milliseconds, "10 seconds", or a Duration); got ${
          String(options.epochInterval)
        }`
      })
    )
  }
  return Effect.succeed(d.value)
}

const runWorkers = (
  flow: Dataflow,
  options: RunOptions,
  workerCount: number
): Effect.Effect<void, WeirRuntimeError | WeirRecoveryError> =>
  Effect.scoped(
    Effect.gen(function*() {
      if (!isDataflow(flow)) {
        return yield* Effect.fail(
          new WeirRuntimeError({ message: `expected a \`Dataflow\` to run; got a \`${typeName(flow)}\` instead` })
        )
      }
      const plan = yield* Effect.try({
        try: () => buildPlan(flow),
        catch: toRuntimeError
      })
      const epochInterval = yield* epochIntervalOf(options)
      const clock = yield* clockOf(options)
      const store: RecoveryStore | undefined = options.recovery === undefined
        ? undefined
        : yield* options.recovery.open({ flowId: flow.id, workerCount, epochInterval })
      const context = yield* Effect.context<never>()
      const execution = yield* Execution.make(plan, {
        clock,
        epochIntervalMs: Duration.toMillis(epochInterval),
        workerCount,
        store,
        context,
        tracer: yield* Effect.tracer,
        stepSpanSampling: yield* StepSpanSampling,
        metrics: yield* RuntimeMetrics,
        parentSpan: Option.getOrUndefined(yield* Effect.option(Effect.currentSpan)),
        observe: options.observe
      })
      options.observe?.started?.(toJSON(flow))
      yield* execution.loop()
    })
  )

/**
 * Run a dataflow on one worker, as an Effect. It completes when every input
 * has ended (or a source aborted with `AbortExecution`) and fails with a
 * {@link WeirRuntimeError} naming the step when user code throws. Interrupting
 * the fiber stops the run promptly and closes every source and sink.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Dataflow, op, run } from "@weir/core"
 * import { TestingSource, TestingSink } from "@weir/testing"
 *
 * const out: number[] = []
 * const flow = new Dataflow("double")
 * op.input("inp", flow, new TestingSource([1, 2, 3]))
 *   .then(op.map, "double", (x: number) => x * 2)
 *   .then(op.output, "out", new TestingSink(out))
 * await Effect.runPromise(run(flow, { epochInterval: "1 second" }))  // out: [2, 4, 6]
 * ```
 * @since 0.1.0
 */
export const run = (flow: Dataflow, options: RunOptions = {}): Effect.Effect<void, WeirRuntimeError | WeirRecoveryError> =>
  runWorkers(flow, options, 1)

/**
 * Run a dataflow on one worker in this process; resolves when it is done.
 *
 * @example
 * ```ts
 * await runMain(flow)
 * ```
 * @since 0.1.0
 */
export const runMain = (flow: Dataflow, options: RunOptions = {}): Promise<void> => Effect.runPromise(withDefaultLayer(run(flow, options)))

/** Provide the layer `setupTracing` installed (see `setDefaultLayer`), if any. */
const withDefaultLayer = <A, E>(program: Effect.Effect<A, E>): Effect.Effect<A, E> => {
  const layer = getDefaultLayer()
  return layer === undefined ? program : Effect.provide(program, layer)
}

/**
 * Run a dataflow on several workers; resolves when it is done.
 *
 * Given a {@link FlowModule}, every worker is a `worker_thread` that imports
 * the module and builds its own copy of the dataflow: real parallelism, one
 * core per worker. Items crossing workers (before keyed steps, at
 * `redistribute`, into partitioned sinks) are copied, and module-level state
 * exists once per thread.
 *
 * Given a `Dataflow` object, the workers run interleaved on the calling
 * thread instead: the same per-key results, no parallel speed-up, and
 * in-memory sinks such as `TestingSink` keep working.
 *
 * With `cluster` (and a `recovery` store every process reaches), this
 * process runs its share of a scale-out run: every process given the same
 * cluster joins one group, which deals the store's key groups among them;
 * processes may join and leave while the flow runs, and the run lasts until
 * interrupted (see the README, "Scale-out across processes and hosts").
 * Static clusters (`addresses` with several entries) are refused.
 *
 * @example
 * ```ts
 * // Two threads, each importing ./flow.ts and running its export `flow`.
 * await clusterMain({ module: new URL("./flow.ts", import.meta.url) }, { workersPerProcess: 2 })
 * // Two workers interleaved on this thread.
 * await clusterMain(flow, { workersPerProcess: 2 })
 * ```
 * @since 0.1.0
 */
export const clusterMain = (flow: Dataflow | FlowModule, options: ClusterOptions = {}): Promise<void> =>
  Effect.runPromise(withDefaultLayer(runCluster(flow, options)))

/**
 * {@link clusterMain} as an Effect. Interrupting it stops every worker
 * (threads close their sources and sinks, then exit).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { runCluster } from "@weir/core"
 *
 * await Effect.runPromise(runCluster({ module: "flows/wordcount.ts" }, { workersPerProcess: 4 }))
 * ```
 * @since 0.1.0
 */
export const runCluster = (
  flow: Dataflow | FlowModule,
  options: ClusterOptions = {}
): Effect.Effect<void, WeirRuntimeError | WeirRecoveryError> => {
  const workers = options.workersPerProcess ?? 1
  if (!Number.isInteger(workers) || workers < 1) {
    return Effect.fail(
      new WeirRuntimeError({ message: `workersPerProcess must be a positive integer; got ${String(workers)}` })
    )
  }
  if (options.cluster !== undefined) return scaleOut(flow, options, workers)
  if (options.addresses !== undefined && options.addresses.length > 1) {
    return Effect.fail(
      new WeirRuntimeError({
        message: `static clusters of several processes (${options.addresses.length} addresses) are not supported: ` +
          "Weir scales out on Kafka instead — give every process the same `cluster` " +
          "(`weir run … --cluster kafka://HOST:PORT -r postgres://…`) and let them join and leave as they like"
      })
    )
  }
  if (isDataflow(flow)) return runWorkers(flow, options, workers)
  if (!isFlowModule(flow)) {
    return Effect.fail(
      new WeirRuntimeError({
        message: `expected a \`Dataflow\` or a flow module (\`{ module, export }\`) to run; got a \`${typeName(flow)}\` instead`
      })
    )
  }
  if (options.clock !== undefined) {
    return Effect.fail(
      new WeirRuntimeError({
        message: "a custom `clock` can't be used with worker threads (each thread runs on the real clock); " +
          "pass the Dataflow object instead of a flow module to run the workers interleaved on this thread"
      })
    )
  }
  const module = flow
  return Effect.flatMap(oneThreadOnly(module), (local) => {
    if (local !== undefined) {
      return Effect.andThen(
        Effect.logWarning(
          `the flow '${local.flow.id}' uses ${local.steps.join(", ")}, which can't run in a worker thread: ` +
            `running its ${workers} workers interleaved on this thread instead (no parallel speed-up; ` +
            "for that, run several processes)"
        ),
        runWorkers(local.flow, options, workers)
      )
    }
    return Effect.scoped(Effect.flatMap(epochIntervalOf(options), (epochInterval) =>
      runThreads(module, { workers, epochInterval, recovery: options.recovery, observe: options.observe })))
  })
}

/** `runCluster` with `cluster`: this process's share of a scale-out run. */
const scaleOut = (
  flow: Dataflow | FlowModule,
  options: ClusterOptions,
  workers: number
): Effect.Effect<void, WeirRuntimeError | WeirRecoveryError> =>
  Effect.gen(function*() {
    const cluster = options.cluster!
    if (options.addresses !== undefined && options.addresses.length > 0) {
      return yield* Effect.fail(
        new WeirRuntimeError({
          message: "`addresses` (-a/-i) and `cluster` (--cluster) exclude each other: a scale-out run finds its " +
            "processes through the cluster's group; leave out the addresses"
        })
      )
    }
    const store = asClusterStore(options.recovery)
    if (store === undefined) {
      return yield* Effect.fail(
        new WeirRuntimeError({
          message: `a scale-out run (cluster ${cluster.description}) needs a recovery store every process reaches, ` +
            `and ${options.recovery === undefined ? "none was given" : `\`${typeName(options.recovery)}\` is not one`}: ` +
            "use PostgreSQL (`-r postgres://…`, or `recovery: new PostgresRecoveryConfig(url)`)"
        })
      )
    }
    if (options.keyGroups !== undefined && (!Number.isInteger(options.keyGroups) || options.keyGroups < 1)) {
      return yield* Effect.fail(
        new WeirRuntimeError({ message: `keyGroups must be a positive integer; got ${String(options.keyGroups)}` })
      )
    }
    const dataflow = isDataflow(flow) ? flow : isFlowModule(flow)
      ? yield* Effect.tryPromise({
        try: () => loadFlowModule(moduleUrl(flow.module), flow.export ?? "flow", flow.args, "the calling thread"),
        catch: toRuntimeError
      })
      : yield* Effect.fail(
        new WeirRuntimeError({
          message: `expected a \`Dataflow\` or a flow module (\`{ module, export }\`) to run; got a \`${typeName(flow)}\` instead`
        })
      )
    if (workers > 1) {
      yield* Effect.logWarning(
        `a scale-out run runs this process's key groups on its main thread: ${workers} workers per process ` +
          "give no speed-up here (the Kafka client can't run in worker threads); run more processes instead"
      )
    }
    const plan = yield* Effect.try({ try: () => buildPlan(dataflow), catch: toRuntimeError })
    const epochInterval = yield* epochIntervalOf(options)
    const clock = yield* clockOf(options)
    options.observe?.started?.(toJSON(dataflow))
    return yield* runScaleOut(dataflow, plan, {
      cluster,
      store,
      group: options.group,
      keyGroups: options.keyGroups,
      epochIntervalMs: Duration.toMillis(epochInterval),
      clock,
      observe: options.observe
    })
  })

/**
 * The flow of `module`, loaded on this thread, when one of its sources or
 * sinks can't run in a worker thread (see `Source.mainThreadOnly`), with
 * those steps; `undefined` when all can.
 */
const oneThreadOnly = (
  module: FlowModule
): Effect.Effect<{ readonly flow: Dataflow; readonly steps: ReadonlyArray<string> } | undefined, WeirRuntimeError> =>
  Effect.gen(function*() {
    const flow = yield* Effect.tryPromise({
      try: () => loadFlowModule(moduleUrl(module.module), module.export ?? "flow", module.args, "the calling thread"),
      catch: toRuntimeError
    })
    const plan = yield* Effect.try({
      try: () => buildPlan(flow),
      catch: toRuntimeError
    })
    const steps: Array<string> = []
    for (const s of plan.steps) {
      const k = s.kernel
      const connector = k.kind === "input" ? k.source : k.kind === "output" ? k.sink : undefined
      if ((connector as { readonly mainThreadOnly?: unknown } | undefined)?.mainThreadOnly === true) {
        steps.push(`'${s.stepId}' (${typeName(connector)})`)
      }
    }
    return steps.length === 0 ? undefined : { flow, steps }
  })

/** A failure as the run reports it: a `WeirRuntimeError` as it is, anything else wrapped in one. */
const toRuntimeError = (e: unknown): WeirRuntimeError =>
  e instanceof WeirRuntimeError ? e : new WeirRuntimeError({ message: String(e), cause: e })

const isFlowModule = (u: unknown): u is FlowModule =>
  typeof u === "object" && u !== null && (typeof (u as FlowModule).module === "string" || (u as FlowModule).module instanceof URL)
