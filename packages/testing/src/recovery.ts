/**
 * An in-memory recovery store, for tests of resume behaviour.
 *
 * @since 0.1.0
 */
import type { EpochCommit, RecoveryConfigLike, RecoveryContext, RecoveryStore, ResumePoint } from "@weir/core"
import * as Effect from "effect/Effect"

interface Row {
  readonly epoch: number
  readonly state: unknown
  readonly discard: boolean
}

/**
 * Keeps snapshots in memory, for as long as the instance lives: run a flow,
 * abort it, run it again with the same instance and it resumes. The resume
 * point is computed like the real stores' (the latest execution's oldest
 * worker frontier). States are deep-copied with `structuredClone`, so a
 * state that is not structured-cloneable fails as it would when persisted.
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
  private readonly snaps = new Map<string, Map<string, Array<Row>>>()
  private readonly executions: Array<{ workerCount: number; resumeEpoch: number; fronts: Map<number, number> }> = []

  open(context: RecoveryContext) {
    return Effect.sync((): RecoveryStore => {
      const resume = this.resumePoint()
      const execution = { workerCount: context.workerCount, resumeEpoch: resume.epoch, fronts: new Map<number, number>() }
      this.executions.push(execution)
      return {
        resume,
        loadStates: (stepId) =>
          Effect.sync(() => {
            const out: Array<readonly [string, unknown]> = []
            for (const [key, rows] of this.snaps.get(stepId) ?? []) {
              let newest: Row | undefined
              for (const r of rows) if (r.epoch < resume.epoch && (newest === undefined || r.epoch >= newest.epoch)) newest = r
              if (newest !== undefined && !newest.discard) out.push([key, structuredClone(newest.state)])
            }
            return out
          }),
        commit: (commit: EpochCommit) =>
          Effect.sync(() => {
            for (const e of commit.entries) {
              let byKey = this.snaps.get(e.stepId)
              if (byKey === undefined) this.snaps.set(e.stepId, (byKey = new Map()))
              let rows = byKey.get(e.key)
              if (rows === undefined) byKey.set(e.key, (rows = []))
              const row = { epoch: commit.epoch, discard: e.discard, state: e.discard ? undefined : structuredClone(e.state) }
              const same = rows.findIndex((r) => r.epoch === commit.epoch)
              if (same >= 0) rows[same] = row
              else rows.push(row)
            }
            execution.fronts.set(commit.worker, commit.frontier)
          })
      }
    })
  }

  /** Where the next execution would resume. */
  resumePoint(): ResumePoint {
    const latest = this.executions[this.executions.length - 1]
    if (latest === undefined) return { execution: 0, epoch: 1 }
    let epoch = Infinity
    for (let w = 0; w < latest.workerCount; w++) {
      epoch = Math.min(epoch, Math.max(latest.fronts.get(w) ?? latest.resumeEpoch, latest.resumeEpoch))
    }
    return { execution: this.executions.length, epoch }
  }

  /** The states a resume would load for `stepId` now (for assertions). */
  statesOf(stepId: string): Promise<Map<string, unknown>> {
    const resume = this.resumePoint()
    const out = new Map<string, unknown>()
    for (const [key, rows] of this.snaps.get(stepId) ?? []) {
      let newest: Row | undefined
      for (const r of rows) if (r.epoch < resume.epoch && (newest === undefined || r.epoch >= newest.epoch)) newest = r
      if (newest !== undefined && !newest.discard) out.set(key, structuredClone(newest.state))
    }
    return Promise.resolve(out)
  }
}
