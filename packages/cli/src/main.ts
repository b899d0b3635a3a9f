/**
 * The `weir` command line: parse, dispatch to a command, print errors, and
 * return the exit status. `bin/weir.js` calls {@link main} with the process's
 * arguments and exits with what it returns.
 *
 * @since 0.1.0
 */
import { readFileSync } from "node:fs"
import { parseCommandLine, UsageError } from "./args.js"
import { CliError, type CliContext, formatError } from "./io.js"

/**
 * Where `main` reads and writes; every field defaults to the real process.
 *
 * @since 0.1.0
 */
export type MainOptions = Partial<CliContext>

/** This package's version, from its package.json (one level above both `src/` and `dist/`). */
export const version = (): string => {
  const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }
  return pkg.version
}

/**
 * Run the `weir` command line with `argv` (the arguments after `weir`) and
 * resolve to the exit status: 0 on success, 1 when the command failed, 2 for a
 * usage error, 130 when interrupted with Ctrl-C.
 *
 * @example
 * ```ts
 * import { main } from "weir"
 *
 * process.exitCode = await main(["visualize", "flows/wordcount.ts", "--json"])
 * ```
 * @since 0.1.0
 */
export const main = async (argv: ReadonlyArray<string>, options: MainOptions = {}): Promise<number> => {
  const context: CliContext = {
    stdout: options.stdout ?? ((text) => void process.stdout.write(text)),
    stderr: options.stderr ?? ((text) => void process.stderr.write(text)),
    // The progress line goes on stderr, and only when stdout is not the same terminal (where a
    // flow's StdOutSink would write through it).
    stderrIsTTY: options.stderrIsTTY ??
      (options.stderr === undefined && process.stderr.isTTY === true && process.stdout.isTTY !== true),
    env: options.env ?? process.env,
    cwd: options.cwd ?? process.cwd(),
    importModule: options.importModule
  }
  try {
    const command = parseCommandLine(argv, context.env)
    switch (command.command) {
      case "help":
        context.stdout(`${command.text}\n`)
        return 0
      case "version":
        context.stdout(`weir ${version()}\n`)
        return 0
      // Commands are imported when used, so help and usage errors stay fast.
      case "run":
        return await (await import("./commands/run.js")).runFlow(command, context)
      case "visualize":
        return await (await import("./commands/visualize.js")).visualize(command, context)
      case "recoveryInit":
        return await (await import("./commands/recovery.js")).recoveryInit(command, context)
    }
  } catch (e) {
    if (e instanceof UsageError) {
      context.stderr(`weir: error: ${e.message}\n${e.usage}\nRun 'weir --help' or 'weir <command> --help' for help.\n`)
      return 2
    }
    if (e instanceof CliError) {
      context.stderr(`weir: ${formatError(e)}\n`)
      return 1
    }
    context.stderr(`weir: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`)
    return 1
  }
}
