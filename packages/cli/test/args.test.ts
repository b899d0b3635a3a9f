import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Duration from "effect/Duration"
import { describe, expect, it } from "vitest"
import { type Command, parseCommandLine, type RunCommand, UsageError } from "../src/args.js"

const parseRun = (argv: ReadonlyArray<string>, env: Record<string, string> = {}): RunCommand => {
  const command: Command = parseCommandLine(["run", ...argv], env)
  if (command.command !== "run") throw new Error(`expected a run command, got ${command.command}`)
  return command
}

const seconds = (d: Duration.Duration | undefined): number | undefined =>
  d === undefined ? undefined : Duration.toSeconds(d)

const usageError = (argv: ReadonlyArray<string>, env: Record<string, string> = {}): UsageError => {
  try {
    parseCommandLine(argv, env)
  } catch (e) {
    if (e instanceof UsageError) return e
    throw e
  }
  throw new Error(`expected a usage error for: ${argv.join(" ")}`)
}

describe("weir run arguments", () => {
  it("defaults to one worker, the runtime's epoch interval and no recovery", () => {
    expect(parseRun(["flow.ts"])).toEqual({
      command: "run",
      target: "flow.ts",
      workersPerProcess: 1,
      processId: undefined,
      addresses: undefined,
      snapshotInterval: undefined,
      recoveryDirectory: undefined,
      backupInterval: undefined,
      metricsPort: undefined,
      otlpEndpoint: undefined,
      logLevel: "info"
    })
  })

  it("reads short and long flags", () => {
    const short = parseRun(["flow.ts:make", "-w", "3", "-s", "5"])
    expect(short.target).toBe("flow.ts:make")
    expect(short.workersPerProcess).toBe(3)
    expect(seconds(short.snapshotInterval)).toBe(5)
    const long = parseRun(["--workers-per-process=2", "--snapshot-interval", "0.5", "flow.ts"])
    expect(long.workersPerProcess).toBe(2)
    expect(seconds(long.snapshotInterval)).toBe(0.5)
    expect(seconds(parseRun(["flow.ts", "--epoch-interval", "7"]).snapshotInterval)).toBe(7)
  })

  it("reads a backup interval of 60 as 60 seconds", () => {
    const cmd = parseRun(["flow.ts", "--backup-interval", "60"])
    expect(Duration.toMillis(cmd.backupInterval!)).toBe(60_000)
  })

  it("accepts a backup interval of 0 with -r and -s", () => {
    const cmd = parseRun(["flow.ts", "-r", "/fake", "-s", "30", "--backup-interval", "0"])
    expect(cmd.recoveryDirectory).toBe("/fake")
    expect(seconds(cmd.snapshotInterval)).toBe(30)
    expect(Duration.toMillis(cmd.backupInterval!)).toBe(0)
  })

  it("rejects -r without -s and -b", () => {
    expect(usageError(["run", "flow.ts", "-r", "/fake"]).message).toBe(
      "-r/--recovery-directory requires -s/--snapshot-interval and -b/--backup-interval"
    )
    expect(usageError(["run", "flow.ts", "-r", "/fake", "-s", "1"]).message).toContain("-b/--backup-interval")
    expect(usageError(["run", "flow.ts", "-r", "/fake", "-b", "1"]).message).toContain("-s/--snapshot-interval")
  })

  it("takes defaults from WEIR_* environment variables, converted like flags", () => {
    const cmd = parseRun(["flow.ts"], {
      WEIR_WORKERS_PER_PROCESS: "4",
      WEIR_SNAPSHOT_INTERVAL: "2",
      WEIR_RECOVERY_DIRECTORY: "/db",
      WEIR_RECOVERY_BACKUP_INTERVAL: "60"
    })
    expect(cmd.workersPerProcess).toBe(4)
    expect(seconds(cmd.snapshotInterval)).toBe(2)
    expect(cmd.recoveryDirectory).toBe("/db")
    expect(seconds(cmd.backupInterval)).toBe(60)
  })

  it("prefers flags over environment variables", () => {
    const cmd = parseRun(["flow.ts", "-w", "2"], { WEIR_WORKERS_PER_PROCESS: "4" })
    expect(cmd.workersPerProcess).toBe(2)
  })

  it("lets environment variables satisfy -r's requirements", () => {
    const cmd = parseRun(["flow.ts", "-r", "/db"], { WEIR_SNAPSHOT_INTERVAL: "1", WEIR_RECOVERY_BACKUP_INTERVAL: "0" })
    expect(cmd.recoveryDirectory).toBe("/db")
    expect(usageError(["run", "flow.ts"], { WEIR_RECOVERY_DIRECTORY: "/db" }).message).toContain("requires")
  })

  it("rejects bad numbers, naming the flag or variable", () => {
    expect(usageError(["run", "flow.ts", "-w", "0"]).message).toBe("--workers-per-process must be a positive integer; got '0'")
    // A tagged error, for Effect.catchTag.
    expect(usageError(["run", "flow.ts", "-w", "0"])._tag).toBe("UsageError")
    expect(usageError(["run", "flow.ts", "-w", "two"]).message).toContain("positive integer")
    expect(usageError(["run", "flow.ts", "-s", "-1"]).message).toContain("-s")
    expect(usageError(["run", "flow.ts"], { WEIR_SNAPSHOT_INTERVAL: "soon" }).message).toBe(
      "WEIR_SNAPSHOT_INTERVAL must be a non-negative number of seconds; got 'soon'"
    )
  })

  it("reads --metrics-port, --otlp and --log-level", () => {
    const cmd = parseRun(["flow.ts", "--metrics-port", "9464", "--otlp", "http://collector:4318", "--log-level", "debug"])
    expect(cmd.metricsPort).toBe(9464)
    expect(cmd.otlpEndpoint).toBe("http://collector:4318")
    expect(cmd.logLevel).toBe("debug")
    expect(parseRun(["flow.ts", "--metrics-port=0"]).metricsPort).toBe(0)
    expect(parseRun(["flow.ts", "--log-level", "WARN"]).logLevel).toBe("warn")
    expect(parseRun(["flow.ts", "--log-level=error"]).logLevel).toBe("error")
  })

  it("takes the metrics port, OTLP endpoint and log level from the environment, flags first", () => {
    const env = { WEIR_METRICS_PORT: "9000", OTEL_EXPORTER_OTLP_ENDPOINT: "https://otel.example:4318/", WEIR_LOG_LEVEL: "warn" }
    const fromEnv = parseRun(["flow.ts"], env)
    expect(fromEnv.metricsPort).toBe(9000)
    expect(fromEnv.otlpEndpoint).toBe("https://otel.example:4318/")
    expect(fromEnv.logLevel).toBe("warn")
    const flags = parseRun(["flow.ts", "--metrics-port", "0", "--otlp", "http://127.0.0.1:4318", "--log-level", "info"], env)
    expect(flags.metricsPort).toBe(0)
    expect(flags.otlpEndpoint).toBe("http://127.0.0.1:4318")
    expect(flags.logLevel).toBe("info")
    // Empty variables count as unset.
    expect(parseRun(["flow.ts"], { WEIR_METRICS_PORT: "", OTEL_EXPORTER_OTLP_ENDPOINT: "", WEIR_LOG_LEVEL: "" })).toMatchObject({
      metricsPort: undefined,
      otlpEndpoint: undefined,
      logLevel: "info"
    })
  })

  it("rejects a bad metrics port, OTLP URL or log level, naming the flag or variable", () => {
    expect(usageError(["run", "flow.ts", "--metrics-port", "70000"]).message).toBe(
      "--metrics-port must be a port number from 0 to 65535 (0 picks a free port); got '70000'"
    )
    expect(usageError(["run", "flow.ts", "--metrics-port", "-1"]).message).toContain("--metrics-port")
    expect(usageError(["run", "flow.ts"], { WEIR_METRICS_PORT: "http" }).message).toBe(
      "WEIR_METRICS_PORT must be a port number from 0 to 65535 (0 picks a free port); got 'http'"
    )
    expect(usageError(["run", "flow.ts", "--otlp", "localhost:4318"]).message).toBe(
      "--otlp must be an http(s) URL such as http://127.0.0.1:4318; got 'localhost:4318'"
    )
    expect(usageError(["run", "flow.ts"], { OTEL_EXPORTER_OTLP_ENDPOINT: "not a url" }).message).toBe(
      "OTEL_EXPORTER_OTLP_ENDPOINT must be an http(s) URL such as http://127.0.0.1:4318; got 'not a url'"
    )
    expect(usageError(["run", "flow.ts", "--log-level", "loud"]).message).toBe(
      "--log-level must be one of error, warn, info, debug; got 'loud'"
    )
    expect(usageError(["run", "flow.ts"], { WEIR_LOG_LEVEL: "trace" }).message).toBe(
      "WEIR_LOG_LEVEL must be one of error, warn, info, debug; got 'trace'"
    )
    const usage = usageError(["run", "flow.ts", "--log-level", "loud"]).usage
    expect(usage).toContain("[--metrics-port PORT] [--otlp URL] [--log-level LEVEL]")
  })

  it("rejects a missing target, extra arguments and unknown flags", () => {
    expect(usageError(["run"]).message).toContain("missing the dataflow to run")
    expect(usageError(["run", "a.ts", "b.ts"]).message).toBe("unexpected argument 'b.ts'")
    expect(usageError(["run", "a.ts", "--fast"]).message).toContain("Unknown option '--fast'")
    expect(usageError(["run", "a.ts", "-w"]).message).toContain("argument missing")
  })

  it("takes the process id from the pod name and the addresses from the host file", () => {
    const dir = mkdtempSync(join(tmpdir(), "weir-args-"))
    const hostfile = join(dir, "hosts.txt")
    writeFileSync(hostfile, "localhost:1234\nlocalhost:5678\n\n")
    const cmd = parseRun(["flow.ts"], {
      WEIR_HOSTFILE_PATH: hostfile,
      WEIR_POD_NAME: "stateful_set-0",
      WEIR_STATEFULSET_NAME: "stateful_set"
    })
    expect(cmd.processId).toBe(0)
    expect(cmd.addresses).toEqual(["localhost:1234", "localhost:5678"])
  })

  it("requires addresses when a process id is given", () => {
    expect(usageError(["run", "flow.ts", "-i", "1"]).message).toContain("addresses option (-a) is required")
    expect(parseRun(["flow.ts", "-i", "1", "-a", "h1:1;h2:2"]).addresses).toEqual(["h1:1", "h2:2"])
  })
})

describe("weir visualize and recovery arguments", () => {
  it("visualize prints Mermaid unless --json", () => {
    expect(parseCommandLine(["visualize", "f.ts"])).toEqual({ command: "visualize", target: "f.ts", format: "mermaid" })
    expect(parseCommandLine(["visualize", "--json", "f.ts:g"])).toEqual({
      command: "visualize",
      target: "f.ts:g",
      format: "json"
    })
  })

  it("recovery init takes a directory and a positive count", () => {
    expect(parseCommandLine(["recovery", "init", "/db", "3"])).toEqual({
      command: "recoveryInit",
      dbDir: "/db",
      partCount: 3,
      postgres: false,
      schema: undefined,
      flowId: undefined
    })
    expect(usageError(["recovery", "init", "/db"]).message).toBe("expected <dir> and <count>")
    expect(usageError(["recovery", "init", "/db", "0"]).message).toContain("<count> must be a positive integer")
    expect(usageError(["recovery", "drop"]).message).toBe("unknown command 'recovery drop'")
  })

  it("recovery init --postgres takes a connection string, a count and the flow or the schema", () => {
    expect(parseCommandLine(["recovery", "init", "--postgres", "postgres://u@h:5432/d", "2", "--schema", "orders"])).toEqual({
      command: "recoveryInit",
      dbDir: "postgres://u@h:5432/d",
      partCount: 2,
      postgres: true,
      schema: "orders",
      flowId: undefined
    })
    expect(parseCommandLine(["recovery", "init", "--postgres", "postgres://u@h:5432/d", "2", "--flow", "orders_flow"])).toEqual({
      command: "recoveryInit",
      dbDir: "postgres://u@h:5432/d",
      partCount: 2,
      postgres: true,
      schema: undefined,
      flowId: "orders_flow"
    })
    expect(usageError(["recovery", "init", "--postgres", "postgres://u@h/d", "1"]).message).toContain("--postgres needs the flow")
    expect(usageError(["recovery", "init", "--postgres", "postgres://u@h/d", "1", "--flow", "f", "--schema", "s"]).message)
      .toBe("give --flow or --schema, not both")
    expect(usageError(["recovery", "init", "/db", "1", "--flow", "f"]).message).toBe("--flow needs --postgres")
    expect(usageError(["recovery", "init", "--postgres", "postgres://u@h/d"]).message).toBe("expected <url> and <count>")
    expect(usageError(["recovery", "init", "--postgres", "/db", "1"]).message).toContain("--postgres expects a connection string")
    expect(usageError(["recovery", "init", "/db", "1", "--schema", "s"]).message).toBe("--schema needs --postgres")
  })
})

describe("help and version", () => {
  it.each([
    [["--help"], "usage: weir <command>"],
    [["-h"], "usage: weir <command>"],
    [["help", "run"], "usage: weir run"],
    [["run", "--help"], "usage: weir run"],
    [["run", "-h", "flow.ts", "-w", "2"], "usage: weir run"],
    [["visualize", "-h"], "usage: weir visualize"],
    [["recovery", "--help"], "usage: weir recovery <command>"],
    [["recovery", "init", "-h"], "usage: weir recovery init"]
  ])("%j prints help", (argv, start) => {
    const command = parseCommandLine(argv, {})
    expect(command.command).toBe("help")
    if (command.command === "help") expect(command.text.startsWith(start)).toBe(true)
  })

  it("--version asks for the version", () => {
    expect(parseCommandLine(["--version"])).toEqual({ command: "version" })
  })

  it("rejects a missing or unknown command", () => {
    expect(usageError([]).message).toBe("missing command")
    expect(usageError(["launch"]).message).toBe("unknown command 'launch'")
    expect(usageError(["--verbose"]).message).toBe("unknown option '--verbose'")
  })
})

describe("weir run --cluster", () => {
  const store = ["-r", "postgres://weir@10.0.0.2:5432/weir", "-s", "1", "-b", "0"]

  it("takes the brokers, librdkafka settings from the query, and the group", () => {
    const cmd = parseRun(["flow.ts", "--cluster", "kafka://10.0.0.2:9092,10.0.0.3:9092?session.timeout.ms=6000&socket.timeout.ms=10000", "--group", "g1", ...store])
    expect(cmd.clusterBrokers).toEqual({
      brokers: "10.0.0.2:9092,10.0.0.3:9092",
      config: { "session.timeout.ms": "6000", "socket.timeout.ms": "10000" }
    })
    expect(cmd.group).toBe("g1")
    expect(parseRun(["flow.ts", ...store], { WEIR_CLUSTER: "kafka://h:1" }).clusterBrokers).toEqual({ brokers: "h:1", config: {} })
  })

  it("refuses a cluster that is not kafka://HOST:PORT", () => {
    for (const bad of ["10.0.0.2:9092", "kafka://", "kafka://host", "http://h:1", "kafka://h:1/x"]) {
      expect(usageError(["run", "flow.ts", "--cluster", bad, ...store]).message, bad).toContain("must be kafka://HOST:PORT")
    }
  })

  it("needs a PostgreSQL store, and refuses static addresses beside it", () => {
    expect(usageError(["run", "flow.ts", "--cluster", "kafka://h:1"]).message).toContain(
      "--cluster needs a recovery store every process reaches: -r postgres://"
    )
    expect(usageError(["run", "flow.ts", "--cluster", "kafka://h:1", "-r", "/tmp/store", "-s", "1", "-b", "0"]).message).toContain(
      "'/tmp/store' is a local directory"
    )
    expect(usageError(["run", "flow.ts", "--cluster", "kafka://h:1", "-a", "h1:1;h2:2", "-i", "0", ...store]).message).toContain(
      "--cluster and -a/-i (static addresses) exclude each other"
    )
    expect(usageError(["run", "flow.ts", "--group", "g"]).message).toContain("--group names the group of a --cluster run")
  })
})
