// Crash recovery with real processes: `weir run -r … -s 0` on a file → keyed running sum →
// file flow, killed with SIGKILL at random moments and restarted until it finishes. At the
// end the output file must hold every expected line exactly once (FileSink truncates to its
// snapshot on resume) and the stored state must equal that of a run that never crashed.
import { runMain } from "@weir/core"
import type { RecoveryConfigLike } from "@weir/core"
import { initDbDir, PostgresRecoveryConfig, RecoveryConfig } from "@weir/recovery"
import { Duration, Effect } from "effect"
import { spawn } from "node:child_process"
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import pg from "pg"
import { describe, expect, it } from "vitest"
import { build } from "./fixtures/crash.js"
import { type Exited, exited } from "./processes.js"

const bin = fileURLToPath(new URL("../bin/weir.js", import.meta.url))
const fixtures = fileURLToPath(new URL("./fixtures/", import.meta.url))

const LINES = 40_000
const KEYS = 50
const BATCH = 20
const DEFAULT_KILLS = 20
const KILLS = DEFAULT_KILLS

/** `k<i mod 50>,<1..97>`: positive values, so each key's running sums strictly increase and every output line is unique. */
const inputLines = (): Array<string> => Array.from({ length: LINES }, (_, i) => `k${i % KEYS},${((i * 7) % 97) + 1}`)

/** What the flow must write: per input line, `key,running sum`. */
const expectedOutput = (lines: ReadonlyArray<string>): string => {
  const sums = new Map<string, number>()
  let out = ""
  for (const line of lines) {
    const [key, value] = line.split(",") as [string, string]
    const sum = (sums.get(key) ?? 0) + Number(value)
    sums.set(key, sum)
    out += `${key},${sum}\n`
  }
  return out
}

const tmp = (prefix: string) => mkdtempSync(join(tmpdir(), prefix))
const sizeOf = (file: string): number => {
  try {
    return statSync(file).size
  } catch {
    return 0
  }
}
const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Every key's newest stored state of the running sum, sorted by key. */
const storedSums = (config: RecoveryConfigLike) =>
  Effect.runPromise(
    Effect.scoped(
      Effect.gen(function*() {
        const store = yield* config.open({ flowId: "crash", workerCount: 1, epochInterval: Duration.zero })
        const states = yield* store.loadStates("crash.running.statefulBatch")
        return [...states].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      })
    )
  )

/**
 * Run the flow in `weir run` processes until one finishes, killing the first `KILLS` with
 * SIGKILL: every other one at a random moment after it starts (often while it is still
 * loading or resuming), the rest once its output has grown by a random amount (in the
 * middle of the work). Returns how many processes were killed.
 */
const runWithKills = async (
  recovery: string,
  input: string,
  output: string,
  options: { readonly kills?: number; readonly threads?: ReadonlyArray<number> } = {}
): Promise<number> => {
  let kills = 0
  const KILLS = options.kills ?? DEFAULT_KILLS
  for (let attempt = 0; attempt < KILLS + 20; attempt++) {
    // With `threads`, each run takes the next thread count (`-w N`): every resume is a rescale.
    const threads = options.threads === undefined ? [] : ["-w", String(options.threads[attempt % options.threads.length])]
    const child = spawn(process.execPath, [bin, "run", "crash.ts:flow", "-r", recovery, "-s", "0", "-b", "0", ...threads], {
      cwd: fixtures,
      env: { ...process.env, IN: input, OUT: output, BATCH: String(BATCH) },
      stdio: ["ignore", "pipe", "pipe"]
    })
    const done = exited(child)
    let finished: Exited | undefined
    void done.then((e) => (finished = e))
    if (kills < KILLS) {
      if (kills % 2 === 0) {
        await delay(100 + Math.random() * 900)
      } else {
        const target = sizeOf(output) + Math.floor(Math.random() * 4_000)
        while (finished === undefined && sizeOf(output) <= target) await delay(2)
        await delay(Math.random() * 20)
      }
      if (finished === undefined) {
        child.kill("SIGKILL")
        kills++
      }
    }
    const result = await done
    if (result.signal === "SIGKILL") continue
    if (result.code !== 0) throw new Error(`weir run exited with ${result.code}:\n${result.stderr}`)
    return kills
  }
  throw new Error(`the flow did not finish after ${KILLS + 20} runs`)
}

const stores = [
  {
    name: "embedded (SQLite)",
    async fresh(): Promise<{ readonly arg: string; readonly config: RecoveryConfigLike }> {
      const dir = tmp("weir-crash-db-")
      await initDbDir(dir, 1)
      return { arg: dir, config: new RecoveryConfig(dir) }
    }
  },
  {
    name: "PostgreSQL",
    async fresh(): Promise<{ readonly arg: string; readonly config: RecoveryConfigLike }> {
      const base = process.env.WEIR_PG_URL
      if (!base) throw new Error("WEIR_PG_URL is not set: the global setup should have started PostgreSQL")
      // A database of its own: `weir run -r <url>` uses the flow's default schema (`weir_crash`).
      const name = `crash_${process.pid}_${Math.floor(Math.random() * 1e9)}`
      const admin = new pg.Client({ connectionString: base })
      await admin.connect()
      try {
        await admin.query(`CREATE DATABASE ${name}`)
      } finally {
        await admin.end()
      }
      const url = new URL(base)
      url.pathname = `/${name}`
      // Through the command line, as a user would.
      const init = await exited(
        spawn(process.execPath, [bin, "recovery", "init", "--postgres", url.toString(), "1", "--flow", "crash"], {
          stdio: ["ignore", "pipe", "pipe"]
        })
      )
      if (init.code !== 0) throw new Error(`weir recovery init --postgres failed:\n${init.stderr}`)
      return { arg: url.toString(), config: new PostgresRecoveryConfig(url.toString()) }
    }
  }
] as const

describe.each(stores)("weir run -r killed with SIGKILL ($name)", (kind) => {
  it(`survives ${KILLS} kills: every output line exactly once, the same final state as a run without crashes`, async () => {
    const dir = tmp("weir-crash-")
    const input = join(dir, "in.txt")
    const lines = inputLines()
    writeFileSync(input, lines.map((l) => `${l}\n`).join(""))

    // The reference: the same flow and store kind, run once without crashing.
    const reference = await kind.fresh()
    const referenceOut = join(dir, "reference.txt")
    await runMain(build(input, referenceOut, BATCH), { epochInterval: 0, recovery: reference.config })

    const crashed = await kind.fresh()
    const output = join(dir, "out.txt")
    const kills = await runWithKills(crashed.arg, input, output)
    expect(kills).toBeGreaterThanOrEqual(KILLS)

    const expected = expectedOutput(lines)
    expect(readFileSync(referenceOut, "utf8")).toBe(expected)
    const got = readFileSync(output, "utf8")
    if (got !== expected) {
      const gotLines = got.split("\n")
      const wantLines = expected.split("\n")
      const at = wantLines.findIndex((l, i) => gotLines[i] !== l)
      throw new Error(
        `output differs from line ${at + 1}: got ${JSON.stringify(gotLines.slice(at, at + 3))}, ` +
          `want ${JSON.stringify(wantLines.slice(at, at + 3))} (${gotLines.length - 1} lines, want ${LINES})`
      )
    }

    const finalState = await storedSums(crashed.config)
    expect(finalState).toHaveLength(KEYS)
    expect(finalState).toEqual(await storedSums(reference.config))
  }, 240_000)
})

/** Per key, its output lines in order (threads write keys in another order, each key's in the same). */
const perKey = (text: string): Map<string, Array<string>> => {
  const out = new Map<string, Array<string>>()
  for (const line of text.split("\n")) {
    if (line === "") continue
    const key = line.slice(0, line.indexOf(","))
    let list = out.get(key)
    if (list === undefined) out.set(key, (list = []))
    list.push(line)
  }
  return out
}

describe.each(stores)("weir run -w N -r on worker threads, killed with SIGKILL ($name)", (kind) => {
  it("survives kills with the thread count changing on every resume (2, 3, 1, 4): each key's lines exactly once, the same final state", async () => {
    const dir = tmp("weir-crash-threads-")
    const input = join(dir, "in.txt")
    const lines = inputLines()
    writeFileSync(input, lines.map((l) => `${l}\n`).join(""))
    const reference = await kind.fresh()
    await runMain(build(input, join(dir, "reference.txt"), BATCH), { epochInterval: 0, recovery: reference.config })

    const crashed = await kind.fresh()
    const output = join(dir, "out.txt")
    const kills = await runWithKills(crashed.arg, input, output, { kills: 12, threads: [2, 3, 1, 4] })
    expect(kills).toBeGreaterThanOrEqual(12)

    const got = perKey(readFileSync(output, "utf8"))
    const want = perKey(expectedOutput(lines))
    expect(got.size).toBe(KEYS)
    for (const [key, expectedLines] of want) expect(got.get(key), key).toEqual(expectedLines)
    const finalState = await storedSums(crashed.config)
    expect(finalState).toHaveLength(KEYS)
    expect(finalState).toEqual(await storedSums(reference.config))
  }, 300_000)
})
