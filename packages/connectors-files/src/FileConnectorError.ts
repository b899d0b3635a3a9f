/**
 * The error every file connector fails with.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"

/**
 * A file or directory could not be used: it does not exist, vanished, is a
 * directory where a file was expected (or the other way round), could not be
 * read or written, or holds data the connector can't resume from. The message
 * names the path; `path` holds it; `cause` holds the operating system's error
 * when there was one.
 *
 * Thrown at construction (`DirSource`), or from a partition method, in which
 * case the run fails with a `WeirRuntimeError` naming the step id whose
 * `cause` is this error.
 *
 * @example
 * ```ts
 * import { type Dataflow, runMain, WeirRuntimeError } from "@weir/core"
 * import { FileConnectorError } from "@weir/connectors-files"
 *
 * declare const flow: Dataflow   // a dataflow reading or writing files
 * try {
 *   await runMain(flow)
 * } catch (e) {
 *   if (e instanceof WeirRuntimeError && e.cause instanceof FileConnectorError) {
 *     console.error(`step ${e.stepId} could not use ${e.cause.path}`)
 *   }
 * }
 * ```
 * @since 0.1.0
 */
export class FileConnectorError extends Data.TaggedError("FileConnectorError")<{
  readonly message: string
  /** The file or directory concerned. */
  readonly path: string
  /** The underlying error (usually a Node.js system error with a `code`), if any. */
  readonly cause?: unknown
}> {}
