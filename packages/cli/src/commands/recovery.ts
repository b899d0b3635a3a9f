/**
 * `weir recovery init`, and finding the optional `@weir/recovery` package
 * (also used by `weir run -r`). The CLI does not depend on it: it is imported
 * only when recovery is asked for, with a clear message when it is missing.
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import type { RecoveryConfigLike } from "@weir/core"
import type { RecoveryInitCommand } from "../args.js"
import { CliError, type CliContext } from "../io.js"

const RECOVERY_PACKAGE = "@weir/recovery"

/** The parts of `@weir/recovery` the command line uses. */
export interface RecoveryPackage {
  readonly RecoveryConfig: new (
    dbDir: string,
    options?: { readonly backupInterval?: Duration.Input }
  ) => RecoveryConfigLike
  readonly initDbDir: (dbDir: string, count: number) => Promise<void>
  readonly PostgresRecoveryConfig: new (
    connectionString: string,
    options?: { readonly backupInterval?: Duration.Input; readonly schema?: string }
  ) => RecoveryConfigLike
  readonly initPostgres: (
    connectionString: string,
    count: number,
    options?: { readonly schema?: string | undefined; readonly flowId?: string | undefined }
  ) => Promise<void>
}

const notInstalled = (): CliError =>
  new CliError(
    `recovery needs the ${RECOVERY_PACKAGE} package, which is not installed; ` +
      `install it next to weir with \`npm install ${RECOVERY_PACKAGE}\``
  )

/** Import `@weir/recovery`, failing with install instructions when it is absent. */
export const importRecoveryPackage = async (): Promise<RecoveryPackage> => {
  // A variable specifier: the package is optional, so it must not be resolved at build time.
  const specifier: string = RECOVERY_PACKAGE
  let module: Partial<RecoveryPackage>
  try {
    module = (await import(specifier)) as Partial<RecoveryPackage>
  } catch (e) {
    const code = (e as { code?: unknown }).code
    const message = e instanceof Error ? e.message : ""
    if ((code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") && message.includes(`'${RECOVERY_PACKAGE}'`)) {
      throw notInstalled()
    }
    if (message.includes(`Cannot find package '${RECOVERY_PACKAGE}'`) || message.includes(`Failed to load url ${RECOVERY_PACKAGE}`)) {
      throw notInstalled()
    }
    throw new CliError(`error loading ${RECOVERY_PACKAGE}: ${message || String(e)}`, { cause: e })
  }
  if (
    typeof module.RecoveryConfig !== "function" || typeof module.initDbDir !== "function" ||
    typeof module.PostgresRecoveryConfig !== "function" || typeof module.initPostgres !== "function"
  ) {
    throw new CliError(
      `the installed ${RECOVERY_PACKAGE} does not export RecoveryConfig, initDbDir, PostgresRecoveryConfig and initPostgres; ` +
        "install a version that matches this weir command"
    )
  }
  return module as RecoveryPackage
}

/** `weir recovery init <dir> <count>` and `weir recovery init --postgres <url> <count>`. */
export const recoveryInit = async (command: RecoveryInitCommand, context: CliContext): Promise<number> => {
  const { initDbDir, initPostgres } = await importRecoveryPackage()
  if (command.postgres) {
    await initPostgres(command.dbDir, command.partCount, { schema: command.schema, flowId: command.flowId })
    const schema = command.schema ?? `the schema of flow '${command.flowId}'`
    context.stderr(`created ${command.partCount} recovery partition(s) in ${schema} of ${redact(command.dbDir)}\n`)
    return 0
  }
  await initDbDir(command.dbDir, command.partCount)
  context.stderr(`created ${command.partCount} recovery partition(s) in ${command.dbDir}\n`)
  return 0
}

/** A connection string without its password, for messages. */
export const redact = (url: string): string => url.replace(/^(postgres(?:ql)?:\/\/[^:@/]*):[^@/]*@/, "$1:***@")
