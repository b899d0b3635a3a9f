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

/**
 * Stands in `StepSnapshots.states` for a key whose state was discarded in the
 * epoch (a tombstone). States themselves are never symbols.
 *
 * @since 0.2.0
 */
export const DISCARDED: unique symbol = Symbol.for("@weir/core/DISCARDED")

/**
 * What one step (a stateful step, or a partitioned source or sink, whose keys
 * are its partition names) snapshots on one worker when an epoch closes, as
 * two parallel arrays: no object per key.
 *
 * @since 0.2.0
 */
export interface StepSnapshots {
  readonly stepId: string
  /**
   * `false`: the keys that changed in the epoch. `true`: every key the step
   * holds on this worker, so a key not listed has no state; once the epoch is
   * committed by every worker, every older snapshot of the step is
   * superseded. At a given epoch every worker gives the same `full` for a
   * step (a worker holding no key of a step gives nothing).
   */
  readonly full: boolean
  readonly keys: ReadonlyArray<string>
  /** `states[i]` is the state of `keys[i]`, or {@link DISCARDED}. */
  readonly states: ReadonlyArray<unknown>
}

/** What one worker commits when an epoch closes. */
export interface EpochCommit {
  /** The worker committing. */
  readonly worker: number
  /** The epoch that just closed. */
  readonly epoch: number
  /** The worker's frontier after it: the oldest epoch still in progress (`epoch + 1`). */
  readonly frontier: number
  /** Per step, what changed (or everything, see {@link StepSnapshots.full}). */
  readonly steps: ReadonlyArray<StepSnapshots>
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
  /**
   * `true` when a commit's work is mostly waiting on I/O elsewhere (a
   * database server): the runtime then writes an epoch's snapshots while the
   * next epoch runs, waiting for that write before the next commit (or the
   * end of the run), so a failed commit stops the run one epoch later.
   * Leave it unset for a store whose commits are work on this thread (the
   * embedded store): overlapping would gain nothing.
   */
  readonly pipelined?: boolean | undefined
  /** Every key's newest state for `stepId` before the resume epoch (discarded keys absent). */
  loadStates(stepId: string): Effect.Effect<ReadonlyArray<readonly [key: string, state: unknown]>, WeirRecoveryError>
  /**
   * Write one worker's commit durably: its snapshots, then its frontier. The
   * epoch counts as closed only when this succeeds. Superseded snapshots may be
   * collected once every worker's frontier has passed them (a full snapshot of
   * a step supersedes everything older of that step).
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
