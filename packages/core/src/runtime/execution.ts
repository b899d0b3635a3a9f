/**
 * Execution: the workers of this process running one plan. Every worker has
 * its own copy of each step; items cross workers only at the plan's exchange
 * points (before stateful steps, at `redistribute`, into partitioned sinks).
 * Workers of one process run interleaved on one fiber, in lockstep epochs.
 *
 * The loop, per turn: fire due timers, poll due input partitions (each batch
 * flows synchronously through the steps to the sinks), close the epoch when
 * its interval has passed, and sleep until something is due when idle.
 */
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type * as Scope from "effect/Scope"
import { typeName } from "../Dataflow.js"
import type { WeirRecoveryError } from "../errors.js"
import { WeirRuntimeError } from "../errors.js"
import type { DynamicSource, FixedPartitionedSource, StatefulSourcePartition, StatelessSourcePartition } from "../inputs.js"
import { stableHash } from "../internal/hash.js"
import type { DynamicSink, FixedPartitionedSink, StatelessSinkPartition } from "../outputs.js"
import type { ItemStage } from "../internal/kernel.js"
import { isAsync, stepError, toEffect } from "./async.js"
import { FusedStep, fusableChains } from "./fusion.js"
import { nowMillis, setActiveClock, type WeirClock } from "./clock.js"
import type { Plan, PlannedStep } from "./plan.js"
import type { RecoveryStore, StepSnapshots } from "./recovery.js"
import { DynamicOutputStep, naturalCompare, PartitionedOutputStep, PendingWrites, SerialWriter, SinkPartitionSlot } from "./sinks.js"
import { findUncloneable } from "./snapshotCheck.js"
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
  type WorkerView
} from "./steps.js"
import { TimerHeap } from "./timers.js"

export interface ExecutionConfig {
  readonly clock: WeirClock
  readonly epochIntervalMs: number
  readonly workerCount: number
  /** The opened recovery store, or none without recovery. */
  readonly store: RecoveryStore | undefined
}

/** Writes in flight above this make the loop wait before polling again. */
const MAX_WRITES_IN_FLIGHT = 8
/** Give the event loop (signals, I/O callbacks) a turn at least this often while busy. */
const YIELD_EVERY_MS = 20

/** How long the loop sleeps at least when a turn found nothing to do. */
const IDLE_COOLDOWN_MS = 1

/** How long an idle loop waits at most while an epoch is held for a batch in flight (its arrival wakes it sooner). */
const HELD_EPOCH_WAIT_MS = 50

type Turn = "busy" | "idle" | "closeEpoch" | "finish" | "abort"

class Worker implements WorkerView {
  readonly steps: Array<RuntimeStep | undefined> = []
  /** For each stream: push a batch to its consumers on this worker (after exchange). */
  readonly emitters: Array<Emit> = []
  constructor(readonly workerIndex: number, private readonly execution: Execution) {}
  get epoch(): number {
    return this.execution.epoch
  }
}

export class Execution {
  epoch: number
  private readonly workers: Array<Worker> = []
  private readonly partitions: Array<InputPartition> = []
  private readonly timers = new TimerHeap<KeyState>()
  private readonly pending = new PendingWrites()
  private readonly sinkSteps: Array<PartitionedOutputStep> = []
  private readonly closers: Array<() => Effect.Effect<void, WeirRuntimeError>> = []
  private readonly partitionClosers = new Map<InputPartition, () => Effect.Effect<void, WeirRuntimeError>>()
  /** Partitions that ended in the last turn, to close right away. */
  private readonly endedNow: Array<InputPartition> = []
  private epochStartedAt = 0
  /** Something happened in this epoch that a snapshot must record. */
  private dirty = false
  private lastTurnBusy = false
  private wakeUp: (() => void) | undefined = undefined
  private spreadCounter = 0
  /** The previous epoch's commit, while the store writes it (see `awaitCommit`). */
  private inFlightCommit: Fiber.Fiber<void, WeirRecoveryError> | undefined = undefined
  /** Per stateful step id: snapshots stored since its last full one (see `takesFull`). */
  private readonly loggedSinceFull = new Map<string, number>()

  private constructor(private readonly plan: Plan, private readonly config: ExecutionConfig) {
    this.epoch = config.store?.resume.epoch ?? 1
    for (let w = 0; w < config.workerCount; w++) this.workers.push(new Worker(w, this))
  }

  private get tracking(): boolean {
    return this.config.store !== undefined
  }

  /** Build every step and partition, restoring state from the store. Resources close with the scope. */
  static make(plan: Plan, config: ExecutionConfig): Effect.Effect<Execution, WeirRuntimeError | WeirRecoveryError, Scope.Scope> {
    return Effect.gen(function*() {
      const ex = new Execution(plan, config)
      // On failure or interruption, still release everything (close errors are secondary then).
      yield* Effect.addFinalizer(() => Effect.ignore(ex.closeAll()))
      const prev = setActiveClock(config.clock)
      try {
        for (const step of plan.steps) yield* ex.buildStep(step)
        ex.fuseChains()
        ex.wireEmitters()
        yield* ex.restoreState()
      } finally {
        setActiveClock(prev)
      }
      const now = config.clock.now()
      for (const p of ex.partitions) p.start(now)
      ex.epochStartedAt = now
      return ex
    })
  }

  private buildStep(step: PlannedStep): Effect.Effect<void, WeirRuntimeError | WeirRecoveryError> {
    const ex = this
    const k = step.kernel
    const emitFor = (w: Worker, port: number): Emit => {
      const out = step.outputs[port]
      if (out === undefined || this.plan.consumers[out.stream]!.length === 0) return () => {}
      const s = out.stream
      return (batch) => w.emitters[s]!(batch)
    }
    return Effect.gen(function*() {
      switch (k.kind) {
        case "input": {
          if (isFixedSource(k.source)) yield* ex.buildFixedSource(step, k.source)
          else yield* ex.buildDynamicSource(step, k.source as DynamicSource<unknown>)
          for (const w of ex.workers) w.steps.push(undefined)
          return
        }
        case "output": {
          if (isFixedSink(k.sink)) {
            const shared = yield* ex.buildFixedSink(step, k.sink)
            for (const w of ex.workers) w.steps.push(shared)
          } else {
            for (const w of ex.workers) {
              const part = yield* ex.buildDynamicSink(step, k.sink as DynamicSink<unknown>, w.workerIndex)
              w.steps.push(new DynamicOutputStep(step.stepId, part, ex.pending))
            }
          }
          return
        }
        case "flatMapBatch":
          for (const w of ex.workers) w.steps.push(new FlatMapBatchStep(step.stepId, k.mapper, emitFor(w, 0)))
          return
        case "branch":
          for (const w of ex.workers) {
            w.steps.push(new BranchStep(step.stepId, k.predicate, emitFor(w, 0), emitFor(w, 1)))
          }
          return
        case "merge":
        case "redistribute":
          for (const w of ex.workers) w.steps.push(new PassThroughStep(step.stepId, emitFor(w, 0)))
          return
        case "inspectDebug":
          for (const w of ex.workers) w.steps.push(new InspectDebugStep(step.stepId, k.inspector, w, emitFor(w, 0)))
          return
        case "statefulBatch":
          for (const w of ex.workers) {
            w.steps.push(new StatefulStep(step.stepId, k.builder, ex.timers, ex.tracking, emitFor(w, 0)))
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
      for (const w of this.workers) {
        const s = tail.outputs[0]!.stream
        const emit: Emit = this.plan.consumers[s]!.length === 0 ? () => {} : (batch) => w.emitters[s]!(batch)
        w.steps[chain[0]!] = new FusedStep(ids[0]!, stages, ids, emit)
      }
    }
  }

  /** Connect each stream to its consumers, through the exchange its consumer needs. */
  private wireEmitters(): void {
    const n = this.workers.length
    for (const w of this.workers) {
      for (let s = 0; s < this.plan.consumers.length; s++) {
        const targets: Array<Emit> = this.plan.consumers[s]!.map(({ step, port }) => {
          const exchange = this.plan.steps[step]!.exchange
          if (n === 1 || exchange === "none") {
            const target = w.steps[step]!
            return (batch: Array<unknown>) => target.push(port, batch)
          }
          const owners = this.workers.map((o) => o.steps[step]!)
          if (exchange === "key") return (batch: Array<unknown>) => routeByKey(owners, port, batch)
          return (batch: Array<unknown>) => {
            for (let i = 0; i < batch.length; i++) owners[this.spreadCounter++ % n]!.push(port, [batch[i]])
          }
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

  private emitterOf(step: PlannedStep, worker: number): Emit {
    const s = step.outputs[0]!.stream
    const w = this.workers[worker]!
    if (this.plan.consumers[s]!.length === 0) return () => {}
    return (batch) => w.emitters[s]!(batch)
  }

  private buildFixedSource(step: PlannedStep, source: FixedPartitionedSource<unknown, unknown>) {
    const ex = this
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
      const resume = yield* ex.loadStates(stepId)
      for (let i = 0; i < names.length; i++) {
        const name = names[i]!
        const worker = i % ex.workers.length
        const part = yield* callMaybeAsync<StatefulSourcePartition<unknown, unknown>>(
          () => source.buildPart(stepId, name, resume.get(name)),
          (e) => stepError("FixedPartitionedSource.buildPart", stepId, e, ` for partition '${name}'`)
        )
        ex.addPartition(new InputPartition(stepId, name, part, true, worker, ex.emitterOf(step, worker), () => ex.wake()))
      }
    })
  }

  private buildDynamicSource(step: PlannedStep, source: DynamicSource<unknown>) {
    const ex = this
    const stepId = step.stepId
    return Effect.gen(function*() {
      for (const w of ex.workers) {
        const part = yield* callMaybeAsync<StatelessSourcePartition<unknown>>(
          () => source.build(stepId, w.workerIndex, ex.workers.length),
          (e) => stepError("DynamicSource.build", stepId, e)
        )
        ex.addPartition(
          new InputPartition(stepId, `worker ${w.workerIndex}`, part, false, w.workerIndex, ex.emitterOf(step, w.workerIndex), () => ex.wake())
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
    const ex = this
    return Effect.gen(function*() {
      const part = yield* callMaybeAsync<StatelessSinkPartition<unknown>>(
        () => sink.build(step.stepId, workerIndex, ex.workers.length),
        (e) => stepError("DynamicSink.build", step.stepId, e)
      )
      ex.closers.push(onceCloser(() => part.close?.(), (e) => stepError("StatelessSinkPartition.close", step.stepId, e)))
      return part
    })
  }

  private buildFixedSink(step: PlannedStep, sink: FixedPartitionedSink<unknown, unknown>) {
    const ex = this
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
      const resume = yield* ex.loadStates(stepId)
      const slots = names.map((name) => new SinkPartitionSlot(name, new SerialWriter(ex.pending), resume.get(name)))
      const out = new PartitionedOutputStep(stepId, sink, slots)
      for (const slot of slots) {
        if (resume.has(slot.name)) out.open(slot)
        ex.closers.push(onceCloser(
          () => (slot.part === undefined ? undefined : slot.part.close?.()),
          (e) => stepError("StatefulSinkPartition.close", stepId, e, ` for partition '${slot.name}'`)
        ))
      }
      ex.sinkSteps.push(out)
      return out
    })
  }

  private loadStates(stepId: string): Effect.Effect<Map<string, unknown>, WeirRecoveryError> {
    const store = this.config.store
    if (store === undefined) return Effect.succeed(new Map())
    return Effect.map(store.loadStates(stepId), (rows) => new Map(rows))
  }

  private restoreState(): Effect.Effect<void, WeirRuntimeError | WeirRecoveryError> {
    const ex = this
    return Effect.gen(function*() {
      if (ex.config.store === undefined) return
      for (const step of ex.plan.steps) {
        if (step.kernel.kind !== "statefulBatch") continue
        const states = yield* ex.loadStates(step.stepId)
        ex.loggedSinceFull.set(step.stepId, states.size)
        const n = ex.workers.length
        yield* Effect.try({
          try: () => {
            for (const [key, state] of states) {
              const owner = n === 1 ? 0 : stableHash(key) % n
              ;(ex.workers[owner]!.steps[step.index] as StatefulStep).restore(key, state)
            }
          },
          catch: (e) => (e instanceof WeirRuntimeError ? e : stepError("builder", step.stepId, e))
        })
      }
    })
  }

  private wake(): void {
    const w = this.wakeUp
    if (w !== undefined) {
      this.wakeUp = undefined
      w()
    }
  }

  /** One turn of the loop: timers, then every due partition. Synchronous. */
  private turn(now: number): Turn {
    this.pending.check()
    let busy = false
    const due = this.timers.takeDue(now)
    if (due.length > 0) {
      busy = true
      this.dirty = true
      notifyGrouped(due)
    }
    let live = 0
    for (const p of this.partitions) {
      if (p.ended) continue
      const outcome = p.poll(now)
      switch (outcome.kind) {
        case "abort":
          return "abort"
        case "eof":
          this.dirty = true
          this.endedNow.push(p)
          break
        case "items":
          live++
          if (outcome.count > 0) {
            busy = true
            this.dirty = true
          }
          break
        case "waiting":
          live++
      }
    }
    if (live === 0) return "finish"
    this.lastTurnBusy = busy
    if (now - this.epochStartedAt >= this.config.epochIntervalMs && !this.epochHeld()) return "closeEpoch"
    return busy ? "busy" : "idle"
  }

  /**
   * A partition's first asynchronous batch is in flight: the epoch closes
   * only once it has been delivered (its arrival wakes the loop), so that no
   * commit records a position past items that have not entered the dataflow.
   */
  private epochHeld(): boolean {
    if (!this.tracking) return false
    for (const p of this.partitions) if (p.holdsEpoch) return true
    return false
  }

  /** When the loop next has something to do. */
  private nextDue(): number {
    let at = this.epochHeld() ? Infinity : this.epochStartedAt + this.config.epochIntervalMs
    for (const p of this.partitions) {
      if (!p.ended && !p.waiting && p.awake < at) at = p.awake
    }
    const t = this.timers.nextAt()
    return t < at ? t : at
  }

  /** Run until every input has ended (or an abort). */
  loop(): Effect.Effect<void, WeirRuntimeError | WeirRecoveryError> {
    const ex = this
    const clock = this.config.clock
    return Effect.gen(function*() {
      let lastYield = Date.now()
      for (;;) {
        const prev = setActiveClock(clock)
        let turn: Turn
        try {
          turn = yield* Effect.try({ try: () => ex.turn(nowMillis()), catch: asRuntimeError })
        } finally {
          setActiveClock(prev)
        }
        if (turn === "abort") {
          // The commit already issued stands, as it would have had the abort come a moment later.
          yield* ex.awaitCommit()
          return
        }
        if (ex.endedNow.length > 0) {
          yield* Effect.forEach(ex.endedNow.splice(0), (p) => ex.partitionClosers.get(p)!(), { discard: true })
        }
        if (turn === "finish") {
          yield* ex.finish()
          return
        }
        if (ex.pending.size >= MAX_WRITES_IN_FLIGHT) yield* ex.drainWrites()
        if (turn === "closeEpoch") yield* ex.closeEpoch()
        if (!ex.lastTurnBusy) {
          // Nothing to do: sleep until a partition, timer or epoch is due, or an
          // asynchronous batch arrives — at least the 1 ms idle cooldown, so that a
          // zero epoch interval never spins while a source's batch is in flight.
          const due = ex.nextDue()
          const wait = due === Infinity ? HELD_EPOCH_WAIT_MS : Math.max(due - clock.now(), IDLE_COOLDOWN_MS)
          yield* ex.sleep(wait)
          lastYield = Date.now()
          continue
        }
        if (Date.now() - lastYield >= YIELD_EVERY_MS) {
          yield* Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))
          lastYield = Date.now()
        }
      }
    })
  }

  /** Sleep until `ms` pass or an asynchronous batch arrives, whichever is first. */
  private sleep(ms: number): Effect.Effect<void> {
    if (!this.partitions.some((p) => p.waiting)) return this.config.clock.sleep(ms)
    const arrived = Effect.callback<void>((resume) => {
      this.wakeUp = () => resume(Effect.void)
      return Effect.sync(() => {
        this.wakeUp = undefined
      })
    })
    return Effect.raceFirst(this.config.clock.sleep(ms), arrived)
  }

  private drainWrites(): Effect.Effect<void, WeirRuntimeError> {
    return Effect.tryPromise({ try: () => this.pending.drain(), catch: asRuntimeError })
  }

  /** Close the current epoch: wait for writes, snapshot what changed, commit, advance. */
  private closeEpoch(): Effect.Effect<void, WeirRuntimeError | WeirRecoveryError> {
    const ex = this
    return Effect.gen(function*() {
      yield* ex.drainWrites()
      const store = ex.config.store
      if (ex.dirty && store !== undefined) {
        if (store.pipelined === true) {
          yield* ex.awaitCommit()
          // Snapshots now, at the epoch boundary; the store writes them while the next epoch runs.
          const snapshots = yield* ex.takeSnapshots()
          ex.inFlightCommit = yield* Effect.forkChild(ex.write(ex.epoch, snapshots))
        } else {
          yield* ex.commit(ex.epoch)
        }
      }
      ex.dirty = false
      ex.epoch++
      ex.epochStartedAt = ex.config.clock.now()
    })
  }

  /**
   * Wait for the commit of the previous epoch, if it is still being written,
   * and fail with its error if it failed. Epoch commits are pipelined: an
   * epoch's snapshots are taken when it closes, and written while the next
   * epoch runs; the next close (or the end) waits for the write first, so a
   * commit never overtakes the one before it.
   */
  private awaitCommit(): Effect.Effect<void, WeirRuntimeError | WeirRecoveryError> {
    const fiber = this.inFlightCommit
    if (fiber === undefined) return Effect.void
    this.inFlightCommit = undefined
    return Fiber.join(fiber)
  }

  /** Snapshot, synchronously, everything that changed in the epoch. */
  private takeSnapshots(): Effect.Effect<Array<Array<StepSnapshots>>, WeirRuntimeError> {
    return Effect.suspend(() => {
      const prev = setActiveClock(this.config.clock)
      try {
        return Effect.try({ try: () => this.snapshots(), catch: asRuntimeError })
      } finally {
        setActiveClock(prev)
      }
    })
  }

  /** Write each worker's snapshots of `epoch` to the store, in worker order. */
  private write(epoch: number, perWorker: Array<Array<StepSnapshots>>): Effect.Effect<void, WeirRecoveryError> {
    const store = this.config.store!
    return Effect.gen(function*() {
      for (let w = 0; w < perWorker.length; w++) {
        yield* store.commit({ worker: w, epoch, frontier: epoch + 1, steps: perWorker[w]! })
      }
    })
  }

  /** Snapshot and write `epoch`, waiting for the write (the last commit of a run). */
  private commit(epoch: number): Effect.Effect<void, WeirRuntimeError | WeirRecoveryError> {
    const ex = this
    return Effect.gen(function*() {
      yield* ex.awaitCommit()
      const snapshots = yield* ex.takeSnapshots()
      yield* ex.write(epoch, snapshots)
    })
  }

  /**
   * Whether stateful step `index` writes a full snapshot at this epoch close:
   * once the snapshots stored since its last full one would reach twice the
   * keys it holds. The store then drops everything older of the step, so it
   * keeps at most about twice the live state, and each key is written at most
   * about twice per change: the cost of a commit follows the keys that
   * changed, never the history. Decided for all workers of the step at once.
   */
  private takesFull(index: number, stepId: string): boolean | undefined {
    let changed = 0
    let live = 0
    for (const w of this.workers) {
      const step = w.steps[index] as StatefulStep
      changed += step.changedCount
      live += step.liveCount
    }
    if (changed === 0) return undefined
    const logged = (this.loggedSinceFull.get(stepId) ?? 0) + changed
    const full = logged >= 2 * live
    this.loggedSinceFull.set(stepId, full ? live : logged)
    return full
  }

  private snapshots(): Array<Array<StepSnapshots>> {
    const n = this.workers.length
    const perWorker: Array<Array<StepSnapshots>> = this.workers.map(() => [])
    const add = (worker: number, stepId: string, full: boolean): StepSnapshots => {
      const snaps = { stepId, full, keys: [] as Array<string>, states: [] as Array<unknown> }
      perWorker[worker]!.push(snaps)
      return snaps
    }
    // Partitioned sources and sinks have few keys (their partitions): when one moved, all are written, in full.
    const byWorkerStep = new Map<string, StepSnapshots>()
    const addPartition = (worker: number, stepId: string, name: string, state: unknown): void => {
      checkSnapshot(stepId, `partition '${name}'`, state)
      const at = `${worker}\u0000${stepId}`
      let snaps = byWorkerStep.get(at)
      if (snaps === undefined) byWorkerStep.set(at, (snaps = add(worker, stepId, true)))
      ;(snaps.keys as Array<string>).push(name)
      ;(snaps.states as Array<unknown>).push(state)
    }
    const movedSources = new Set<string>()
    for (const p of this.partitions) if (p.fixed && p.touched) movedSources.add(p.stepId)
    for (const p of this.partitions) {
      if (!p.fixed || !movedSources.has(p.stepId)) continue
      p.touched = false
      addPartition(p.worker, p.stepId, p.name, p.snapshot())
    }
    for (const planned of this.plan.steps) {
      if (planned.kernel.kind !== "statefulBatch") continue
      const full = this.takesFull(planned.index, planned.stepId)
      if (full === undefined) continue
      for (const w of this.workers) {
        const step = w.steps[planned.index] as StatefulStep
        if (!full && step.changedCount === 0) continue
        const snaps = add(w.workerIndex, planned.stepId, full)
        const keys = snaps.keys as Array<string>
        const states = snaps.states as Array<unknown>
        step.takeSnapshots(full, keys, states)
        for (let i = 0; i < states.length; i++) {
          const state = states[i]
          if (typeof state === "object" && state !== null) checkSnapshot(planned.stepId, `key '${keys[i]}'`, state)
        }
        if (keys.length === 0 && !full) perWorker[w.workerIndex]!.pop()
      }
    }
    for (const sink of this.sinkSteps) {
      if (!sink.slots.some((slot) => slot.written)) continue
      sink.slots.forEach((slot, i) => {
        slot.written = false
        if (slot.part === undefined) return
        let state: unknown
        try {
          state = slot.part.snapshot()
        } catch (e) {
          throw stepError("StatefulSinkPartition.snapshot", sink.stepId, e, ` for partition '${slot.name}'`)
        }
        addPartition(i % n, sink.stepId, slot.name, state)
      })
    }
    return perWorker
  }

  /** Every input ended: end-of-input through the steps, flush, final commit, close. */
  private finish(): Effect.Effect<void, WeirRuntimeError | WeirRecoveryError> {
    const ex = this
    return Effect.gen(function*() {
      const prev = setActiveClock(ex.config.clock)
      try {
        yield* Effect.try({
          try: () => {
            for (let i = 0; i < ex.plan.steps.length; i++) {
              for (const w of ex.workers) w.steps[i]?.eof()
            }
          },
          catch: asRuntimeError
        })
      } finally {
        setActiveClock(prev)
      }
      yield* ex.drainWrites()
      if (ex.config.store !== undefined) yield* ex.commit(ex.epoch)
      yield* ex.closeAll()
    })
  }

  /** Close every partition still open (each once), in the order they were opened. */
  private closeAll(): Effect.Effect<void, WeirRuntimeError> {
    const closers = this.closers.splice(0)
    return Effect.forEach(closers, (close) => close(), { discard: true })
  }
}

/** Refuse a snapshot that a store would bring back without its prototype (see snapshotCheck.ts). */
const checkSnapshot = (stepId: string, of: string, state: unknown): void => {
  const found = findUncloneable(state)
  if (found === undefined) return
  throw new WeirRuntimeError({
    message: `can't snapshot the state of ${of} in step '${stepId}': it holds a \`${found.type}\` instance at \`${found.path}\`, ` +
      "and a recovery store keeps only plain data (objects, arrays, Map, Set, Date, bigint, typed arrays), so it would come back " +
      "without its class and methods. Keep plain data in the state (rebuild the instance from it when the step resumes), " +
      "or convert it in the logic's `snapshot()`",
    stepId
  })
}

const routeByKey = (owners: ReadonlyArray<RuntimeStep>, port: number, batch: Array<unknown>): void => {
  const n = owners.length
  const parts: Array<Array<unknown> | undefined> = new Array(n)
  for (let i = 0; i < batch.length; i++) {
    const item = batch[i] as readonly [unknown, unknown]
    // Items with a bad shape go to worker 0, whose step reports the error.
    const key = Array.isArray(item) && typeof item[0] === "string" ? item[0] : ""
    ;(parts[stableHash(key) % n] ??= []).push(item)
  }
  for (let w = 0; w < n; w++) {
    const part = parts[w]
    if (part !== undefined) owners[w]!.push(port, part)
  }
}

const notifyGrouped = (due: ReadonlyArray<KeyState>): void => {
  const byStep = new Map<StatefulStep, Array<KeyState>>()
  for (const st of due) {
    let list = byStep.get(st.step)
    if (list === undefined) byStep.set(st.step, (list = []))
    list.push(st)
  }
  for (const [step, list] of byStep) step.notify(list)
}

const asRuntimeError = (e: unknown): WeirRuntimeError =>
  e instanceof WeirRuntimeError
    ? e
    : new WeirRuntimeError({ message: `dataflow failed: ${e instanceof Error ? e.message : String(e)}`, cause: e })

const isFixedSource = (s: unknown): s is FixedPartitionedSource<unknown, unknown> =>
  typeof (s as { listParts?: unknown }).listParts === "function" && typeof (s as { buildPart?: unknown }).buildPart === "function"

const isFixedSink = (s: unknown): s is FixedPartitionedSink<unknown, unknown> =>
  typeof (s as { listParts?: unknown }).listParts === "function" && typeof (s as { buildPart?: unknown }).buildPart === "function"

/** Call a method that may return a value, a Promise or an Effect. */
const callMaybeAsync = <A>(f: () => unknown, wrap: (e: unknown) => WeirRuntimeError): Effect.Effect<A, WeirRuntimeError> =>
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
