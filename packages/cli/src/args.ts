/**
 * Parsing the `weir` command line into a {@link Command}: flags, their
 * environment-variable defaults (as in Bytewax's `python -m bytewax.run`), and
 * the help texts. Parsing never runs anything, so it is tested on its own.
 *
 * @since 0.1.0
 */
import { readFileSync } from "node:fs"
import { parseArgs, type ParseArgsConfig } from "node:util"
import * as Duration from "effect/Duration"

/**
 * `weir run <target>`: run a dataflow.
 *
 * @since 0.1.0
 */
export interface RunCommand {
  readonly command: "run"
  /** `<file>[:<export>]`, see `parseTarget` in `load.ts`. */
  readonly target: string
  /** Workers in this process (`-w`, `WEIR_WORKERS_PER_PROCESS`); default 1. */
  readonly workersPerProcess: number
  /** This process's index in {@link addresses} (`-i`, `WEIR_PROCESS_ID`). */
  readonly processId: number | undefined
  /** Every process's `host:port` (`-a "h1:p1;h2:p2"`, `WEIR_ADDRESSES`). */
  readonly addresses: ReadonlyArray<string> | undefined
  /** The epoch length (`-s`, `WEIR_SNAPSHOT_INTERVAL`); `undefined` means the runtime's default (10 s). */
  readonly snapshotInterval: Duration.Duration | undefined
  /** Enables recovery (`-r`, `WEIR_RECOVERY_DIRECTORY`). */
  readonly recoveryDirectory: string | undefined
  /** How long to keep old snapshots (`-b`, `WEIR_RECOVERY_BACKUP_INTERVAL`). */
  readonly backupInterval: Duration.Duration | undefined
  /** Serve `/metrics` and `/dataflow` on 127.0.0.1 at this port (`--metrics-port`, `WEIR_METRICS_PORT`); 0 picks a free one. */
  readonly metricsPort: number | undefined
  /** Send traces and metrics to this OTLP/HTTP endpoint (`--otlp`, `OTEL_EXPORTER_OTLP_ENDPOINT`). */
  readonly otlpEndpoint: string | undefined
  /** `--log-level` (`WEIR_LOG_LEVEL`); default `info`, which logs a line per closed epoch. */
  readonly logLevel: LogLevel
  /**
   * Scale out on Kafka (`--cluster kafka://HOST:PORT[,HOST:PORT][?setting=value&…]`,
   * `WEIR_CLUSTER`).
   */
  readonly clusterBrokers: ClusterBrokers | undefined
  /** The scale-out group (`--group`, `WEIR_GROUP`); default `weir.<flow id>`. */
  readonly group: string | undefined
}

/**
 * The Kafka cluster of `--cluster`.
 *
 * @since 0.3.0
 */
export interface ClusterBrokers {
  /** `HOST:PORT,HOST:PORT`. */
  readonly brokers: string
  /** librdkafka settings from the URL's query (`?session.timeout.ms=6000`). */
  readonly config: Readonly<Record<string, string>>
}

/**
 * How much `weir run` says on stderr (and Effect's minimum log level):
 * `info` and `debug` log each closed epoch, `warn` and `error` only problems.
 *
 * @since 0.2.0
 */
export type LogLevel = "error" | "warn" | "info" | "debug"

/** The levels in increasing verbosity, as `--log-level` takes them. */
export const LOG_LEVELS: ReadonlyArray<LogLevel> = ["error", "warn", "info", "debug"]

/**
 * `weir visualize <target>`: print the dataflow's graph.
 *
 * @since 0.1.0
 */
export interface VisualizeCommand {
  readonly command: "visualize"
  readonly target: string
  /** `mermaid` (default) or `json` (`--json`). */
  readonly format: "mermaid" | "json"
}

/**
 * `weir recovery init <dir> <count>`: create the recovery partitions.
 *
 * @since 0.1.0
 */
export interface RecoveryInitCommand {
  readonly command: "recoveryInit"
  /** The directory of the embedded store, or the PostgreSQL connection string with `--postgres`. */
  readonly dbDir: string
  readonly partCount: number
  /** `--postgres`: `dbDir` is a PostgreSQL connection string. */
  readonly postgres: boolean
  /** `--schema` (PostgreSQL only). */
  readonly schema: string | undefined
  /** `--flow` (PostgreSQL only): the flow id whose default schema (`weir_<flow id>`) to use. */
  readonly flowId: string | undefined
}

/**
 * `--help` on any command: print `text` and exit successfully.
 *
 * @since 0.1.0
 */
export interface HelpCommand {
  readonly command: "help"
  readonly text: string
}

/**
 * `weir --version`.
 *
 * @since 0.1.0
 */
export interface VersionCommand {
  readonly command: "version"
}

/**
 * What the command line asks for.
 *
 * @since 0.1.0
 */
export type Command = RunCommand | VisualizeCommand | RecoveryInitCommand | HelpCommand | VersionCommand

/**
 * The command line is wrong. `usage` is the usage text of the (sub)command, to
 * print after the message; the process exits with status 2, like argparse.
 *
 * @example
 * ```ts
 * try {
 *   parseCommandLine(["run", "flow.ts", "-r", "/tmp/db"])
 * } catch (e) {
 *   if (e instanceof UsageError) console.error(`${e.message}\n${e.usage}`)
 * }
 * ```
 * @since 0.1.0
 */
export class UsageError extends Error {
  /** As Effect's tagged errors have it (`Effect.catchTag("UsageError", …)`). */
  readonly _tag = "UsageError" as const
  constructor(message: string, readonly usage: string) {
    super(message)
    this.name = "UsageError"
  }
}

/** Environment variables, as `process.env` holds them. */
export type Environment = Readonly<Record<string, string | undefined>>

// ---------------------------------------------------------------------------
// Help texts

const TARGET_HELP = `  <file>[:<export>]   a .ts or .js module, relative to the current directory, and the
                      export holding the dataflow (default: flow). The export may also be
                      a function returning one, called with no arguments, or with literal
                      arguments: 'flows.ts:getFlow("out.txt", 3)'.`

/** The help text of each (sub)command, keyed by its name. */
export const HELP = {
  weir: `usage: weir <command> [options]

Run and describe Weir dataflows.

commands:
  run <file>[:<export>]        run a dataflow
  visualize <file>[:<export>]  print a dataflow's graph (Mermaid or JSON)
  recovery init <dir> <count>  create a recovery store with <count> partitions

options:
  -h, --help     show help (also after any command: weir run --help)
  --version      print the version`,

  run: `usage: weir run <file>[:<export>] [-w N] [-s SECS] [-r DIR -b SECS]
                [--cluster kafka://HOST:PORT[,HOST:PORT] [--group ID]]
                [--metrics-port PORT] [--otlp URL] [--log-level LEVEL]

Run a dataflow until its inputs end, or until interrupted (Ctrl-C).

arguments:
${TARGET_HELP}

options:
  -w, --workers-per-process N   workers in this process (default 1)   [WEIR_WORKERS_PER_PROCESS]
  -s, --snapshot-interval SECS  epoch length: how often state is snapshotted, in seconds
                                (default 10; alias --epoch-interval)   [WEIR_SNAPSHOT_INTERVAL]
  -r, --recovery-directory DIR  enable recovery with the store in DIR (see 'weir recovery init'),
                                or in PostgreSQL when DIR is a postgres:// connection string;
                                requires -s and -b                     [WEIR_RECOVERY_DIRECTORY]
  -b, --backup-interval SECS    how long to keep snapshots older than the resume point, in
                                seconds (0 is allowed)          [WEIR_RECOVERY_BACKUP_INTERVAL]
  --cluster kafka://H:P[,H:P][?k=v&…]
                                scale out: run this process's share of the flow with every other
                                process given the same cluster (they form a Kafka consumer group;
                                processes may join and leave while it runs). Needs -r postgres://…,
                                a store every process reaches, and @weir/connectors-kafka;
                                ?k=v&… are librdkafka settings (?session.timeout.ms=6000)
                                                                       [WEIR_CLUSTER]
  --group ID                    the cluster's group id (default weir.<flow id>)   [WEIR_GROUP]
  -i, --process-id N            (static clusters are not supported: use --cluster) [WEIR_PROCESS_ID]
  -a, --addresses "H:P;H:P"     (static clusters are not supported: use --cluster) [WEIR_ADDRESSES]
  --metrics-port PORT           while the run lasts, serve GET /metrics (Prometheus) and
                                GET /dataflow (the graph and live counts, JSON) on
                                127.0.0.1:PORT; 0 picks a free port    [WEIR_METRICS_PORT]
  --otlp URL                    send traces and metrics to this OTLP/HTTP endpoint (needs
                                the @weir/tracing package)   [OTEL_EXPORTER_OTLP_ENDPOINT]
  --log-level LEVEL             error, warn, info or debug (default info: a line per closed
                                epoch, and a progress line on a terminal)   [WEIR_LOG_LEVEL]
  -h, --help                    show this help

Without -i, the process id is taken from WEIR_POD_NAME minus "$WEIR_STATEFULSET_NAME-" when
both are set (Kubernetes stateful sets); with a process id but no addresses, the lines of the
file at WEIR_HOSTFILE_PATH are used.`,

  visualize: `usage: weir visualize <file>[:<export>] [--json]

Print the dataflow's top-level steps as a Mermaid flowchart, or every step as JSON.

arguments:
${TARGET_HELP}

options:
  --json       print the whole step tree as JSON instead of Mermaid
  -h, --help   show this help`,

  recovery: `usage: weir recovery <command>

Manage recovery stores (needs the @weir/recovery package).

commands:
  init <dir> <count>              create a store of <count> partitions in the existing directory <dir>
  init --postgres <url> <count>   create the store's tables in PostgreSQL

options:
  -h, --help   show help`,

  "recovery init": `usage: weir recovery init <dir> <count>
       weir recovery init --postgres <url> <count> (--flow FLOW_ID | --schema NAME)

Create a recovery store of <count> partitions in <dir>, which must exist, or with
--postgres the store's tables in the PostgreSQL database at <url> (a connection string
such as postgres://user@host:5432/db). The partition count is fixed for the life of the
store; use at least the largest number of workers you will ever run. Run a flow on it with
'weir run -r <dir or url> ...'. A store belongs to the first flow run on it, and is held by
one run at a time. Init refuses a store that already holds data or has another partition
count, and says how to start over. Needs the @weir/recovery package.

options:
  --postgres       <url> is a PostgreSQL connection string, not a directory
  --flow FLOW_ID   create the tables in the schema 'weir run -r <url>' uses for that flow: weir_<FLOW_ID>
  --schema NAME    or name the PostgreSQL schema holding the tables yourself (one per dataflow)
  -h, --help       show this help`
} as const

/** The usage line(s) of a help text: everything up to the first blank line. */
const usageOf = (help: string): string => help.slice(0, help.indexOf("\n\n"))

// ---------------------------------------------------------------------------
// Value conversions (shared by flags and environment variables)

/** Where a value came from, for error messages: `-w` or `WEIR_WORKERS_PER_PROCESS`. */
type Origin = string

const positiveInteger = (value: string, origin: Origin, usage: string): number => {
  if (!/^\s*\d+\s*$/.test(value) || Number(value) < 1) {
    throw new UsageError(`${origin} must be a positive integer; got '${value}'`, usage)
  }
  return Number(value)
}

const nonNegativeInteger = (value: string, origin: Origin, usage: string): number => {
  if (!/^\s*\d+\s*$/.test(value)) {
    throw new UsageError(`${origin} must be a non-negative integer; got '${value}'`, usage)
  }
  return Number(value)
}

const port = (value: string, origin: Origin, usage: string): number => {
  if (!/^\s*\d+\s*$/.test(value) || Number(value) > 65535) {
    throw new UsageError(`${origin} must be a port number from 0 to 65535 (0 picks a free port); got '${value}'`, usage)
  }
  return Number(value)
}

const httpUrl = (value: string, origin: Origin, usage: string): string => {
  let url: URL | undefined
  try {
    url = new URL(value.trim())
  } catch {
    url = undefined
  }
  if (url === undefined || (url.protocol !== "http:" && url.protocol !== "https:")) {
    throw new UsageError(`${origin} must be an http(s) URL such as http://127.0.0.1:4318; got '${value}'`, usage)
  }
  return value.trim()
}

const logLevel = (value: string, origin: Origin, usage: string): LogLevel => {
  const level = value.trim().toLowerCase()
  if (!(LOG_LEVELS as ReadonlyArray<string>).includes(level)) {
    throw new UsageError(`${origin} must be one of ${LOG_LEVELS.join(", ")}; got '${value}'`, usage)
  }
  return level as LogLevel
}

const seconds = (value: string, origin: Origin, usage: string): Duration.Duration => {
  if (!/^\s*(\d+(\.\d*)?|\.\d+)\s*$/.test(value)) {
    throw new UsageError(`${origin} must be a non-negative number of seconds; got '${value}'`, usage)
  }
  return Duration.seconds(Number(value))
}

// ---------------------------------------------------------------------------
// Parsing

type Values = Record<string, string | boolean | undefined>

const parseOptions = (
  args: ReadonlyArray<string>,
  options: NonNullable<ParseArgsConfig["options"]>,
  usage: string
): { readonly values: Values; readonly positionals: ReadonlyArray<string> } => {
  try {
    const { positionals, values } = parseArgs({ args: [...args], options, allowPositionals: true, strict: true })
    return { values: values as Values, positionals }
  } catch (e) {
    if (e instanceof TypeError && "code" in e && String(e.code).startsWith("ERR_PARSE_ARGS")) {
      // Node's messages go on to explain `--`; the first sentence is what matters here.
      const first = e.message.split(". ")[0] ?? e.message
      throw new UsageError(first.replace(/'-(\w), --\1 <value>'/, "'-$1'"), usage)
    }
    throw e
  }
}

/** A flag's value, else the environment variable's (empty counts as unset). */
const fromFlagOrEnv = (
  values: Values,
  flag: string,
  env: Environment,
  name: string
): { readonly value: string; readonly origin: Origin } | undefined => {
  const given = values[flag]
  if (typeof given === "string") return { value: given, origin: `--${flag}` }
  const fromEnv = env[name]
  if (fromEnv !== undefined && fromEnv !== "") return { value: fromEnv, origin: name }
  return undefined
}

const exactlyOne = (positionals: ReadonlyArray<string>, what: string, usage: string): string => {
  if (positionals.length === 0) throw new UsageError(`missing ${what}`, usage)
  if (positionals.length > 1) throw new UsageError(`unexpected argument '${positionals[1]}'`, usage)
  return positionals[0]
}

const helpOption = { help: { type: "boolean", short: "h" } } as const

const parseRun = (args: ReadonlyArray<string>, env: Environment): Command => {
  const usage = usageOf(HELP.run)
  const { positionals, values } = parseOptions(
    args,
    {
      ...helpOption,
      "workers-per-process": { type: "string", short: "w" },
      "process-id": { type: "string", short: "i" },
      addresses: { type: "string", short: "a" },
      "snapshot-interval": { type: "string", short: "s" },
      "epoch-interval": { type: "string" },
      "recovery-directory": { type: "string", short: "r" },
      "backup-interval": { type: "string", short: "b" },
      "metrics-port": { type: "string" },
      otlp: { type: "string" },
      "log-level": { type: "string" },
      cluster: { type: "string" },
      group: { type: "string" }
    },
    usage
  )
  if (values.help === true) return { command: "help", text: HELP.run }
  const target = exactlyOne(positionals, "the dataflow to run: weir run <file>[:<export>]", usage)

  const workers = fromFlagOrEnv(values, "workers-per-process", env, "WEIR_WORKERS_PER_PROCESS")
  const workersPerProcess = workers === undefined ? 1 : positiveInteger(workers.value, workers.origin, usage)

  if (typeof values["epoch-interval"] === "string" && values["snapshot-interval"] === undefined) {
    values["snapshot-interval"] = values["epoch-interval"]
  }
  const snapshot = fromFlagOrEnv(values, "snapshot-interval", env, "WEIR_SNAPSHOT_INTERVAL")
  const snapshotInterval = snapshot === undefined ? undefined : seconds(snapshot.value, snapshot.origin, usage)
  const recovery = fromFlagOrEnv(values, "recovery-directory", env, "WEIR_RECOVERY_DIRECTORY")
  const backup = fromFlagOrEnv(values, "backup-interval", env, "WEIR_RECOVERY_BACKUP_INTERVAL")
  const backupInterval = backup === undefined ? undefined : seconds(backup.value, backup.origin, usage)
  if (recovery !== undefined && (snapshotInterval === undefined || backupInterval === undefined)) {
    // As in Bytewax: with recovery, both intervals must be chosen deliberately.
    const missing = [
      snapshotInterval === undefined ? "-s/--snapshot-interval" : undefined,
      backupInterval === undefined ? "-b/--backup-interval" : undefined
    ].filter((m) => m !== undefined)
    throw new UsageError(`-r/--recovery-directory requires ${missing.join(" and ")}`, usage)
  }

  const metrics = fromFlagOrEnv(values, "metrics-port", env, "WEIR_METRICS_PORT")
  const otlp = fromFlagOrEnv(values, "otlp", env, "OTEL_EXPORTER_OTLP_ENDPOINT")
  const level = fromFlagOrEnv(values, "log-level", env, "WEIR_LOG_LEVEL")

  const { addresses, processId } = clusterAddresses(values, env, usage)
  const cluster = fromFlagOrEnv(values, "cluster", env, "WEIR_CLUSTER")
  const group = fromFlagOrEnv(values, "group", env, "WEIR_GROUP")
  const clusterBrokers = cluster === undefined ? undefined : kafkaCluster(cluster.value, cluster.origin, usage)
  if (clusterBrokers !== undefined) {
    if (addresses !== undefined || processId !== undefined) {
      throw new UsageError(
        "--cluster and -a/-i (static addresses) exclude each other: processes of a --cluster run find each " +
          "other through Kafka; leave out -a and -i (and WEIR_ADDRESSES, WEIR_PROCESS_ID)",
        usage
      )
    }
    if (recovery === undefined || !/^postgres(ql)?:\/\//.test(recovery.value)) {
      throw new UsageError(
        "--cluster needs a recovery store every process reaches: -r postgres://USER@HOST:PORT/DB " +
          `(with -s and -b)${recovery === undefined ? "" : `; '${recovery.value}' is a local directory`}`,
        usage
      )
    }
  } else if (group !== undefined) {
    throw new UsageError("--group names the group of a --cluster run: give --cluster too", usage)
  }
  return {
    clusterBrokers,
    group: group?.value,
    command: "run",
    target,
    workersPerProcess,
    processId,
    addresses,
    snapshotInterval,
    recoveryDirectory: recovery?.value,
    backupInterval,
    metricsPort: metrics === undefined ? undefined : port(metrics.value, metrics.origin, usage),
    otlpEndpoint: otlp === undefined ? undefined : httpUrl(otlp.value, otlp.origin, usage),
    logLevel: level === undefined ? "info" : logLevel(level.value, level.origin, usage)
  }
}

/**
 * `kafka://HOST:PORT[,HOST:PORT][?setting=value&…]`: the bootstrap servers as
 * `HOST:PORT,HOST:PORT`, and librdkafka settings for the cluster's clients
 * (`?session.timeout.ms=6000`).
 */
const kafkaCluster = (value: string, origin: Origin, usage: string): ClusterBrokers => {
  const m = /^kafka:\/\/([^/?#]+)\/?(?:\?([^#]*))?$/.exec(value.trim())
  const brokers = m === null ? [] : m[1]!.split(",").map((b) => b.trim()).filter((b) => b !== "")
  if (brokers.length === 0 || brokers.some((b) => !/^[^:\s]+:\d{1,5}$/.test(b))) {
    throw new UsageError(
      `${origin} must be kafka://HOST:PORT or kafka://HOST:PORT,HOST:PORT (the Kafka bootstrap servers), ` +
        `optionally with ?setting=value&… (librdkafka settings); got '${value}'`,
      usage
    )
  }
  const config: Record<string, string> = {}
  for (const [k, v] of new URLSearchParams(m![2] ?? "")) config[k] = v
  return { brokers: brokers.join(","), config }
}

/**
 * The process id and addresses, with Bytewax's Kubernetes fallbacks: the id
 * from the stateful-set pod name, the addresses from a host file.
 */
const clusterAddresses = (
  values: Values,
  env: Environment,
  usage: string
): { readonly processId: number | undefined; readonly addresses: ReadonlyArray<string> | undefined } => {
  const id = fromFlagOrEnv(values, "process-id", env, "WEIR_PROCESS_ID")
  let processId = id === undefined ? undefined : nonNegativeInteger(id.value, id.origin, usage)
  const podName = env.WEIR_POD_NAME
  const statefulSet = env.WEIR_STATEFULSET_NAME
  if (processId === undefined && podName && statefulSet) {
    processId = nonNegativeInteger(podName.replace(`${statefulSet}-`, ""), "WEIR_POD_NAME", usage)
  }
  const given = fromFlagOrEnv(values, "addresses", env, "WEIR_ADDRESSES")
  let joined = given?.value
  if (processId !== undefined && joined === undefined) {
    const hostfile = env.WEIR_HOSTFILE_PATH
    if (!hostfile) throw new UsageError("the addresses option (-a) is required if a process id is given", usage)
    let text: string
    try {
      text = readFileSync(hostfile, "utf8")
    } catch (e) {
      throw new UsageError(`cannot read WEIR_HOSTFILE_PATH '${hostfile}': ${(e as Error).message}`, usage)
    }
    joined = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== "").join(";")
  }
  const addresses = joined === undefined ? undefined : joined.split(";").map((a) => a.trim()).filter((a) => a !== "")
  return { processId, addresses }
}

const parseVisualize = (args: ReadonlyArray<string>): Command => {
  const usage = usageOf(HELP.visualize)
  const { positionals, values } = parseOptions(args, { ...helpOption, json: { type: "boolean" } }, usage)
  if (values.help === true) return { command: "help", text: HELP.visualize }
  const target = exactlyOne(positionals, "the dataflow to draw: weir visualize <file>[:<export>]", usage)
  return { command: "visualize", target, format: values.json === true ? "json" : "mermaid" }
}

/** Whether a `-r` value or `--postgres` argument is a PostgreSQL connection string. */
export const isPostgresUrl = (value: string): boolean => /^postgres(ql)?:\/\//.test(value)

const parseRecovery = (args: ReadonlyArray<string>): Command => {
  const [sub, ...rest] = args
  if (sub === "init") {
    const usage = usageOf(HELP["recovery init"])
    const { positionals, values } = parseOptions(
      rest,
      { ...helpOption, postgres: { type: "boolean" }, schema: { type: "string" }, flow: { type: "string" } },
      usage
    )
    if (values.help === true) return { command: "help", text: HELP["recovery init"] }
    const postgres = values.postgres === true
    const where = postgres ? "<url>" : "<dir>"
    if (positionals.length < 2) throw new UsageError(`expected ${where} and <count>`, usage)
    if (positionals.length > 2) throw new UsageError(`unexpected argument '${positionals[2]}'`, usage)
    const schema = typeof values.schema === "string" ? values.schema : undefined
    if (schema !== undefined && !postgres) throw new UsageError("--schema needs --postgres", usage)
    const flowId = typeof values.flow === "string" ? values.flow : undefined
    if (flowId !== undefined && !postgres) throw new UsageError("--flow needs --postgres", usage)
    if (schema !== undefined && flowId !== undefined) throw new UsageError("give --flow or --schema, not both", usage)
    if (postgres && !isPostgresUrl(positionals[0])) {
      throw new UsageError(`--postgres expects a connection string like postgres://user@host:5432/db; got '${positionals[0]}'`, usage)
    }
    if (postgres && schema === undefined && flowId === undefined) {
      throw new UsageError(
        "--postgres needs the flow the store is for (--flow FLOW_ID, for the schema weir_<FLOW_ID> that 'weir run -r <url>' uses) " +
          "or the schema (--schema NAME)",
        usage
      )
    }
    return {
      command: "recoveryInit",
      dbDir: positionals[0],
      partCount: positiveInteger(positionals[1], "<count>", usage),
      postgres,
      schema,
      flowId
    }
  }
  const usage = usageOf(HELP.recovery)
  if (sub === undefined || sub === "-h" || sub === "--help" || sub === "help") {
    if (sub === undefined) throw new UsageError("missing command: weir recovery init <dir> <count>", usage)
    return { command: "help", text: HELP.recovery }
  }
  throw new UsageError(`unknown command 'recovery ${sub}'`, usage)
}

/**
 * Parse the arguments after `weir` (e.g. `process.argv.slice(2)`). Flags not
 * given fall back to their environment variables, converted the same way.
 * Throws {@link UsageError} for anything wrong.
 *
 * @example
 * ```ts
 * import { parseCommandLine } from "weir"
 *
 * const cmd = parseCommandLine(["run", "flows/wordcount.ts", "-w", "2", "-s", "5"], {})
 * // { command: "run", target: "flows/wordcount.ts", workersPerProcess: 2,
 * //   snapshotInterval: Duration.seconds(5), recoveryDirectory: undefined, ... }
 * ```
 * @since 0.1.0
 */
export const parseCommandLine = (argv: ReadonlyArray<string>, env: Environment = process.env): Command => {
  const [command, ...rest] = argv
  switch (command) {
    case "run":
      return parseRun(rest, env)
    case "visualize":
      return parseVisualize(rest)
    case "recovery":
      return parseRecovery(rest)
    case "help": {
      const topic = rest.join(" ")
      if (topic === "") return { command: "help", text: HELP.weir }
      if (topic in HELP) return { command: "help", text: HELP[topic as keyof typeof HELP] }
      throw new UsageError(`no help for unknown command '${topic}'`, usageOf(HELP.weir))
    }
    case "-h":
    case "--help":
      return { command: "help", text: HELP.weir }
    case "-v":
    case "--version":
      return { command: "version" }
    case undefined:
      throw new UsageError("missing command", usageOf(HELP.weir))
    default:
      throw new UsageError(
        command.startsWith("-") ? `unknown option '${command}'` : `unknown command '${command}'`,
        usageOf(HELP.weir)
      )
  }
}
