/**
 * `weir visualize`: print a dataflow's graph.
 *
 * @since 0.1.0
 */
import { toJSON, toMermaid } from "@weir/core"
import type { VisualizeCommand } from "../args.js"
import { type CliContext, loadOptions } from "../io.js"
import { loadFlow } from "../load.js"

/** Load the flow and print it as Mermaid (top-level steps) or JSON (every step). */
export const visualize = async (command: VisualizeCommand, context: CliContext): Promise<number> => {
  const flow = await loadFlow(command.target, loadOptions(context))
  const text = command.format === "json" ? JSON.stringify(toJSON(flow), null, 2) : toMermaid(flow)
  context.stdout(`${text}\n`)
  return 0
}

