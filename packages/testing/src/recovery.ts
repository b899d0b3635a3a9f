/**
 * An in-memory recovery store, for tests of resume behaviour.
 *
 * @since 0.1.0
 */
import {
  DISCARDED,
  type EpochCommit,
  type RecoveryConfigLike,
  type RecoveryContext,
  type RecoveryStore,
  type ResumePoint,
  WeirRecoveryError
} from "@weir/core"
import * as Effect from "effect/Effect"

/** One snapshot of one key, written when `epoch` closed. */
interface Row {
  readonly epoch: number
  /** A structured clone of the state; `undefined` for a tombstone. */
  readonly state: unknown
  readonly discard: boolean
}

/** What the resume calculation needs of one execution. */
interface ExecutionRecord {
  readonly workerCount: number
  readonly resumeEpoch: number
  /** Each worker's last written frontier. */
  readonly frontiers: Map<number, number>
}

/**
 * Keeps snapshots in memory, for as long as the instance lives: run a flow,
 * abort it, run it again with the same instance and it resumes.
 *
 * Resume point, as the real stores compute it: no execution yet → execution
 * 0 at epoch 1; otherwise the next execution number, at the oldest frontier
 * among the latest execution's workers (a worker's frontier being the larger
 * of what it last wrote and that execution's resume epoch). Loading gives
 * each key's newest state from before the resume epoch, and no older than the
 * step's newest full snapshot before it; a tombstone there means no state. Snapshots an aborted execution wrote at or after the resume
 * epoch are dropped when the next one opens, since that epoch is replayed.
 *
 * States are deep-copied with `structuredClone` on commit and on load, so a
 * later mutation can't leak between runs, and a state that can't be cloned
 * fails the commit with a `WeirRecoveryError` naming the step and key, as it
 * would when persisted. A failed commit writes nothing.
 *
 * @example
 * ```ts
 * const recovery = new InMemoryRecovery()
 * await runMain(flow, { epochInterval: 0, recovery })   // aborts half way
 * await runMain(flow, { epochInterval: 0, recovery })   // resumes
 * ```
 * @since 0.1.0
 */
export class InMemoryRecovery implements RecoveryConfigLike {
  /** stepId → key → rows, oldest epoch first. */
  private readonly snapshots = new Map<string, Map<string, Array<Row>>>()
  /** stepId → epochs with a full snapshot of the step (everything older is superseded). */
  private readonly fulls = new Map<string, Set<number>>()
  private readonly executions: Array<ExecutionRecord> = []

  open(context: RecoveryContext): Effect.Effect<RecoveryStore, WeirRecoveryError> {
    return Effect.sync((): RecoveryStore => {
      const resume = this.resumePoint()
      this.dropFrom(resume.epoch)
      const execution: ExecutionRecord = {
        workerCount: context.workerCount,
        resumeEpoch: resume.epoch,
        frontiers: new Map()
      }
      this.executions.push(execution)
      return {
        resume,
        loadStates: (stepId) =>
          Effect.sync(() => {
            const out: Array<readonly [string, unknown]> = []
            for (const [key, state] of this.statesBefore(stepId, resume.epoch)) out.push([key, state])
            return out
          }),
        commit: (commit: EpochCommit) =>
          Effect.try({
            try: () => {
              this.write(commit)
              execution.frontiers.set(commit.worker, commit.frontier)
            },
            catch: (e) => (e instanceof WeirRecoveryError ? e : new WeirRecoveryError(String(e), { cause: e }))
          })
      }
    })
  }

  /**
   * Where the next execution would resume.
   *
   * @example
   * ```ts
   * new InMemoryRecovery().resumePoint() // { execution: 0, epoch: 1 }
   * ```
   */
  resumePoint(): ResumePoint {
    const latest = this.executions[this.executions.length - 1]
    if (latest === undefined) return { execution: 0, epoch: 1 }
    let epoch = Infinity
    for (let w = 0; w < latest.workerCount; w++) {
      epoch = Math.min(epoch, Math.max(latest.frontiers.get(w) ?? latest.resumeEpoch, latest.resumeEpoch))
    }
    return { execution: this.executions.length, epoch: Number.isFinite(epoch) ? epoch : latest.resumeEpoch }
  }

  /**
   * The states a resume would load for `stepId` now, by key (for assertions).
   *
   * @example
   * ```ts
   * const recovery = new InMemoryRecovery()
   * await runMain(flow, { epochInterval: 0, recovery })
   * expect(await recovery.statesOf("test_df.count")).toEqual(new Map([["a", 2]]))
   * ```
   */
  statesOf(stepId: string): Promise<Map<string, unknown>> {
    return Promise.resolve(this.statesBefore(stepId, this.resumePoint().epoch))
  }

  /**
   * The ids of the steps that have snapshots here, sorted (for assertions).
   *
   * @example
   * ```ts
   * const recovery = new InMemoryRecovery()
   * await runMain(flow, { epochInterval: 0, recovery })
   * for (const id of recovery.stepIds()) console.log(id, await recovery.statesOf(id))
   * ```
   */
  stepIds(): Array<string> {
    return [...this.snapshots.keys()].sort()
  }

  /** Each key's newest state written before `epoch`, cloned; tombstoned keys left out. */
  private statesBefore(stepId: string, epoch: number): Map<string, unknown> {
    const out = new Map<string, unknown>()
    let since = -Infinity
    for (const f of this.fulls.get(stepId) ?? []) if (f < epoch && f > since) since = f
    for (const [key, rows] of this.snapshots.get(stepId) ?? []) {
      let newest: Row | undefined
      for (const row of rows) {
        if (row.epoch < epoch && row.epoch >= since && (newest === undefined || row.epoch >= newest.epoch)) newest = row
      }
      if (newest !== undefined && !newest.discard) out.set(key, structuredClone(newest.state))
    }
    return out
  }

  private write(commit: EpochCommit): void {
    // Clone everything first, so a state that can't be cloned writes nothing.
    const rows: Array<Array<Row>> = []
    for (const step of commit.steps) {
      const cloned: Array<Row> = []
      for (let i = 0; i < step.keys.length; i++) {
        const state = step.states[i]
        const discard = state === DISCARDED
        cloned.push({ epoch: commit.epoch, discard, state: discard ? undefined : cloneState(step.stepId, step.keys[i]!, state) })
      }
      rows.push(cloned)
    }
    commit.steps.forEach((step, s) => {
      if (step.full) {
        let epochs = this.fulls.get(step.stepId)
        if (epochs === undefined) this.fulls.set(step.stepId, (epochs = new Set()))
        epochs.add(commit.epoch)
      }
      let byKey = this.snapshots.get(step.stepId)
      if (byKey === undefined) this.snapshots.set(step.stepId, (byKey = new Map()))
      for (let i = 0; i < step.keys.length; i++) {
        const key = step.keys[i]!
        const row = rows[s]![i]!
        const kept = byKey.get(key)
        if (kept === undefined) {
          byKey.set(key, [row])
          continue
        }
        const same = kept.findIndex((r) => r.epoch === commit.epoch)
        if (same >= 0) kept[same] = row
        else kept.push(row)
      }
    })
  }

  /** Forget snapshots of epochs the next execution replays. */
  private dropFrom(epoch: number): void {
    for (const epochs of this.fulls.values()) for (const f of epochs) if (f >= epoch) epochs.delete(f)
    for (const byKey of this.snapshots.values()) {
      for (const [key, rows] of byKey) {
        const kept = rows.filter((r) => r.epoch < epoch)
        if (kept.length === 0) byKey.delete(key)
        else if (kept.length < rows.length) byKey.set(key, kept)
      }
    }
  }
}

/** A deep copy of a state, or a `WeirRecoveryError` naming where it came from. */
const cloneState = (stepId: string, key: string, state: unknown): unknown => {
  try {
    return structuredClone(state)
  } catch (e) {
    throw new WeirRecoveryError(
      `can't serialize the state of key '${key}' in step '${stepId}': ${e instanceof Error ? e.message : String(e)}; ` +
        "states must be structured-cloneable (plain objects, arrays, Map, Set, Date, bigint, typed arrays)",
      { cause: e }
    )
  }
}
