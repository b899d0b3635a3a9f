/**
 * Differential tests: every operator family (fixtures/families.ts) on 1, 2,
 * 3 and 4 worker threads gives the same per-key output sequences as the
 * interleaved mode, and the same partitioned-sink files.
 */
import { mkdtempSync, readdirSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { clusterMain, runMain } from "@weir/core"
import { InMemoryRecovery } from "@weir/testing"
import { describe, expect, it } from "vitest"
import { families } from "./fixtures/families.js"

const FAMILY_MODULE = new URL("./fixtures/families.ts", import.meta.url)

/** Per family and key, the values in output order; families without keys sorted. Partitioned-sink files per key too. */
const results = (dir: string): Record<string, Record<string, Array<unknown>>> => {
  const out: Record<string, Record<string, Array<unknown>>> = {}
  for (const f of readdirSync(dir).sort()) {
    for (const line of readFileSync(join(dir, f), "utf8").split("\n")) {
      if (line === "") continue
      const item = JSON.parse(line) as unknown
      let family: string
      let key: string
      let value: unknown
      if (f.startsWith("psink-")) {
        ;[key, value] = item as [string, unknown]
        family = f.replace(".jsonl", "")
      } else [family, key, value] = item as [string, string, unknown]
      ;((out[family] ??= {})[key] ??= []).push(value)
    }
  }
  for (const family of ["stateless", "redistribute"]) {
    for (const key of Object.keys(out[family] ?? {})) (out[family]![key] as Array<number>).sort((a, b) => a - b)
  }
  return out
}

const fresh = (): string => mkdtempSync(join(tmpdir(), "weir-threads-"))

/**
 * The final state of every step a run snapshotted, by step id. Window steps
 * are left out: their clocks keep the system time items arrived at, which no
 * two runs share (their output is compared instead).
 */
const finalStates = async (recovery: InMemoryRecovery): Promise<Record<string, Record<string, unknown>>> => {
  const out: Record<string, Record<string, unknown>> = {}
  for (const id of recovery.stepIds()) {
    if (/\.(tumbling|sliding|session)\./.test(id)) continue
    out[id] = Object.fromEntries([...(await recovery.statesOf(id))].sort(([a], [b]) => (a < b ? -1 : 1)))
  }
  return out
}

describe("threads against the interleaved mode", () => {
  it("every operator family gives the same per-key results on 1, 2, 3 and 4 threads", async () => {
    const reference = fresh()
    const referenceStore = new InMemoryRecovery()
    await runMain(families(reference), { epochInterval: 5, recovery: referenceStore })
    const expected = results(reference)
    const expectedStates = await finalStates(referenceStore)
    // Sums, collect, join, timers, the source and the partitioned sink.
    expect(Object.keys(expectedStates).length).toBeGreaterThanOrEqual(6)
    // Sanity: every family produced output.
    for (const family of ["stateless", "sum", "collect", "join", "tumbling", "sliding", "session", "timer", "redistribute"]) {
      expect(Object.keys(expected[family] ?? {}).length, family).toBeGreaterThan(0)
    }
    expect(Object.keys(expected).filter((f) => f.startsWith("psink-")).length).toBe(3)
    expect(expected.timer!["p0-k0"]).toEqual(["fired", Math.ceil(400 / 7)])

    const interleaved = fresh()
    const interleavedStore = new InMemoryRecovery()
    await clusterMain(families(interleaved), { workersPerProcess: 3, epochInterval: 5, recovery: interleavedStore })
    expect(results(interleaved)).toEqual(expected)
    expect(await finalStates(interleavedStore)).toEqual(expectedStates)

    for (const threads of [1, 2, 3, 4]) {
      const dir = fresh()
      // The store lives on this thread (the coordinator's): an in-memory one works with threads.
      const store = new InMemoryRecovery()
      await clusterMain({ module: FAMILY_MODULE, export: "families", args: [dir] }, {
        workersPerProcess: threads,
        epochInterval: 5,
        recovery: store
      })
      expect(results(dir), `${threads} threads`).toEqual(expected)
      expect(await finalStates(store), `${threads} threads`).toEqual(expectedStates)
      // Each worker wrote its own file: the work was spread.
      expect(readdirSync(dir).filter((f) => f.startsWith("worker-")).length).toBe(threads)
    }
  }, 120_000)
})
