/**
 * `weir run`: load a dataflow and run it until its inputs end. The run is the
 * Effect `run` on a forked fiber — or, with `-w N` for N > 1, `runCluster`
 * on N worker threads, each importing the flow module itself — so Ctrl-C
 * interrupts it: sources and sinks are closed (in every thread) and the
 * process exits with status 130 (143 for SIGTERM). A second Ctrl-C exits at
 * once. Around the run go what `--metrics-port`, `--otlp` and `--log-level`
 * ask for (see `observed`).
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as References from "effect/References"
import { type ClusterOptions, type RenderedDataflow, run, runCluster, type RunObserver } from "@weir/core"
import { isPostgresUrl, type RunCommand } from "../args.js"
import { type CliContext, formatError, loadOptions } from "../io.js"
import { pathToFileURL } from "node:url"
import { loadFlow, locateFlow } from "../load.js"
import { epochLine, logsEpochs, progressLine, RunLog } from "../observability/runLog.js"
import { tracingLayer } from "../observability/tracing.js"
import { importOptionalPackage } from "../optionalPackage.js"
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
    processId: command.processId,
    cluster: command.clusterBrokers === undefined ? undefined : (await importKafkaPackage()).kafkaCluster(command.clusterBrokers.brokers, {
        addConfig: command.clusterBrokers.config
      }),
    group: command.group
  }
}

/** The part of `@weir/connectors-kafka` that `--cluster` uses. */
interface KafkaPackage {
  readonly kafkaCluster: (
    brokers: string,
    options: { readonly addConfig: Readonly<Record<string, string>> }
  ) => NonNullable<ClusterOptions["cluster"]>
}

/** Import `@weir/connectors-kafka` for `--cluster`, failing with install instructions when it is absent. */
const importKafkaPackage = (): Promise<KafkaPackage> =>
  importOptionalPackage<KafkaPackage>({
    name: "@weir/connectors-kafka",
    neededFor: "--cluster",
    exports: "kafkaCluster",
    provides: (m) => typeof m.kafkaCluster === "function"
  })

/** Effect's log level for each `--log-level`. */
const EFFECT_LOG_LEVEL = { error: "Error", warn: "Warn", info: "Info", debug: "Debug" } as const

/**
 * What the run shows while it lasts, around `flowRun`: the metrics server
 * (`--metrics-port`), the epoch lines and progress line (`--log-level`), the
 * tracing layer (`--otlp`) and Effect's minimum log level. The server and the
 * progress line are resources of the program's scope, gone however it ends.
 */
const observed = async (
  flowRun: (observe: RunObserver) => Effect.Effect<void, unknown>,
  command: RunCommand,
  context: CliContext,
  log: RunLog,
  serviceName: () => Promise<string>
): Promise<Effect.Effect<void, unknown>> => {
  let started: RenderedDataflow | undefined
  const epochs = logsEpochs(command.logLevel)
  const observe: RunObserver = {
    started: (graph) => {
      started = graph
    },
    epochClosed: epochs ? (e) => log.lines(`${epochLine(e)}\n`) : undefined
  }
  // Imported only when asked for: without --metrics-port no HTTP code is loaded and no port opened.
  const serveMetrics = command.metricsPort === undefined
    ? undefined
    : (await import("../observability/metricsServer.js")).serveMetrics
  const program = Effect.scoped(Effect.gen(function*() {
    // The run's own context: the metric registry core publishes to (every worker thread's readings included).
    const runContext = yield* Effect.context<never>()
    if (serveMetrics !== undefined && command.metricsPort !== undefined) {
      const port = yield* serveMetrics(command.metricsPort, { context: runContext, dataflow: () => started })
      log.lines(`metrics: http://127.0.0.1:${port}/metrics\n`)
    }
    if (epochs && context.stderrIsTTY) yield* progressLine(log, runContext, () => started)
    yield* flowRun(observe)
  }))
  const leveled = Effect.provideService(program, References.MinimumLogLevel, EFFECT_LOG_LEVEL[command.logLevel])
  if (command.otlpEndpoint === undefined) return leveled
  const layer = await tracingLayer(command.otlpEndpoint, await serviceName(), command.logLevel)
  return Effect.provide(leveled, layer)
}

/** Run the command's dataflow; resolves to the process exit status. */
export const runFlow = async (command: RunCommand, context: CliContext): Promise<number> => {
  const options = await runOptions(command)
  const log = new RunLog(context.stderr)
  let flowRun: (observe: RunObserver) => Effect.Effect<void, unknown>
  let serviceName: () => Promise<string>
  const fromEnv = context.env.OTEL_SERVICE_NAME?.trim()
  if (command.workersPerProcess > 1 && command.clusterBrokers === undefined) {
    // Each worker thread imports the module and builds the flow itself.
    const { path, target } = locateFlow(command.target, context.cwd)
    const module = { module: pathToFileURL(path), export: target.exportName, args: target.args }
    flowRun = (observe) => runCluster(module, { ...options, observe })
    // The service is named after the flow: only tracing needs the flow here, so only tracing loads it.
    serviceName = async () => fromEnv || (await loadFlow(command.target, loadOptions(context))).id
  } else {
    const flow = await loadFlow(command.target, loadOptions(context))
    flowRun = (observe) =>
      command.addresses === undefined && options.cluster === undefined
        ? run(flow, { ...options, observe })
        : runCluster(flow, { ...options, observe })
    serviceName = () => Promise.resolve(fromEnv || flow.id)
  }
  const program = await observed(flowRun, command, context, log, serviceName)

  // Handlers go in before the run starts: the fiber's first turns run synchronously inside runFork.
  let fiber: ReturnType<typeof Effect.runFork<void, unknown>> | undefined
  let signalled: keyof typeof SIGNAL_EXIT_CODES | undefined
  const onSignal = (signal: keyof typeof SIGNAL_EXIT_CODES) => {
    if (signalled !== undefined) process.exit(SIGNAL_EXIT_CODES[signal])
    signalled = signal
    log.lines("interrupted\n")
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
