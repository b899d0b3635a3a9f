/**
 * A class instance kept as state would come back from the store as a plain
 * object (V8's serializer keeps no prototypes) and fail later inside user
 * code. The runtime refuses it when the epoch is snapshotted, naming the step,
 * the key and the class, and every epoch committed before stays resumable.
 */
import { Dataflow, op, runMain, WeirRuntimeError } from "@weir/core"
import { TestingSink, TestingSource } from "@weir/testing"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { initDbDir, RecoveryConfig } from "../src/index.js"

class Tally {
  constructor(public n: number) {}
  add(x: number): Tally {
    return new Tally(this.n + x)
  }
}

const dirs: Array<string> = []
afterAll(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true })
})

describe("state that would not round-trip through a store", () => {
  it("fails at the snapshot naming step, key and class, and keeps what was committed", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "weir-shapes-"))
    dirs.push(dir)
    await initDbDir(dir, 1)
    const recovery = new RecoveryConfig(dir)
    const items: Array<readonly [string, number]> = [["ada", 1], ["ada", 2], ["ada", 3], ["ada", 4]]
    /** Plain `{ n }` states until `classFrom`; `Tally` instances from then on. */
    const flowOf = (classFrom: number, out: TestingSink<number>) => {
      const flow = new Dataflow("shapes")
      const sums = op.statefulMap(
        "sum",
        op.input("inp", flow, new TestingSource(items)),
        (st: { n: number } | undefined, x: number) => {
          const n = (st?.n ?? 0) + x
          const next = x >= classFrom ? new Tally(0).add(n) : { n }
          return [next, n] as const
        }
      )
      op.output("out", op.map("value", sums, ([, n]) => n), out)
      return flow
    }
    // epochInterval 0: an epoch closes after every batch of one item.
    const first = new TestingSink<number>()
    const error = await runMain(flowOf(3, first), { epochInterval: 0, recovery }).then(() => undefined, (e: unknown) => e)
    expect(error).toBeInstanceOf(WeirRuntimeError)
    const message = (error as WeirRuntimeError).message
    expect(message).toContain("step 'shapes.sum")
    expect(message).toContain("key 'ada'")
    expect(message).toContain("`Tally` instance at `state`")
    expect(first.getOutput()).toEqual([1, 3, 6])

    // The epochs of items 1 and 2 were committed: a run with plain state resumes after them.
    const second = new TestingSink<number>()
    await runMain(flowOf(Infinity, second), { epochInterval: 0, recovery })
    expect(second.getOutput()).toEqual([6, 10])
  })
})
