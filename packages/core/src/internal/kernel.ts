/**
 * The kernel: the only steps the runtime executes. Every public operator is
 * composed from these (see `operators/`).
 */
import type { Sink } from "../outputs.js"
import type { Source } from "../inputs.js"
import type { StatefulBatchLogic } from "../StatefulLogic.js"

export type KernelStep =
  | { readonly kind: "input"; readonly source: Source<unknown> }
  | { readonly kind: "output"; readonly sink: Sink<unknown> }
  | {
    readonly kind: "flatMapBatch"
    readonly mapper: (xs: Array<unknown>) => Iterable<unknown>
    /** The same work per item, when it is one; lets the runtime fuse a chain of such steps into one loop. */
    readonly stage?: ItemStage | undefined
  }
  | { readonly kind: "branch"; readonly predicate: (x: unknown) => boolean }
  | { readonly kind: "merge" }
  | { readonly kind: "redistribute" }
  | {
    readonly kind: "inspectDebug"
    readonly inspector: (stepId: string, item: unknown, epoch: number, workerIndex: number) => void
  }
  | {
    readonly kind: "statefulBatch"
    readonly builder: (resume: unknown) => StatefulBatchLogic<unknown, unknown, unknown>
    /** A key untouched (no items) for this long is discarded; `undefined`: keys live until their logic discards them. */
    readonly ttlMs?: number | undefined
    /** The builder's logics are {@link ChainLogic}s (statefulMap, statefulFlatMap): the runtime feeds them values straight from the batch. */
    readonly chained?: true | undefined
  }

/**
 * A logic that takes a key's values one at a time, straight from the batch:
 * the runtime skips collecting each key's values into an array and the
 * `[emit, discard]` result per key (for statefulMap and statefulFlatMap,
 * whose user function runs per value anyway). Same semantics as `onBatch`.
 */
export interface ChainLogic {
  /**
   * Feed the key's values of this batch, `batch[j][1]` for `j = head`, then
   * `next[j]`, … until `-1`, in that order; write `[key, w]` for each value
   * `w` emitted into `out` from index `n`; return the new end. On a throw the
   * logic's state is as before the call.
   */
  onChain(batch: ReadonlyArray<readonly [string, unknown]>, next: Int32Array, head: number, key: string, out: Array<unknown>, n: number): number
  /** After `onChain`: the key's state is done (`onBatch`'s discard flag). */
  readonly chainDiscard: boolean
}

/**
 * A per-item stage: `map` replaces the item, `filter` keeps it when the
 * function returns `true` (the function checks its own result type),
 * `filterMap` replaces it or drops it on `undefined`/`null`.
 */
export interface ItemStage {
  readonly kind: "map" | "filter" | "filterMap"
  readonly fn: (x: unknown) => unknown
}
