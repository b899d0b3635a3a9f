/**
 * SIGKILLs timed inside epoch commits, of real processes running a flow with
 * an asynchronous source (it advances its position before delivering each
 * batch, see fixtures/lagging-flow.ts), against both stores. The child says
 * on stdout when a commit starts (`C`) and ends (`D`); most kills land after
 * a `C` and before its `D`. After the kills a run goes to the end, and the
 * stored state must be exactly that of the input counted once.
 */
import { Duration, Effect } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import pg from "pg"
import { afterAll, describe, expect, it } from "vitest"
import { initDbDir, initPostgres, PostgresRecoveryConfig, RecoveryConfig } from "../src/index.js"
import type { RecoveryConfigLike } from "@weir/core"
import { item, ITEMS_PER_PART, PARTS, SUM_STEP } from "./fixtures/lagging-flow.js"

const KILLS = 12
const fixture = path.resolve(import.meta.dirname, "fixtures/lagging-flow.ts")

const dirs: Array<string> = []
const schemas: Array<string> = []
afterAll(async () => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true })
  if (schemas.length === 0) return
  const c = new pg.Client({ connectionString: process.env.WEIR_PG_URL })
  await c.connect()
  for (const s of schemas) await c.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`)
  await c.end()
})

interface Outcome {
  readonly killed: boolean
  /** Killed after a commit started and before the child said it ended. */
  readonly insideCommit: boolean
  readonly code: number | null
  readonly stderr: string
}

/** Run the child once; with `kill`, SIGKILL it 0–4 ms after the `skip`-th commit starts. */
const runChild = (args: ReadonlyArray<string>, kill?: { readonly skip: number }): Promise<Outcome> =>
  new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(process.execPath, ["--conditions=@weir/source", "--import", "tsx", fixture, ...args], {
      cwd: path.resolve(import.meta.dirname, ".."),
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stderr = ""
    let commits = 0
    let inCommit = false
    let killedInside: boolean | undefined
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()))
    child.stdout!.on("data", (d: Buffer) => {
      for (const ch of d.toString()) {
        if (ch === "C") {
          inCommit = true
          if (kill !== undefined && killedInside === undefined && commits++ === kill.skip) {
            setTimeout(() => {
              killedInside = inCommit
              child.kill("SIGKILL")
            }, Math.random() * 4)
          }
        } else if (ch === "D") {
          inCommit = false
        }
      }
    })
    child.on("error", reject)
    child.on("close", (code, signal) =>
      resolve({ killed: signal === "SIGKILL", insideCommit: signal === "SIGKILL" && killedInside === true, code, stderr })
    )
  })

const storedSums = (config: RecoveryConfigLike) =>
  Effect.runPromise(
    Effect.scoped(
      Effect.gen(function*() {
        const store = yield* config.open({ flowId: "lagging", workerCount: 1, epochInterval: Duration.zero })
        return new Map(yield* store.loadStates(SUM_STEP))
      })
    )
  )

const expectedSums = (): Map<string, number> => {
  const sums = new Map<string, number>()
  for (let i = 0; i < PARTS.length * ITEMS_PER_PART; i++) {
    const [k, v] = item(i)
    sums.set(k, (sums.get(k) ?? 0) + v)
  }
  return sums
}

const stores = [
  {
    name: "embedded (SQLite), 2 partitions",
    async fresh() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "weir-kills-"))
      dirs.push(dir)
      await initDbDir(dir, 2)
      return { args: ["sqlite", dir], config: new RecoveryConfig(dir) as RecoveryConfigLike }
    }
  },
  {
    name: "PostgreSQL",
    async fresh() {
      const url = process.env.WEIR_PG_URL
      if (!url) throw new Error("WEIR_PG_URL is not set: the global setup should have started PostgreSQL")
      const schema = `kills_${process.pid}_${Math.random().toString(36).slice(2, 10)}`
      schemas.push(schema)
      await initPostgres(url, 2, { schema })
      return { args: ["postgres", url, schema], config: new PostgresRecoveryConfig(url, { schema }) as RecoveryConfigLike }
    }
  }
] as const

describe.each(stores)("SIGKILL inside commits, asynchronous source ($name)", (kind) => {
  it(`${KILLS} kills, most inside a commit: the final state counts every item once`, async () => {
    const store = await kind.fresh()
    let kills = 0
    let inside = 0
    for (let attempt = 0; kills < KILLS; attempt++) {
      if (attempt > KILLS * 3) throw new Error(`only ${kills} of ${KILLS} kills landed in ${attempt} runs`)
      const outcome = await runChild(store.args, { skip: 1 + Math.floor(Math.random() * 4) })
      if (outcome.killed) {
        kills++
        if (outcome.insideCommit) inside++
      } else if (outcome.code !== 0) {
        throw new Error(`the flow exited with ${outcome.code}:\n${outcome.stderr}`)
      }
    }
    const last = await runChild(store.args)
    if (last.code !== 0) throw new Error(`the last run exited with ${last.code}:\n${last.stderr}`)
    console.log(`${kind.name}: ${kills} kills, ${inside} inside a commit`)
    expect(inside).toBeGreaterThanOrEqual(KILLS / 3)
    expect(await storedSums(store.config)).toEqual(expectedSums())
  }, 180_000)
})
