/**
 * The recovery-store interface. Core only defines it; `@weir/recovery`
 * implements it (embedded SQLite and PostgreSQL), `@weir/testing` has an
 * in-memory one.
 *
 * The runtime writes, at every epoch close, one {@link EpochCommit}: the
 * snapshots of everything that changed in the epoch and the worker's new
 * frontier. On start it asks the store where to resume and loads, per step,
 * the newest state of every key before the resume epoch.
 *
 * Snapshot keys: stateful steps use `(stepId, key)`; partitioned sources and
 * sinks use `(stepId, partitionName)`.
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { WeirRecoveryError } from "../errors.js"

/** One snapshot row: a state, or a tombstone (`state` undefined and `discard` true). */
export interface SnapshotEntry {
  readonly stepId: string
  readonly key: string
  /** `true` when the key's state was discarded in this epoch. */
  readonly discard: boolean
  readonly state: unknown
}

/** What one worker commits when an epoch closes. */
export interface EpochCommit {
  /** The worker committing. */
  readonly worker: number
  /** The epoch that just closed. */
  readonly epoch: number
  /** The worker's frontier after it: the oldest epoch still in progress (`epoch + 1`). */
  readonly frontier: number
  readonly entries: ReadonlyArray<SnapshotEntry>
}

/** Where an execution starts. */
export interface ResumePoint {
  /** This execution's number (0 for the first). */
  readonly execution: number
  /** The epoch the execution starts at (1 for a fresh start). */
  readonly epoch: number
}

/** An opened store, for the workers of this process in one execution. */
export interface RecoveryStore {
  readonly resume: ResumePoint
  /** Every key's newest state for `stepId` before the resume epoch (discarded keys absent). */
  loadStates(stepId: string): Effect.Effect<ReadonlyArray<readonly [key: string, state: unknown]>, WeirRecoveryError>
  /**
   * Write one worker's commit durably: its snapshots, then its frontier. The
   * epoch counts as closed only when this succeeds. Superseded snapshots may be
   * collected once every worker's frontier has passed them.
   */
  commit(commit: EpochCommit): Effect.Effect<void, WeirRecoveryError>
}

/** What a run needs to open a store. */
export interface RecoveryContext {
  readonly flowId: string
  /** Workers of the whole execution. */
  readonly workerCount: number
  readonly epochInterval: Duration.Duration
}

/**
 * A recovery configuration: anything that can open a {@link RecoveryStore} for
 * a run. The store is closed when the run's scope closes.
 *
 * @since 0.1.0
 */
export interface RecoveryConfigLike {
  open(context: RecoveryContext): Effect.Effect<RecoveryStore, WeirRecoveryError, Scope.Scope>
}
