/**
 * The kernel operators users call directly (catalogue §1: test_branch,
 * test_flat_map_batch, test_inspect's inspectDebug case, test_merge).
 */
import { Dataflow, op, runMain } from "@weir/core"
import { TestingSink, TestingSource } from "@weir/testing"
import { describe, expect, it } from "vitest"
import { failsWith, flowOf, range } from "./helpers.js"

describe("branch", () => {
  it("routes items to trues and falses by the predicate", async () => {
    const flow = new Dataflow("test_df")
    const trues: Array<number> = []
    const falses: Array<number> = []
    const b = op.branch("branch", op.input("inp", flow, new TestingSource([1, 2, 3])), (x: number) => x % 2 === 1)
    op.output("trues", b.trues, new TestingSink(trues))
    op.output("falses", b.falses, new TestingSink(falses))
    await runMain(flow)
    expect(trues).toEqual([1, 3])
    expect(falses).toEqual([2])
  })

  it("a type guard narrows both sides", async () => {
    const flow = new Dataflow("test_df")
    const ints: Array<number> = []
    const strs: Array<string> = []
    const inp = op.input("inp", flow, new TestingSource<number | string>([1, "a", 2, "b"]))
    const b = op.branch("branch", inp, (x): x is number => typeof x === "number")
    op.output("ints", b.trues, new TestingSink(ints))
    op.output("strs", b.falses, new TestingSink(strs))
    await runMain(flow)
    expect(ints).toEqual([1, 2])
    expect(strs).toEqual(["a", "b"])
  })

  it("a predicate that doesn't return a boolean fails the run", async () => {
    const flow = new Dataflow("test_df")
    const b = op.branch("branch", op.input("inp", flow, new TestingSource([1])), () => "not a bool" as unknown as boolean)
    op.output("out", b.trues, new TestingSink())
    const err = await failsWith(flow, "must be a `boolean`; got a `string` instead")
    expect(err.stepId).toBe("test_df.branch")
  })

  it("keeps the exact order over many batches", async () => {
    const flow = new Dataflow("test_df")
    const evens: Array<number> = []
    const odds: Array<number> = []
    const items = range(100_000)
    const b = op.branch("branch", op.input("inp", flow, new TestingSource(items, 10)), (x: number) => x % 2 === 0)
    op.output("evens", b.trues, new TestingSink(evens))
    op.output("odds", b.falses, new TestingSink(odds))
    await runMain(flow)
    expect(evens).toEqual(items.filter((x) => x % 2 === 0))
    expect(odds).toEqual(items.filter((x) => x % 2 === 1))
  })
})

describe("flatMapBatch", () => {
  it("gets whole batches and may return a generator", async () => {
    const { flow, out } = flowOf(["split this", "and this"], (s) =>
      op.flatMapBatch("split", s, function*(xs: Array<string>) {
        for (const x of xs) yield* x.split(" ")
      }), 10)
    await runMain(flow)
    expect(out).toEqual(["split", "this", "and", "this"])
  })

  it("the identity keeps every item in order", async () => {
    const items = range(100_000)
    const { flow, out } = flowOf(items, (s) => op.flatMapBatch("id", s, (xs: Array<number>) => xs), 10)
    await runMain(flow)
    expect(out).toEqual(items)
  })
})

describe("inspectDebug", () => {
  it("the inspector also gets the epoch and the worker index", async () => {
    const flow = new Dataflow("test_df")
    const seen: Array<unknown> = []
    op.inspectDebug("insp", op.input("inp", flow, new TestingSource(["a"])), (...args) => void seen.push(args))
    await runMain(flow)
    expect(seen).toEqual([["test_df.insp", "a", 1, 0]])
  })
})

describe("merge", () => {
  it("interleaves three inputs batch by batch on one worker", async () => {
    const flow = new Dataflow("test_df")
    const out: Array<number> = []
    const odds = op.input("odds", flow, new TestingSource([1, 3, 5]))
    const evens = op.input("evens", flow, new TestingSource([2, 4, 6]))
    const huge = op.input("huge", flow, new TestingSource([100, 200, 300]))
    op.merge("merge", odds, evens, huge).then(op.output, "out", new TestingSink(out))
    await runMain(flow)
    expect(out).toEqual([1, 2, 100, 3, 4, 200, 5, 6, 300])
  })
})
