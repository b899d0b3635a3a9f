/**
 * The runtime's metrics and hooks: items in and out per step and worker, the
 * epoch and state-key gauges, the epoch hook, on one worker, interleaved and
 * on threads (whose readings reach the calling thread's registry).
 */
import { Effect, Metric } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { type EpochClosed, run, runCluster, RuntimeMetrics } from "../src/index.js"
import { runningSum } from "./fixtures/threads-flow.js"

type Sample = { readonly id: string; readonly attributes: Record<string, string>; readonly value: number }

/** Run `program` with a registry of its own; return the run's counter and gauge samples. */
const measured = async (program: Effect.Effect<void, unknown>): Promise<Array<Sample>> => {
  const registry: Metric.MetricRegistry = new Map()
  return Effect.runPromise(
    Effect.gen(function*() {
      yield* program
      return (yield* Metric.snapshot).flatMap((m): Array<Sample> => {
        const state = m.state as { count?: number; value?: number }
        const value = m.type === "Counter" ? Number(state.count) : m.type === "Gauge" ? Number(state.value) : NaN
        return Number.isNaN(value) ? [] : [{ id: m.id, attributes: (m.attributes ?? {}) as Record<string, string>, value }]
      })
    }).pipe(Effect.provideService(Metric.MetricRegistry, registry))
  )
}

const total = (samples: ReadonlyArray<Sample>, id: string, stepId: string): number =>
  samples.filter((s) => s.id === id && s.attributes.step_id === stepId).reduce((n, s) => n + s.value, 0)

const workers = (samples: ReadonlyArray<Sample>, id: string, stepId: string): Array<string> =>
  [...new Set(samples.filter((s) => s.id === id && s.attributes.step_id === stepId).map((s) => s.attributes.worker!))].sort()

const ITEMS = 4 * 2_000

describe("runtime metrics", () => {
  for (const [mode, program] of [
    ["one worker", (dir: string, observe: (e: EpochClosed) => void) => run(runningSum(dir, 4, 2_000), { epochInterval: 10, observe: { epochClosed: observe } })],
    [
      "interleaved on 2 workers",
      (dir: string, observe: (e: EpochClosed) => void) =>
        runCluster(runningSum(dir, 4, 2_000), { workersPerProcess: 2, epochInterval: 10, observe: { epochClosed: observe } })
    ],
    [
      "2 worker threads",
      (dir: string, observe: (e: EpochClosed) => void) =>
        runCluster({ module: new URL("./fixtures/threads-flow.ts", import.meta.url), export: "runningSum", args: [dir, 4, 2_000] }, {
          workersPerProcess: 2,
          epochInterval: 10,
          observe: { epochClosed: observe }
        })
    ]
  ] as const) {
    it(`counts every step's items in and out per worker, and closed epochs (${mode})`, async () => {
      const epochs: Array<EpochClosed> = []
      const samples = await measured(program(mkdtempSync(join(tmpdir(), "weir-metrics-")), (e) => epochs.push(e)))
      expect(total(samples, "weir_items_out_total", "sums.inp")).toBe(ITEMS)
      expect(total(samples, "weir_items_in_total", "sums.sum.statefulBatch")).toBe(ITEMS)
      expect(total(samples, "weir_items_out_total", "sums.sum.statefulBatch")).toBe(ITEMS)
      expect(total(samples, "weir_items_in_total", "sums.out")).toBe(ITEMS)
      const n = mode === "one worker" ? ["0"] : ["0", "1"]
      expect(workers(samples, "weir_items_in_total", "sums.sum.statefulBatch")).toEqual(n)
      // 4 partitions × 50 keys, each key on one worker.
      expect(total(samples, "weir_state_keys", "sums.sum.statefulBatch")).toBe(200)
      expect(samples.filter((s) => s.id === "weir_epoch").map((s) => s.attributes.worker).sort()).toEqual(n)
      // Every item read is in exactly one closed epoch.
      expect(epochs.reduce((sum, e) => sum + e.itemsIn, 0)).toBe(ITEMS)
      expect(epochs.length).toBeGreaterThan(0)
    }, 30_000)
  }

  it("counts nothing with RuntimeMetrics off", async () => {
    const samples = await measured(
      Effect.provideService(run(runningSum(mkdtempSync(join(tmpdir(), "weir-metrics-")), 1, 100)), RuntimeMetrics, false)
    )
    expect(samples.filter((s) => s.id.startsWith("weir_"))).toEqual([])
  })
})
