/** In-memory inputs, generated before timing, handed out as pre-built batches. */
import { EOF, FixedPartitionedSource, DynamicSink, type StatefulSourcePartition, type StatelessSinkPartition } from "@weir/core"

export const BATCH = 1024

/** `n` items made by `make(i)`, cut into batches of {@link BATCH}. */
export const batchesOf = <X>(n: number, make: (i: number) => X): Array<Array<X>> => {
  const out: Array<Array<X>> = []
  for (let i = 0; i < n; i += BATCH) {
    const b: Array<X> = new Array(Math.min(BATCH, n - i))
    for (let j = 0; j < b.length; j++) b[j] = make(i + j)
    out.push(b)
  }
  return out
}

/** Hands out the pre-built batches (copies, so runs don't share mutated arrays... but without the copy cost: batches are never mutated by Weir). */
export class BatchSource<X> extends FixedPartitionedSource<X, number> {
  constructor(private readonly batches: ReadonlyArray<Array<X>>) {
    super()
  }
  listParts() {
    return ["memory"]
  }
  buildPart(_s: string, _p: string, resume: number | undefined): StatefulSourcePartition<X, number> {
    let i = resume ?? 0
    const batches = this.batches
    return { nextBatch: () => (i < batches.length ? batches[i++]! : EOF), snapshot: () => i }
  }
}

/** Counts items (and sums numbers) so nothing is optimised away. */
export class CountSink<X> extends DynamicSink<X> {
  count = 0
  sum = 0
  build(): StatelessSinkPartition<X> {
    return {
      writeBatch: (xs) => {
        this.count += xs.length
        for (let i = 0; i < xs.length; i++) {
          const x = xs[i] as unknown
          if (typeof x === "number") this.sum += x
        }
      }
    }
  }
}
