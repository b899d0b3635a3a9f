/**
 * A worker thread's entry point: import the flow module (TypeScript through
 * tsx), build this worker's plan, say `ready`, wait for `start`, then run
 * this worker's share of the dataflow until every worker's inputs have ended.
 * See `protocol.ts` for the conversation with the coordinator.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { parentPort, workerData } from "node:worker_threads"
import { WeirRecoveryError, WeirRuntimeError } from "../../errors.js"
import { isTransactionalSink } from "../../outputs.js"
import { toJSON } from "../../visualize.js"
import { decodeBatch } from "../codec.js"
import { buildPlan, isFixedSink, isFixedSource } from "../plan.js"
import type { FromWorker, ToWorker, WireError, WorkerData } from "./protocol.js"
import { loadFlowModule } from "./load.js"
import { ThreadExecution } from "./worker.js"

const data = workerData as WorkerData
const port = parentPort!
const send = (m: FromWorker, transfer?: ReadonlyArray<ArrayBuffer>): void => port.postMessage(m, transfer as Array<ArrayBuffer>)

const wireError = (e: unknown): WireError => {
  const cause = e instanceof WeirRuntimeError || e instanceof WeirRecoveryError ? (e as { cause?: unknown }).cause : undefined
  return {
    message: e instanceof Error ? e.message : String(e),
    stepId: e instanceof WeirRuntimeError ? e.stepId : undefined,
    name: e instanceof Error ? e.name : undefined,
    causeName: cause instanceof Error ? cause.name : undefined,
    causeMessage: cause === undefined ? undefined : cause instanceof Error ? cause.message : String(cause),
    causeStack: cause instanceof Error ? cause.stack : undefined,
    recovery: e instanceof WeirRecoveryError
  }
}

const loadFlow = (): Promise<unknown> => loadFlowModule(data.module, data.exportName, data.args, `worker ${data.worker}`)

const main = async (): Promise<void> => {
  const early: Array<ToWorker> = []
  let onMessage: (m: ToWorker) => void = (m) => early.push(m)
  port.on("message", (m: ToWorker) => onMessage(m))
  let flow
  let plan
  try {
    flow = (await loadFlow()) as Parameters<typeof buildPlan>[0]
    plan = buildPlan(flow)
  } catch (e) {
    send({ t: "error", error: wireError(e) })
    return
  }
  const stateful = plan.steps.filter((s) => s.kernel.kind === "statefulBatch").map((s) => s.stepId)
  const partitioned = plan.steps.filter((s) =>
    (s.kernel.kind === "input" && isFixedSource(s.kernel.source)) || (s.kernel.kind === "output" && isFixedSink(s.kernel.sink))
  ).map((s) => s.stepId)
  const transactional = plan.steps.filter((s) => s.kernel.kind === "output" && isTransactionalSink(s.kernel.sink)).map((s) => s.stepId)
  // Asked to stop while the module was loading: nothing is open yet.
  if (early.some((m) => m.t === "stop")) {
    send({ t: "stopped" })
    return
  }
  const start = await new Promise<Extract<ToWorker, { t: "start" }>>((resolve) => {
    onMessage = (m) => {
      if (m.t === "start") resolve(m)
      else if (m.t === "stop") {
        send({ t: "stopped" })
        hangUp()
      }
      else early.push(m)
    }
    send({ t: "ready", flowId: flow.id, stateful, partitioned, transactional, graph: toJSON(flow) })
  })
  const states = new Map<string, Map<string, unknown>>()
  for (const [stepId, pairs] of start.states) states.set(stepId, new Map(decodeBatch(pairs) as Array<[string, unknown]>))
  const clock = { now: () => Date.now(), sleep: (ms: number) => Effect.sleep(ms) }
  let ex: ThreadExecution | undefined
  // Tracing in this thread, the way the calling thread's run is traced.
  let tracing = Layer.empty as Layer.Layer<unknown>
  if (data.tracing !== undefined) {
    try {
      const mod = (await import(data.tracing.module)) as { threadLayer: (options: unknown) => Layer.Layer<unknown> }
      tracing = mod.threadLayer(data.tracing.options)
    } catch (e) {
      send({ t: "error", error: wireError(new WeirRuntimeError({ message: `can't set tracing up in worker ${data.worker}: ${String(e)}`, cause: e })) })
      return
    }
  }
  const program = Effect.scoped(Effect.gen(function*() {
    ex = yield* ThreadExecution.make(plan, {
      context: yield* Effect.context<never>(),
      tracer: yield* Effect.tracer,
      stepSpanSampling: data.stepSpanSampling,
      metrics: true,
      parentSpan: Option.getOrUndefined(yield* Effect.option(Effect.currentSpan)),
      clock,
      epochIntervalMs: data.epochIntervalMs,
      worker: data.worker,
      workers: data.workers,
      tracking: data.tracking,
      epoch: start.epoch,
      states,
      ports: data.ports,
      send
    })
    for (const m of early.splice(0)) ex.onCoordinator(m)
    return yield* ex.loop()
  }))
  const fiber = Effect.runFork(Effect.provide(program, tracing))
  let stopping = false
  onMessage = (m) => {
    if (m.t === "stop") {
      stopping = true
      fiber.interruptUnsafe()
    } else if (ex !== undefined) ex.onCoordinator(m)
    else early.push(m)
  }
  const exit = await Effect.runPromise(Fiber.await(fiber))
  if (stopping || (Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause))) {
    send({ t: "stopped" })
    return
  }
  if (Exit.isSuccess(exit)) {
    send({ t: exit.value === "abort" ? "abort" : exit.value === "stopped" ? "stopped" : "done" })
    return
  }
  const error = Option.getOrElse(Cause.findErrorOption(exit.cause), () => Cause.squash(exit.cause))
  send({ t: "error", error: wireError(error) })
}

/** Let the thread end: nothing more will be said on its ports. */
const hangUp = (): void => {
  for (const p of data.ports) p?.close()
  port.close()
}

main().catch((e) => send({ t: "error", error: wireError(e) })).finally(hangUp)
