/**
 * Recovery cost: a keyed running sum with 1-second epochs over 100,000 keys
 * (`recovery`) and over 1,000,000 keys (`recovery-1m`, where nearly every key
 * changes in every epoch), without recovery, with the embedded store and with
 * PostgreSQL (when WEIR_PG_URL is set, or scripts/postgres.sh can start one).
 * Prints the throughput ratios, and per store, from the last timed run: the
 * time each epoch commit took on the worker (serializing, writing until
 * durable) and each garbage collection, at the start and at the end of the
 * run, and how long epochs really were.
 */
import { Dataflow, op, type RecoveryConfigLike, runMain } from "@weir/core"
import { type CollectStats, type CommitStats, initDbDir, initPostgres, PostgresRecoveryConfig, RecoveryConfig, type StoreObserver } from "@weir/recovery"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { BatchSource, batchesOf, CountSink } from "../data.js"
import type { BenchCase, Variant } from "../harness.js"

/** One run's commits and collections, with when each commit ended. */
interface RunLog {
  readonly commits: Array<CommitStats & { readonly at: number }>
  readonly collects: Array<CollectStats>
}

/** The last run's log per case and store. */
const logs = new Map<string, RunLog>()

const observer = (label: string): StoreObserver => {
  const log: RunLog = { commits: [], collects: [] }
  logs.set(label, log)
  return {
    committed: (s) => log.commits.push({ ...s, at: performance.now() }),
    collected: (s) => log.collects.push(s)
  }
}

const ms = (xs: ReadonlyArray<number>): string => {
  if (xs.length === 0) return "-"
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!.toFixed(0)
}

/** "commit first 3 / last 3 (median ms)", collections alike, and the real epoch length. */
const describe = (label: string, log: RunLog): string => {
  const c = log.commits
  const total = c.map((x) => x.encodeMs + x.writeMs)
  const head = total.slice(0, 3)
  const tail = total.slice(-3)
  const gaps: Array<number> = []
  for (let i = 1; i < c.length; i++) gaps.push(c[i]!.at - c[i - 1]!.at)
  const keys = c.length > 0 ? Math.max(...c.map((x) => x.entries)) : 0
  const mb = c.length > 0 ? Math.max(...c.map((x) => x.bytes)) / 1e6 : 0
  return `${label}: ${c.length} commits (up to ${keys} keys, ${mb.toFixed(1)} MB); commit ms (serialize + write) ` +
    `median of first 3 ${ms(head)}, of last 3 ${ms(tail)} (serialize ${ms(c.map((x) => x.encodeMs))}, write ${ms(c.map((x) => x.writeMs))}); ` +
    `collect ms first 3 ${ms(log.collects.slice(0, 3).map((x) => x.ms))}, last 3 ${ms(log.collects.slice(-3).map((x) => x.ms))}; ` +
    `real epoch median ${ms(gaps)} ms, longest ${gaps.length > 0 ? Math.max(...gaps).toFixed(0) : "-"} ms (setting 1000)`
}

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

const recoveryCase = (id: string, keyCount: number): BenchCase => {
  const keys = Array.from({ length: keyCount }, (_, i) => `account-${i}`)
  return {
    id,
    name: `recovery: keyed running sum over ${keyCount.toLocaleString("en")} keys, 1-second epochs`,
    unit: "item",
    async variants({ items }) {
      const batches = batchesOf(items, (i) => i)
      const once = async (recovery: RecoveryConfigLike | undefined) => {
        const flow = new Dataflow("bench")
        const sink = new CountSink<readonly [string, number]>()
        const keyed = op.keyOn("key", op.input("inp", flow, new BatchSource(batches)), (x: number) => keys[x % keyCount]!)
        op.statefulMap("sum", keyed, (s: number | undefined, x: number) => {
          const next = (s ?? 0) + x
          return [next, next] as const
        }).then(op.output, "out", sink)
        await runMain(flow, recovery === undefined ? { epochInterval: "1 second" } : { epochInterval: "1 second", recovery })
      }
      const variants: Array<Variant> = [{ name: "no recovery", items, run: () => once(undefined) }]
      variants.push({
        name: "embedded store (SQLite)",
        items,
        run: async () => {
          const dir = fs.mkdtempSync(path.join(os.tmpdir(), "weir-bench-"))
          await initDbDir(dir, 1)
          try {
            await once(new RecoveryConfig(dir, { observe: observer(`${id} SQLite`) }))
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
            await once(new PostgresRecoveryConfig(url, { schema, observe: observer(`${id} PostgreSQL`) }))
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
      for (const [label, log] of logs) if (label.startsWith(`${id} `)) lines.push(describe(label.slice(id.length + 1), log))
      return lines
    }
  }
}

export const recovery = recoveryCase("recovery", 100_000)
export const recovery1m = recoveryCase("recovery-1m", 1_000_000)
export const cases = [recovery, recovery1m]
