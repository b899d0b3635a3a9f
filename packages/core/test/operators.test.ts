/**
 * Bytewax 0.21 operator conformance cases (test catalogue §1) that the
 * per-operator files in test/operators/ do not already hold: same inputs,
 * same expected outputs.
 */
import { Dataflow, type KeyedStream, op, runMain } from "@weir/core"
import { InMemoryRecovery, TestingSink, TestingSource, VirtualClock } from "@weir/testing"
import { describe, expect, it } from "vitest"
import { failsWith, flowOf, keyAll, runOf } from "./operators/helpers.js"

describe("branch", () => {
  it("routes by the predicate", async () => {
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

  it("narrows both sides with a type guard", async () => {
    const flow = new Dataflow("test_df")
    const ints: Array<number> = []
    const strs: Array<string> = []
    const b = op.branch(
      "branch",
      op.input("inp", flow, new TestingSource<number | string>([1, "a", 2, "b"])),
      (x): x is number => typeof x === "number"
    )
    op.output("ints", b.trues, new TestingSink(ints))
    op.output("strs", b.falses, new TestingSink(strs))
    await runMain(flow)
    expect(ints).toEqual([1, 2])
    expect(strs).toEqual(["a", "b"])
  })

  it("keeps exact order over many batches", async () => {
    const flow = new Dataflow("test_df")
    const evens: Array<number> = []
    const odds: Array<number> = []
    const items = Array.from({ length: 100_000 }, (_, i) => i)
    const b = op.branch("branch", op.input("inp", flow, new TestingSource(items, 10)), (x: number) => x % 2 === 0)
    op.output("evens", b.trues, new TestingSink(evens))
    op.output("odds", b.falses, new TestingSink(odds))
    await runMain(flow)
    expect(evens).toEqual(items.filter((x) => x % 2 === 0))
    expect(odds).toEqual(items.filter((x) => x % 2 === 1))
  })
})

describe("collect", () => {
  it("the logic's snapshot holds the list and the inactivity deadline", async () => {
    const { CollectLogic } = await import("../src/operators/collect.js")
    const now = new Date("2023-01-01T00:00:00Z").getTime()
    const logic = new CollectLogic<number>(undefined, 10_000, 3, () => now)
    logic.onBatch([1])
    expect(logic.snapshot()).toEqual({ acc: [1], timeoutAt: now + 10_000 })
  })

  it("emits after `timeout` of inactivity (virtual time)", async () => {
    const items = [1, 2, new TestingSource.PAUSE("5 seconds"), 3, new TestingSource.PAUSE("20 seconds"), 4]
    const out = await runOf(items, (s) => op.collect("collect", keyAll(s), { timeout: "10 seconds", maxSize: 100 }), {
      clock: new VirtualClock(new Date("2024-01-01T00:00:00Z"))
    })
    // The 5 s pause doesn't time out (the deadline moves with every item); the 20 s one does.
    expect(out).toEqual([["ALL", [1, 2, 3]], ["ALL", [4]]])
  })
})

describe("filter, filterMap, filterMapValue, filterValue", () => {
  it("filter narrows with a type guard and refuses non-boolean results", async () => {
    const out = await runOf<number | string, number>([1, "x", 2], (s) => op.filter("f", s, (x): x is number => typeof x === "number"))
    expect(out).toEqual([1, 2])
    const { flow } = flowOf([1], (s) => op.filter("f", s, () => 1 as unknown as boolean))
    await failsWith(flow, /return value of `predicate` in step 'test_df.f' must be a `boolean`; got a `number` instead/)
  })

})

describe("flatMap, flatMapBatch, flatten", () => {
  it("flatMapBatch gets whole batches and may return a generator", async () => {
    const { flow, out } = flowOf(["split this", "and this"], (s) =>
      op.flatMapBatch("split", s, function*(xs: Array<string>) {
        for (const x of xs) yield* x.split(" ")
      }), 10)
    await runMain(flow)
    expect(out).toEqual(["split", "this", "and", "this"])
  })

  it("flatMapBatch identity keeps every item in order", async () => {
    const items = Array.from({ length: 100_000 }, (_, i) => i)
    const { flow, out } = flowOf(items, (s) => op.flatMapBatch("id", s, (xs: Array<number>) => xs), 10)
    await runMain(flow)
    expect(out).toEqual(items)
  })

})

describe("inspect", () => {
  it("the inspector gets the fully-qualified step id and the item", async () => {
    const flow = new Dataflow("test_df")
    const seen: Array<unknown> = []
    op.inspect("insp", op.input("inp", flow, new TestingSource(["a"])), (stepId, item) => void seen.push([stepId, item]))
    await runMain(flow)
    expect(seen).toEqual([["test_df.insp", "a"]])
  })

  it("inspectDebug also gets the epoch and the worker", async () => {
    const flow = new Dataflow("test_df")
    const seen: Array<unknown> = []
    op.inspectDebug("insp", op.input("inp", flow, new TestingSource(["a"])), (...args) => void seen.push(args))
    await runMain(flow)
    expect(seen).toEqual([["test_df.insp", "a", 1, 0]])
  })
})

describe("map, mapValue", () => {
  it("mapValue adds one to values", async () => {
    expect(await runOf([0, 1, 2], (s) => op.mapValue("add_one", keyAll(s), (x: number) => x + 1))).toEqual([
      ["ALL", 1],
      ["ALL", 2],
      ["ALL", 3]
    ])
  })
})

describe("reduceFinal", () => {
  it("pre-aggregates each batch before the stateful step", async () => {
    const calls: Array<readonly [number, number]> = []
    const { flow, out } = flowOf([1, 2, 3, 4], (s) =>
      op.reduceFinal("sum", keyAll(s), (a: number, b: number) => {
        calls.push([a, b])
        return a + b
      }), 4)
    await runMain(flow)
    expect(out).toEqual([["ALL", 10]])
    // One batch of four: reduced once per pair before routing, nothing left for the stateful step.
    expect(calls).toEqual([[1, 2], [3, 3], [6, 4]])
  })
})

describe("statefulFlatMap", () => {
  it("an undefined state discards the key, and a state is snapshotted", async () => {
    const recovery = new InMemoryRecovery()
    const { flow } = flowOf([["k", 1] as const, ["gone", 2] as const, new TestingSource.ABORT()], (s) =>
      op.statefulFlatMap("sfm", s as KeyedStream<number>, (_s: string | undefined, x: number) =>
        [x === 1 ? "new_state" : undefined, []] as const))
    await runMain(flow, { epochInterval: 0, recovery })
    expect(await recovery.statesOf("test_df.sfm.statefulBatch")).toEqual(new Map([["k", "new_state"]]))
  })
})

