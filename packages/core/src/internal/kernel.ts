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
  | { readonly kind: "flatMapBatch"; readonly mapper: (xs: Array<unknown>) => Iterable<unknown> }
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
  }
