/**
 * Describing a dataflow: a JSON-ready tree of every step and port
 * ({@link toJSON}) and a Mermaid flowchart of the top-level steps
 * ({@link toMermaid}). Both only read the graph; nothing runs.
 *
 * The shapes follow Bytewax's `bytewax.visualize` with camelCase field names:
 *
 * - Every object carries `typ`, its kind: `"RenderedDataflow"`,
 *   `"RenderedOperator"` or `"RenderedPort"`.
 * - A port id is `"{stepId}.{portName}"`, e.g. `"flow.add_one.down"`.
 * - An input port's `fromPortIds` are the ports it was wired to, as the user
 *   wrote it; its `fromStreamIds` are the kernel output ports those resolve to
 *   (the stream that really carries the items).
 * - An output port of a composite step lists the inner port that feeds it; an
 *   output port of a kernel step has empty `from` lists (it is a stream's origin).
 * - `substeps` are nested to any depth, down to the kernel steps.
 *
 * @since 0.1.0
 */
import type { Dataflow, InputPort, OutputPort, Step } from "./Dataflow.js"

/**
 * One port of a rendered step.
 *
 * @since 0.1.0
 */
export interface RenderedPort {
  readonly typ: "RenderedPort"
  /** The port's name, e.g. `"up"`, `"down"`, `"ups"`, `"trues"`. */
  readonly portName: string
  /** `"{stepId}.{portName}"`. */
  readonly portId: string
  /** Input ports: the ports wired to it. Composite output ports: the inner port feeding it. Kernel output ports: empty. */
  readonly fromPortIds: ReadonlyArray<string>
  /** The same, resolved to the kernel output ports that produce the items. */
  readonly fromStreamIds: ReadonlyArray<string>
}

/**
 * One rendered step: an operator call, with its inner steps.
 *
 * @since 0.1.0
 */
export interface RenderedOperator {
  readonly typ: "RenderedOperator"
  /** The operator, e.g. `"map"`, `"input"`, `"flatMapBatch"`. */
  readonly opType: string
  /** The name the step was given, e.g. `"add_one"`. */
  readonly stepName: string
  /** The fully-qualified id, e.g. `"flow.add_one"`. */
  readonly stepId: string
  readonly inpPorts: ReadonlyArray<RenderedPort>
  readonly outPorts: ReadonlyArray<RenderedPort>
  /** Inner steps of a composite operator; empty for kernel steps. */
  readonly substeps: ReadonlyArray<RenderedOperator>
}

/**
 * A rendered dataflow: the root of the tree {@link toJSON} returns.
 *
 * @since 0.1.0
 */
export interface RenderedDataflow {
  readonly typ: "RenderedDataflow"
  readonly flowId: string
  /** The top-level steps, in the order they were added. */
  readonly substeps: ReadonlyArray<RenderedOperator>
}

const renderPort = (port: InputPort | OutputPort): RenderedPort => ({
  typ: "RenderedPort",
  portName: port.name,
  portId: port.portId,
  fromPortIds: [...port.fromPortIds],
  fromStreamIds: [...port.fromStreamIds]
})

const renderStep = (step: Step): RenderedOperator => ({
  typ: "RenderedOperator",
  opType: step.opType,
  stepName: step.stepName,
  stepId: step.id,
  inpPorts: step.inputs.map(renderPort),
  outPorts: step.outputs.map(renderPort),
  substeps: step.substeps.map(renderStep)
})

/**
 * Render a dataflow as a plain object tree of every step, substep and port,
 * ready for `JSON.stringify`. Use it to inspect how composite operators are
 * built from kernel steps, or to draw the graph with other tools.
 *
 * @example
 * ```ts
 * import { Dataflow, op, toJSON } from "@weir/core"
 * import { TestingSink, TestingSource } from "@weir/testing"
 *
 * const flow = new Dataflow("test_df")
 * op.input("inp", flow, new TestingSource([1, 2, 3]))
 *   .then(op.map, "add_one", (x: number) => x + 1)
 *   .then(op.output, "out", new TestingSink<number>())
 *
 * const tree = toJSON(flow)
 * tree.substeps[1].substeps[0].stepId               // "test_df.add_one.flatMapBatch"
 * tree.substeps[2].inpPorts[0].fromStreamIds         // ["test_df.add_one.flatMapBatch.down"]
 * console.log(JSON.stringify(tree, null, 2))
 * ```
 * @since 0.1.0
 */
export const toJSON = (flow: Dataflow): RenderedDataflow => ({
  typ: "RenderedDataflow",
  flowId: flow.id,
  substeps: flow.substeps.map(renderStep)
})

/**
 * Render the top-level steps of a dataflow as a Mermaid flowchart. Each step is
 * a node `{stepId}["{stepName} ({opType})"]`, followed by one edge per upstream
 * stream, labelled with the upstream's output port and this step's input port.
 * Paste the result into any Mermaid renderer (GitHub Markdown, mermaid.live).
 *
 * @example
 * ```ts
 * import { Dataflow, op, toMermaid } from "@weir/core"
 * import { TestingSink, TestingSource } from "@weir/testing"
 *
 * const flow = new Dataflow("test_df")
 * op.input("inp", flow, new TestingSource([1, 2, 3]))
 *   .then(op.map, "add_one", (x: number) => x + 1)
 *   .then(op.output, "out", new TestingSink<number>())
 *
 * console.log(toMermaid(flow))
 * // flowchart TD
 * // subgraph "test_df (Dataflow)"
 * // test_df.inp["inp (input)"]
 * // test_df.add_one["add_one (map)"]
 * // test_df.inp -- "down → up" --> test_df.add_one
 * // test_df.out["out (output)"]
 * // test_df.add_one -- "down → up" --> test_df.out
 * // end
 * ```
 * @since 0.1.0
 */
export const toMermaid = (flow: Dataflow): string => {
  // Which top-level step and port produces each top-level stream.
  const producers = new Map<string, { readonly stepId: string; readonly portName: string }>()
  for (const step of flow.substeps) {
    for (const port of step.outputs) producers.set(port.portId, { stepId: step.id, portName: port.name })
  }
  const lines = ["flowchart TD", `subgraph "${flow.id} (Dataflow)"`]
  for (const step of flow.substeps) {
    lines.push(`${step.id}["${step.stepName} (${step.opType})"]`)
    for (const port of step.inputs) {
      for (const fromPortId of port.fromPortIds) {
        const from = producers.get(fromPortId) ?? splitPortId(fromPortId)
        lines.push(`${from.stepId} -- "${from.portName} \u2192 ${port.name}" --> ${step.id}`)
      }
    }
  }
  lines.push("end")
  return lines.join("\n")
}

const splitPortId = (portId: string): { readonly stepId: string; readonly portName: string } => {
  const dot = portId.lastIndexOf(".")
  return { stepId: portId.slice(0, dot), portName: portId.slice(dot + 1) }
}
