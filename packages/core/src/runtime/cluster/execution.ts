/**
 * The scale-out execution: the key groups this process holds, as the
 * workers of one engine on this thread (see `../wiring.ts`), for one
 * *generation* — from one change of membership to the next. The run
 * (`run.ts`) builds a generation when the group gives or takes key groups,
 * and stops the old one first.
 *
 * Key group g is worker g of P. Items bound for a key group of this process
 * are handed over by a call, as in the interleaved execution; items bound
 * for another process's key group go out as frames on that key group's
 * partition of the exchange topic, tagged with the sending key group, its
 * incarnation and epoch.
 *
 * Epochs close on this process's own timer, for all its key groups at once:
 * frames sent are flushed (acknowledged by the broker), then every key
 * group's changed state, source positions, exchange offset and `applied`
 * table are committed to the shared store in one transaction (refused if
 * another process has taken over one of the key groups), and only then are
 * the *marks* sent: "g committed epoch e". A receiving key group holds the
 * frames of (g, incarnation, e) until their mark arrives, then applies them
 * once: a mark says the frames are part of committed history, so frames of
 * a sender that died before committing are never applied, and frames a
 * restarted sender sends again are told apart by their incarnation.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { WeirRecoveryError, WeirRuntimeError } from "../../errors.js"
import { isConnectorError } from "../async.js"
import { nowMillis, setActiveClock } from "../clock.js"
import { decodeBatch, encodeBatch } from "../codec.js"
import { FRAME_ITEMS, routerFor, splitBatch } from "../exchange.js"
import { commitSeconds } from "../metrics.js"
import type { RunObserver } from "../observability.js"
import type { Exchange, Plan } from "../plan.js"
import type { StepSnapshots } from "../recovery.js"
import { ownerOf } from "../routing.js"
import { checkSnapshot } from "../snapshotCheck.js"
import type { Emit, StatefulStep } from "../steps.js"
import { asRuntimeError, Engine, environmentOf, MAX_WRITES_IN_FLIGHT, notifyGrouped, type RunEnvironment, type Worker } from "../wiring.js"
import type { ClusterLink, ClusterStore, ExchangeRecord, KeyGroupCommit, KeyGroupRow } from "./interfaces.js"
import { decodeRecord, encodeFrame, encodeMarks, type Mark, notAfter } from "./wire.js"

/** Records waiting in the inbox above which receiving pauses. */
const MAX_INBOX = 4096
/** Epochs in which only marks arrived that may pass before a commit records the new exchange offsets. */
const PROGRESS_COMMIT_EPOCHS = 10
/** Partial frames go out at least this often. */
const FRAME_LINGER_MS = 20

export interface GenerationConfig extends RunEnvironment {
  readonly epochIntervalMs: number
  /** P. */
  readonly keyGroups: number
  /** The rows of the key groups of this generation, as read from the store at its start. */
  readonly rows: ReadonlyArray<KeyGroupRow>
  /** Resume states by step id, of these key groups only. */
  readonly states: ReadonlyMap<string, Map<string, unknown>>
  readonly store: ClusterStore
  readonly link: ClusterLink
  readonly observe: RunObserver | undefined
}

/** A frame held until its sender's mark. */
interface Held {
  readonly offset: number
  readonly incarnation: number
  readonly epoch: number
  readonly step: number
  readonly port: number
  readonly payload: ArrayBuffer
}

/** Items gathered for one frame. */
interface Outgoing {
  readonly dest: number
  readonly from: number
  readonly step: number
  readonly port: number
  items: Array<unknown>
}

/** How a generation ended. */
export type GenerationEnd =
  /** Stopped on request: `committed`, after its last commit (else without one, when asked so or on an abort). */
  | { readonly _tag: "stopped"; readonly committed: boolean }
  /** A commit found these key groups taken over by another process: nothing of the epoch was committed. */
  | { readonly _tag: "fenced"; readonly keyGroups: ReadonlyArray<number> }

export class ClusterExecution extends Engine {
  epoch: number
  private epochStartedAt = 0
  private dirty = false
  /** Records were taken in (only marks, perhaps): worth a commit now and then, to move the exchange offsets on. */
  private progressed = false
  private epochsSinceCommit = 0
  /** Commits written by this generation. */
  commitsDone = 0
  private lastTurnBusy = false
  private readonly incarnation = new Map<number, number>()
  /** Per key group here: the next offset of its partition to take in. */
  private readonly nextOffset = new Map<number, number>()
  /** Per key group here, per sender: the last (incarnation, epoch) applied. */
  private readonly applied = new Map<number, Map<number, readonly [number, number]>>()
  /** Per key group here, per sender: frames waiting for the sender's mark, in partition order. */
  private readonly held = new Map<number, Map<number, Array<Held>>>()
  /**
   * Pairs (receiver, sender) of key groups both here whose sender committed
   * frames for the receiver that the receiver has not applied yet: the
   * sources wait until none is left, so that a key's items from one sender
   * never overtake its older ones from the log.
   */
  private readonly catchUp = new Map<string, readonly [receiver: number, sender: number, incarnation: number, epoch: number]>()
  private readonly inbox: Array<ExchangeRecord> = []
  private readonly outgoing = new Map<string, Outgoing>()
  private lastFrameFlush = 0
  /** Frames sent in this epoch: its marks are due even if nothing else changed. */
  private sentFrames = false
  private stopRequest: { readonly commit: boolean } | undefined = undefined
  private receiving = true
  private readonly localSet: ReadonlySet<number>

  private constructor(plan: Plan, private readonly config: GenerationConfig) {
    super(plan, {
      ...environmentOf(config),
      workerCount: config.keyGroups,
      localWorkers: config.rows.map((r) => r.keyGroup),
      tracking: true
    })
    this.localSet = new Set(config.rows.map((r) => r.keyGroup))
    let epoch = 0
    for (const r of config.rows) {
      if (r.epoch > epoch) epoch = r.epoch
      this.incarnation.set(r.keyGroup, r.incarnation)
      this.nextOffset.set(r.keyGroup, r.exchangeOffset)
      this.applied.set(r.keyGroup, new Map(r.applied.map(([from, i, e]) => [from, [i, e] as const])))
      this.held.set(r.keyGroup, new Map())
    }
    this.epoch = epoch + 1
    for (const d of config.rows) {
      for (const g of config.rows) {
        if (g.keyGroup === d.keyGroup || g.epoch === 0) continue
        const a = this.applied.get(d.keyGroup)!.get(g.keyGroup)
        if (a !== undefined && notAfter(g.epochIncarnation, g.epoch, a[0], a[1])) continue
        this.catchUp.set(`${d.keyGroup}:${g.keyGroup}`, [d.keyGroup, g.keyGroup, g.epochIncarnation, g.epoch])
      }
    }
  }

  get currentEpoch(): number {
    return this.epoch
  }

  get keyGroups(): ReadonlyArray<number> {
    return this.wiring.localWorkers
  }

  /** Build every step and partition of these key groups with their states. Resources close with the scope. */
  static make(plan: Plan, config: GenerationConfig): Effect.Effect<ClusterExecution, WeirRuntimeError | WeirRecoveryError, Scope.Scope> {
    return Effect.gen(function*() {
      const ex = new ClusterExecution(plan, config)
      yield* ex.buildRestored((key) => ownerOf(key, config.keyGroups))
      ex.sendStartMarks()
      yield* ex.flushLink()
      const now = config.clock.now()
      for (const p of ex.partitions) p.start(now)
      ex.epochStartedAt = now
      ex.lastFrameFlush = now
      ex.nextEpochSpan(ex.epoch)
      return ex
    })
  }

  protected loadStates(stepId: string): Effect.Effect<Map<string, unknown>, WeirRecoveryError> {
    return Effect.succeed(this.config.states.get(stepId) ?? new Map())
  }

  protected exchangeEmitter(w: Worker, step: number, port: number, exchange: Exchange): Emit {
    const n = this.workerCount
    const from = w.workerIndex
    const route = routerFor(exchange, n, this.sinkStepAt(step), from)
    return (batch) => {
      const parts = splitBatch(batch, n, route)
      for (let d = 0; d < n; d++) {
        const part = parts[d]
        if (part === undefined) continue
        const target = this.byIndex[d]
        if (target !== undefined) {
          this.countIn(target.local, step, part.length)
          this.pushTo(target.steps[step]!, port, part)
        } else {
          this.enqueue(d, from, step, port, part)
        }
      }
    }
  }

  private enqueue(dest: number, from: number, step: number, port: number, items: Array<unknown>): void {
    const k = `${dest}:${from}:${step}:${port}`
    let o = this.outgoing.get(k)
    if (o === undefined) this.outgoing.set(k, (o = { dest, from, step, port, items: [] }))
    for (let i = 0; i < items.length; i++) o.items.push(items[i])
    if (o.items.length >= FRAME_ITEMS) this.sendFrame(o)
  }

  private sendFrame(o: Outgoing): void {
    if (o.items.length === 0) return
    const stepId = this.plan.steps[o.step]!.stepId
    const payload = encodeBatch(stepId, o.items)
    o.items = []
    this.config.link.send(
      o.dest,
      encodeFrame({ from: o.from, incarnation: this.incarnation.get(o.from)!, epoch: this.epoch, step: o.step, port: o.port }, payload)
    )
    this.sentFrames = true
  }

  private sendFrames(): void {
    for (const o of this.outgoing.values()) this.sendFrame(o)
  }

  /** Tell every other process's key groups that these key groups committed these epochs. */
  private sendMarks(marks: ReadonlyArray<Mark>): void {
    if (marks.length === 0) return
    const record = encodeMarks(marks)
    for (let d = 0; d < this.workerCount; d++) if (!this.localSet.has(d)) this.config.link.send(d, record)
  }

  /**
   * At the start, to every other key group (here too): each key group's last
   * commit again — its holder may have died before it sent the marks — and
   * then the same epoch under this generation's incarnation, which retires
   * whatever frames an older incarnation sent after its last commit.
   */
  private sendStartMarks(): void {
    for (const r of this.config.rows) {
      const marks: Array<Mark> = []
      if (r.epoch > 0) marks.push([r.keyGroup, r.epochIncarnation, r.epoch])
      marks.push([r.keyGroup, r.incarnation, r.epoch])
      const record = encodeMarks(marks)
      for (let d = 0; d < this.workerCount; d++) if (d !== r.keyGroup) this.config.link.send(d, record)
    }
  }

  private flushLink(): Effect.Effect<void, WeirRuntimeError> {
    return Effect.tryPromise({ try: () => this.config.link.flush(), catch: (e) => linkError("deliver to", e) })
  }

  /** Take records in from the link until the generation stops (forked by the run). */
  receiveLoop(): Effect.Effect<void, WeirRuntimeError> {
    const ex = this
    return Effect.gen(function*() {
      while (ex.receiving) {
        if (ex.inbox.length >= MAX_INBOX) {
          yield* Effect.sleep(5)
          continue
        }
        const got = yield* Effect.tryPromise({ try: () => ex.config.link.receive(1000), catch: (e) => linkError("read", e) })
        if (got.length === 0) continue
        for (const r of got) ex.inbox.push(r)
        ex.wake()
      }
    })
  }

  /** Frames and marks that arrived. Returns whether there were any. */
  private receive(): boolean {
    if (this.inbox.length === 0) return false
    const records = this.inbox.splice(0)
    for (const r of records) {
      const d = r.keyGroup
      // Only the next record of a partition here counts: anything else is from before a seek, or not ours.
      const expected = this.nextOffset.get(d)
      if (expected === undefined || r.offset < expected) continue
      if (r.offset > expected) {
        // The offsets of a partition written without transactions have no gaps: records were deleted.
        throw new WeirRuntimeError({
          message: `key group ${d} must read partition ${d} of the exchange topic from offset ${expected}, but the ` +
            `topic's first record there is at ${r.offset}: records it had not applied were deleted (retention of the ` +
            "exchange topic, or the topic was recreated). Its state can't be made whole: give the exchange topic a " +
            "longer retention.ms than any key group may go unheld, and start the flow over with a new store"
        })
      }
      this.nextOffset.set(d, r.offset + 1)
      this.progressed = true
      const rec = decodeRecord(r.value)
      if (rec === undefined) continue
      if (rec.t === "frame") this.hold(d, r.offset, rec.header, rec.payload)
      else for (const [from, inc, epoch] of rec.marks) this.mark(d, from, inc, epoch)
    }
    return true
  }

  private hold(d: number, offset: number, h: { from: number; incarnation: number; epoch: number; step: number; port: number }, payload: ArrayBuffer): void {
    const a = this.applied.get(d)!.get(h.from)
    if (a !== undefined && notAfter(h.incarnation, h.epoch, a[0], a[1])) return
    const byFrom = this.held.get(d)!
    let list = byFrom.get(h.from)
    if (list === undefined) byFrom.set(h.from, (list = []))
    list.push({ offset, incarnation: h.incarnation, epoch: h.epoch, step: h.step, port: h.port, payload })
  }

  /** Sender `from` committed `(inc, epoch)`: apply its frames up to there, once. */
  private mark(d: number, from: number, inc: number, epoch: number): void {
    if (from === d) return
    const appliedHere = this.applied.get(d)!
    const a = appliedHere.get(from)
    if (a !== undefined && notAfter(inc, epoch, a[0], a[1])) return
    const byFrom = this.held.get(d)!
    const list = byFrom.get(from)
    if (list !== undefined) {
      const keep: Array<Held> = []
      const target = this.byIndex[d]!
      for (const f of list) {
        if (f.incarnation === inc && f.epoch <= epoch) {
          this.dirty = true
          const items = decodeBatch(f.payload)
          this.countIn(target.local, f.step, items.length)
          this.pushTo(target.steps[f.step]!, f.port, items)
        } else if (f.incarnation > inc || (f.incarnation === inc && f.epoch > epoch)) {
          keep.push(f)
        }
        // Else an older incarnation's frames past its last commit: never part of history.
      }
      if (keep.length === 0) byFrom.delete(from)
      else byFrom.set(from, keep)
    }
    appliedHere.set(from, [inc, epoch])
    const c = this.catchUp.get(`${d}:${from}`)
    if (c !== undefined && notAfter(c[2], c[3], inc, epoch)) this.catchUp.delete(`${d}:${from}`)
  }

  /** Stop at the next turn: with a last commit, or (the key groups are lost) without. */
  requestStop(commit: boolean): void {
    if (this.stopRequest === undefined || !commit) this.stopRequest = { commit }
    this.wake()
  }

  /** One turn: arrivals, timers, inputs (once caught up). Synchronous. */
  private turn(now: number): "busy" | "idle" | "closeEpoch" | "abort" {
    this.pending.check()
    let busy = this.receive()
    const due = this.catchUp.size === 0 ? this.timers.takeDue(now) : []
    if (due.length > 0) {
      busy = true
      this.dirty = true
      notifyGrouped(due)
    }
    if (this.catchUp.size === 0 && this.pending.size < MAX_WRITES_IN_FLIGHT) {
      const polled = this.pollInputs(now)
      if (polled === "abort") return "abort"
      if (polled.moved) {
        this.dirty = true
        if (polled.busy) busy = true
      }
    }
    if (now - this.lastFrameFlush >= FRAME_LINGER_MS) {
      this.sendFrames()
      this.lastFrameFlush = now
    }
    this.lastTurnBusy = busy
    if (now - this.epochStartedAt >= this.config.epochIntervalMs && !this.epochHeld()) return "closeEpoch"
    return busy ? "busy" : "idle"
  }

  private nextDue(): number {
    let at = this.epochHeld() ? Infinity : this.epochStartedAt + this.config.epochIntervalMs
    if (this.catchUp.size === 0) {
      for (const p of this.partitions) if (!p.ended && !p.waiting && p.awake < at) at = p.awake
    }
    const flushAt = this.lastFrameFlush + FRAME_LINGER_MS
    if (this.outgoing.size > 0 && flushAt < at) at = flushAt
    const t = this.timers.nextAt()
    return t < at ? t : at
  }

  protected mayWake(): boolean {
    return true
  }

  /** Run until stopped (a scale-out run has no end of its own), or fenced. */
  loop(): Effect.Effect<GenerationEnd, WeirRuntimeError | WeirRecoveryError> {
    return Effect.onExit(this.run(), (exit) =>
      Effect.sync(() => {
        this.receiving = false
        this.publishMetrics(true, this.epoch)
        this.endEpochSpan(exit._tag === "Failure" ? Cause.squash(exit.cause) : undefined)
      }))
  }

  private run(): Effect.Effect<GenerationEnd, WeirRuntimeError | WeirRecoveryError> {
    const ex = this
    const clock = this.config.clock
    return Effect.gen(function*() {
      for (;;) {
        const stop = ex.stopRequest
        if (stop !== undefined) {
          if (!stop.commit) return { _tag: "stopped", committed: false } as const
          const fenced = yield* ex.closeEpoch()
          if (fenced.length > 0) return { _tag: "fenced", keyGroups: fenced } as const
          // The last epoch's output, published now that it is committed.
          yield* ex.drainWrites()
          return { _tag: "stopped", committed: true } as const
        }
        const prev = setActiveClock(clock)
        let turn: "busy" | "idle" | "closeEpoch" | "abort"
        try {
          turn = yield* Effect.try({ try: () => ex.turn(nowMillis()), catch: asRuntimeError })
        } finally {
          setActiveClock(prev)
        }
        if (turn === "abort") return { _tag: "stopped", committed: false } as const
        ex.publishMetrics(false, ex.epoch)
        yield* ex.closeEnded()
        if (ex.pending.size >= MAX_WRITES_IN_FLIGHT) yield* ex.drainWrites()
        if (turn === "closeEpoch") {
          const fenced = yield* ex.closeEpoch()
          if (fenced.length > 0) return { _tag: "fenced", keyGroups: fenced } as const
        }
        if (!ex.lastTurnBusy) {
          yield* ex.idleUntil(ex.nextDue())
          continue
        }
        yield* ex.yieldIfDue()
      }
    })
  }

  /**
   * Close the epoch: flush frames (and the last marks), commit every key
   * group here, then send this epoch's marks. Returns the key groups the
   * store found taken over (nothing was committed then).
   */
  private closeEpoch(): Effect.Effect<ReadonlyArray<number>, WeirRuntimeError | WeirRecoveryError> {
    const ex = this
    return Effect.gen(function*() {
      yield* ex.drainWrites()
      ex.sendFrames()
      const changed = ex.dirty || ex.sentFrames || ex.stopRequest !== undefined ||
        (ex.progressed && ex.epochsSinceCommit >= PROGRESS_COMMIT_EPOCHS)
      ex.epochsSinceCommit++
      let commitMs: number | undefined
      if (changed) {
        yield* ex.flushLink()
        const started = performance.now()
        const commits = yield* Effect.suspend(() => {
          const prev = setActiveClock(ex.config.clock)
          try {
            return Effect.try({ try: () => ex.commits(), catch: asRuntimeError })
          } finally {
            setActiveClock(prev)
          }
        })
        const fenced = yield* Effect.withSpan(ex.config.store.commit(commits), "weir.commit", {
          attributes: { "weir.epoch": ex.epoch, "weir.key_groups": commits.length },
          ...(ex.epochSpan === undefined ? {} : { parent: ex.epochSpan })
        })
        if (fenced.length > 0) return fenced
        commitMs = performance.now() - started
        commitSeconds.updateUnsafe(commitMs / 1000, ex.config.context)
        ex.sendMarks(commits.map((c) => [c.keyGroup, c.incarnation, c.epoch] as const))
        ex.publishCommitted(ex.epoch)
        ex.progressed = false
        ex.epochsSinceCommit = 0
        ex.commitsDone++
      }
      ex.epochClosed(commitMs)
      ex.dirty = false
      ex.sentFrames = false
      ex.epoch++
      ex.epochStartedAt = ex.config.clock.now()
      ex.nextEpochSpan(ex.epoch)
      return []
    })
  }

  private readAtLastClose = 0

  private epochClosed(commitMs: number | undefined): void {
    this.publishMetrics(true, this.epoch)
    const read = this.counters.itemsRead
    const itemsIn = read - this.readAtLastClose
    this.readAtLastClose = read
    this.config.observe?.epochClosed?.({ epoch: this.epoch, itemsIn, commitMs })
  }

  /** Every key group's commit of this epoch: what changed, where to resume, what was applied. */
  private commits(): Array<KeyGroupCommit> {
    const steps = new Map<number, Array<StepSnapshots>>()
    for (const w of this.workers) steps.set(w.workerIndex, [])
    const partitionRows = new Map<string, { keys: Array<string>; states: Array<unknown> }>()
    const addPartition = (kg: number, stepId: string, name: string, state: unknown): void => {
      checkSnapshot(stepId, `partition '${name}'`, state)
      const at = `${kg}\u0000${stepId}`
      let rows = partitionRows.get(at)
      if (rows === undefined) {
        partitionRows.set(at, (rows = { keys: [], states: [] }))
        steps.get(kg)!.push({ stepId, full: true, keys: rows.keys, states: rows.states })
      }
      rows.keys.push(name)
      rows.states.push(state)
    }
    for (const p of this.partitions) {
      if (!p.fixed || !p.touched) continue
      p.touched = false
      addPartition(p.worker, p.stepId, p.name, p.snapshot())
    }
    for (const planned of this.plan.steps) {
      if (planned.kernel.kind !== "statefulBatch") continue
      for (const w of this.workers) {
        const step = w.steps[planned.index] as StatefulStep
        if (step.changedCount === 0) continue
        const keys: Array<string> = []
        const states: Array<unknown> = []
        step.takeSnapshots(false, keys, states)
        for (let i = 0; i < states.length; i++) {
          const state = states[i]
          if (typeof state === "object" && state !== null) checkSnapshot(planned.stepId, `key '${keys[i]}'`, state)
        }
        if (keys.length > 0) steps.get(w.workerIndex)!.push({ stepId: planned.stepId, full: false, keys, states })
      }
    }
    for (const sink of this.sinkSteps) {
      if (!sink.slots.some((slot) => slot.written)) continue
      this.sinkSnapshots(sink, (kg, name, state) => addPartition(kg, sink.stepId, name, state))
    }
    // A transactional sink's outbox, in full for every key group (an empty one says all is published):
    // its writer is the key group, so the next holder of the key group publishes what is left.
    this.prepareTransactional(this.epoch)
    for (const tx of this.txSinks) {
      const keys: Array<string> = []
      const states: Array<unknown> = []
      tx.snapshot(keys, states)
      steps.get(tx.worker)!.push({ stepId: tx.stepId, full: true, keys, states })
    }
    // Key groups here hand items over directly: a receiver has applied all of a sender here up to
    // this commit (unless it is still catching up on what that sender sent through the topic).
    for (const d of this.workers) {
      const appliedHere = this.applied.get(d.workerIndex)!
      for (const g of this.workers) {
        if (g === d || this.catchUp.has(`${d.workerIndex}:${g.workerIndex}`)) continue
        appliedHere.set(g.workerIndex, [this.incarnation.get(g.workerIndex)!, this.epoch])
      }
    }
    return this.workers.map((w) => {
      const kg = w.workerIndex
      let offset = this.nextOffset.get(kg)!
      for (const list of this.held.get(kg)!.values()) if (list.length > 0 && list[0]!.offset < offset) offset = list[0]!.offset
      return {
        keyGroup: kg,
        incarnation: this.incarnation.get(kg)!,
        epoch: this.epoch,
        exchangeOffset: offset,
        applied: Array.from(this.applied.get(kg)!, ([from, [i, e]]) => [from, i, e] as const),
        steps: steps.get(kg)!
      }
    })
  }
}

const linkFailures = new WeakSet<object>()

/** A failure of the link (`what`: "read", "deliver to"): the run builds a new generation rather than fail. */
export const linkError = (what: string, e: unknown): WeirRuntimeError => {
  const error = new WeirRuntimeError({
    message: `can't ${what} the exchange topic: ${e instanceof Error ? e.message : String(e)}`,
    cause: e
  })
  linkFailures.add(error)
  return error
}

/**
 * Whether a generation's failure is the store's, the link's or a
 * connector's (worth a new generation from the last commit) rather than the
 * flow's own functions'.
 */
export const isTransient = (e: unknown): boolean =>
  e instanceof WeirRecoveryError || isConnectorError(e) || (typeof e === "object" && e !== null && linkFailures.has(e))
