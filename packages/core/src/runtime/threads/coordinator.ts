/**
 * The coordinator: the thread that called `runCluster` with a flow module.
 * It starts one worker thread per worker (each imports the module and builds
 * its own plan), connects them in a full mesh of `MessagePort`s, owns the
 * recovery store (the lease, the state every worker restores, every epoch
 * commit) and decides which epochs snapshot a step in full. The workers'
 * lifecycle is a `Scope`: failure or interruption stops every thread.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import { isAbsolute, resolve } from "node:path"
import { pathToFileURL } from "node:url"
import { MessageChannel, type MessagePort, Worker } from "node:worker_threads"
import { WeirRecoveryError, WeirRuntimeError } from "../../errors.js"
import { decodeBatch, encodeBatch } from "../codec.js"
import type { RecoveryConfigLike, RecoveryStore, StepSnapshots } from "../recovery.js"
import { DISCARDED } from "../recovery.js"
import { applyReadings, commitSeconds } from "../metrics.js"
import { type RunObserver, StepSpanSampling, type ThreadTracing, ThreadTracingSpec } from "../observability.js"
import { ownerOf } from "../routing.js"
import { outboxOwner, parseOutboxKey } from "../sinks.js"
import type { FromWorker, ToWorker, WireError, WireSnapshots, WorkerData } from "./protocol.js"

/**
 * A dataflow to run on worker threads: a module each thread imports, and the
 * export holding the `Dataflow` (or a function returning one, or a promise of
 * one).
 *
 * @since 0.2.0
 */
export interface FlowModule {
  /** A path (relative to the working directory) or a `file:` URL. */
  readonly module: string | URL
  /** The export holding the dataflow. Default `"flow"`. */
  readonly export?: string | undefined
  /** Arguments to call the export with, when it is a function. */
  readonly args?: ReadonlyArray<unknown> | undefined
}

/** Epochs a worker may run ahead of the last one the store has written. */
const EPOCHS_AHEAD = 3

/** How long a stopping worker gets to close its sources and sinks before it is terminated. */
const STOP_GRACE_MS = 3000

export interface ThreadsConfig {
  readonly workers: number
  readonly epochInterval: Duration.Duration
  readonly recovery: RecoveryConfigLike | undefined
  readonly observe: RunObserver | undefined
}

type Event =
  | { readonly worker: number; readonly message: FromWorker }
  | { readonly worker: number; readonly crashed: unknown }

export const moduleUrl = (m: string | URL): string => {
  if (m instanceof URL) return m.href
  if (/^[a-z][a-z0-9+.-]*:/i.test(m) && !/^[a-z]:[\\/]/i.test(m)) return m
  return pathToFileURL(isAbsolute(m) ? m : resolve(process.cwd(), m)).href
}

/**
 * The flags of this process a worker thread takes too: loaders and export
 * conditions (so the flow module resolves as it does here) and warning
 * options. Node refuses V8 and per-process flags (`--expose-gc`,
 * `--max-old-space-size`, …) for a thread; those stay this thread's.
 */
const threadExecArgv = (): Array<string> => {
  const out: Array<string> = []
  const args = process.execArgv
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!
    const name = a.split("=")[0]!
    if (["--import", "--require", "-r", "--loader", "--experimental-loader", "--conditions", "-C"].includes(name)) {
      out.push(a)
      if (!a.includes("=") && i + 1 < args.length) out.push(args[++i]!)
    } else if (/^--(no-)?(warnings|deprecation|enable-source-maps|trace-warnings|experimental-[\w-]+)$/.test(name)) {
      out.push(a)
    }
  }
  return out
}

/** The entry script: the built one, or (running from TypeScript sources) one that loads them through tsx. */
const entry = (): URL => new URL(import.meta.url.endsWith(".ts") ? "./dev-entry.mjs" : "./entry.js", import.meta.url)

const rebuildError = (e: WireError, worker: number): WeirRuntimeError | WeirRecoveryError => {
  let cause: Error | undefined
  if (e.causeMessage !== undefined) {
    cause = new Error(e.causeMessage)
    if (e.causeName !== undefined) cause.name = e.causeName
    if (e.causeStack !== undefined) cause.stack = e.causeStack
  }
  if (e.recovery) {
    const r = new WeirRecoveryError(e.message, { cause })
    if (e.name !== undefined) r.name = e.name
    return r
  }
  return new WeirRuntimeError({
    message: e.stepId === undefined && !e.message.includes("worker") ? `worker ${worker}: ${e.message}` : e.message,
    stepId: e.stepId,
    cause
  })
}

/** Start the worker threads (in `scope`: closing it stops them all). */
const spawn = (
  flow: FlowModule,
  config: ThreadsConfig,
  events: Queue.Queue<Event>,
  tracing: ThreadTracing | undefined,
  stepSpanSampling: number
) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const n = config.workers
      const ports: Array<Array<MessagePort | undefined>> = Array.from({ length: n }, () => new Array(n).fill(undefined))
      for (let i = 0; i < n; i++) {
        for (let j = i + 1; j < n; j++) {
          const { port1, port2 } = new MessageChannel()
          ports[i]![j] = port1
          ports[j]![i] = port2
        }
      }
      const url = entry()
      const threads: Array<Worker> = []
      for (let w = 0; w < n; w++) {
        const own = ports[w]!
        const data: WorkerData = {
          module: moduleUrl(flow.module),
          exportName: flow.export ?? "flow",
          args: flow.args,
          worker: w,
          workers: n,
          epochIntervalMs: Duration.toMillis(config.epochInterval),
          tracking: config.recovery !== undefined,
          ports: own,
          tracing,
          stepSpanSampling
        }
        const thread = new Worker(url, {
          workerData: data,
          transferList: own.filter((p): p is MessagePort => p !== undefined),
          execArgv: threadExecArgv(),
          name: `weir worker ${w}`
        })
        thread.on("message", (message: FromWorker) => Queue.offerUnsafe(events, { worker: w, message }))
        thread.on("error", (e) => Queue.offerUnsafe(events, { worker: w, crashed: e }))
        thread.on("exit", (code) => {
          if (code !== 0) Queue.offerUnsafe(events, { worker: w, crashed: new Error(`exited with code ${code}`) })
        })
        threads.push(thread)
      }
      return threads
    }),
    (threads) => Effect.promise(() => stopAll(threads))
  )

/** Ask every thread to stop (closing its partitions), and terminate those that don't in time. */
const stopAll = async (threads: ReadonlyArray<Worker>): Promise<void> => {
  await Promise.all(threads.map((t) =>
    new Promise<void>((done) => {
      if (t.threadId === -1) return done()
      const timer = setTimeout(() => void t.terminate().then(() => done(), () => done()), STOP_GRACE_MS)
      t.once("exit", () => {
        clearTimeout(timer)
        done()
      })
      t.on("message", (m: FromWorker) => {
        if (m.t === "stopped" || m.t === "done" || m.t === "error" || m.t === "abort") void t.terminate()
      })
      try {
        t.postMessage({ t: "stop" } satisfies ToWorker)
      } catch {
        void t.terminate()
      }
    })
  ))
}

/** The per-step bookkeeping behind full snapshots (see `Execution.takesFull`): decided here for every worker at once. */
class FullSnapshots {
  private readonly logged = new Map<string, number>()
  private readonly live = new Map<string, number>()
  /** The epoch of the full snapshot decided and not yet written, per step. */
  private readonly pendingAt = new Map<string, number>()

  constructor(stepIds: ReadonlyArray<string>, restored: ReadonlyMap<string, number>) {
    for (const id of stepIds) {
      this.logged.set(id, restored.get(id) ?? 0)
      this.live.set(id, restored.get(id) ?? 0)
    }
  }

  /** The steps that snapshot in full at `epoch`: once what is stored since their last full one reaches twice their keys. */
  decide(epoch: number): Array<string> {
    const full: Array<string> = []
    for (const [id, logged] of this.logged) {
      if (this.pendingAt.has(id)) continue
      if (logged > 0 && logged >= 2 * this.live.get(id)!) {
        full.push(id)
        this.pendingAt.set(id, epoch)
        this.logged.set(id, 0)
      }
    }
    return full
  }

  /** Epoch `epoch` was written: `entries` per step, and the keys held after it. */
  written(epoch: number, entries: ReadonlyMap<string, number>, live: ReadonlyMap<string, number>): void {
    for (const [id, n] of entries) {
      // Only stateful steps: sources and sinks are written in full every time.
      if (!this.logged.has(id)) continue
      const at = this.pendingAt.get(id)
      if (at !== undefined && epoch < at) continue
      if (at !== undefined && epoch >= at) this.pendingAt.delete(id)
      this.logged.set(id, (this.logged.get(id) ?? 0) + n)
    }
    for (const [id, n] of live) if (this.live.has(id)) this.live.set(id, n)
  }

  /** Epoch `epoch` was skipped (nothing changed): a full snapshot decided for it is decided again. */
  skipped(epoch: number): void {
    for (const [id, at] of this.pendingAt) {
      if (at !== epoch) continue
      this.pendingAt.delete(id)
      this.logged.set(id, Math.max(1, 2 * this.live.get(id)!))
    }
  }
}

/**
 * Tells the run's observer of each epoch once every worker passed it (and,
 * with a store, once it was written, with the commit's time).
 */
class EpochReports {
  private readonly pending = new Map<number, { workers: number; itemsIn: number; commitMs: number | undefined; written: boolean }>()
  constructor(private readonly n: number, private readonly tracking: boolean, private readonly observe: RunObserver | undefined) {}

  private at(epoch: number) {
    let p = this.pending.get(epoch)
    if (p === undefined) this.pending.set(epoch, (p = { workers: 0, itemsIn: 0, commitMs: undefined, written: false }))
    return p
  }

  closedOn(epoch: number, itemsIn: number): void {
    const p = this.at(epoch)
    p.workers++
    p.itemsIn += itemsIn
    this.report(epoch)
  }

  committed(epoch: number, ms: number | undefined): void {
    const p = this.at(epoch)
    p.written = true
    p.commitMs = ms
    this.report(epoch)
  }

  private report(epoch: number): void {
    const p = this.pending.get(epoch)!
    if (p.workers < this.n || (this.tracking && !p.written)) return
    this.pending.delete(epoch)
    this.observe?.epochClosed?.({ epoch, itemsIn: p.itemsIn, commitMs: p.commitMs })
  }
}

const toSnapshots = (w: WireSnapshots): StepSnapshots => {
  const states = decodeBatch(w.states)
  for (const i of w.discarded) states[i] = DISCARDED
  return { stepId: w.stepId, full: w.full, keys: w.keys, states }
}

/**
 * Run `flow` on `config.workers` worker threads of this process until every
 * input has ended (or a source aborts). Fails with the first worker's error.
 */
export const runThreads = (
  flow: FlowModule,
  config: ThreadsConfig
): Effect.Effect<void, WeirRuntimeError | WeirRecoveryError, Scope.Scope> =>
  Effect.gen(function*() {
    const n = config.workers
    const events = yield* Queue.unbounded<Event>()
    const context = yield* Effect.context<never>()
    const tracing = yield* ThreadTracingSpec
    const threads = yield* spawn(flow, config, events, tracing, tracing === undefined ? 0 : yield* StepSpanSampling)
    const post = (w: number, m: ToWorker, transfer?: Array<ArrayBuffer>) => threads[w]!.postMessage(m, transfer)
    const next = Effect.flatMap(Queue.take(events), (ev) => {
      if ("crashed" in ev) {
        const e = ev.crashed
        return Effect.fail(
          new WeirRuntimeError({
            message: `worker thread ${ev.worker} failed: ${e instanceof Error ? e.message : String(e)}`,
            cause: e
          })
        )
      }
      if (ev.message.t === "error") return Effect.fail(rebuildError(ev.message.error, ev.worker))
      return Effect.succeed(ev as { readonly worker: number; readonly message: FromWorker })
    })

    // The handshake: every worker built the same plan.
    const ready: Array<Extract<FromWorker, { t: "ready" }>> = new Array(n)
    for (let got = 0; got < n;) {
      const ev = yield* next
      if (ev.message.t !== "ready") continue
      ready[ev.worker] = ev.message
      got++
    }
    const first = ready[0]!
    for (let w = 1; w < n; w++) {
      const r = ready[w]!
      if (r.flowId !== first.flowId || r.stateful.join("\u0000") !== first.stateful.join("\u0000")) {
        return yield* Effect.fail(
          new WeirRuntimeError({
            message: `worker threads built different dataflows from '${String(flow.module)}' (worker 0: '${first.flowId}', ` +
              `worker ${w}: '${r.flowId}'); the flow module must build the same dataflow in every thread`
          })
        )
      }
    }

    // The store, and what each worker restores.
    let store: RecoveryStore | undefined
    let epoch = 1
    const restored = new Map<string, number>()
    const perWorker: Array<Array<readonly [string, ArrayBuffer]>> = Array.from({ length: n }, () => [])
    const transfers: Array<Array<ArrayBuffer>> = Array.from({ length: n }, () => [])
    if (config.recovery !== undefined) {
      store = yield* config.recovery.open({ flowId: first.flowId, workerCount: n, epochInterval: config.epochInterval })
      epoch = store.resume.epoch
      for (const stepId of first.stateful) {
        const rows = yield* store.loadStates(stepId)
        restored.set(stepId, rows.length)
        const byOwner: Array<Array<readonly [string, unknown]>> = Array.from({ length: n }, () => [])
        for (const row of rows) byOwner[ownerOf(row[0], n)]!.push(row)
        for (let w = 0; w < n; w++) {
          const buf = encodeBatch(stepId, byOwner[w]!)
          perWorker[w]!.push([stepId, buf])
          transfers[w]!.push(buf)
        }
      }
      for (const stepId of first.transactional) {
        const rows = yield* store.loadStates(stepId)
        const byOwner: Array<Array<readonly [string, unknown]>> = Array.from({ length: n }, () => [])
        for (const row of rows) {
          const at = parseOutboxKey(row[0])
          if (at !== undefined) byOwner[outboxOwner(at.writer, n)]!.push(row)
        }
        for (let w = 0; w < n; w++) {
          const buf = encodeBatch(stepId, byOwner[w]!)
          perWorker[w]!.push([stepId, buf])
          transfers[w]!.push(buf)
        }
      }
      for (const stepId of first.partitioned) {
        const rows = yield* store.loadStates(stepId)
        for (let w = 0; w < n; w++) {
          const buf = encodeBatch(stepId, rows)
          perWorker[w]!.push([stepId, buf])
          transfers[w]!.push(buf)
        }
      }
    }
    config.observe?.started?.(first.graph)
    const fulls = new FullSnapshots(first.stateful, restored)
    for (let w = 0; w < n; w++) post(w, { t: "start", epoch, states: perWorker[w]! }, transfers[w]!)
    const directive = (e: number) => {
      const m: ToWorker = { t: "epoch", epoch: e, full: fulls.decide(e) }
      for (let w = 0; w < n; w++) post(w, m)
    }
    if (store !== undefined) for (let e = epoch; e < epoch + EPOCHS_AHEAD; e++) directive(e)

    const epochs = new EpochReports(n, store !== undefined, config.observe)
    // Commits, in epoch order, each once every worker sent its own.
    const commits = new Map<number, Array<Extract<FromWorker, { t: "commit" }> | undefined>>()
    let toWrite = epoch
    let finalEpoch: number | undefined
    let done = 0
    const writeReady = Effect.gen(function*() {
      for (;;) {
        const at = commits.get(toWrite)
        if (at === undefined || at.some((c) => c === undefined)) return
        commits.delete(toWrite)
        const all = at as Array<Extract<FromWorker, { t: "commit" }>>
        if (all.some((c) => c.dirty || c.final)) {
          const started = performance.now()
          const entries = new Map<string, number>()
          const live = new Map<string, number>()
          for (let w = 0; w < n; w++) {
            const c = all[w]!
            const steps = c.steps.map(toSnapshots)
            for (const s of steps) entries.set(s.stepId, (entries.get(s.stepId) ?? 0) + s.keys.length)
            for (const [id, k] of c.live) live.set(id, (live.get(id) ?? 0) + k)
            yield* store!.commit({ worker: w, epoch: toWrite, frontier: toWrite + 1, steps })
          }
          fulls.written(toWrite, entries, live)
          const ms = performance.now() - started
          commitSeconds.updateUnsafe(ms / 1000, context)
          epochs.committed(toWrite, ms)
          if (first.transactional.length > 0) {
            const m: ToWorker = { t: "committed", epoch: toWrite }
            for (let w = 0; w < n; w++) post(w, m)
          }
        } else {
          fulls.skipped(toWrite)
          epochs.committed(toWrite, undefined)
        }
        if (all.some((c) => c.final)) finalEpoch = toWrite
        toWrite++
        if (finalEpoch === undefined) directive(toWrite + EPOCHS_AHEAD - 1)
      }
    })

    const seen = new Map<string, number>()
    for (;;) {
      const { message: m, worker } = yield* next
      switch (m.t) {
        case "metrics":
          applyReadings(m.readings, seen, context)
          break
        case "epoch":
          epochs.closedOn(m.epoch, m.itemsIn)
          break
        case "commit": {
          if (store === undefined) break
          let at = commits.get(m.epoch)
          if (at === undefined) commits.set(m.epoch, (at = new Array(n).fill(undefined)))
          at[worker] = m
          yield* writeReady
          break
        }
        case "abort":
          // A source aborted: stop the others; what was committed stands.
          return
        case "done":
          done++
          if (done === n) return
          break
        default:
          break
      }
    }
  })
