/**
 * The interleaved execution: every worker of the run on this thread, on one
 * fiber, in lockstep epochs. Each worker has its own copy of each step
 * (`wiring.ts`); items cross workers at the plan's exchange points by a
 * function call, so in-memory sources and sinks (`TestingSink`) work with
 * any number of workers. The threaded execution (`threads/`) runs one worker
 * per thread instead.
 *
 * The loop, per turn: fire due timers, poll due input partitions (each batch
 * flows synchronously through the steps to the sinks), close the epoch when
 * its interval has passed, and sleep until something is due when idle.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type * as Scope from "effect/Scope"
import type { WeirRecoveryError, WeirRuntimeError } from "../errors.js"
import { nowMillis, setActiveClock } from "./clock.js"
import { routerFor, splitBatch } from "./exchange.js"
import { commitSeconds } from "./metrics.js"
import type { RunObserver } from "./observability.js"
import type { Exchange, Plan } from "./plan.js"
import type { RecoveryStore, StepSnapshots } from "./recovery.js"
import { ownerOf } from "./routing.js"
import type { Emit, StatefulStep } from "./steps.js"
import {
  asRuntimeError,
  Engine,
  environmentOf,
  MAX_SYNC_TURNS,
  MAX_WRITES_IN_FLIGHT,
  notifyGrouped,
  type RunEnvironment,
  type Worker
} from "./wiring.js"
import { checkSnapshot } from "./snapshotCheck.js"

export interface ExecutionConfig extends RunEnvironment {
  readonly epochIntervalMs: number
  readonly workerCount: number
  /** The opened recovery store, or none without recovery. */
  readonly store: RecoveryStore | undefined
  readonly observe: RunObserver | undefined
}

type Turn = "busy" | "idle" | "closeEpoch" | "finish" | "abort"

export class Execution extends Engine {
  epoch: number
  private epochStartedAt = 0
  /** Something happened in this epoch that a snapshot must record. */
  private dirty = false
  private lastTurnBusy = false
  /** The previous epoch's commit, while the store writes it (see `awaitCommit`). */
  private inFlightCommit: Fiber.Fiber<void, WeirRecoveryError> | undefined = undefined
  /** Per stateful step id: snapshots stored since its last full one (see `takesFull`). */
  private readonly loggedSinceFull = new Map<string, number>()

  private constructor(plan: Plan, private readonly config: ExecutionConfig) {
    super(plan, {
      ...environmentOf(config),
      workerCount: config.workerCount,
      localWorkers: Array.from({ length: config.workerCount }, (_, w) => w),
      tracking: config.store !== undefined
    })
    this.epoch = config.store?.resume.epoch ?? 1
  }

  get currentEpoch(): number {
    return this.epoch
  }

  /** Build every step and partition, restoring state from the store. Resources close with the scope. */
  static make(plan: Plan, config: ExecutionConfig): Effect.Effect<Execution, WeirRuntimeError | WeirRecoveryError, Scope.Scope> {
    return Effect.gen(function*() {
      const ex = new Execution(plan, config)
      yield* ex.buildRestored((key) => ownerOf(key, config.workerCount))
      const now = config.clock.now()
      for (const p of ex.partitions) p.start(now)
      ex.epochStartedAt = now
      ex.nextEpochSpan(ex.epoch)
      return ex
    })
  }

  protected loadStates(stepId: string): Effect.Effect<Map<string, unknown>, WeirRecoveryError> {
    const store = this.config.store
    if (store === undefined) return Effect.succeed(new Map())
    return Effect.map(store.loadStates(stepId), (rows) => new Map(rows))
  }

  protected override restored(stepId: string, count: number): void {
    this.loggedSinceFull.set(stepId, count)
  }

  /** Every worker is on this thread: an exchange is a call into the owner's step. */
  protected exchangeEmitter(w: Worker, step: number, port: number, exchange: Exchange): Emit {
    const owners = this.workers.map((o) => o.steps[step]!)
    // A partitioned sink's step is shared by the thread's workers: nothing to route.
    if (exchange === "partition") {
      return (batch) => {
        this.countIn(w.local, step, batch.length)
        this.pushTo(owners[w.workerIndex]!, port, batch)
      }
    }
    const n = owners.length
    const route = routerFor(exchange, n, undefined, 0)
    return (batch) => {
      const parts = splitBatch(batch, n, route)
      for (let o = 0; o < n; o++) {
        const part = parts[o]
        if (part === undefined) continue
        this.countIn(o, step, part.length)
        this.pushTo(owners[o]!, port, part)
      }
    }
  }

  /**
   * Busy turns back to back until one is not busy, or the loop has something
   * to do between turns (close ended partitions, drain writes, yield to the
   * event loop), or {@link MAX_SYNC_TURNS} ran: going through the Effect loop
   * once per batch would cost as much as the batch itself.
   */
  private turns(): Turn {
    for (let k = 1; ; k++) {
      const turn = this.turn(nowMillis())
      if (turn !== "busy" || k >= MAX_SYNC_TURNS) return turn
      if (this.endedNow.length > 0 || this.pending.size >= MAX_WRITES_IN_FLIGHT || this.yieldDue()) return turn
      this.publishMetrics(false, this.epoch)
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
    const polled = this.pollInputs(now)
    if (polled === "abort") return "abort"
    if (polled.moved) {
      this.dirty = true
      if (polled.busy) busy = true
    }
    if (polled.live === 0) return "finish"
    this.lastTurnBusy = busy
    if (now - this.epochStartedAt >= this.config.epochIntervalMs && !this.epochHeld()) return "closeEpoch"
    return busy ? "busy" : "idle"
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
    return Effect.onExit(this.run(), (exit) =>
      Effect.sync(() => {
        this.publishMetrics(true, this.epoch)
        this.endEpochSpan(exit._tag === "Failure" ? Cause.squash(exit.cause) : undefined)
      }))
  }

  private run(): Effect.Effect<void, WeirRuntimeError | WeirRecoveryError> {
    const ex = this
    const clock = this.config.clock
    return Effect.gen(function*() {
      for (;;) {
        const prev = setActiveClock(clock)
        let turn: Turn
        try {
          turn = yield* Effect.try({ try: () => ex.turns(), catch: asRuntimeError })
        } finally {
          setActiveClock(prev)
        }
        if (turn === "abort") {
          // The commit already issued stands, as it would have had the abort come a moment later.
          yield* ex.awaitCommit()
          return
        }
        ex.publishMetrics(false, ex.epoch)
        yield* ex.closeEnded()
        if (turn === "finish") {
          yield* ex.finish()
          return
        }
        if (ex.pending.size >= MAX_WRITES_IN_FLIGHT) yield* ex.drainWrites()
        if (turn === "closeEpoch") yield* ex.closeEpoch()
        if (!ex.lastTurnBusy) {
          // Nothing to do: sleep until a partition, timer or epoch is due, or an asynchronous batch arrives.
          yield* ex.idleUntil(ex.nextDue())
          continue
        }
        yield* ex.yieldIfDue()
      }
    })
  }

  protected mayWake(): boolean {
    return this.partitions.some((p) => p.waiting)
  }

  /** Close the current epoch: wait for writes, snapshot what changed, commit, advance. */
  private closeEpoch(): Effect.Effect<void, WeirRuntimeError | WeirRecoveryError> {
    const ex = this
    return Effect.gen(function*() {
      // Transactional sinks publish the previous epoch once its commit is written: wait for that
      // first, so that the output of this epoch is usually the only one left to store.
      if (ex.txSinks.length > 0) yield* ex.awaitCommit()
      yield* ex.drainWrites()
      if (ex.prepareTransactional(ex.epoch)) ex.dirty = true
      const store = ex.config.store
      let commitMs: number | undefined
      if (ex.dirty && store !== undefined) {
        const started = performance.now()
        if (store.pipelined === true) {
          yield* ex.awaitCommit()
          // Snapshots now, at the epoch boundary; the store writes them while the next epoch runs
          // (the histogram gets the write's own time when it is done).
          const snapshots = yield* ex.takeSnapshots()
          const epoch = ex.epoch
          const write = Effect.suspend(() => {
            const writing = performance.now()
            return Effect.tap(ex.write(epoch, snapshots), () =>
              Effect.sync(() => {
                commitSeconds.updateUnsafe((performance.now() - writing) / 1000, ex.config.context)
                ex.publishCommitted(epoch)
              }))
          })
          ex.inFlightCommit = yield* Effect.forkChild(ex.commitSpan(epoch, write))
          commitMs = performance.now() - started
        } else {
          yield* ex.commitSpan(ex.epoch, ex.commit(ex.epoch))
          commitMs = performance.now() - started
          commitSeconds.updateUnsafe(commitMs / 1000, ex.config.context)
        }
      }
      ex.epochClosed(commitMs)
      ex.dirty = false
      ex.epoch++
      ex.epochStartedAt = ex.config.clock.now()
      ex.nextEpochSpan(ex.epoch)
    })
  }

  /** Items read when the last epoch closed (for the epoch hook). */
  private readAtLastClose = 0

  private epochClosed(commitMs: number | undefined): void {
    this.publishMetrics(true, this.epoch)
    const read = this.counters.itemsRead
    const itemsIn = read - this.readAtLastClose
    this.readAtLastClose = read
    this.config.observe?.epochClosed?.({ epoch: this.epoch, itemsIn, commitMs })
  }

  /** `commit` in a `weir.commit` span under the epoch's span. */
  private commitSpan<E>(epoch: number, commit: Effect.Effect<void, E>): Effect.Effect<void, E> {
    const parent = this.epochSpan
    return Effect.withSpan(commit, "weir.commit", {
      attributes: { "weir.epoch": epoch },
      ...(parent === undefined ? {} : { parent })
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
      // Every worker is on this thread: the epoch is committed everywhere.
      ex.publishCommitted(epoch)
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
      this.sinkSnapshots(sink, (worker, name, state) => addPartition(worker, sink.stepId, name, state))
    }
    // A transactional sink's outbox, in full on every worker (an empty one says all is published).
    for (const tx of this.txSinks) {
      const snaps = add(tx.worker, tx.stepId, true)
      tx.snapshot(snaps.keys as Array<string>, snaps.states as Array<unknown>)
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
              // A partitioned sink's step is shared by the workers: its end comes once.
              const seen = new Set<unknown>()
              for (const w of ex.workers) {
                const step = w.steps[i]
                if (step === undefined || seen.has(step)) continue
                seen.add(step)
                step.eof()
              }
            }
          },
          catch: asRuntimeError
        })
      } finally {
        setActiveClock(prev)
      }
      if (ex.txSinks.length > 0) yield* ex.awaitCommit()
      yield* ex.drainWrites()
      ex.prepareTransactional(ex.epoch)
      let commitMs: number | undefined
      if (ex.config.store !== undefined) {
        const started = performance.now()
        yield* ex.commitSpan(ex.epoch, ex.commit(ex.epoch))
        commitMs = performance.now() - started
        commitSeconds.updateUnsafe(commitMs / 1000, ex.config.context)
      }
      // The last epoch's output, published now that it is committed.
      if (ex.txSinks.length > 0) yield* ex.drainWrites()
      ex.epochClosed(commitMs)
      yield* ex.closeAll()
    })
  }
}

