/** A source wrapper for crash tests: the run aborts (as if it crashed) once enough items went in. */
import { AbortExecution, EOF, FixedPartitionedSource, type StatefulSourcePartition } from "@weir/core"

/**
 * Wraps a source and aborts the run (once) when `abortAfter` items have been
 * handed to the runtime: a crash in the middle of reading.
 */
export class CrashingSource<X, S> extends FixedPartitionedSource<X, S> {
  emitted = 0
  crashed = false
  constructor(private readonly inner: FixedPartitionedSource<X, S>, private readonly abortAfter: number) {
    super()
  }
  listParts() {
    return this.inner.listParts()
  }
  async buildPart(stepId: string, forPart: string, resume: S | undefined): Promise<StatefulSourcePartition<X, S>> {
    const part = (await this.inner.buildPart(stepId, forPart, resume)) as StatefulSourcePartition<X, S>
    const counted = (items: Iterable<X>): Array<X> => {
      const arr = Array.from(items)
      this.emitted += arr.length
      return arr
    }
    return {
      nextBatch: () => {
        if (!this.crashed && this.emitted >= this.abortAfter) {
          this.crashed = true
          throw new AbortExecution()
        }
        const r = part.nextBatch() as Iterable<X> | typeof EOF | Promise<Iterable<X> | typeof EOF>
        if (r === EOF) return EOF
        if (r instanceof Promise) {
          // Stay lazy: the wrapped partition moves its position only when the runtime takes the batch.
          return r.then((it) => (it === EOF ? EOF : { [Symbol.iterator]: () => counted(it).values() }))
        }
        return counted(r)
      },
      nextAwake: () => part.nextAwake?.(),
      snapshot: () => part.snapshot(),
      close: () => part.close?.()
    }
  }
}

