/**
 * The runtime's outbox protocol for transactional sinks (`TransactionalSink`),
 * with a sink over files (fixtures/outbox-flow.ts) on the real stores: each
 * epoch's output is stored with the epoch's state, published once every
 * worker committed the epoch, and recovered on resume — across aborts at
 * random moments, a publish that succeeded without the run seeing it, worker
 * threads and a rescale. Each time every item is published exactly once,
 * and the running count in each line shows the state was exactly-once too.
 */
import { clusterMain, type RecoveryConfigLike, runMain } from "@weir/core"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { initDbDir, initPostgres, PostgresRecoveryConfig, RecoveryConfig } from "../src/index.js"
import { outboxFlow, publishedLines } from "./fixtures/outbox-flow.js"

const MODULE = new URL("./fixtures/outbox-flow.ts", import.meta.url)
const PARTS = 3
const PER_PART = 300

const tmp = (prefix: string) => fs.mkdtempSync(path.join(os.tmpdir(), prefix))

/** Every item published exactly once, and per key the counts 1..n each exactly once. */
const expectExactlyOnce = (dir: string): void => {
  const lines = publishedLines(dir).map((l) => l.line)
  const items = lines.map((l) => l.split("#")[0]!)
  const want: Array<string> = []
  for (let p = 0; p < PARTS; p++) for (let i = 0; i < PER_PART; i++) want.push(`p${p}-${i}`)
  expect([...items].sort()).toEqual(want.sort())
  const counts = new Map<string, Array<number>>()
  for (const l of lines) {
    const [item, count] = l.split("#") as [string, string]
    const key = String(Number(item.split("-")[1]) % 10)
    let list = counts.get(key)
    if (list === undefined) counts.set(key, (list = []))
    list.push(Number(count))
  }
  for (const [, list] of counts) {
    expect([...list].sort((a, b) => a - b)).toEqual(Array.from({ length: list.length }, (_, i) => i + 1))
  }
}

const stores: ReadonlyArray<{ readonly name: string; fresh(): Promise<RecoveryConfigLike> }> = [
  {
    name: "embedded (SQLite)",
    async fresh() {
      const dir = tmp("weir-outbox-db-")
      await initDbDir(dir, 1)
      return new RecoveryConfig(dir)
    }
  },
  {
    name: "PostgreSQL (pipelined commits)",
    async fresh() {
      const url = process.env.WEIR_PG_URL
      if (!url) throw new Error("WEIR_PG_URL is not set: the global setup should have started PostgreSQL")
      const schema = `outbox_${process.pid}_${Math.floor(Math.random() * 1e9)}`
      await initPostgres(url, 1, { schema })
      return new PostgresRecoveryConfig(url, { schema })
    }
  }
]

describe("a transactional sink", () => {
  it("fails before reading any input when the run has no recovery store, saying why", async () => {
    const out = tmp("weir-outbox-out-")
    await expect(runMain(outboxFlow(out), { epochInterval: 0 })).rejects.toThrow(
      /step 'outbox\.out' writes to a transactional \(exactly-once\) sink, `FileOutboxSink`, and the run has no recovery store/
    )
    expect(fs.readdirSync(out)).toEqual([])
  })

  describe.each(stores)("on the $name store", (store) => {
    it("publishes every item exactly once across aborts at random moments, on 1 and 2 workers", async () => {
      const config = await store.fresh()
      const out = tmp("weir-outbox-out-")
      let aborted = 0
      for (let run = 0; run < 40; run++) {
        const last = run >= 12
        const abortAfter = last ? undefined : 20 + Math.floor(Math.random() * 200)
        await clusterMain(outboxFlow(out, PARTS, PER_PART, 7, abortAfter), {
          epochInterval: 0,
          workersPerProcess: (run % 2) + 1,
          recovery: config
        })
        if (last) break
        aborted++
      }
      expect(aborted).toBe(12)
      expectExactlyOnce(out)
    }, 120_000)

    it("does not publish twice an epoch whose publish succeeded but failed the run", async () => {
      const config = await store.fresh()
      const out = tmp("weir-outbox-out-")
      await expect(runMain(outboxFlow(out, PARTS, PER_PART, 7, undefined, 5), { epochInterval: 0, recovery: config })).rejects.toThrow(
        /error calling `TransactionalSinkPartition.publish` in step 'outbox\.out'.*published epoch 5, then lost the answer/s
      )
      expect(fs.existsSync(path.join(out, "w0-e5"))).toBe(true)
      await runMain(outboxFlow(out), { epochInterval: 0, recovery: config })
      expectExactlyOnce(out)
    }, 60_000)
  })

  it("publishes exactly once on worker threads, across aborts and a rescale from 3 threads to 2", async () => {
    const db = tmp("weir-outbox-db-")
    await initDbDir(db, 1)
    const config = new RecoveryConfig(db)
    const out = tmp("weir-outbox-out-")
    const threads = [3, 2, 3, 2]
    for (let run = 0; run < threads.length; run++) {
      const abortAfter = run < threads.length - 1 ? 100 + Math.floor(Math.random() * 200) : undefined
      await clusterMain(
        { module: MODULE, export: "outboxFlow", args: [out, PARTS, PER_PART, 7, abortAfter] },
        { workersPerProcess: threads[run]!, epochInterval: 2, recovery: config }
      )
    }
    expectExactlyOnce(out)
  }, 120_000)
})
