/**
 * Planning: flatten a {@link Dataflow} into its kernel steps, check it, and
 * describe how streams connect and where items must be exchanged between
 * workers. A plan is plain data; execution never looks at the definition again.
 */
import type { Dataflow, Step } from "../Dataflow.js"
import { WeirRuntimeError } from "../errors.js"
import type { FixedPartitionedSource } from "../inputs.js"
import type { KernelStep } from "../internal/kernel.js"
import type { FixedPartitionedSink } from "../outputs.js"

/** Where items cross workers before a step. */
export type Exchange =
  /** Items stay on the worker that produced them. */
  | "none"
  /** Items go to the worker owning their key (stable hash of the key). */
  | "key"
  /** Items go to any worker, spread evenly. */
  | "spread"
  /** Items go to the worker owning the sink partition their key maps to (partitioned sinks). */
  | "partition"

/** A consumer of a stream: a step's input port. */
export interface Consumer {
  readonly step: number
  readonly port: number
}

/** One kernel step, with its inputs and outputs as stream indices. */
export interface PlannedStep {
  readonly index: number
  /** The fully-qualified step id, used in errors, metrics and snapshots. */
  readonly stepId: string
  readonly kernel: KernelStep
  /** Per input port, the indices of the streams feeding it. */
  readonly inputs: ReadonlyArray<ReadonlyArray<number>>
  /** Per output port (in declaration order), its stream index. */
  readonly outputs: ReadonlyArray<{ readonly name: string; readonly stream: number }>
  readonly exchange: Exchange
}

/** The execution plan of a dataflow, the same for every worker. */
export interface Plan {
  readonly flowId: string
  /** Kernel steps in topological order (definition order is topological). */
  readonly steps: ReadonlyArray<PlannedStep>
  /** For each stream index, the ports that consume it. */
  readonly consumers: ReadonlyArray<ReadonlyArray<Consumer>>
  readonly streamIds: ReadonlyArray<string>
}

const collectKernelSteps = (steps: ReadonlyArray<Step>, into: Array<Step>): void => {
  for (const step of steps) {
    if (step.kernel !== undefined) into.push(step)
    else collectKernelSteps(step.substeps, into)
  }
}

const exchangeOf = (k: KernelStep): Exchange => {
  switch (k.kind) {
    case "statefulBatch":
      return "key"
    case "redistribute":
      return "spread"
    case "output":
      return isFixedSink(k.sink) ? "partition" : "none"
    default:
      return "none"
  }
}

/**
 * Build the plan, refusing flows that cannot run: no input, or no output or
 * inspect step.
 */
export const buildPlan = (flow: Dataflow): Plan => {
  const kernelSteps: Array<Step> = []
  collectKernelSteps(flow.substeps, kernelSteps)
  if (!kernelSteps.some((s) => s.kernel!.kind === "input")) {
    throw new WeirRuntimeError({
      message: `error building dataflow '${flow.id}': Dataflow needs to contain at least one input step; add one with \`op.input\``
    })
  }
  if (!kernelSteps.some((s) => s.kernel!.kind === "output" || s.kernel!.kind === "inspectDebug")) {
    throw new WeirRuntimeError({
      message: `error building dataflow '${flow.id}': Dataflow needs to contain at least one output or inspect step; ` +
        "add one with `op.output` or `op.inspect`"
    })
  }
  const streamIndex = new Map<string, number>()
  const streamIds: Array<string> = []
  const consumers: Array<Array<Consumer>> = []
  const indexOf = (id: string): number => {
    let i = streamIndex.get(id)
    if (i === undefined) {
      i = streamIds.length
      streamIndex.set(id, i)
      streamIds.push(id)
      consumers.push([])
    }
    return i
  }
  const steps: Array<PlannedStep> = kernelSteps.map((step, index) => {
    const inputs = step.inputs.map((port, portIndex) =>
      port.fromStreamIds.map((id) => {
        const s = indexOf(id)
        consumers[s]!.push({ step: index, port: portIndex })
        return s
      })
    )
    const outputs = step.outputs.map((port) => ({ name: port.name, stream: indexOf(port.portId) }))
    return { index, stepId: step.id, kernel: step.kernel!, inputs, outputs, exchange: exchangeOf(step.kernel!) }
  })
  return { flowId: flow.id, steps, consumers, streamIds }
}

/** Sources and sinks with named partitions list them and build each (dynamic ones build one per worker). */
const hasNamedPartitions = (s: unknown): boolean =>
  typeof (s as { listParts?: unknown }).listParts === "function" && typeof (s as { buildPart?: unknown }).buildPart === "function"

/** A source with named partitions (else a dynamic one: one partition per worker). */
export const isFixedSource = (s: unknown): s is FixedPartitionedSource<unknown, unknown> => hasNamedPartitions(s)

/** A sink with named partitions (else a dynamic one: one partition per worker). */
export const isFixedSink = (s: unknown): s is FixedPartitionedSink<unknown, unknown> => hasNamedPartitions(s)
