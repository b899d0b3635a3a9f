/**
 * `weir recovery init`, and finding the optional `@weir/recovery` package
 * (also used by `weir run -r`). The CLI does not depend on it: it is imported
 * only when recovery is asked for, with a clear message when it is missing.
 *
 * @since 0.1.0
 */
import { type RecoveryConfigLike, WeirRecoveryError } from "@weir/core"
import type * as Duration from "effect/Duration"
import type { RecoveryInitCommand } from "../args.js"
import type { CliContext } from "../io.js"
import { importOptionalPackage } from "../optionalPackage.js"

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

/** Import `@weir/recovery`, failing with install instructions when it is absent. */
export const importRecoveryPackage = (): Promise<RecoveryPackage> =>
  importOptionalPackage<RecoveryPackage>({
    name: "@weir/recovery",
    neededFor: "recovery",
    exports: "RecoveryConfig, initDbDir, PostgresRecoveryConfig and initPostgres",
    provides: (m) =>
      typeof m.RecoveryConfig === "function" && typeof m.initDbDir === "function" &&
      typeof m.PostgresRecoveryConfig === "function" && typeof m.initPostgres === "function"
  })

/** `weir recovery init <dir> <count>` and `weir recovery init --postgres <url> <count>`. */
export const recoveryInit = async (command: RecoveryInitCommand, context: CliContext): Promise<number> => {
  const { initDbDir, initPostgres } = await importRecoveryPackage()
  try {
    if (command.postgres) {
      await initPostgres(command.dbDir, command.partCount, { schema: command.schema, flowId: command.flowId })
      const schema = command.schema ?? `the schema of flow '${command.flowId}'`
      context.stderr(`created ${command.partCount} recovery partition(s) in ${schema} of ${redact(command.dbDir)}\n`)
      return 0
    }
    await initDbDir(command.dbDir, command.partCount)
  } catch (e) {
    // An expected failure (a missing directory, a store in use, one already initialised) says
    // what to do; a stack trace would only hide that.
    if (!(e instanceof WeirRecoveryError)) throw e
    context.stderr(`weir recovery init: ${e.message}\n`)
    return 1
  }
  context.stderr(`created ${command.partCount} recovery partition(s) in ${command.dbDir}\n`)
  return 0
}

/** A connection string without its password, for messages. */
export const redact = (url: string): string => url.replace(/^(postgres(?:ql)?:\/\/[^:@/]*):[^@/]*@/, "$1:***@")
