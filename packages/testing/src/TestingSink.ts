/**
 * A sink that appends to an array.
 *
 * @since 0.1.0
 */
import { DynamicSink, type StatelessSinkPartition } from "@weir/core"

/**
 * Appends every item to `out` (shared by all workers; never cleared between
 * runs, so it shows what a resumed run re-emits). At-least-once.
 *
 * @example
 * ```ts
 * const out: number[] = []
 * op.output("out", nums, new TestingSink(out))
 * await runMain(flow)
 * expect(out).toEqual([1, 2, 3])
 * ```
 * @since 0.1.0
 */
export class TestingSink<X> extends DynamicSink<X> {
  constructor(private readonly out: Array<X> = []) {
    super()
  }
  /** The array items are appended to. */
  getOutput(): Array<X> {
    return this.out
  }
  build(): StatelessSinkPartition<X> {
    const out = this.out
    return {
      writeBatch: (items) => {
        for (let i = 0; i < items.length; i++) out.push(items[i]!)
      }
    }
  }
}
