/**
 * Standard output.
 *
 * @since 0.1.0
 */
import { DynamicSink, type StatelessSinkPartition } from "../outputs.js"

/**
 * Writes `String(item)` and a newline per item to standard output, one write
 * per batch. At-least-once: after a resume, the resume epoch's items are
 * printed again.
 *
 * @example
 * ```ts
 * op.output("print", words, new StdOutSink())   // "a", "b" → "a\nb\n"
 * ```
 * @since 0.1.0
 */
export class StdOutSink extends DynamicSink<unknown> {
  build(_stepId: string, _workerIndex: number, _workerCount: number): StatelessSinkPartition<unknown> {
    return {
      writeBatch: (items) => {
        if (items.length === 0) return
        let text = ""
        for (let i = 0; i < items.length; i++) text += `${String(items[i])}\n`
        process.stdout.write(text)
      }
    }
  }
}
