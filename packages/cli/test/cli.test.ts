// End-to-end: spawn `node bin/weir.js` as a user would.
import { type ChildProcess, spawn } from "node:child_process"
import { createServer } from "node:http"
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"

const bin = fileURLToPath(new URL("../bin/weir.js", import.meta.url))
const fixtures = fileURLToPath(new URL("./fixtures/", import.meta.url))

interface Finished {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

const start = (args: ReadonlyArray<string>, env: Record<string, string> = {}): ChildProcess =>
  spawn(process.execPath, [bin, ...args], { cwd: fixtures, env: { ...process.env, ...env }, stdio: "pipe" })

const finished = (child: ChildProcess): Promise<Finished> => {
  let stdout = ""
  let stderr = ""
  child.stdout!.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
  return new Promise((resolve, reject) => {
    child.on("error", reject)
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }))
  })
}

const weir = (args: ReadonlyArray<string>, env: Record<string, string> = {}): Promise<Finished> =>
  finished(start(args, env))

/** `@weir/recovery` is optional; its absence is only testable while it is not in the workspace. */

const tempFile = (name: string): string => join(mkdtempSync(join(tmpdir(), "weir-cli-")), name)

/** stderr without the epoch lines `weir run` logs at the default level. */
const withoutEpochLines = (stderr: string): string =>
  stderr.split("\n").filter((l) => !/^epoch \d+: /.test(l)).join("\n")

/**
 * Resolve with the first match of `pattern` in what `stream` prints, within `ms`. Call it
 * right after spawning (before any await), so no output is missed.
 */
const waitFor = (stream: NodeJS.ReadableStream, pattern: RegExp, ms = 20_000): Promise<RegExpMatchArray> => {
  let text = ""
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      stream.off("data", onData)
      reject(new Error(`no ${pattern} within ${ms} ms; got:\n${text}`))
    }, ms)
    const onData = (chunk: Buffer) => {
      text += chunk.toString()
      const match = text.match(pattern)
      if (match !== null) {
        clearTimeout(timer)
        stream.off("data", onData)
        resolve(match)
      }
    }
    stream.on("data", onData)
  })
}

/** The TCP ports process `pid` listens on: its socket inodes, looked up in /proc/net/tcp{,6}. */
const listeningPorts = (pid: number): Array<number> => {
  const inodes = new Set<string>()
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))
      if (m !== null) inodes.add(m[1])
    } catch {
      // The fd closed while we looked.
    }
  }
  const ports: Array<number> = []
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    if (!existsSync(table)) continue
    for (const line of readFileSync(table, "utf8").trim().split("\n").slice(1)) {
      const [, local, , state, , , , , , inode] = line.trim().split(/\s+/)
      if (state === "0A" && inodes.has(inode)) ports.push(parseInt(local.split(":")[1], 16)) // 0A: LISTEN
    }
  }
  return ports
}

interface PrometheusSample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

interface PrometheusText {
  /** Metric name → its `# TYPE`. */
  readonly types: ReadonlyMap<string, string>
  /** Metric name → its `# HELP`. */
  readonly help: ReadonlyMap<string, string>
  readonly samples: ReadonlyArray<PrometheusSample>
}

/** Parse the Prometheus text format: `# HELP`/`# TYPE` lines and `name{label="value",…} value` samples. */
const parsePrometheus = (text: string): PrometheusText => {
  const types = new Map<string, string>()
  const help = new Map<string, string>()
  const samples: Array<PrometheusSample> = []
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue
    const comment = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line)
    if (comment !== null) {
      ;(comment[1] === "HELP" ? help : types).set(comment[2], comment[3])
      continue
    }
    if (line.startsWith("#")) continue
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: \d+)?$/.exec(line)
    if (sample === null) throw new Error(`not a Prometheus sample line: ${line}`)
    const labels: Record<string, string> = {}
    for (const [, key, value] of (sample[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[key] = value.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c))
    }
    samples.push({ name: sample[1], labels, value: Number(sample[3]) })
  }
  return { types, help, samples }
}

const scrape = async (port: number): Promise<PrometheusText> => {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`)
  expect(res.status).toBe(200)
  expect(res.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8")
  return parsePrometheus(await res.text())
}

/** The sum of `name`'s samples whose labels include `labels`. */
const total = (metrics: PrometheusText, name: string, labels: Record<string, string>): number =>
  metrics.samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0)

/** Scrape until `done` holds (counts are published every 250 ms), for at most `ms`; returns the last scrape. */
const scrapeUntil = async (port: number, done: (m: PrometheusText) => boolean, ms: number): Promise<PrometheusText> => {
  const deadline = Date.now() + ms
  for (;;) {
    const metrics = await scrape(port)
    if (done(metrics) || Date.now() > deadline) return metrics
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

describe("weir (spawned)", () => {
  it("prints help and the version", async () => {
    const help = await weir(["--help"])
    expect(help.code).toBe(0)
    expect(help.stdout).toContain("usage: weir <command>")
    const version = await weir(["--version"])
    expect(version.stdout.trim()).toMatch(/^weir \d+\.\d+\.\d+/)
  })

  it("exits with status 2 and the usage on a bad command line", async () => {
    const result = await weir(["run", "flows.ts", "-r", "/fake"])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain("-r/--recovery-directory requires -s/--snapshot-interval and -b/--backup-interval")
    expect(result.stderr).toContain("usage: weir run")
  })
})

describe("weir visualize", () => {
  it("prints the Mermaid flowchart of a TypeScript flow", async () => {
    const result = await weir(["visualize", "flows.ts"])
    expect(result.stderr).toBe("")
    expect(result.code).toBe(0)
    expect(result.stdout).toBe(
      [
        "flowchart TD",
        "subgraph \"test_df (Dataflow)\"",
        "test_df.inp[\"inp (input)\"]",
        "test_df.add_one[\"add_one (map)\"]",
        "test_df.inp -- \"down → up\" --> test_df.add_one",
        "test_df.out[\"out (output)\"]",
        "test_df.add_one -- \"down → up\" --> test_df.out",
        "end",
        ""
      ].join("\n")
    )
  })

  it("prints the step tree as JSON with --json", async () => {
    const result = await weir(["visualize", "flows.ts:getFlow('x.txt')", "--json"])
    expect(result.code).toBe(0)
    const tree = JSON.parse(result.stdout) as { typ: string; flowId: string; substeps: Array<{ stepId: string }> }
    expect(tree.typ).toBe("RenderedDataflow")
    expect(tree.flowId).toBe("squares")
    expect(tree.substeps.map((s) => s.stepId)).toEqual(["squares.inp", "squares.square", "squares.out"])
  })

  it("loads plain JavaScript flows", async () => {
    const result = await weir(["visualize", "plain.js"])
    expect(result.code).toBe(0)
    expect(result.stdout).toContain("plain.words -- \"down → ups\" --> plain.both")
  })

  it("fails with status 1 and a clear message for a missing file or export", async () => {
    const missing = await weir(["visualize", "missing.ts"])
    expect(missing.code).toBe(1)
    expect(missing.stderr).toContain("weir: cannot find dataflow file 'missing.ts'")
    const noExport = await weir(["visualize", "flows.ts:nothing"])
    expect(noExport.code).toBe(1)
    expect(noExport.stderr).toContain("'flows.ts' has no export named 'nothing' (its exports are: asyncFlow,")
    const notFlow = await weir(["visualize", "flows.ts:notAFlow"])
    expect(notFlow.code).toBe(1)
    expect(notFlow.stderr).toContain("a valid Weir dataflow was not obtained from 'flows.ts:notAFlow'")
  })
})

describe("weir run", () => {
  it("runs a flow to completion, writing its output", async () => {
    const out = tempFile("squares.txt")
    const result = await weir(["run", `flows.ts:getFlow(${JSON.stringify(out)}, 4)`])
    expect(withoutEpochLines(result.stderr)).toBe("")
    expect(result.code).toBe(0)
    expect(readFileSync(out, "utf8")).toBe("1^2 = 1\n2^2 = 4\n3^2 = 9\n4^2 = 16\n")
  })

  it("runs on several workers with -w, and with an epoch interval from the environment", async () => {
    const out = tempFile("words.txt")
    const result = await weir(["run", "flows.ts:wordCount", "-w", "2"], { WEIR_TEST_OUT: out, WEIR_SNAPSHOT_INTERVAL: "0" })
    expect(withoutEpochLines(result.stderr)).toBe("")
    expect(result.code).toBe(0)
    expect(readFileSync(out, "utf8").trim().split("\n").sort()).toEqual(["a 1", "b 2", "c 3"])
  })

  it("reports an error in user code with the step and the cause, and exits with status 1", async () => {
    const result = await weir(["run", "flows.ts:failing"])
    expect(result.code).toBe(1)
    expect(result.stderr).toContain("failing.explode")
    expect(result.stderr).toContain("Caused by: Error: boom at 2")
  })

  it("recovery init, then run -r: a crashed run resumes where the last epoch closed", async () => {
    const db = mkdtempSync(join(tmpdir(), "weir-cli-db-"))
    const out = join(mkdtempSync(join(tmpdir(), "weir-cli-out-")), "out.txt")
    const init = await weir(["recovery", "init", db, "2"])
    expect(init.code).toBe(0)
    expect(init.stderr).toContain("created 2 recovery partition(s)")
    const crashed = await weir(["run", "resumable.ts", "-r", db, "-s", "0", "-b", "0"], { OUT: out, ABORT_AT: "6" })
    expect(crashed.code).toBe(0)
    expect(readFileSync(out, "utf8").trim().split("\n")).toEqual(["0 0", "1 1", "2 3", "3 6", "4 10", "5 15"])
    // With a store, each epoch line says how long its commit took.
    expect(crashed.stderr).toMatch(/^epoch 1: 1 item in, commit \d+\.\d ms$/m)
    const resumed = await weir(["run", "resumable.ts", "-r", db, "-s", "0", "-b", "0"], { OUT: out })
    expect(resumed.code).toBe(0)
    // Every batch was its own epoch, so the resume repeats nothing and the running sum continues.
    expect(readFileSync(out, "utf8").trim().split("\n").slice(6)).toEqual(["6 21", "7 28", "8 36", "9 45"])
  })

  it("recovery init refuses a store a run has used, or another partition count, and leaves it as it was", async () => {
    const db = mkdtempSync(join(tmpdir(), "weir-cli-db-"))
    const out = join(mkdtempSync(join(tmpdir(), "weir-cli-out-")), "out.txt")
    expect((await weir(["recovery", "init", db, "2"])).code).toBe(0)
    expect((await weir(["recovery", "init", db, "2"])).code).toBe(0)
    const crashed = await weir(["run", "resumable.ts", "-r", db, "-s", "0", "-b", "0"], { OUT: out, ABORT_AT: "6" })
    expect(crashed.code).toBe(0)
    const again = await weir(["recovery", "init", db, "3"])
    expect(again.code).toBe(1)
    expect(again.stderr).toContain("already initialised with 2 partition(s), not 3")
    expect(again.stderr).toContain("To start over")
    const same = await weir(["recovery", "init", db, "2"])
    expect(same.code).toBe(1)
    expect(same.stderr).toContain("already holds the data of 1 execution(s)")
    // The store still resumes where it was.
    expect((await weir(["run", "resumable.ts", "-r", db, "-s", "0", "-b", "0"], { OUT: out })).code).toBe(0)
    expect(readFileSync(out, "utf8").trim().split("\n").slice(6)).toEqual(["6 21", "7 28", "8 36", "9 45"])
  })

  it("recovery init on a missing directory says what to do, without a stack trace", async () => {
    const result = await weir(["recovery", "init", join(mkdtempSync(join(tmpdir(), "weir-cli-db-")), "missing", "sub"), "2"])
    expect(result.code).toBe(1)
    expect(result.stderr).toContain("does not exist; please create it first")
    expect(result.stderr).not.toMatch(/^\s+at /m)
  })

  it("run -r on a directory that was never initialised says how to fix it", async () => {
    const result = await weir(["run", "resumable.ts", "-r", mkdtempSync(join(tmpdir(), "weir-cli-db-")), "-s", "1", "-b", "0"], {
      OUT: join(tmpdir(), "unused.txt")
    })
    expect(result.code).toBe(1)
    expect(result.stderr).toContain("No recovery partitions found")
    expect(result.stderr).toContain("weir recovery init")
  })

  it("stops promptly on SIGINT with status 130", async () => {
    const child = start(["run", "slow.ts"])
    const done = finished(child)
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no output within 20 s")), 20_000)
      child.stdout!.once("data", () => {
        clearTimeout(timer)
        resolve()
      })
    })
    const sent = Date.now()
    child.kill("SIGINT")
    const result = await done
    expect(Date.now() - sent).toBeLessThan(5_000)
    expect(result.code).toBe(130)
    expect(result.stderr).toContain("interrupted")
  })

  it.each([["SIGINT", 130], ["SIGTERM", 143]] as const)(
    "on worker threads (-w 2), %s stops every thread promptly, closing each partition, with status %i",
    async (signal, status) => {
      const marks = mkdtempSync(join(tmpdir(), "weir-cli-marks-"))
      const child = start(["run", "marked.ts", "-w", "2"], { MARKS: marks })
      const done = finished(child)
      // Both threads are running once each has printed a tick (every tick is printed twice).
      let seen = 0
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("no output within 20 s")), 20_000)
        child.stdout!.on("data", (chunk: Buffer) => {
          seen += chunk.toString().split("\n").filter((l) => l === "0").length
          if (seen >= 2) {
            clearTimeout(timer)
            resolve()
          }
        })
      })
      const sent = Date.now()
      child.kill(signal)
      const result = await done
      expect(Date.now() - sent).toBeLessThan(5_000)
      expect(result.code).toBe(status)
      expect(readdirSync(marks).sort()).toEqual(["closed-0", "closed-1"])
    }
  )
})

describe("weir run: watching a run", () => {
  it("--metrics-port 0 serves Prometheus metrics and the dataflow with live counts while the run lasts", async () => {
    const child = start(["run", "paced.ts", "--metrics-port", "0", "-s", "0.5"])
    const done = finished(child)
    const logged = waitFor(child.stderr!, /metrics: http:\/\/127\.0\.0\.1:(\d+)\/metrics\n/)
    const paused = waitFor(child.stdout!, /paused 0 40\n/)
    const port = Number((await logged)[1])
    expect(listeningPorts(child.pid!)).toEqual([port])
    await paused
    // The source emitted its 40 items and waits 2 s before it ends: the published count is 40.
    const metrics = await scrapeUntil(port, (m) => total(m, "weir_items_out_total", { step_id: "paced.inp" }) >= 40, 1_500)
    expect(total(metrics, "weir_items_out_total", { step_id: "paced.inp", worker: "0" })).toBe(40)
    expect(metrics.types.get("weir_items_in_total")).toBe("counter")
    expect(metrics.types.get("weir_items_out_total")).toBe("counter")
    expect(metrics.types.get("weir_epoch")).toBe("gauge")
    expect(metrics.types.get("weir_state_keys")).toBe("gauge")
    expect(metrics.help.get("weir_items_in_total")).toContain("Items that entered the step")
    const counters = metrics.samples.filter((s) => s.name === "weir_items_in_total" || s.name === "weir_items_out_total")
    expect(counters.length).toBeGreaterThanOrEqual(6)
    for (const c of counters) expect(Object.keys(c.labels).sort()).toEqual(["step_id", "worker"])
    expect(total(metrics, "weir_items_in_total", { step_id: "paced.out", worker: "0" })).toBe(40)
    expect(total(metrics, "weir_state_keys", { step_id: "paced.sum.statefulBatch", worker: "0" })).toBe(3)

    const res = await fetch(`http://127.0.0.1:${port}/dataflow`)
    expect(res.status).toBe(200)
    const dataflow = (await res.json()) as {
      typ: string
      flowId: string
      substeps: Array<{ stepId: string }>
      counts: Record<string, { itemsIn: number; itemsOut: number; stateKeys: number }>
    }
    expect(dataflow.typ).toBe("RenderedDataflow")
    expect(dataflow.flowId).toBe("paced")
    expect(dataflow.substeps.map((s) => s.stepId)).toEqual(["paced.inp", "paced.key", "paced.sum", "paced.out"])
    expect(dataflow.counts).toEqual({
      "paced.inp": { itemsIn: 0, itemsOut: 40, stateKeys: 0 },
      "paced.key.flatMapBatch": { itemsIn: 40, itemsOut: 40, stateKeys: 0 },
      "paced.sum.statefulBatch": { itemsIn: 40, itemsOut: 40, stateKeys: 3 },
      "paced.out": { itemsIn: 40, itemsOut: 0, stateKeys: 0 }
    })
    expect((await fetch(`http://127.0.0.1:${port}/metrics/extra`)).status).toBe(404)
    expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(404)

    const result = await done
    expect(result.code).toBe(0)
    expect(result.stderr.match(/^metrics: /gm)).toHaveLength(1)
  })

  it("without --metrics-port, opens no port and logs no metrics address", async () => {
    const child = start(["run", "paced.ts"], { COUNT: "5", PAUSE_MS: "1000" })
    const done = finished(child)
    await waitFor(child.stdout!, /paused 0 5\n/)
    expect(listeningPorts(child.pid!)).toEqual([])
    const result = await done
    expect(result.code).toBe(0)
    expect(result.stderr).not.toContain("metrics:")
  })

  it("logs one line per closed epoch at the default level, and none with --log-level warn or WEIR_LOG_LEVEL=error", async () => {
    const flow = `flows.ts:getFlow(${JSON.stringify(tempFile("squares.txt"))}, 4)`
    const info = await weir(["run", flow])
    expect(info.code).toBe(0)
    expect(info.stderr).toBe("epoch 1: 4 items in\n")
    const several = await weir(["run", "paced.ts", "-s", "0.2", "--log-level", "debug"], { COUNT: "20", PAUSE_MS: "300" })
    expect(several.code).toBe(0)
    const lines = several.stderr.trim().split("\n")
    expect(lines.length).toBeGreaterThanOrEqual(2)
    lines.forEach((line, i) => expect(line).toMatch(new RegExp(`^epoch ${i + 1}: [\\d,]+ items? in$`)))
    expect(lines.reduce((sum, l) => sum + Number(/: ([\d,]+) item/.exec(l)![1].replace(/,/g, "")), 0)).toBe(20)
    const warn = await weir(["run", flow, "--log-level", "warn"])
    expect(warn.code).toBe(0)
    expect(warn.stderr).toBe("")
    const error = await weir(["run", flow], { WEIR_LOG_LEVEL: "error" })
    expect(error.code).toBe(0)
    expect(error.stderr).toBe("")
  })

  it("on worker threads (-w 2), one server for the process serves every worker's counts", async () => {
    const child = start(["run", "paced.ts", "-w", "2", "--metrics-port", "0", "-s", "0.5"])
    const done = finished(child)
    const logged = waitFor(child.stderr!, /metrics: http:\/\/127\.0\.0\.1:(\d+)\/metrics\n/)
    const paused = waitFor(child.stdout!, /paused (\d) 40\n(.|\n)*paused (\d) 40\n/)
    const port = Number((await logged)[1])
    await paused
    const metrics = await scrapeUntil(port, (m) => total(m, "weir_items_out_total", { step_id: "paced.inp" }) >= 80, 1_500)
    expect(total(metrics, "weir_items_out_total", { step_id: "paced.inp", worker: "0" })).toBe(40)
    expect(total(metrics, "weir_items_out_total", { step_id: "paced.inp", worker: "1" })).toBe(40)
    const workers = new Set(metrics.samples.filter((s) => s.name === "weir_items_in_total").map((s) => s.labels.worker))
    expect([...workers].sort()).toEqual(["0", "1"])
    expect(total(metrics, "weir_state_keys", { step_id: "paced.sum.statefulBatch" })).toBe(3)
    expect(listeningPorts(child.pid!)).toEqual([port])
    const result = await done
    expect(result.code).toBe(0)
    expect(result.stderr.match(/^metrics: /gm)).toHaveLength(1)
  })

  it("--otlp sends the run's spans and metrics to the collector, as the flow's service", async () => {
    const received: Array<{ path: string; service: unknown; names: Array<string> }> = []
    const collector = createServer((req, res) => {
      let body = ""
      req.on("data", (chunk: Buffer) => (body += chunk.toString()))
      req.on("end", () => {
        const json = JSON.parse(body) as {
          resourceSpans?: Array<{ resource: Resource; scopeSpans: Array<{ spans: Array<{ name: string }> }> }>
          resourceMetrics?: Array<{ resource: Resource; scopeMetrics: Array<{ metrics: Array<{ name: string }> }> }>
        }
        for (const r of json.resourceSpans ?? []) {
          received.push({ path: req.url!, service: serviceOf(r.resource), names: r.scopeSpans.flatMap((s) => s.spans.map((x) => x.name)) })
        }
        for (const r of json.resourceMetrics ?? []) {
          received.push({ path: req.url!, service: serviceOf(r.resource), names: r.scopeMetrics.flatMap((s) => s.metrics.map((x) => x.name)) })
        }
        res.writeHead(200, { "content-type": "application/json" })
        res.end("{}")
      })
    })
    type Resource = { attributes: Array<{ key: string; value: { stringValue?: string } }> }
    const serviceOf = (r: Resource) => r.attributes.find((a) => a.key === "service.name")?.value.stringValue
    await new Promise<void>((resolve) => collector.listen(0, "127.0.0.1", resolve))
    const url = `http://127.0.0.1:${(collector.address() as { port: number }).port}`
    try {
      const result = await weir(["run", "paced.ts", "-s", "0.3", "--otlp", url], { COUNT: "10", PAUSE_MS: "300" })
      expect(result.code).toBe(0)
      const spans = received.filter((r) => r.path === "/v1/traces")
      const metrics = received.filter((r) => r.path === "/v1/metrics")
      expect(new Set(received.map((r) => r.service))).toEqual(new Set(["paced"]))
      expect(spans.flatMap((r) => r.names)).toContain("weir.epoch")
      expect(metrics.flatMap((r) => r.names)).toContain("weir_items_out_total")
      // OTEL_EXPORTER_OTLP_ENDPOINT stands in for --otlp, and OTEL_SERVICE_NAME names the service.
      received.length = 0
      const fromEnv = await weir(["run", "paced.ts", "-s", "0.3"], {
        COUNT: "5",
        PAUSE_MS: "100",
        OTEL_EXPORTER_OTLP_ENDPOINT: url,
        OTEL_SERVICE_NAME: "orders"
      })
      expect(fromEnv.code).toBe(0)
      expect(received.length).toBeGreaterThan(0)
      expect(new Set(received.map((r) => r.service))).toEqual(new Set(["orders"]))
    } finally {
      collector.close()
    }
  })
})
