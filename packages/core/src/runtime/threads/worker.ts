/**
 * The threaded execution: one worker of the run on this worker thread. Its
 * steps are wired as in the interleaved mode (`../wiring.ts`); items bound
 * for another worker's step go out as frames on the channel to that worker's
 * thread (`../exchange.ts`), and epochs close by markers (`../progress.ts`)
 * instead of in lockstep. Snapshots go to the coordinator, which owns the
 * recovery store.
 *
 * The loop, per turn: take in what peers and the coordinator sent, fire due
 * timers, poll due input partitions (unless the peers are behind), enter the
 * next epoch when its interval has passed, move the frontiers, send frames,
 * markers and epoch commits, and sleep until something is due or arrives.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { receiveMessageOnPort } from "node:worker_threads"
import type { WeirRecoveryError, WeirRuntimeError } from "../../errors.js"
import { decodeBatch, encodeBatch } from "../codec.js"
import { Channel, CREDIT_WINDOW, FRAME_ITEMS, type PeerMessage, routerFor, splitBatch } from "../exchange.js"
import type { Exchange, Plan } from "../plan.js"
import { PUBLISH_EVERY_MS, readingsOf } from "../metrics.js"
import { Progress } from "../progress.js"
import { DISCARDED } from "../recovery.js"
import { type PartitionedOutputStep, TransactionalOutputStep } from "../sinks.js"
import type { Emit, StatefulStep } from "../steps.js"
import {
  asRuntimeError,
  Engine,
  environmentOf,
  MAX_SYNC_TURNS,
  MAX_WRITES_IN_FLIGHT,
  notifyGrouped,
  type RunEnvironment,
  type Worker
} from "../wiring.js"
import { checkSnapshot } from "../snapshotCheck.js"
import type { MessagePort } from "node:worker_threads"
import type { FromWorker, ToWorker, WireSnapshots } from "./protocol.js"

/** Items held at steps (from this worker's own inputs) above which its inputs wait. */
const MAX_HELD_ITEMS = 16 * FRAME_ITEMS * 4

export interface ThreadConfig extends RunEnvironment {
  readonly epochIntervalMs: number
  readonly worker: number
  readonly workers: number
  readonly tracking: boolean
  /** The epoch to start at (the resume epoch). */
  readonly epoch: number
  /** Resume states by step id (a stateful step's: the keys this worker owns). */
  readonly states: ReadonlyMap<string, Map<string, unknown>>
  /** Channels to the other workers' threads, by worker index. */
  readonly ports: ReadonlyArray<MessagePort | undefined>
  /** Send to the coordinator. */
  readonly send: (message: FromWorker, transfer?: ReadonlyArray<ArrayBuffer>) => void
}

/** A commit being gathered: snapshots of one epoch, step by step as they close. */
interface Pending {
  readonly steps: Array<WireSnapshots>
  readonly transfer: Array<ArrayBuffer>
  readonly live: Array<readonly [string, number]>
  dirty: boolean
}

export class ThreadExecution extends Engine {
  /** The input epoch: items read now belong to it. */
  private epoch: number
  /** The epoch items are being processed in. */
  private current: number
  private epochStartedAt = 0
  private readonly progress: Progress
  private readonly channels: Array<Channel | undefined> = []
  /** Credit owed to each peer (frames of theirs processed). */
  private readonly owed: Array<number> = []
  private readonly inbox: Array<readonly [from: number, message: unknown]> = []
  /** Epochs the coordinator let in, with the stateful steps that snapshot in full there. */
  private readonly directives = new Map<number, ReadonlySet<string>>()
  private readonly commits = new Map<number, Pending>()
  /** Epochs before this one have been sent to the coordinator. */
  private committed: number
  /** The input epoch when every input here ended. */
  private inputsEnded: number | undefined = undefined
  private aborted = false
  private stopRequested = false
  private lastTurnBusy = false
  /** A sink's snapshot waits for its writes. */
  private waitsForWrites = false
  /** Per step index: whether it is stateful, or a partitioned sink. */
  private readonly statefulIndex = new Map<StatefulStep, number>()
  private readonly sinkAt = new Map<number, PartitionedOutputStep>()
  private readonly txAt = new Map<number, TransactionalOutputStep>()
  /** Every epoch up to this one is committed everywhere (the coordinator said so). */
  private committedEverywhere = 0
  /** Waiting for the final epoch's commit to be written (see `finish`). */
  private onCommitted: (() => void) | undefined = undefined

  private constructor(plan: Plan, private readonly config: ThreadConfig) {
    super(plan, {
      ...environmentOf(config),
      workerCount: config.workers,
      localWorkers: [config.worker],
      tracking: config.tracking
    })
    this.epoch = config.epoch
    this.current = config.epoch
    this.committed = config.epoch
    this.progress = new Progress(plan, config.worker, config.workers, config.epoch, {
      deliver: (step, port, batch, epoch) => this.deliver(step, port, batch, epoch),
      canClose: (step, epoch) => this.canClose(step, epoch),
      closed: (step, epoch) => this.closed(step, epoch),
      ended: (step, epoch) => this.ended(step, epoch),
      released: (from) => {
        this.owed[from] = (this.owed[from] ?? 0) + 1
      }
    })
    for (let p = 0; p < config.workers; p++) {
      const port = config.ports[p]
      this.channels.push(port === undefined ? undefined : new Channel(p, port))
      this.owed.push(0)
    }
  }

  get currentEpoch(): number {
    return this.current
  }

  /** Build every step and partition with the states the coordinator sent. Resources close with the scope. */
  static make(plan: Plan, config: ThreadConfig): Effect.Effect<ThreadExecution, WeirRuntimeError | WeirRecoveryError, Scope.Scope> {
    return Effect.gen(function*() {
      const ex = new ThreadExecution(plan, config)
      yield* Effect.addFinalizer(() => Effect.ignore(ex.closeAll()))
      yield* ex.build()
      yield* ex.restoreState(() => config.worker)
      for (const s of plan.steps) {
        const step = ex.workers[0]!.steps[s.index]
        if (s.kernel.kind === "statefulBatch") ex.statefulIndex.set(step as StatefulStep, s.index)
        if (s.exchange === "partition") ex.sinkAt.set(s.index, step as PartitionedOutputStep)
        if (step instanceof TransactionalOutputStep) ex.txAt.set(s.index, step)
      }
      ex.listen()
      const now = config.clock.now()
      for (const p of ex.partitions) p.start(now)
      ex.epochStartedAt = now
      ex.nextEpochSpan(ex.epoch)
      return ex
    })
  }

  protected loadStates(stepId: string): Effect.Effect<Map<string, unknown>, WeirRecoveryError> {
    return Effect.succeed(this.config.states.get(stepId) ?? new Map())
  }

  protected exchangeEmitter(w: Worker, step: number, port: number, exchange: Exchange): Emit {
    const n = this.workerCount
    const self = w.workerIndex
    const route = routerFor(exchange, n, this.sinkStepAt(step), self)
    const stepId = this.plan.steps[step]!.stepId
    return (batch) => {
      const parts = splitBatch(batch, n, route)
      for (let o = 0; o < n; o++) {
        const part = parts[o]
        if (part === undefined) continue
        if (o === self) this.progress.arrive(step, port, part, this.current, -1)
        else this.channels[o]!.add(step, port, this.current, stepId, part)
      }
    }
  }

  /** Messages from peers and the coordinator go to the inbox (the loop also pulls them synchronously). */
  private listen(): void {
    this.config.ports.forEach((port, p) => {
      if (port === undefined) return
      port.on("message", (m: unknown) => {
        this.inbox.push([p, m])
        this.wake()
      })
    })
  }

  /** The coordinator said something. */
  onCoordinator(m: ToWorker): void {
    if (m.t === "epoch") this.directives.set(m.epoch, new Set(m.full))
    else if (m.t === "committed") {
      this.committedEverywhere = Math.max(this.committedEverywhere, m.epoch)
      this.publishCommitted(m.epoch)
      this.onCommitted?.()
    } else if (m.t === "stop") this.stopRequested = true
    this.wake()
  }

  private deliver(step: number, port: number, batch: Array<unknown>, epoch: number): void {
    this.countIn(0, step, batch.length)
    const prev = this.current
    this.current = epoch
    try {
      this.pushTo(this.workers[0]!.steps[step]!, port, batch)
    } finally {
      this.current = prev
    }
  }

  private canClose(step: number, epoch: number): boolean {
    const k = this.plan.steps[step]!.kernel.kind
    if (k === "statefulBatch") return this.permitted(epoch)
    if ((this.sinkAt.has(step) || this.txAt.has(step)) && this.pending.size > 0) {
      this.waitsForWrites = true
      return false
    }
    return true
  }

  /** The coordinator let epoch `epoch` in (without a store, every epoch is). */
  private permitted(epoch: number): boolean {
    return !this.wiring.tracking || this.directives.has(epoch)
  }

  private pendingAt(epoch: number): Pending {
    let p = this.commits.get(epoch)
    if (p === undefined) this.commits.set(epoch, (p = { steps: [], transfer: [], live: [], dirty: false }))
    return p
  }

  /** Step `step` passed `epoch`: its snapshot of it joins that epoch's commit. */
  private closed(step: number, epoch: number): void {
    if (!this.wiring.tracking) return
    this.snapshotInto(this.pendingAt(epoch), step, epoch)
  }

  /** Add step `step`'s snapshot of `epoch` (partitions, keys or sink positions) to `commit`. */
  private snapshotInto(commit: Pending, step: number, epoch: number): void {
    const planned = this.plan.steps[step]!
    switch (planned.kernel.kind) {
      case "input": {
        const keys: Array<string> = []
        const states: Array<unknown> = []
        for (const p of this.partitions) {
          if (!p.fixed || p.stepId !== planned.stepId) continue
          if (p.touched) commit.dirty = true
          p.touched = false
          const state = p.snapshot()
          checkSnapshot(p.stepId, `partition '${p.name}'`, state)
          keys.push(p.name)
          states.push(state)
        }
        if (keys.length > 0) this.addSnapshots(commit, planned.stepId, true, keys, states)
        return
      }
      case "statefulBatch": {
        const st = this.workers[0]!.steps[step] as StatefulStep
        this.snapshotStateful(commit, st, this.directives.get(epoch)?.has(planned.stepId) ?? false)
        return
      }
      case "output": {
        const tx = this.txAt.get(step)
        if (tx !== undefined) {
          // The outbox, in full at every epoch (an empty one says all is published).
          tx.prepare(epoch)
          if (tx.changed) commit.dirty = true
          const keys: Array<string> = []
          const states: Array<unknown> = []
          tx.snapshot(keys, states)
          this.addSnapshots(commit, planned.stepId, true, keys, states)
          return
        }
        const sink = this.sinkAt.get(step)
        if (sink === undefined) return
        if (sink.slots.some((s) => s.written)) commit.dirty = true
        const keys: Array<string> = []
        const states: Array<unknown> = []
        this.sinkSnapshots(sink, (_w, name, state) => {
          keys.push(name)
          states.push(state)
        })
        if (keys.length > 0) this.addSnapshots(commit, planned.stepId, true, keys, states)
        return
      }
      default:
        return
    }
  }

  private snapshotStateful(commit: Pending, st: StatefulStep, full: boolean): void {
    const keys: Array<string> = []
    const states: Array<unknown> = []
    if (st.changedCount > 0) commit.dirty = true
    if (full || st.changedCount > 0) {
      st.takeSnapshots(full, keys, states)
      for (let i = 0; i < states.length; i++) {
        const state = states[i]
        if (typeof state === "object" && state !== null) checkSnapshot(st.stepId, `key '${keys[i]}'`, state)
      }
      if (full || keys.length > 0) this.addSnapshots(commit, st.stepId, full, keys, states)
    }
    commit.live.push([st.stepId, st.liveCount])
  }

  private addSnapshots(commit: Pending, stepId: string, full: boolean, keys: Array<string>, states: Array<unknown>): void {
    const discarded: Array<number> = []
    for (let i = 0; i < states.length; i++) {
      if (states[i] === DISCARDED) {
        discarded.push(i)
        states[i] = undefined
      }
    }
    const encoded = encodeBatch(stepId, states)
    commit.steps.push({ stepId, full, keys, states: encoded, discarded })
    commit.transfer.push(encoded)
  }

  private ended(step: number, epoch: number): void {
    const prev = this.current
    this.current = epoch
    try {
      this.workers[0]!.steps[step]?.eof()
    } finally {
      this.current = prev
    }
  }

  /** Take in what arrived: frames, markers, credit from peers; directives from the coordinator. */
  private receive(): boolean {
    let any = false
    for (;;) {
      const next = this.inbox.shift()
      if (next === undefined) break
      any = true
      this.onPeer(next[0], next[1] as PeerMessage)
    }
    const ports = this.config.ports
    for (let p = 0; p < ports.length; p++) {
      const port = ports[p]
      if (port === undefined) continue
      // A bounded number per turn, so a fast sender can't starve the inputs.
      for (let k = 0; k < CREDIT_WINDOW; k++) {
        const got = receiveMessageOnPort(port)
        if (got === undefined) break
        any = true
        this.onPeer(p, got.message as PeerMessage)
      }
    }
    return any
  }

  private onPeer(from: number, m: PeerMessage): void {
    switch (m.t) {
      case "frame":
        this.progress.arrive(m.step, m.port, decodeBatch(m.items), m.epoch, from)
        return
      case "progress":
        for (const [step, f] of m.fronts) this.progress.announce(from, step, f)
        if (m.epoch !== undefined) this.progress.peerAt(from, m.epoch, m.final === true)
        return
      case "credit":
        this.channels[from]!.credit(m.n)
        return
    }
  }

  /** The peers are behind (frames wait for credit) or too much of this worker's input waits at steps. */
  private get backPressured(): boolean {
    if (this.progress.heldItems > MAX_HELD_ITEMS) return true
    for (const c of this.channels) if (c !== undefined && c.blocked) return true
    return false
  }

  /**
   * Busy turns back to back until one is idle, or the loop has something to
   * do between turns (ended partitions, writes to drain, commits to send,
   * the end, a stop, the event loop's turn), or {@link MAX_SYNC_TURNS} ran:
   * going through the Effect loop once per batch costs as much as the batch.
   */
  private turns(clock: { readonly now: () => number }): void {
    for (let k = 1; ; k++) {
      this.turn(clock.now())
      if (!this.lastTurnBusy || this.aborted || this.stopRequested || k >= MAX_SYNC_TURNS) return
      if (this.endedNow.length > 0 || this.waitsForWrites || this.pending.size >= MAX_WRITES_IN_FLIGHT) return
      if (this.progress.workerFront > this.committed || this.yieldDue()) return
      this.sendMetrics(false)
    }
  }

  /** One turn. Synchronous. Returns whether it did anything. */
  private turn(now: number): boolean {
    this.pending.check()
    let busy = this.receive()
    const due = this.timers.takeDue(now)
    if (due.length > 0) {
      busy = true
      notifyGrouped(due.filter((st) => this.progress.front[this.statefulIndex.get(st.step)!]! !== Infinity), (step) => {
        this.current = this.progress.front[this.statefulIndex.get(step)!]!
      })
      this.current = this.epoch
    }
    if (this.inputsEnded === undefined && !this.backPressured && this.pending.size < MAX_WRITES_IN_FLIGHT) {
      this.current = this.epoch
      const polled = this.pollInputs(now)
      if (polled === "abort") {
        this.aborted = true
        return true
      }
      if (polled.moved) busy = true
      if (polled.live === 0) {
        this.inputsEnded = this.epoch
        this.broadcast({ t: "progress", fronts: [], epoch: this.epoch, final: true })
      }
    }
    if (
      this.inputsEnded === undefined && now - this.epochStartedAt >= this.config.epochIntervalMs &&
      this.permitted(this.epoch + 1) && !this.epochHeld()
    ) {
      this.epoch++
      this.current = this.epoch
      this.epochStartedAt = now
      this.broadcast({ t: "progress", fronts: [], epoch: this.epoch })
      busy = true
    }
    this.waitsForWrites = false
    const changed = this.progress.advance((step) => this.inputFront(step), this.inputsEnded)
    if (changed.length > 0) {
      busy = true
      for (const c of this.channels) c?.seal({ t: "progress", fronts: changed })
    }
    for (let p = 0; p < this.channels.length; p++) {
      const c = this.channels[p]
      if (c === undefined) continue
      c.seal()
      c.flush()
      if (this.owed[p]! > 0) {
        c.direct({ t: "credit", n: this.owed[p]! })
        this.owed[p] = 0
      }
    }
    // A sink's snapshot waiting for its writes: turn again as soon as they are done.
    this.lastTurnBusy = busy || this.waitsForWrites
    return busy
  }

  private broadcast(m: PeerMessage): void {
    // Behind the frames already gathered, like any progress.
    for (const c of this.channels) c?.seal(m)
  }

  /** An input step's frontier: the input epoch, or infinity once its partitions here have ended. */
  private inputFront(step: number): number {
    const stepId = this.plan.steps[step]!.stepId
    for (const p of this.partitions) if (p.stepId === stepId && !p.ended) return this.epoch
    return Infinity
  }

  /** The epochs every step here has passed, with their snapshots, to the coordinator. */
  private sendCommits(): void {
    const front = this.progress.workerFront
    while (this.committed < front && this.committed < this.finalOrInfinity()) {
      const e = this.committed
      const pending = this.commits.get(e) ?? { steps: [], transfer: [], live: [], dirty: false }
      this.commits.delete(e)
      if (this.wiring.tracking) {
        this.config.send({ t: "commit", epoch: e, dirty: pending.dirty, final: false, steps: pending.steps, live: pending.live }, pending.transfer)
      }
      this.epochDone(e)
      this.committed++
    }
  }

  /** Items read when the last epoch passed (for the epoch notices). */
  private readAtLastEpoch = 0

  /** Tell the coordinator every step here passed `epoch`, and start that epoch's span. */
  private epochDone(epoch: number): void {
    const read = this.counters.itemsRead
    this.config.send({ t: "epoch", epoch, itemsIn: read - this.readAtLastEpoch })
    this.readAtLastEpoch = read
    this.nextEpochSpan(epoch + 1)
    this.sendMetrics(true)
  }

  /** Publish this thread's counts, and send every counter and gauge of its registry to the coordinator, when due. */
  private sendMetrics(force: boolean): void {
    if (!force && (++this.sendCalls & 15) !== 0) return
    this.refreshSpanBudget()
    this.publishMetrics(true, this.epoch)
    const now = Date.now()
    if (!force && now - this.metricsSentAt < PUBLISH_EVERY_MS) return
    this.metricsSentAt = now
    this.config.send({ t: "metrics", readings: readingsOf(this.config.context) })
  }

  private metricsSentAt = 0
  private sendCalls = 0

  private finalOrInfinity(): number {
    return this.progress.finalEpoch(this.inputsEnded) ?? Infinity
  }

  private nextDue(): number {
    let at = this.inputsEnded !== undefined || this.epochHeld() || !this.permitted(this.epoch + 1)
      ? Infinity
      : this.epochStartedAt + this.config.epochIntervalMs
    if (this.inputsEnded === undefined && !this.backPressured) {
      for (const p of this.partitions) if (!p.ended && !p.waiting && p.awake < at) at = p.awake
    }
    const t = this.timers.nextAt()
    return t < at ? t : at
  }

  /** Run until every input of every worker has ended (or an abort, or a stop). */
  loop(): Effect.Effect<"done" | "abort" | "stopped", WeirRuntimeError | WeirRecoveryError> {
    return Effect.onExit(this.run(), (exit) =>
      Effect.sync(() => {
        this.sendMetrics(true)
        this.endEpochSpan(exit._tag === "Failure" ? Cause.squash(exit.cause) : undefined)
      }))
  }

  private run(): Effect.Effect<"done" | "abort" | "stopped", WeirRuntimeError | WeirRecoveryError> {
    const ex = this
    const clock = this.config.clock
    return Effect.gen(function*() {
      for (;;) {
        if (ex.stopRequested) return "stopped" as const
        yield* Effect.try({ try: () => ex.turns(clock), catch: asRuntimeError })
        if (ex.aborted) return "abort" as const
        ex.sendMetrics(false)
        yield* ex.closeEnded()
        if (ex.waitsForWrites || ex.pending.size >= MAX_WRITES_IN_FLIGHT) yield* ex.drainWrites()
        if (ex.progress.workerFront > ex.committed) {
          // Commits go out only once every write they cover is done.
          if (ex.pending.size > 0) yield* ex.drainWrites()
          ex.sendCommits()
        }
        if (ex.progress.workerFront === Infinity) {
          yield* ex.finish()
          return "done" as const
        }
        if (!ex.lastTurnBusy) {
          // Nothing to do: sleep until something is due, or a message or an asynchronous batch arrives.
          if (ex.inbox.length === 0) yield* ex.idleUntil(ex.nextDue())
          continue
        }
        yield* ex.yieldIfDue()
      }
    })
  }

  /** Peers, the coordinator and asynchronous batches all wake the loop. */
  protected mayWake(): boolean {
    return true
  }

  /** Every step has ended: the final epoch's snapshots, the last commit, then close. */
  private finish(): Effect.Effect<void, WeirRuntimeError | WeirRecoveryError> {
    const ex = this
    return Effect.gen(function*() {
      yield* ex.drainWrites()
      const fin = ex.progress.finalEpoch(ex.inputsEnded)!
      if (ex.wiring.tracking) {
        const commit: Pending = { steps: [], transfer: [], live: [], dirty: true }
        yield* Effect.try({
          try: () => {
            for (const s of ex.plan.steps) ex.snapshotInto(commit, s.index, fin)
          },
          catch: asRuntimeError
        })
        ex.config.send({ t: "commit", epoch: fin, dirty: true, final: true, steps: commit.steps, live: commit.live }, commit.transfer)
        if (ex.txAt.size > 0) {
          // The last epoch's output is published once the coordinator has written its commit.
          yield* Effect.callback<void>((resume) => {
            const check = () => {
              if (ex.committedEverywhere < fin) return
              ex.onCommitted = undefined
              resume(Effect.void)
            }
            ex.onCommitted = check
            check()
          })
          yield* ex.drainWrites()
        }
      }
      ex.epochDone(fin)
      ex.endEpochSpan()
      yield* ex.closeAll()
    })
  }
}
