// End-to-end: spawn `node bin/weir.js` as a user would.
import { type ChildProcess, spawn } from "node:child_process"
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs"
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
    expect(result.stderr).toBe("")
    expect(result.code).toBe(0)
    expect(readFileSync(out, "utf8")).toBe("1^2 = 1\n2^2 = 4\n3^2 = 9\n4^2 = 16\n")
  })

  it("runs on several workers with -w, and with an epoch interval from the environment", async () => {
    const out = tempFile("words.txt")
    const result = await weir(["run", "flows.ts:wordCount", "-w", "2"], { WEIR_TEST_OUT: out, WEIR_SNAPSHOT_INTERVAL: "0" })
    expect(result.stderr).toBe("")
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
