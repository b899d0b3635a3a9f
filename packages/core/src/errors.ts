/**
 * Errors a run can fail with.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"

/**
 * A run failed: a user function threw, returned a value of the wrong shape, or
 * a source or sink failed. The message names the fully-qualified step id and
 * the function; `cause` holds the original error.
 *
 * @example
 * ```ts
 * try {
 *   await runMain(flow)
 * } catch (e) {
 *   if (e instanceof WeirRuntimeError) console.error(e.stepId, e.cause)
 * }
 * ```
 * @since 0.1.0
 */
export class WeirRuntimeError extends Data.TaggedError("WeirRuntimeError")<{
  readonly message: string
  /** The fully-qualified id of the kernel step that failed, when one did. */
  readonly stepId?: string | undefined
  /** The original error. */
  readonly cause?: unknown
}> {}

/**
 * Base class of errors from a recovery store (missing or inconsistent
 * partitions, a store that is down). They surface from a run as they are.
 * Each class is a tagged error: its `_tag` is its class name, so
 * `Effect.catchTag("StoreInUseError", …)` picks one out.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { type Dataflow, run } from "@weir/core"
 * import { RecoveryConfig } from "@weir/recovery"
 *
 * declare const flow: Dataflow   // your dataflow
 * const recovery = new RecoveryConfig("recovery")
 * run(flow, { recovery }).pipe(Effect.catchTag("NoPartitionsError", () => Effect.logError("run `weir recovery init` first")))
 * ```
 * @since 0.1.0
 */
export class WeirRecoveryError extends Error {
  readonly _tag: string
  constructor(message: string, options?: { readonly cause?: unknown }) {
    super(message, options)
    this.name = new.target.name
    this._tag = new.target.name
  }
}
