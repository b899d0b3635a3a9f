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
