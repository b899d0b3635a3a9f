/**
 * The recovery store over a physical backend (SQLite files or PostgreSQL):
 * resume calculation, state loading, epoch commits and garbage collection,
 * written once for both.
 */
import type { EpochCommit, RecoveryContext, RecoveryStore, ResumePoint, WeirRecoveryError } from "@weir/core"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { RecoveryStoreError, StateSerializationError } from "./errors.js"
import { computeResume, type RecoveryMeta } from "./resume.js"
import { deserialize, serialize } from "./serde.js"

/** One snapshot row as stored: `bytes` is `null` for a discarded key. */
export interface SnapshotRow {
  readonly stepId: string
  readonly key: string
  readonly bytes: Buffer | null
}

/**
 * What a physical store provides. Every method may throw or reject; the store
 * turns failures into {@link RecoveryStoreError}s.
 */
export interface RecoveryBackend {
  /** Where the data lives, for error messages. */
  readonly where: string
  readMeta(): Promise<RecoveryMeta>
  writeExecution(ex: number, workerCount: number, resumeEpoch: number): Promise<void>
  /** Every key's newest row of `stepId` with an epoch before `beforeEpoch`. */
  loadNewest(stepId: string, beforeEpoch: number): Promise<ReadonlyArray<readonly [string, Buffer | null]>>
  /** Durably write the rows at `epoch`, then the worker's frontier (in that order). */
  commit(ex: number, worker: number, epoch: number, frontier: number, rows: ReadonlyArray<SnapshotRow>): Promise<void>
  /** The smallest frontier over the execution's workers (workers yet to write count as `resumeEpoch`). */
  minFrontier(ex: number, workerCount: number, resumeEpoch: number): Promise<number>
  /**
   * Drop every snapshot superseded by a newer one at or before `upTo`, and
   * discarded keys' last rows at or before it; record `upTo` as collected.
   */
  collect(upTo: number): Promise<void>
  close(): Promise<void>
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
 * Open a store over `backend` for one execution: computes the resume point
 * and records the execution. The backend is closed with the scope.
 */
export const openStore = (
  backend: RecoveryBackend,
  context: RecoveryContext,
  backupInterval: Duration.Duration
): Effect.Effect<RecoveryStore, WeirRecoveryError> =>
  Effect.gen(function*() {
    const attempt = <A>(what: string, f: () => Promise<A>) =>
      Effect.tryPromise({ try: f, catch: storeError(backend.where, what) })
    const meta = yield* attempt("reading partitions", () => backend.readMeta())
    const resume: ResumePoint = yield* Effect.try({
      try: () => {
        const { execution, epoch } = computeResume(meta, backend.where)
        return { execution, epoch }
      },
      catch: (e) => e as WeirRecoveryError
    })
    yield* attempt("recording the execution", () =>
      backend.writeExecution(resume.execution, context.workerCount, resume.epoch))
    const lag = commitLag(backupInterval, context.epochInterval)
    let collected = -Infinity
    const store: RecoveryStore = {
      resume,
      loadStates: (stepId) =>
        attempt(`loading states of step '${stepId}'`, async () => {
          const rows = await backend.loadNewest(stepId, resume.epoch)
          const out: Array<readonly [string, unknown]> = []
          for (const [key, bytes] of rows) if (bytes !== null) out.push([key, deserialize(stepId, key, bytes)])
          return out
        }),
      commit: (commit: EpochCommit) =>
        attempt(`committing epoch ${commit.epoch}`, async () => {
          const rows: Array<SnapshotRow> = []
          for (const e of commit.entries) {
            rows.push({ stepId: e.stepId, key: e.key, bytes: e.discard ? null : serialize(e.stepId, e.key, e.state) })
          }
          await backend.commit(resume.execution, commit.worker, commit.epoch, commit.frontier, rows)
          // Collect only what every worker has moved past, keeping `lag` epochs for backups.
          const closed = (await backend.minFrontier(resume.execution, context.workerCount, resume.epoch)) - 1
          const upTo = closed - lag
          if (upTo > collected && upTo >= 1) {
            await backend.collect(upTo)
            collected = upTo
          }
        })
    }
    return store
  })
