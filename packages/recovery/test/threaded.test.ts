/**
 * Recovery with worker threads: the calling thread owns the store and
 * decides full snapshots for every worker at once, so the stored log stays
 * within a small multiple of the live keys over many epochs, whatever the thread
 * count; and a resume with another thread count continues the same state.
 */
import { clusterMain } from "@weir/core"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { initDbDir, RecoveryConfig } from "../src/index.js"
import { sqliteEntries } from "./stored.js"

const MODULE = new URL("./fixtures/threaded-flow.ts", import.meta.url)
const SUM = "threaded.sum.statefulBatch"

/** The sums the flow ends with: 4 partitions of 0..perPart-1 over 100 keys. */
const expectedSums = (perPart: number): Map<string, number> => {
  const out = new Map<string, number>()
  for (let p = 0; p < 4; p++) for (let n = 0; n < perPart; n++) out.set(`k${n % 100}`, (out.get(`k${n % 100}`) ?? 0) + n)
  return out
}

/** Each key's newest stored state of the sum. */
const newest = (dir: string): Map<string, number> => {
  const out = new Map<string, { epoch: number; state: number }>()
  for (const e of sqliteEntries(dir)) {
    if (e.stepId !== SUM || e.discarded) continue
    const prev = out.get(e.key)
    if (prev === undefined || e.epoch >= prev.epoch) out.set(e.key, { epoch: e.epoch, state: e.state as number })
  }
  return new Map([...out].map(([k, v]) => [k, v.state]))
}

describe("recovery on worker threads", () => {
  it("keeps the stored log within a few times the live keys over many epochs, and resumes on another thread count", async () => {
    const dir = mkdtempSync(join(tmpdir(), "weir-threaded-"))
    await initDbDir(dir, 2)
    let commits = 0
    let fulls = 0
    const config = new RecoveryConfig(dir, {
      observe: {
        committed: (s) => {
          commits++
          if (s.entries >= 50) fulls++
        }
      }
    })
    // About 40 batches per partition, 5 ms apart, with 10 ms epochs: dozens of epochs, each changing many keys.
    await clusterMain({ module: MODULE, export: "sums", args: [4, 2000, 50, 5] }, { workersPerProcess: 2, epochInterval: 10, recovery: config })
    expect(commits).toBeGreaterThan(20)
    // Every key changes in most epochs, so full snapshots come often.
    expect(fulls).toBeGreaterThan(4)
    const entries = sqliteEntries(dir).filter((e) => e.stepId === SUM)
    expect(entries.length).toBeGreaterThanOrEqual(100)
    // Twice the keys, plus what the epochs in flight write before the next full snapshot is
    // decided (workers run up to 3 epochs ahead of the store). Without full snapshots: 2,050.
    expect(entries.length).toBeLessThanOrEqual(5 * 100)
    expect(newest(dir)).toEqual(expectedSums(2000))

    // The same store on 3 threads, with more input: the sums continue from where they were.
    await clusterMain({ module: MODULE, export: "sums", args: [4, 3000, 50, 5] }, { workersPerProcess: 3, epochInterval: 10, recovery: config })
    expect(newest(dir)).toEqual(expectedSums(3000))
    expect(sqliteEntries(dir).filter((e) => e.stepId === SUM).length).toBeLessThanOrEqual(5 * 100)
  }, 60_000)
})
