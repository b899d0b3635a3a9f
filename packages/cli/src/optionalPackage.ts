/**
 * Importing a package the command line can do without (`@weir/recovery`
 * for `-r`, `@weir/tracing` for `--otlp`): it is imported only when a
 * command asks for what it provides, and its absence is a message saying
 * what to install, not a stack trace.
 *
 * @since 0.2.0
 */
import { CliError } from "./io.js"

/** What the package must provide, checked after it loaded. */
export interface OptionalPackage {
  /** The package name, e.g. `@weir/recovery`. */
  readonly name: string
  /** What needs it, to start the message with: `recovery`, `--otlp`. */
  readonly neededFor: string
  /** The exports the command line uses, for the message when they are missing: `RecoveryConfig and initDbDir`. */
  readonly exports: string
  /** Whether the loaded module has them. */
  readonly provides: (module: Record<string, unknown>) => boolean
}

const notInstalled = (pkg: OptionalPackage): CliError =>
  new CliError(
    `${pkg.neededFor} needs the ${pkg.name} package, which is not installed; ` +
      `install it next to weir with \`npm install ${pkg.name}\``
  )

/** Import `pkg` as the `A` its `provides` checked, failing with install instructions when it is absent. */
export const importOptionalPackage = async <A>(pkg: OptionalPackage): Promise<A> => {
  // A variable specifier: the package is optional, so it must not be resolved at build time.
  const specifier: string = pkg.name
  let module: Record<string, unknown>
  try {
    module = (await import(specifier)) as Record<string, unknown>
  } catch (e) {
    const code = (e as { code?: unknown }).code
    const message = e instanceof Error ? e.message : ""
    if ((code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") && message.includes(`'${pkg.name}'`)) {
      throw notInstalled(pkg)
    }
    if (message.includes(`Cannot find package '${pkg.name}'`) || message.includes(`Failed to load url ${pkg.name}`)) {
      throw notInstalled(pkg)
    }
    throw new CliError(`error loading ${pkg.name}: ${message || String(e)}`, { cause: e })
  }
  if (!pkg.provides(module)) {
    throw new CliError(
      `the installed ${pkg.name} does not export ${pkg.exports}; install a version that matches this weir command`
    )
  }
  return module as A
}
