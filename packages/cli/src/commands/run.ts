/**
 * `weir run`: load a dataflow and run it until its inputs end. The run is the
 * Effect `run` on a forked fiber — or, with `-w N` for N > 1, `runCluster`
 * on N worker threads, each importing the flow module itself — so Ctrl-C
 * interrupts it: sources and sinks are closed (in every thread) and the
 * process exits with status 130 (143 for SIGTERM). A second Ctrl-C exits at
 * once.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import { type ClusterOptions, run, runCluster } from "@weir/core"
import { isPostgresUrl, type RunCommand } from "../args.js"
import { type CliContext, formatError, loadOptions } from "../io.js"
import { pathToFileURL } from "node:url"
import { loadFlow, locateFlow } from "../load.js"
import { importRecoveryPackage } from "./recovery.js"

/** Exit statuses for the signals `weir run` handles (128 + signal number, as shells report them). */
const SIGNAL_EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const

/** The runtime options a run command asks for. */
export const runOptions = async (command: RunCommand): Promise<ClusterOptions> => {
  let recovery: ClusterOptions["recovery"]
  if (command.recoveryDirectory !== undefined) {
    const { PostgresRecoveryConfig, RecoveryConfig } = await importRecoveryPackage()
    const Config = isPostgresUrl(command.recoveryDirectory) ? PostgresRecoveryConfig : RecoveryConfig
    recovery = command.backupInterval === undefined
      ? new Config(command.recoveryDirectory)
      : new Config(command.recoveryDirectory, { backupInterval: command.backupInterval })
  }
  return {
    epochInterval: command.snapshotInterval,
    recovery,
    workersPerProcess: command.workersPerProcess,
    addresses: command.addresses,
    processId: command.processId
  }
}

/** Run the command's dataflow; resolves to the process exit status. */
export const runFlow = async (command: RunCommand, context: CliContext): Promise<number> => {
  const options = await runOptions(command)
  let program
  if (command.workersPerProcess > 1) {
    // Each worker thread imports the module and builds the flow itself.
    const { path, target } = locateFlow(command.target, context.cwd)
    program = runCluster({ module: pathToFileURL(path), export: target.exportName, args: target.args }, options)
  } else {
    const flow = await loadFlow(command.target, loadOptions(context))
    program = command.addresses === undefined ? run(flow, options) : runCluster(flow, options)
  }

  // Handlers go in before the run starts: the fiber's first turns run synchronously inside runFork.
  let fiber: ReturnType<typeof Effect.runFork<void, unknown>> | undefined
  let signalled: keyof typeof SIGNAL_EXIT_CODES | undefined
  const onSignal = (signal: keyof typeof SIGNAL_EXIT_CODES) => {
    if (signalled !== undefined) process.exit(SIGNAL_EXIT_CODES[signal])
    signalled = signal
    context.stderr("interrupted\n")
    fiber?.interruptUnsafe()
  }
  const onSigint = () => onSignal("SIGINT")
  const onSigterm = () => onSignal("SIGTERM")
  process.on("SIGINT", onSigint)
  process.on("SIGTERM", onSigterm)
  fiber = Effect.runFork(program)
  if (signalled !== undefined) fiber.interruptUnsafe()
  const running = fiber
  let exit: Exit.Exit<void, unknown>
  try {
    exit = await new Promise<Exit.Exit<void, unknown>>((resolve) => running.addObserver(resolve))
  } finally {
    process.off("SIGINT", onSigint)
    process.off("SIGTERM", onSigterm)
  }

  if (signalled !== undefined) return SIGNAL_EXIT_CODES[signalled]
  if (Exit.isSuccess(exit)) return 0
  if (Cause.hasInterruptsOnly(exit.cause)) {
    context.stderr("interrupted\n")
    return SIGNAL_EXIT_CODES.SIGINT
  }
  const error = Option.getOrElse(Cause.findErrorOption(exit.cause), () => Cause.squash(exit.cause))
  context.stderr(`weir run: ${formatError(error)}\n`)
  return 1
}
