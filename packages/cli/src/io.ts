/**
 * What the commands need from the process: where to write, the environment,
 * the working directory and how to import modules. `main` fills it from the
 * real process; tests pass their own.
 *
 * @since 0.1.0
 */
import type { Environment } from "./args.js"
import type { LoadOptions, ModuleImporter } from "./load.js"

/**
 * The process the commands talk to.
 *
 * @since 0.1.0
 */
export interface CliContext {
  readonly stdout: (text: string) => void
  readonly stderr: (text: string) => void
  /** Whether stderr is a terminal and stdout is not: then `weir run` keeps a progress line on stderr. */
  readonly stderrIsTTY: boolean
  readonly env: Environment
  readonly cwd: string
  /** How user modules are imported; `undefined` for the default (tsx for TypeScript). */
  readonly importModule: ModuleImporter | undefined
}

/**
 * A command failed for a reason the user can fix; `main` prints the message
 * (no stack) and exits with status 1.
 *
 * @example
 * ```ts
 * throw new CliError("recovery needs the @weir/recovery package; install it with `npm install @weir/recovery`")
 * ```
 * @since 0.1.0
 */
export class CliError extends Error {
  /** The class name, as Effect's tagged errors have it (`Effect.catchTag`). */
  readonly _tag: string
  constructor(message: string, options?: { readonly cause?: unknown }) {
    super(message, options)
    this.name = "CliError"
    this._tag = new.target.name
  }
}

/**
 * The dataflow could not be loaded (missing file or export, not a `Dataflow`,
 * a module that throws). The message says what to change.
 *
 * @example
 * ```ts
 * try {
 *   await loadFlow("flows/missing.ts")
 * } catch (e) {
 *   if (e instanceof FlowLoadError) console.error(e.message) // cannot find dataflow file 'flows/missing.ts' …
 * }
 * ```
 * @since 0.1.0
 */
export class FlowLoadError extends CliError {
  declare readonly _tag: "FlowLoadError"
  constructor(message: string, options?: { readonly cause?: unknown }) {
    super(message, options)
    this.name = "FlowLoadError"
  }
}

/** An error and its chain of causes, for the terminal: the message, then each cause's stack. */
export const formatError = (error: unknown): string => {
  const lines = [error instanceof Error ? error.message : String(error)]
  let cause = error instanceof Error ? error.cause : undefined
  for (let depth = 0; cause !== undefined && depth < 8; depth++) {
    lines.push(`Caused by: ${cause instanceof Error ? (cause.stack ?? `${cause.name}: ${cause.message}`) : String(cause)}`)
    cause = cause instanceof Error ? cause.cause : undefined
  }
  return lines.join("\n")
}

/** How to load the user's flow in this context. */
export const loadOptions = (context: CliContext): LoadOptions =>
  context.importModule === undefined ? { cwd: context.cwd } : { cwd: context.cwd, importModule: context.importModule }
