/**
 * Recovery cost: the keyed running sum over 100,000 keys with 1-second epochs,
 * without recovery, with the embedded store and with PostgreSQL (when
 * WEIR_PG_URL is set, or scripts/postgres.sh can start one). Prints the
 * throughput ratio and the median epoch-commit time of each store.
 */
import { Dataflow, op, type RecoveryConfigLike, type RecoveryStore, runMain } from "@weir/core"
import { initDbDir, initPostgres, PostgresRecoveryConfig, RecoveryConfig } from "@weir/recovery"
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { BatchSource, batchesOf, CountSink } from "../data.js"
import type { BenchCase, Variant } from "../harness.js"

const KEYS = Array.from({ length: 100_000 }, (_, i) => `account-${i}`)
const commitTimes = new Map<string, Array<number>>()

/** Wraps a store config to time every epoch commit. */
const timed = (label: string, config: RecoveryConfigLike): RecoveryConfigLike => ({
  open: (context) =>
    Effect.map(config.open(context), (store): RecoveryStore => ({
      resume: store.resume,
      loadStates: (stepId) => store.loadStates(stepId),
      commit: (commit) =>
        Effect.suspend(() => {
          const t = performance.now()
          return Effect.tap(store.commit(commit), () =>
            Effect.sync(() => {
              const list = commitTimes.get(label) ?? []
              list.push(performance.now() - t)
              commitTimes.set(label, list)
            }))
        })
    }))
})

const pgUrl = (): string | undefined => {
  if (process.env.WEIR_PG_URL) return process.env.WEIR_PG_URL
  try {
    const script = path.resolve(import.meta.dirname, "../../../../scripts/postgres.sh")
    return execFileSync("bash", [script, "up"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim()
  } catch {
    return undefined
  }
}

/** psql, to drop the schemas the runs made once timing is over (the cluster is shared with the tests). */
const psql = (): string => {
  const versions = fs.existsSync("/usr/lib/postgresql") ? fs.readdirSync("/usr/lib/postgresql").sort() : []
  const bin = versions.map((v) => `/usr/lib/postgresql/${v}/bin/psql`).filter((f) => fs.existsSync(f)).pop()
  return bin ?? "psql"
}
const dropSchema = (url: string, schema: string): void => {
  try {
    execFileSync(psql(), [url, "-qAt", "-c", `DROP SCHEMA IF EXISTS "${schema}" CASCADE`], { stdio: "ignore" })
  } catch {
    console.error(`could not drop the bench's PostgreSQL schema '${schema}'; drop it by hand`)
  }
}

let pgSchemas = 0
const pgCreated: Array<readonly [url: string, schema: string]> = []
let pgMissing = false
export const recovery: BenchCase = {
  id: "recovery",
  name: "recovery: keyed running sum over 100,000 keys, 1-second epochs",
  unit: "item",
  async variants({ items }) {
    const batches = batchesOf(items, (i) => i)
    const once = async (config: RecoveryConfigLike | undefined) => {
      const flow = new Dataflow("bench")
      const sink = new CountSink<readonly [string, number]>()
      const keyed = op.keyOn("key", op.input("inp", flow, new BatchSource(batches)), (x: number) => KEYS[x % 100_000]!)
      op.statefulMap("sum", keyed, (s: number | undefined, x: number) => {
        const next = (s ?? 0) + x
        return [next, next] as const
      }).then(op.output, "out", sink)
      await runMain(flow, config === undefined ? { epochInterval: "1 second" } : { epochInterval: "1 second", recovery: config })
    }
    const variants: Array<Variant> = [{ name: "no recovery", items, run: () => once(undefined) }]
    variants.push({
      name: "embedded store (SQLite)",
      items,
      run: async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "weir-bench-"))
        await initDbDir(dir, 1)
        try {
          await once(timed("embedded store (SQLite)", new RecoveryConfig(dir)))
        } finally {
          fs.rmSync(dir, { recursive: true, force: true })
        }
      }
    })
    const url = pgUrl()
    pgMissing = url === undefined
    if (url !== undefined) {
      variants.push({
        name: "PostgreSQL store",
        items,
        run: async () => {
          const schema = `bench_${process.pid}_${pgSchemas++}`
          pgCreated.push([url, schema])
          await initPostgres(url, 1, { schema })
          await once(timed("PostgreSQL store", new PostgresRecoveryConfig(url, { schema })))
        }
      })
    }
    return variants
  },
  cleanup() {
    for (const [url, schema] of pgCreated.splice(0)) dropSchema(url, schema)
  },
  notes() {
    const lines: Array<string> = []
    if (pgMissing) lines.push("PostgreSQL store: not run (WEIR_PG_URL unset and scripts/postgres.sh could not start one)")
    for (const [label, times] of commitTimes) {
      const s = [...times].sort((a, b) => a - b)
      lines.push(`median epoch commit, ${label}: ${s[Math.floor(s.length / 2)]!.toFixed(1)} ms over ${s.length} commits`)
    }
    return lines
  }
}
