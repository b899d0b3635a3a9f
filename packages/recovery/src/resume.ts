/**
 * The resume calculation, shared by every store: from what all partitions
 * hold about partitions, executions, frontiers and garbage collection, decide
 * which execution this is and from which epoch it resumes.
 */
import type { ResumePoint } from "@weir/core"
import { InconsistentPartitionsError, MissingPartitionsError, NoPartitionsError } from "./errors.js"

export interface RecoveryMeta {
  /** Each partition, with the id of the store it was initialised in (absent in stores made before ids). */
  readonly parts: ReadonlyArray<{ readonly index: number; readonly count: number; readonly storeId: string | undefined }>
  readonly executions: ReadonlyArray<{ readonly ex: number; readonly workerCount: number; readonly resumeEpoch: number }>
  readonly frontiers: ReadonlyArray<{ readonly ex: number; readonly worker: number; readonly frontier: number }>
  readonly commits: ReadonlyArray<{ readonly part: number; readonly epoch: number }>
  /** The flow id each partition is bound to (none before the first run). */
  readonly flowIds: ReadonlyArray<string>
}

const listOf2 = (xs: Iterable<string>) => [...new Set(xs)].map((x) => `'${x}'`).join(", ")

const listOf = (xs: Iterable<number>) => `{${Array.from(xs).sort((a, b) => a - b).join(", ")}}`

/** The resume point, or the reason there is none. Also checks the partitions are complete and consistent. */
export const computeResume = (meta: RecoveryMeta, where: string): ResumePoint & { readonly partCount: number } => {
  if (meta.parts.length === 0) {
    throw new NoPartitionsError(
      `No recovery partitions found in ${where}; can't resume. Initialise the store first with \`weir recovery init\``
    )
  }
  const counts = new Set(meta.parts.map((p) => p.count))
  if (counts.size > 1) {
    throw new InconsistentPartitionsError(
      `Inconsistent partition counts ${listOf(counts)} in recovery partitions in ${where}; can't resume. ` +
        "All partitions must come from the same `weir recovery init`"
    )
  }
  const count = meta.parts[0]!.count
  const storeIds = new Set(meta.parts.map((p) => p.storeId))
  if (storeIds.size > 1) {
    throw new InconsistentPartitionsError(
      `Recovery partitions in ${where} come from different stores (each \`weir recovery init\` gives its store an id, and ` +
        `these partitions hold ${[...storeIds].map((id) => id ?? "none").join(", ")}); can't resume. ` +
        "Were files of another store copied in? Keep only one store's partitions in a store"
    )
  }
  const indices = meta.parts.map((p) => p.index)
  const twice = indices.filter((i, at) => indices.indexOf(i) !== at)
  if (twice.length > 0) {
    throw new InconsistentPartitionsError(
      `Recovery partitions ${listOf(new Set(twice))} of ${count} in ${where} exist twice; can't resume. ` +
        "Keep one copy of each partition"
    )
  }
  if (new Set(meta.flowIds).size > 1) {
    throw new InconsistentPartitionsError(
      `Recovery partitions in ${where} are bound to different flows (${listOf2(meta.flowIds)}); can't resume. ` +
        "Keep only one store's partitions in a store"
    )
  }
  const present = new Set(meta.parts.map((p) => p.index))
  const missing: Array<number> = []
  for (let i = 0; i < count; i++) if (!present.has(i)) missing.push(i)
  if (missing.length > 0) {
    throw new MissingPartitionsError(
      `Missing recovery partitions ${listOf(missing)} of ${count} in ${where}; can't resume. ` +
        "Restore them (every partition must be reachable) before running"
    )
  }
  let point: ResumePoint = { execution: 0, epoch: 1 }
  if (meta.executions.length > 0) {
    let latest = meta.executions[0]!
    for (const e of meta.executions) if (e.ex > latest.ex) latest = e
    const fronts = new Map<number, number>()
    for (const f of meta.frontiers) {
      if (f.ex === latest.ex) fronts.set(f.worker, Math.max(fronts.get(f.worker) ?? -Infinity, f.frontier))
    }
    let resume = Infinity
    for (let w = 0; w < latest.workerCount; w++) {
      resume = Math.min(resume, Math.max(fronts.get(w) ?? latest.resumeEpoch, latest.resumeEpoch))
    }
    point = { execution: latest.ex + 1, epoch: resume }
  }
  const tooNew = meta.commits.filter((c) => c.epoch > point.epoch).map((c) => c.part)
  if (tooNew.length > 0) {
    throw new InconsistentPartitionsError(
      `Recovery partitions ${listOf(tooNew)} of ${count} in ${where} are too old to resume from epoch ${point.epoch} ` +
        "without data loss; do you have a newer backup of these partitions?"
    )
  }
  return { ...point, partCount: count }
}
