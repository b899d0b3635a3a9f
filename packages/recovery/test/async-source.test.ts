/**
 * A partitioned source whose `nextBatch` advances its position first and
 * then returns a Promise of the batch (a shape API.md allows). An epoch that
 * closes while such a batch is in flight must not commit the advanced
 * position: a crash before the next commit would lose the batch. The runs
 * here are stopped ("crashed") at many moments with 5 ms epochs and batches
 * that take 3 ms to arrive, against both real stores, and the final state
 * must count every item exactly once.
 */
import { Dataflow, op, type RecoveryConfigLike, run } from "@weir/core"
import { TestingSink } from "@weir/testing"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { initDbDir, initPostgres, PostgresRecoveryConfig, RecoveryConfig } from "../src/index.js"
import { LaggingSource } from "./fixtures/lagging-flow.js"

const ITEMS_PER_PART = 2_000
const BATCH = 20
const PARTS = ["p0", "p1"]

/** Item `i`: one of 7 keys, its value `i`. */
const item = (i: number) => [`k${i % 7}`, i] as const
const source = () => new LaggingSource({ parts: PARTS, itemsPerPart: ITEMS_PER_PART, batch: BATCH, delayMs: 3, item })

/** The expected final sum per key. */
const expected = (): Map<string, number> => {
  const sums = new Map<string, number>()
  for (let i = 0; i < PARTS.length * ITEMS_PER_PART; i++) sums.set(`k${i % 7}`, (sums.get(`k${i % 7}`) ?? 0) + i)
  return sums
}

/**
 * Run the flow until it ends or `stopAfterMs` passes (the run is interrupted
 * then: nothing after the last commit is kept, as after a SIGKILL). The sink
 * sees every running sum emitted.
 */
const runOnce = async (recovery: RecoveryConfigLike, sink: TestingSink<readonly [string, number]>, stopAfterMs?: number) => {
  const flow = new Dataflow("lagging")
  const sums = op.statefulMap(
    "sum",
    op.input("inp", flow, source()),
    (sum: number | undefined, x: number) => [(sum ?? 0) + x, (sum ?? 0) + x] as const
  )
  op.output("out", sums, sink)
  const running = run(flow, { epochInterval: 5, recovery })
  const effect = stopAfterMs === undefined ? running : Effect.timeoutOption(running, stopAfterMs)
  await Effect.runPromise(effect)
}

const dirs: Array<string> = []
afterAll(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true })
})

const stores: ReadonlyArray<readonly [string, () => Promise<RecoveryConfigLike>]> = [
  ["embedded (SQLite)", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "weir-async-"))
    dirs.push(dir)
    await initDbDir(dir, 2)
    return new RecoveryConfig(dir)
  }],
  ["PostgreSQL", async () => {
    const url = process.env.WEIR_PG_URL
    if (!url) throw new Error("WEIR_PG_URL is not set: the global setup should have started PostgreSQL")
    const schema = `async_${process.pid}_${Date.now()}`
    await initPostgres(url, 2, { schema })
    return new PostgresRecoveryConfig(url, { schema })
  }]
]

describe.each(stores)("an asynchronous source with the %s store", (_name, fresh) => {
  it("loses nothing and doubles nothing across many crashes while batches are in flight", async () => {
    const recovery = await fresh()
    const sink = new TestingSink<readonly [string, number]>()
    // Crash points spread over the run (a whole run takes ~2 × 100 batches × 3 ms).
    for (const stopAfter of [17, 29, 41, 53, 67, 79, 97, 113, 131, 149]) await runOnce(recovery, sink, stopAfter)
    await runOnce(recovery, sink)
    // A run replays from the last commit, so a key's last emission over all runs is its final state.
    const final = new Map<string, number>()
    for (const [key, sum] of sink.getOutput()) final.set(key, sum)
    expect(final).toEqual(expected())
  }, 60_000)
})
