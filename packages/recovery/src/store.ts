/**
 * The recovery store over a physical backend (SQLite files or PostgreSQL):
 * resume calculation, state loading, epoch commits and garbage collection,
 * written once for both.
 */
import type { EpochCommit, RecoveryContext, RecoveryStore, ResumePoint, WeirRecoveryError } from "@weir/core"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { RecoveryStoreError, StateSerializationError, WrongFlowError } from "./errors.js"
import { computeResume, type RecoveryMeta } from "./resume.js"
import { encodeSegments, type Segment, SegmentWriter, statesFromSegments, type StoredSegment } from "./segments.js"

/** One worker's commit of one epoch, as a backend writes it. */
export interface BackendCommit {
  readonly ex: number
  readonly worker: number
  readonly epoch: number
  readonly frontier: number
  readonly segments: ReadonlyArray<Segment>
  /** Workers of the execution, and its resume epoch (a worker yet to write counts as that). */
  readonly workerCount: number
  readonly resumeEpoch: number
}

/**
 * What a physical store provides. Every method may throw or reject; the store
 * turns failures into {@link RecoveryStoreError}s.
 */
export interface RecoveryBackend {
  /** Where the data lives, for error messages. */
  readonly where: string
  /** Commits wait on a server: let the runtime overlap them with the next epoch (see `RecoveryStore.pipelined`). */
  readonly pipelined: boolean
  readMeta(): Promise<RecoveryMeta>
  /**
   * Record the execution, and drop snapshots at or after its resume epoch.
   * The first execution binds the store to `flowId`.
   */
  writeExecution(ex: number, workerCount: number, resumeEpoch: number, flowId: string): Promise<void>
  /**
   * The segments of `stepId` before `beforeEpoch` a resume needs: at least
   * those from the step's newest full snapshot before it on (older ones may
   * come too; they are skipped).
   */
  loadSegments(stepId: string, beforeEpoch: number): Promise<ReadonlyArray<StoredSegment>>
  /**
   * Durably write the commit's segments at its epoch (replacing any the
   * worker left at that epoch before), then the worker's frontier (in that
   * order), and return the smallest frontier over the execution's workers
   * after it.
   */
  commit(commit: BackendCommit): Promise<number>
  /**
   * Drop, per step, every segment older than the step's newest full snapshot
   * at or before `upTo`; record `upTo` as collected.
   * The store does not wait for it before going on, but never starts a
   * collection while another runs.
   */
  collect(upTo: number): Promise<void>
  close(): Promise<void>
}

/** What a store reports of one epoch commit, to a {@link StoreObserver}. */
export interface CommitStats {
  readonly epoch: number
  readonly worker: number
  /** Snapshot entries (keys) written, and the bytes of their segments. */
  readonly entries: number
  readonly bytes: number
  /** Serializing the states into segments, on the worker's thread. */
  readonly encodeMs: number
  /** Writing the segments and the frontier, until the store confirmed them durable. */
  readonly writeMs: number
}

/** What a store reports of one garbage collection, to a {@link StoreObserver}. */
export interface CollectStats {
  /** Collected up to this epoch. */
  readonly upTo: number
  readonly ms: number
}

/**
 * Called by a store after each commit and each garbage collection (for
 * logs, metrics or benchmarks). Keep it cheap: it runs on the worker's thread.
 */
export interface StoreObserver {
  readonly committed?: ((stats: CommitStats) => void) | undefined
  readonly collected?: ((stats: CollectStats) => void) | undefined
}

/** The commit lag in epochs: how long superseded snapshots are kept for backups. */
export const commitLag = (backupInterval: Duration.Duration, epochInterval: Duration.Duration): number => {
  const backup = Duration.toMillis(backupInterval)
  if (backup <= 0) return 0
  const epoch = Math.max(Duration.toMillis(epochInterval), 1)
  return Math.ceil(backup / epoch)
}

const storeError = (where: string, what: string) => (e: unknown): RecoveryStoreError | StateSerializationError =>
  e instanceof StateSerializationError || e instanceof RecoveryStoreError
    ? e
    : new RecoveryStoreError(`recovery store ${where}: ${what} failed: ${e instanceof Error ? e.message : String(e)}`, {
      cause: e
    })

/**
 * Garbage collection after a commit, without waiting for it: a commit asks
 * for collection up to an epoch and returns. One collection runs at a time; a
 * request that arrives meanwhile is served right after it (the latest covers
 * the earlier ones). Collecting late loses nothing: a collection only deletes
 * what durable frontiers already allow, and redoes whatever a failed one left.
 * A failure fails the next commit. (The embedded store collects synchronously,
 * so there it is done when the commit returns.)
 */
class Collector {
  private requested = 0
  private running: Promise<void> | undefined = undefined
  private failure: Error | undefined = undefined

  constructor(private readonly backend: RecoveryBackend, private readonly observer: StoreObserver | undefined) {}

  request(upTo: number): void {
    if (upTo <= this.requested) return
    this.requested = upTo
    this.running ??= this.run()
  }

  private async run(): Promise<void> {
    let done = 0
    try {
      while (done < this.requested) {
        const upTo = this.requested
        const started = performance.now()
        try {
          await this.backend.collect(upTo)
          this.observer?.collected?.({ upTo, ms: performance.now() - started })
        } catch (e) {
          this.failure = new Error(
            `collecting the snapshots superseded by epoch ${upTo} failed: ${e instanceof Error ? e.message : String(e)}`,
            { cause: e }
          )
          return
        }
        done = upTo
      }
    } finally {
      this.running = undefined
    }
  }

  /** Throw what the last collection failed with, if it did. */
  rethrow(): void {
    const failure = this.failure
    this.failure = undefined
    if (failure !== undefined) throw failure
  }

  /** Wait for the collection in progress (and those queued behind it). */
  async drain(): Promise<void> {
    while (this.running !== undefined) await this.running
  }
}

/**
 * Open a store over `backend` for one execution: computes the resume point
 * and records the execution. Pending garbage collection finishes when the
 * scope closes, before the backend is closed.
 */
export const openStore = (
  backend: RecoveryBackend,
  context: RecoveryContext,
  backupInterval: Duration.Duration,
  observer?: StoreObserver | undefined
): Effect.Effect<RecoveryStore, WeirRecoveryError, Scope.Scope> =>
  Effect.gen(function*() {
    const attempt = <A>(what: string, f: () => Promise<A>) =>
      Effect.tryPromise({ try: f, catch: storeError(backend.where, what) })
    const meta = yield* attempt("reading partitions", () => backend.readMeta())
    const resume: ResumePoint = yield* Effect.try({
      try: () => {
        const { execution, epoch } = computeResume(meta, backend.where)
        const bound = meta.flowIds[0]
        if (bound !== undefined && bound !== context.flowId) {
          throw new WrongFlowError(
            `the recovery store in ${backend.where} belongs to flow '${bound}', not to flow '${context.flowId}': ` +
              "a store keeps the state of one dataflow. Give this flow a store of its own (`weir recovery init`), " +
              `or run flow '${bound}' with this one`
          )
        }
        return { execution, epoch }
      },
      catch: (e) => e as WeirRecoveryError
    })
    yield* attempt("recording the execution", () =>
      backend.writeExecution(resume.execution, context.workerCount, resume.epoch, context.flowId))
    const lag = commitLag(backupInterval, context.epochInterval)
    const collector = new Collector(backend, observer)
    const writer = new SegmentWriter()
    // A failure of this last collection is left for the next run's collections to redo.
    yield* Effect.addFinalizer(() => Effect.promise(() => collector.drain()))
    const store: RecoveryStore = {
      resume,
      pipelined: backend.pipelined,
      loadStates: (stepId) =>
        attempt(`loading states of step '${stepId}'`, async () => {
          const segments = await backend.loadSegments(stepId, resume.epoch)
          return statesFromSegments(stepId, segments)
        }),
      commit: (commit: EpochCommit) =>
        attempt(`committing epoch ${commit.epoch}`, async () => {
          collector.rethrow()
          // Serialize before the backend opens its transaction.
          const started = performance.now()
          const segments: Array<Segment> = []
          for (const step of commit.steps) for (const s of encodeSegments(step, writer)) segments.push(s)
          const encoded = performance.now()
          const minFrontier = await backend.commit({
            ex: resume.execution,
            worker: commit.worker,
            epoch: commit.epoch,
            frontier: commit.frontier,
            segments,
            workerCount: context.workerCount,
            resumeEpoch: resume.epoch
          })
          if (observer?.committed !== undefined) {
            let entries = 0
            let bytes = 0
            for (const s of segments) {
              entries += s.count
              bytes += s.data.length
            }
            const writeMs = performance.now() - encoded
            observer.committed({ epoch: commit.epoch, worker: commit.worker, entries, bytes, encodeMs: encoded - started, writeMs })
          }
          // Collect only what every worker has moved past, keeping `lag` epochs for backups.
          const upTo = minFrontier - 1 - lag
          if (upTo >= 1) collector.request(upTo)
        })
    }
    return store
  })
