/**
 * Standard output.
 *
 * @since 0.1.0
 */
import { inspect, type InspectOptions } from "node:util"
import { DynamicSink, type StatelessSinkPartition } from "../outputs.js"

/** `console.log`'s formatting, kept to one line per item. */
const ONE_LINE: InspectOptions = { breakLength: Number.POSITIVE_INFINITY, compact: true }

/**
 * Formats an item the way `console.log` prints it — a string as it is, any
 * other value through `util.inspect` — on one line: what {@link StdOutSink}
 * writes per item.
 *
 * @example
 * ```ts
 * formatItem(["a", [0, 2]])   // "[ 'a', [ 0, 2 ] ]"
 * formatItem({ user: "ada" })  // "{ user: 'ada' }"
 * formatItem("ada has 42")     // "ada has 42"
 * ```
 * @since 0.2.0
 */
export const formatItem = (item: unknown): string => (typeof item === "string" ? item : inspect(item, ONE_LINE))

/**
 * Writes each item the way `console.log` would print it, one line per item
 * (see {@link formatItem}), to standard output, one write per batch.
 * At-least-once: after a resume, the resume epoch's items are printed again.
 *
 * @example
 * ```ts
 * op.output("print", words, new StdOutSink())   // "a", ["b", 1] → "a\n[ 'b', 1 ]\n"
 * ```
 * @since 0.1.0
 */
export class StdOutSink extends DynamicSink<unknown> {
  build(_stepId: string, _workerIndex: number, _workerCount: number): StatelessSinkPartition<unknown> {
    return {
      writeBatch: (items) => {
        if (items.length === 0) return
        let text = ""
        for (let i = 0; i < items.length; i++) text += `${formatItem(items[i])}\n`
        process.stdout.write(text)
      }
    }
  }
}
