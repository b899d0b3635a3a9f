/**
 * Wiring: turning a plan into running steps for the workers of this thread.
 * Every worker gets its own copy of each step; sources and sinks are built
 * (their partitions dealt out by `routing.ts`) and closed with the run's
 * scope; chains of per-item steps are fused; each stream is connected to its
 * consumers, through an exchange where the consumer needs one.
 *
 * How items cross workers is left to the two executions built on this: the
 * interleaved one (all workers on this thread, `execution.ts`) and the
 * threaded one (one worker per thread, `threads/worker.ts`).
 */
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as Tracer from "effect/Tracer"
import { typeName } from "../Dataflow.js"
import type { WeirRecoveryError } from "../errors.js"
import { WeirRuntimeError } from "../errors.js"
import type { DynamicSource, FixedPartitionedSource, StatefulSourcePartition, StatelessSourcePartition } from "../inputs.js"
import type { ItemStage } from "../internal/kernel.js"
import {
  type DynamicSink,
  type FixedPartitionedSink,
  isTransactionalSink,
  type StatelessSinkPartition,
  type TransactionalSink,
  type TransactionalSinkPartition
} from "../outputs.js"
import { isAsync, stepError, toEffect } from "./async.js"
import { setActiveClock, type WeirClock } from "./clock.js"
import { FusedStep, fusableChains } from "./fusion.js"
import { type Exchange, isFixedSink, isFixedSource, type Plan, type PlannedStep } from "./plan.js"
import { epochGauge, setGauge, stateKeys, StepCounters } from "./metrics.js"
import { endSpan, startSpan } from "./observability.js"
import { partitionOwner } from "./routing.js"
import {
  DynamicOutputStep,
  naturalCompare,
  outboxOwner,
  parseOutboxKey,
  PartitionedOutputStep,
  PendingWrites,
  SerialWriter,
  SinkPartitionSlot,
  TransactionalOutputStep
} from "./sinks.js"
import { checkSnapshot } from "./snapshotCheck.js"
import { InputPartition } from "./sources.js"
import {
  BranchStep,
  type Emit,
  FlatMapBatchStep,
  InspectDebugStep,
  KeyState,
  PassThroughStep,
  type RuntimeStep,
  StatefulStep,
  TtlStatefulStep,
  type WorkerView
} from "./steps.js"
import { TimerHeap } from "./timers.js"

/** Step spans a worker records at most per quarter second (see `Engine.spanBudget`). */
export const STEP_SPANS_PER_WINDOW = 16

/** One worker of this thread: its copy of every step. */
export class Worker implements WorkerView {
  readonly steps: Array<RuntimeStep | undefined> = []
  /** For each stream: push a batch to its consumers (through the exchange they need). */
  readonly emitters: Array<Emit> = []
  constructor(
    readonly workerIndex: number,
    /** Its place among this thread's workers. */
    readonly local: number,
    private readonly engine: Engine
  ) {}
  get epoch(): number {
    return this.engine.currentEpoch
  }
}

/** What every execution is given of the run it belongs to. */
export interface RunEnvironment {
  readonly clock: WeirClock
  /** The run's Effect context (its metric registry). */
  readonly context: Context.Context<never>
  /** The run's tracer, and the share of step batches that get a span. */
  readonly tracer: Tracer.Tracer
  readonly stepSpanSampling: number
  /** Count items per step (see `RuntimeMetrics`). */
  readonly metrics: boolean
  /** The span the run's spans nest under, if any. */
  readonly parentSpan: Tracer.AnySpan | undefined
}

/** What the wiring needs to know of the run. */
export interface WiringConfig extends RunEnvironment {
  /** Workers of the whole execution. */
  readonly workerCount: number
  /** The workers of this thread (global indices). */
  readonly localWorkers: ReadonlyArray<number>
  /** Snapshots are tracked (a recovery store is open). */
  readonly tracking: boolean
}

/** Writes in flight above this make the loop wait before polling again. */
export const MAX_WRITES_IN_FLIGHT = 8
/**
 * Busy turns run back to back, synchronously, at most this many before the
 * loop goes back through its Effect (which costs about as much as a batch of
 * 1,024 items through a short pipeline): see `turns` in execution.ts.
 */
export const MAX_SYNC_TURNS = 64
/** Give the event loop (signals, I/O callbacks) a turn at least this often while busy. */
const YIELD_EVERY_MS = 20
/** How long the loop sleeps at least when a turn found nothing to do. */
const IDLE_COOLDOWN_MS = 1
/** How long an idle loop waits at most when nothing is due (an arrival wakes it sooner). */
const IDLE_MAX_WAIT_MS = 50

/** The run environment within `config` (what `WiringConfig` takes of an execution's config). */
export const environmentOf = (config: RunEnvironment): RunEnvironment => ({
  clock: config.clock,
  context: config.context,
  tracer: config.tracer,
  stepSpanSampling: config.stepSpanSampling,
  metrics: config.metrics,
  parentSpan: config.parentSpan
})

/** The steps, partitions and sinks of this thread's workers, and how to close them. */
export abstract class Engine {
  readonly workers: Array<Worker> = []
  /** By global worker index; `undefined` for workers of other threads. */
  readonly byIndex: Array<Worker | undefined> = []
  readonly partitions: Array<InputPartition> = []
  readonly timers = new TimerHeap<KeyState>()
  readonly pending = new PendingWrites()
  readonly sinkSteps: Array<PartitionedOutputStep> = []
  /** The partitions of transactional sinks, of every worker of this thread, in plan order. */
  readonly txSinks: Array<TransactionalOutputStep> = []
  protected readonly closers: Array<() => Effect.Effect<void, WeirRuntimeError>> = []
  protected readonly partitionClosers = new Map<InputPartition, () => Effect.Effect<void, WeirRuntimeError>>()
  /** Partitions that ended in the last turn, to close right away. */
  protected readonly endedNow: Array<InputPartition> = []
  protected wakeUp: (() => void) | undefined = undefined
  /** Items in and out of every step, counted per batch. */
  readonly counters: StepCounters

  constructor(readonly plan: Plan, readonly wiring: WiringConfig) {
    this.byIndex.length = wiring.workerCount
    wiring.localWorkers.forEach((w, local) => {
      const worker = new Worker(w, local, this)
      this.workers.push(worker)
      this.byIndex[w] = worker
    })
    this.counters = new StepCounters(plan, wiring.localWorkers)
  }

  private publishCalls = 0

  /**
   * Step spans left in this quarter second: sampled batches get a span at the
   * configured ratio, but at most {@link STEP_SPANS_PER_WINDOW} per window
   * (a span costs about 10 µs to record and export; a fast
   * pipeline sampled at 1% would otherwise spend several percent on them).
   */
  private spanBudget = STEP_SPANS_PER_WINDOW
  private spanWindowStart = 0

  /** A new window of step spans, once the last one is a quarter second old. */
  protected refreshSpanBudget(): void {
    if (this.wiring.stepSpanSampling === 0) return
    const now = Date.now()
    if (now - this.spanWindowStart >= 250) {
      this.spanWindowStart = now
      this.spanBudget = STEP_SPANS_PER_WINDOW
    }
  }

  /** The span of the epoch being processed (steps' spans nest under it). */
  protected epochSpan: Tracer.Span | undefined = undefined

  /** Count `n` items into step `step` on the `local`-th worker. */
  protected countIn(local: number, step: number, n: number): void {
    this.counters.in[this.counters.slot(local, step)] += n
  }

  /** Push a batch into `target` (step `step`), in a sampled `weir.step` span. */
  protected pushTo(target: RuntimeStep, port: number, batch: Array<unknown>): void {
    const sampling = this.wiring.stepSpanSampling
    if (sampling === 0 || this.spanBudget === 0 || Math.random() >= sampling) {
      target.push(port, batch)
      return
    }
    this.spanBudget--
    const span = startSpan(this.wiring.tracer, "weir.step", this.epochSpan ?? this.wiring.parentSpan, {
      "weir.step_id": target.stepId,
      "weir.items": batch.length
    })
    try {
      target.push(port, batch)
    } catch (e) {
      endSpan(span, e)
      throw e
    }
    endSpan(span)
  }

  /** Start the span of epoch `epoch`, ending the previous one. */
  protected nextEpochSpan(epoch: number): void {
    if (this.epochSpan !== undefined) endSpan(this.epochSpan)
    this.epochSpan = startSpan(this.wiring.tracer, "weir.epoch", this.wiring.parentSpan, { "weir.epoch": epoch })
  }

  /** End the epoch span, with the error that stopped the run if any. */
  protected endEpochSpan(error?: unknown): void {
    if (this.epochSpan === undefined) return
    endSpan(this.epochSpan, error)
    this.epochSpan = undefined
  }

  /**
   * Publish the counts (when due, or `force`) and the gauges: each worker's
   * epoch and each stateful step's keys.
   */
  protected publishMetrics(force: boolean, epoch: number): void {
    // Look at the time only every few calls: the loop calls this every turn.
    if (!force && (++this.publishCalls & 15) !== 0) return
    this.refreshSpanBudget()
    if (!this.wiring.metrics) return
    const ctx = this.wiring.context
    if (!this.counters.publish(ctx, Date.now(), force)) return
    for (const w of this.workers) {
      const worker = String(w.workerIndex)
      setGauge(epochGauge, { worker }, epoch, ctx)
      for (const s of this.plan.steps) {
        if (s.kernel.kind !== "statefulBatch") continue
        setGauge(stateKeys, { step_id: s.stepId, worker }, (w.steps[s.index] as StatefulStep).liveCount, ctx)
      }
    }
  }

  /** The epoch items are being processed in (what `inspect` reports). */
  abstract get currentEpoch(): number

  /** Resume states of `stepId` (partitions by name; for stateful steps, the keys this thread owns). */
  protected abstract loadStates(stepId: string): Effect.Effect<Map<string, unknown>, WeirRecoveryError>

  /**
   * The emitter of worker `w` into input `port` of step `step`, which needs
   * exchange `exchange` (never `"none"`).
   */
  protected abstract exchangeEmitter(w: Worker, step: number, port: number, exchange: Exchange): Emit

  get workerCount(): number {
    return this.wiring.workerCount
  }

  /** Build every step and partition, then connect them. */
  protected build(): Effect.Effect<void, WeirRuntimeError | WeirRecoveryError> {
    const engine = this
    return Effect.gen(function*() {
      yield* engine.checkTransactional()
      for (const step of engine.plan.steps) yield* engine.buildStep(step)
      engine.fuseChains()
      engine.wireEmitters()
    })
  }

  private buildStep(step: PlannedStep): Effect.Effect<void, WeirRuntimeError | WeirRecoveryError> {
    const engine = this
    const k = step.kernel
    const counts = this.counters.out
    const emitFor = (w: Worker, port: number): Emit => {
      const out = step.outputs[port]
      const slot = this.counters.slot(w.local, step.index)
      if (out === undefined || this.plan.consumers[out.stream]!.length === 0) {
        return (batch) => {
          counts[slot] += batch.length
        }
      }
      const s = out.stream
      if (!this.wiring.metrics) return (batch) => w.emitters[s]!(batch)
      return (batch) => {
        counts[slot] += batch.length
        w.emitters[s]!(batch)
      }
    }
    return Effect.gen(function*() {
      switch (k.kind) {
        case "input": {
          if (isFixedSource(k.source)) yield* engine.buildFixedSource(step, k.source)
          else yield* engine.buildDynamicSource(step, k.source as DynamicSource<unknown>)
          for (const w of engine.workers) w.steps.push(undefined)
          return
        }
        case "output": {
          if (isFixedSink(k.sink)) {
            // One step for the thread's workers: it holds the partitions they own.
            const shared = yield* engine.buildFixedSink(step, k.sink)
            for (const w of engine.workers) w.steps.push(shared)
          } else if (isTransactionalSink(k.sink)) {
            yield* engine.recoverTransactional(step, k.sink)
            for (const w of engine.workers) {
              const part = yield* engine.buildTransactionalSink(step, k.sink, w.workerIndex)
              const out = new TransactionalOutputStep(step.stepId, w.workerIndex, part, engine.pending, () => engine.currentEpoch)
              engine.txSinks.push(out)
              w.steps.push(out)
            }
          } else {
            for (const w of engine.workers) {
              const part = yield* engine.buildDynamicSink(step, k.sink as DynamicSink<unknown>, w.workerIndex)
              w.steps.push(new DynamicOutputStep(step.stepId, part, engine.pending))
            }
          }
          return
        }
        case "flatMapBatch":
          for (const w of engine.workers) w.steps.push(new FlatMapBatchStep(step.stepId, k.mapper, emitFor(w, 0)))
          return
        case "branch":
          for (const w of engine.workers) {
            w.steps.push(new BranchStep(step.stepId, k.predicate, emitFor(w, 0), emitFor(w, 1)))
          }
          return
        case "merge":
        case "redistribute":
          for (const w of engine.workers) w.steps.push(new PassThroughStep(step.stepId, emitFor(w, 0)))
          return
        case "inspectDebug":
          for (const w of engine.workers) w.steps.push(new InspectDebugStep(step.stepId, k.inspector, w, emitFor(w, 0)))
          return
        case "statefulBatch":
          for (const w of engine.workers) {
            const tracking = engine.wiring.tracking
            // With a ttl, chained logics run through `onBatch`: the ttl step groups values itself.
            if (k.ttlMs !== undefined) {
              w.steps.push(new TtlStatefulStep(step.stepId, k.builder, engine.timers, tracking, emitFor(w, 0), k.ttlMs))
              continue
            }
            const stateful = new StatefulStep(step.stepId, k.builder, engine.timers, tracking, emitFor(w, 0))
            w.steps.push(k.chained === true ? stateful.chained() : stateful)
          }
          return
      }
    })
  }

  /** Replace each chain of per-item steps by one fused step at its head (the rest then get no items). */
  private fuseChains(): void {
    for (const chain of fusableChains(this.plan)) {
      const steps = chain.map((i) => this.plan.steps[i]!)
      const stages = steps.map((s) => (s.kernel as { readonly stage: ItemStage }).stage)
      const ids = steps.map((s) => s.stepId)
      const tail = steps[steps.length - 1]!
      const counts = this.counters.out
      for (const w of this.workers) {
        const s = tail.outputs[0]!.stream
        // What the chain emits counts as the tail's output (its inner steps are not counted).
        const slot = this.counters.slot(w.local, tail.index)
        const emit: Emit = this.plan.consumers[s]!.length === 0
          ? (batch) => {
            counts[slot] += batch.length
          }
          : !this.wiring.metrics
          ? (batch) => w.emitters[s]!(batch)
          : (batch) => {
            counts[slot] += batch.length
            w.emitters[s]!(batch)
          }
        w.steps[chain[0]!] = new FusedStep(ids[0]!, stages, ids, emit)
      }
    }
  }

  /** Connect each stream to its consumers, through the exchange its consumer needs. */
  private wireEmitters(): void {
    for (const w of this.workers) {
      for (let s = 0; s < this.plan.consumers.length; s++) {
        const targets: Array<Emit> = this.plan.consumers[s]!.map(({ port, step }) => {
          const exchange = this.plan.steps[step]!.exchange
          if (exchange === "none" || this.workerCount === 1) {
            const target = w.steps[step]!
            const counts = this.counters.in
            const slot = this.counters.slot(w.local, step)
            if (this.wiring.stepSpanSampling === 0) {
              if (!this.wiring.metrics) return (batch: Array<unknown>) => target.push(port, batch)
              return (batch: Array<unknown>) => {
                counts[slot] += batch.length
                target.push(port, batch)
              }
            }
            return (batch: Array<unknown>) => {
              counts[slot] += batch.length
              this.pushTo(target, port, batch)
            }
          }
          return this.exchangeEmitter(w, step, port, exchange)
        })
        w.emitters[s] = targets.length === 1
          ? targets[0]!
          : (batch) => {
            // Each consumer gets its own array: a step may keep or reorder what it is given.
            for (let i = 0; i < targets.length - 1; i++) targets[i]!(batch.slice())
            targets[targets.length - 1]!(batch)
          }
      }
    }
  }

  /** The emitter of an input step's partition read by `worker`. */
  protected emitterOf(step: PlannedStep, worker: number): Emit {
    const s = step.outputs[0]!.stream
    const w = this.byIndex[worker]!
    const counts = this.counters.out
    const slot = this.counters.slot(w.local, step.index)
    if (this.plan.consumers[s]!.length === 0) {
      return (batch) => {
        counts[slot] += batch.length
      }
    }
    if (!this.wiring.metrics) return (batch) => w.emitters[s]!(batch)
    return (batch) => {
      counts[slot] += batch.length
      w.emitters[s]!(batch)
    }
  }

  private buildFixedSource(step: PlannedStep, source: FixedPartitionedSource<unknown, unknown>) {
    const engine = this
    const stepId = step.stepId
    return Effect.gen(function*() {
      const listed = yield* callMaybeAsync<ReadonlyArray<string>>(
        () => source.listParts(),
        (e) => stepError("FixedPartitionedSource.listParts", stepId, e)
      )
      if (!Array.isArray(listed)) {
        return yield* Effect.fail(stepError(
          "FixedPartitionedSource.listParts",
          stepId,
          new TypeError(`listParts must return an array of partition names; got a \`${typeName(listed)}\` instead`)
        ))
      }
      const names = Array.from(new Set(listed.map(String))).sort(naturalCompare)
      const resume = yield* engine.loadStates(stepId)
      for (let i = 0; i < names.length; i++) {
        const name = names[i]!
        const worker = partitionOwner(i, engine.workerCount)
        if (engine.byIndex[worker] === undefined) continue
        const part = yield* callMaybeAsync<StatefulSourcePartition<unknown, unknown>>(
          () => source.buildPart(stepId, name, resume.get(name)),
          (e) => stepError("FixedPartitionedSource.buildPart", stepId, e, ` for partition '${name}'`)
        )
        engine.addPartition(new InputPartition(stepId, name, part, true, worker, engine.emitterOf(step, worker), () => engine.wake()))
      }
    })
  }

  private buildDynamicSource(step: PlannedStep, source: DynamicSource<unknown>) {
    const engine = this
    const stepId = step.stepId
    return Effect.gen(function*() {
      for (const w of engine.workers) {
        const part = yield* callMaybeAsync<StatelessSourcePartition<unknown>>(
          () => source.build(stepId, w.workerIndex, engine.workerCount),
          (e) => stepError("DynamicSource.build", stepId, e)
        )
        engine.addPartition(
          new InputPartition(stepId, `worker ${w.workerIndex}`, part, false, w.workerIndex, engine.emitterOf(step, w.workerIndex), () =>
            engine.wake())
        )
      }
    })
  }

  private addPartition(p: InputPartition): void {
    this.partitions.push(p)
    let closed = false
    this.closers.push(() => {
      if (closed || p.part.close === undefined) return Effect.void
      closed = true
      return toEffect<void>(
        (() => {
          try {
            return p.part.close!()
          } catch (e) {
            return Promise.reject(e)
          }
        })(),
        (e) => stepError(p.fixed ? "StatefulSourcePartition.close" : "StatelessSourcePartition.close", p.stepId, e)
      )
    })
    this.partitionClosers.set(p, this.closers[this.closers.length - 1]!)
  }

  private buildDynamicSink(step: PlannedStep, sink: DynamicSink<unknown>, workerIndex: number) {
    const engine = this
    return Effect.gen(function*() {
      const part = yield* callMaybeAsync<StatelessSinkPartition<unknown>>(
        () => sink.build(step.stepId, workerIndex, engine.workerCount),
        (e) => stepError("DynamicSink.build", step.stepId, e)
      )
      engine.closers.push(onceCloser(() => part.close?.(), (e) => stepError("StatelessSinkPartition.close", step.stepId, e)))
      return part
    })
  }

  /** A transactional sink keeps each epoch's output in the store until it is published: without a store, fail before anything is built. */
  private checkTransactional(): Effect.Effect<void, WeirRuntimeError> {
    if (this.wiring.tracking) return Effect.void
    for (const step of this.plan.steps) {
      const k = step.kernel
      if (k.kind !== "output" || !isTransactionalSink(k.sink)) continue
      return Effect.fail(
        new WeirRuntimeError({
          message: `step '${step.stepId}' writes to a transactional (exactly-once) sink, \`${typeName(k.sink)}\`, and the run has no ` +
            "recovery store: the sink keeps each epoch's output in the store, with the epoch's state, until it is published. " +
            "Run with a recovery store (`recovery` in the run options; `weir run -r <dir>`), or make the sink at-least-once " +
            "(for KafkaSink: leave out `exactlyOnce: true`)",
          stepId: step.stepId
        })
      )
    }
    return Effect.void
  }

  /**
   * Hand every epoch an earlier execution prepared and may not have
   * published to the sink's `recover`, per writer, oldest first: the writers
   * whose outbox this thread holds (those the worker `writer mod workers`
   * of this thread owns).
   */
  private recoverTransactional(step: PlannedStep, sink: TransactionalSink<unknown, unknown>) {
    const engine = this
    return Effect.gen(function*() {
      const rows = yield* engine.loadStates(step.stepId)
      const byWriter = new Map<number, Array<readonly [number, unknown]>>()
      for (const [key, prepared] of rows) {
        const at = parseOutboxKey(key)
        if (at === undefined) continue
        if (engine.byIndex[outboxOwner(at.writer, engine.workerCount)] === undefined) continue
        let list = byWriter.get(at.writer)
        if (list === undefined) byWriter.set(at.writer, (list = []))
        list.push([at.epoch, prepared])
      }
      for (const writer of [...byWriter.keys()].sort((a, b) => a - b)) {
        const epochs = byWriter.get(writer)!.sort((a, b) => a[0] - b[0])
        yield* callMaybeAsync<unknown>(
          () => sink.recover(step.stepId, writer, epochs),
          (e) => stepError("TransactionalSink.recover", step.stepId, e, ` for writer ${writer}`)
        )
      }
    })
  }

  private buildTransactionalSink(step: PlannedStep, sink: TransactionalSink<unknown, unknown>, workerIndex: number) {
    const engine = this
    return Effect.gen(function*() {
      const part = yield* callMaybeAsync<TransactionalSinkPartition<unknown, unknown>>(
        () => sink.buildTransactional(step.stepId, workerIndex, engine.workerCount),
        (e) => stepError("TransactionalSink.buildTransactional", step.stepId, e)
      )
      engine.closers.push(onceCloser(() => part.close?.(), (e) => stepError("TransactionalSinkPartition.close", step.stepId, e)))
      return part
    })
  }

  /** Epoch `epoch` closes on this thread's workers: each transactional sink partition prepares its output. Whether any changed. */
  protected prepareTransactional(epoch: number): boolean {
    let changed = false
    for (const tx of this.txSinks) {
      tx.prepare(epoch)
      if (tx.changed) changed = true
    }
    return changed
  }

  /** Every worker committed every epoch up to `epoch`: transactional sinks publish it. */
  protected publishCommitted(epoch: number): void {
    for (const tx of this.txSinks) tx.committed(epoch)
  }

  private buildFixedSink(step: PlannedStep, sink: FixedPartitionedSink<unknown, unknown>) {
    const engine = this
    const stepId = step.stepId
    return Effect.gen(function*() {
      const listed = yield* callMaybeAsync<ReadonlyArray<string>>(
        () => sink.listParts(),
        (e) => stepError("FixedPartitionedSink.listParts", stepId, e)
      )
      const names = Array.from(new Set(Array.from(listed, String))).sort(naturalCompare)
      if (names.length === 0) {
        return yield* Effect.fail(stepError("FixedPartitionedSink.listParts", stepId, new Error("the sink listed no partitions")))
      }
      const resume = yield* engine.loadStates(stepId)
      const slots = names.map((name, i) =>
        new SinkPartitionSlot(name, new SerialWriter(engine.pending), resume.get(name), partitionOwner(i, engine.workerCount))
      )
      const out = new PartitionedOutputStep(stepId, sink, slots)
      for (const slot of slots) {
        if (engine.byIndex[slot.owner] === undefined) continue
        if (resume.has(slot.name)) out.open(slot)
        engine.closers.push(onceCloser(
          () => (slot.part === undefined ? undefined : slot.part.close?.()),
          (e) => stepError("StatefulSinkPartition.close", stepId, e, ` for partition '${slot.name}'`)
        ))
      }
      engine.sinkSteps.push(out)
      return out
    })
  }

  /**
   * Build and restore (`build`, then `restoreState`) on the run's clock, and
   * close everything when the scope closes — on failure or interruption too
   * (close errors are secondary then).
   */
  protected buildRestored(ownerOf: (key: string) => number): Effect.Effect<void, WeirRuntimeError | WeirRecoveryError, Scope.Scope> {
    const engine = this
    return Effect.gen(function*() {
      yield* Effect.addFinalizer(() => Effect.ignore(engine.closeAll()))
      const prev = setActiveClock(engine.wiring.clock)
      try {
        yield* engine.build()
        yield* engine.restoreState(ownerOf)
      } finally {
        setActiveClock(prev)
      }
    })
  }

  /** Restore the keyed state of every stateful step, each key into the step of the worker owning it. */
  protected restoreState(ownerOf: (key: string) => number): Effect.Effect<void, WeirRuntimeError | WeirRecoveryError> {
    const engine = this
    return Effect.gen(function*() {
      if (!engine.wiring.tracking) return
      for (const step of engine.plan.steps) {
        if (step.kernel.kind !== "statefulBatch") continue
        const states = yield* engine.loadStates(step.stepId)
        engine.restored(step.stepId, states.size)
        yield* Effect.try({
          try: () => {
            for (const [key, state] of states) {
              ;(engine.byIndex[ownerOf(key)]!.steps[step.index] as StatefulStep).restore(key, state)
            }
          },
          catch: (e) => (e instanceof WeirRuntimeError ? e : stepError("builder", step.stepId, e))
        })
      }
    })
  }

  /** Told how many keys of a stateful step were restored. */
  protected restored(_stepId: string, _count: number): void {}

  protected wake(): void {
    const w = this.wakeUp
    if (w !== undefined) {
      this.wakeUp = undefined
      w()
    }
  }

  /** Whether something may call `wake` while the loop sleeps (else a sleep is only a timer). */
  protected abstract mayWake(): boolean

  private lastYield = Date.now()

  /**
   * A turn found nothing to do: sleep until `due` (a time on the run's clock;
   * infinity: nothing is due) or until `wake` is called, whichever is first —
   * at least the idle cooldown, so a zero epoch interval never spins while a
   * batch is in flight, and at most a while when nothing is due.
   */
  protected idleUntil(due: number): Effect.Effect<void> {
    const clock = this.wiring.clock
    const ms = due === Infinity ? IDLE_MAX_WAIT_MS : Math.max(due - clock.now(), IDLE_COOLDOWN_MS)
    const sleep = Effect.andThen(clock.sleep(ms), Effect.sync(() => (this.lastYield = Date.now())))
    if (!this.mayWake()) return sleep
    const woken = Effect.callback<void>((resume) => {
      this.wakeUp = () => resume(Effect.void)
      return Effect.sync(() => {
        this.wakeUp = undefined
      })
    })
    return Effect.raceFirst(sleep, Effect.andThen(woken, Effect.sync(() => (this.lastYield = Date.now()))))
  }

  /** Whether a busy loop is due to give the event loop a turn ({@link yieldIfDue} would yield). */
  protected yieldDue(): boolean {
    return Date.now() - this.lastYield >= YIELD_EVERY_MS
  }

  /** A busy loop gives the event loop (signals, I/O callbacks, messages) a turn this often. */
  protected yieldIfDue(): Effect.Effect<void> {
    if (!this.yieldDue()) return Effect.void
    return Effect.promise(() =>
      new Promise<void>((resolve) =>
        setImmediate(() => {
          this.lastYield = Date.now()
          resolve()
        })
      )
    )
  }

  /**
   * Poll every due input partition (each batch flows synchronously through
   * the steps). `moved`: a batch came in or a partition ended; `busy`: a
   * batch had items; `live`: partitions that have not ended.
   */
  protected pollInputs(now: number): "abort" | { readonly moved: boolean; readonly busy: boolean; readonly live: number } {
    let moved = false
    let busy = false
    let live = 0
    for (const p of this.partitions) {
      if (p.ended) continue
      const outcome = p.poll(now)
      switch (outcome.kind) {
        case "abort":
          return "abort"
        case "eof":
          moved = true
          this.endedNow.push(p)
          break
        case "items":
          live++
          if (outcome.count > 0) {
            moved = true
            busy = true
          }
          break
        case "waiting":
          live++
      }
    }
    return { moved, busy, live }
  }

  /**
   * A partition's first asynchronous batch is in flight: the epoch closes
   * only once it has been delivered (its arrival wakes the loop), so that no
   * commit records a position past items that have not entered the dataflow.
   */
  protected epochHeld(): boolean {
    if (!this.wiring.tracking) return false
    for (const p of this.partitions) if (p.holdsEpoch) return true
    return false
  }

  /** The partitioned sink step `step` is, if it is one (its exchange routes to the partitions' owners). */
  protected sinkStepAt(step: number): PartitionedOutputStep | undefined {
    return this.plan.steps[step]!.exchange === "partition"
      ? this.sinkSteps.find((s) => s.stepId === this.plan.steps[step]!.stepId)
      : undefined
  }

  protected drainWrites(): Effect.Effect<void, WeirRuntimeError> {
    return Effect.tryPromise({
      try: () => {
        const drained = this.pending.drain()
        // Interrupted while waiting (the run failing elsewhere), nobody awaits it any more: its failure is no news.
        drained.catch(() => {})
        return drained
      },
      catch: asRuntimeError
    })
  }

  /** Close the partitions that ended in the last turn. */
  protected closeEnded(): Effect.Effect<void, WeirRuntimeError> {
    if (this.endedNow.length === 0) return Effect.void
    return Effect.forEach(this.endedNow.splice(0), (p) => this.partitionClosers.get(p)!(), { discard: true })
  }

  /** Close every partition still open (each once), in the order they were opened. */
  protected closeAll(): Effect.Effect<void, WeirRuntimeError> {
    const closers = this.closers.splice(0)
    return Effect.forEach(closers, (close) => close(), { discard: true })
  }

  /** The state of every partition this thread's workers own of sink `sink`, as [worker, name, state]. */
  protected sinkSnapshots(sink: PartitionedOutputStep, f: (worker: number, name: string, state: unknown) => void): void {
    for (const slot of sink.slots) {
      slot.written = false
      if (slot.part === undefined || this.byIndex[slot.owner] === undefined) continue
      let state: unknown
      try {
        state = slot.part.snapshot()
      } catch (e) {
        throw stepError("StatefulSinkPartition.snapshot", sink.stepId, e, ` for partition '${slot.name}'`)
      }
      checkSnapshot(sink.stepId, `partition '${slot.name}'`, state)
      f(slot.owner, slot.name, state)
    }
  }
}

/** Call `onNotify` of every due key, grouped by step. */
export const notifyGrouped = (due: ReadonlyArray<KeyState>, each?: (step: StatefulStep) => void): void => {
  const byStep = new Map<StatefulStep, Array<KeyState>>()
  for (const st of due) {
    let list = byStep.get(st.step)
    if (list === undefined) byStep.set(st.step, (list = []))
    list.push(st)
  }
  for (const [step, list] of byStep) {
    each?.(step)
    step.notify(list)
  }
}

export const asRuntimeError = (e: unknown): WeirRuntimeError =>
  e instanceof WeirRuntimeError
    ? e
    : new WeirRuntimeError({ message: `dataflow failed: ${e instanceof Error ? e.message : String(e)}`, cause: e })


/** Call a method that may return a value, a Promise or an Effect. */
export const callMaybeAsync = <A>(f: () => unknown, wrap: (e: unknown) => WeirRuntimeError): Effect.Effect<A, WeirRuntimeError> =>
  Effect.suspend(() => {
    let r: unknown
    try {
      r = f()
    } catch (e) {
      return Effect.fail(wrap(e))
    }
    return isAsync(r) ? toEffect<A>(r, wrap) : Effect.succeed(r as A)
  })

const onceCloser = (close: () => unknown, wrap: (e: unknown) => WeirRuntimeError) => {
  let closed = false
  return (): Effect.Effect<void, WeirRuntimeError> => {
    if (closed) return Effect.void
    closed = true
    return Effect.asVoid(callMaybeAsync<unknown>(close, wrap))
  }
}
