/**
 * Reading a running flow's numbers back out of the run's metric registry
 * (where core publishes them every 250 ms, for every worker thread): items in
 * and out and state keys per kernel step, summed over workers, and how much
 * of their input the file sources have read. Used by `GET /dataflow` and the
 * progress line.
 *
 * @since 0.2.0
 */
import type * as Context from "effect/Context"
import * as Metric from "effect/Metric"
import type { RenderedDataflow, RenderedOperator } from "@weir/core"

/**
 * One kernel step's live counts, over all workers.
 *
 * @since 0.2.0
 */
export interface StepCounts {
  readonly itemsIn: number
  readonly itemsOut: number
  /** Keys a stateful step holds; 0 for a stateless one. */
  readonly stateKeys: number
}

/** What the registry says right now. */
export interface LiveCounts {
  /** Per step id (as the `step_id` attribute names it). */
  readonly steps: ReadonlyMap<string, StepCounts>
  /** `weir_source_bytes_read` and `weir_source_bytes_total` summed over their partitions, when a source publishes them. */
  readonly bytes: { readonly read: number; readonly total: number } | undefined
}

const numberOf = (value: number | bigint | undefined): number => (value === undefined ? 0 : Number(value))

/** Read the registry of `context` once. */
export const readLiveCounts = (context: Context.Context<never>): LiveCounts => {
  const steps = new Map<string, { itemsIn: number; itemsOut: number; stateKeys: number }>()
  let bytesRead: number | undefined
  let bytesTotal: number | undefined
  for (const m of Metric.snapshotUnsafe(context)) {
    let value: number
    if (m.type === "Counter") value = numberOf(m.state.count)
    else if (m.type === "Gauge") value = numberOf(m.state.value)
    else continue
    switch (m.id) {
      case "weir_items_in_total":
      case "weir_items_out_total":
      case "weir_state_keys": {
        const stepId = m.attributes?.step_id
        if (typeof stepId !== "string") break
        let counts = steps.get(stepId)
        if (counts === undefined) steps.set(stepId, counts = { itemsIn: 0, itemsOut: 0, stateKeys: 0 })
        if (m.id === "weir_items_in_total") counts.itemsIn += value
        else if (m.id === "weir_items_out_total") counts.itemsOut += value
        else counts.stateKeys += value
        break
      }
      case "weir_source_bytes_read":
        bytesRead = (bytesRead ?? 0) + value
        break
      case "weir_source_bytes_total":
        bytesTotal = (bytesTotal ?? 0) + value
        break
    }
  }
  const bytes = bytesRead !== undefined && bytesTotal !== undefined ? { read: bytesRead, total: bytesTotal } : undefined
  return { steps, bytes }
}

const NO_COUNTS: StepCounts = { itemsIn: 0, itemsOut: 0, stateKeys: 0 }

/** The kernel steps of a rendered dataflow (the leaves of its step tree), in definition order. */
export const kernelSteps = (graph: RenderedDataflow): Array<RenderedOperator> => {
  const out: Array<RenderedOperator> = []
  const visit = (steps: ReadonlyArray<RenderedOperator>) => {
    for (const s of steps) {
      if (s.substeps.length === 0) out.push(s)
      else visit(s.substeps)
    }
  }
  visit(graph.substeps)
  return out
}

/** The ids of the input steps of a rendered dataflow. */
export const inputStepIds = (graph: RenderedDataflow): Array<string> =>
  kernelSteps(graph).filter((s) => s.opType === "input").map((s) => s.stepId)

/** Each kernel step's counts (zeros for a step that has published nothing yet), keyed by step id, in definition order. */
export const countsByKernelStep = (graph: RenderedDataflow, live: LiveCounts): Record<string, StepCounts> => {
  const out: Record<string, StepCounts> = {}
  for (const s of kernelSteps(graph)) out[s.stepId] = live.steps.get(s.stepId) ?? NO_COUNTS
  return out
}

/** Items the given input steps have emitted so far. */
export const itemsRead = (inputs: ReadonlyArray<string>, live: LiveCounts): number => {
  let n = 0
  for (const id of inputs) n += live.steps.get(id)?.itemsOut ?? 0
  return n
}
