/**
 * Stateful composites (catalogue §1: test_stateful, test_stateful_map,
 * test_stateful_flat_map, test_fold_final, test_reduce_final,
 * test_count_final, test_max_min_final), plus the per-batch behaviour of the
 * batch logics.
 */
import { Dataflow, type KeyedStream, op, runMain, StatefulLogic, type Step, type Stream } from "@weir/core"
import { InMemoryRecovery, TestingSource, type TestingSourceItem } from "@weir/testing"
import { describe, expect, it } from "vitest"
import { FoldFinalLogic, StatefulFlatMapLogic, StatefulMapLogic } from "../../src/operators/stateful.js"
import { failsWith, flowOf, keepLast, keyAll, runOf, type TestLogic, testLogic, testLogicStep } from "./helpers.js"

type Pair = readonly [string, string]

const runTestLogic = async (
  inp: Array<TestingSourceItem<number>>,
  Logic: TestLogic,
  recovery?: InMemoryRecovery
): Promise<Array<readonly [string, Pair]>> => {
  const { flow, out } = flowOf(inp, testLogicStep(Logic))
  await runMain(flow, { epochInterval: 0, ...(recovery === undefined ? {} : { recovery }) })
  return out
}

describe("stateful: the StatefulLogic lifecycle", () => {
  it("discard after an item: the next item gets a fresh logic", async () => {
    expect(await runTestLogic([1, 2, new TestingSource.ABORT()], testLogic({ discardAfterItem: true }))).toEqual([
      ["ALL", ["NEW", "ITEM"]],
      ["ALL", ["NEW", "ITEM"]]
    ])
  })

  it("retain after an item", async () => {
    expect(await runTestLogic([1, 2, new TestingSource.ABORT()], testLogic({}))).toEqual([
      ["ALL", ["NEW", "ITEM"]],
      ["ALL", ["ITEM", "ITEM"]]
    ])
  })

  it("discard after a notification", async () => {
    const Logic = testLogic({ itemTriggersNotify: true, discardAfterNotify: true })
    expect(await runTestLogic([1, 2, new TestingSource.ABORT()], Logic)).toEqual([
      ["ALL", ["NEW", "ITEM"]],
      ["ALL", ["ITEM", "NOTIFY"]],
      ["ALL", ["NEW", "ITEM"]],
      ["ALL", ["ITEM", "NOTIFY"]]
    ])
  })

  it("retain after a notification", async () => {
    expect(await runTestLogic([1, 2, new TestingSource.ABORT()], testLogic({ itemTriggersNotify: true }))).toEqual([
      ["ALL", ["NEW", "ITEM"]],
      ["ALL", ["ITEM", "NOTIFY"]],
      ["ALL", ["NOTIFY", "ITEM"]],
      ["ALL", ["ITEM", "NOTIFY"]]
    ])
  })

  it("discard at EOF: the resumed run starts fresh", async () => {
    const recovery = new InMemoryRecovery()
    const inp = [1, new TestingSource.EOF(), 2, new TestingSource.ABORT()]
    const Logic = testLogic({ discardAfterEof: true })
    expect(await runTestLogic(inp, Logic, recovery)).toEqual([["ALL", ["NEW", "ITEM"]], ["ALL", ["ITEM", "EOF"]]])
    expect(await runTestLogic(inp, Logic, recovery)).toEqual([["ALL", ["NEW", "ITEM"]]])
  })

  it("retain at EOF: the state onEof leaves is snapshotted and restored", async () => {
    const recovery = new InMemoryRecovery()
    const inp = [1, new TestingSource.EOF(), 2, new TestingSource.ABORT()]
    const Logic = testLogic({})
    expect(await runTestLogic(inp, Logic, recovery)).toEqual([["ALL", ["NEW", "ITEM"]], ["ALL", ["ITEM", "EOF"]]])
    expect(await runTestLogic(inp, Logic, recovery)).toEqual([["ALL", ["EOF", "ITEM"]]])
  })
})

const runKeepLast = async (inp: Array<TestingSourceItem<Pair>>, options: { recovery?: InMemoryRecovery; batchSize?: number } = {}) => {
  const { flow, out } = flowOf(inp, keepLast, options.batchSize)
  await runMain(flow, options.recovery === undefined ? {} : { epochInterval: 0, recovery: options.recovery })
  return out
}

describe("stateful: per-key logic", () => {
  it("keeps one logic per key", async () => {
    expect(await runKeepLast([["a", "a1"], ["b", "b1"], ["a", "a2"], ["b", "b2"]])).toEqual([
      ["a", [undefined, "a1"]],
      ["b", [undefined, "b1"]],
      ["a", ["a1", "a2"]],
      ["b", ["b1", "b2"]]
    ])
  })

  it("snapshots each key's logic and restores it on resume", async () => {
    const recovery = new InMemoryRecovery()
    const inp: Array<TestingSourceItem<Pair>> = [["a", "a1"], ["b", "b1"], new TestingSource.ABORT(), ["a", "a2"], ["b", "b2"]]
    expect(await runKeepLast(inp, { recovery })).toEqual([["a", [undefined, "a1"]], ["b", [undefined, "b1"]]])
    expect(await runKeepLast(inp, { recovery })).toEqual([["a", ["a1", "a2"]], ["b", ["b1", "b2"]]])
  })

  it("a discard is persisted", async () => {
    const recovery = new InMemoryRecovery()
    const inp: Array<TestingSourceItem<Pair>> = [
      ["a", "a1"],
      ["b", "b1"],
      ["a", "DISCARD"],
      ["b", "b2"],
      new TestingSource.ABORT(),
      ["a", "a3"],
      ["b", "b3"]
    ]
    expect(await runKeepLast(inp, { recovery })).toEqual([
      ["a", [undefined, "a1"]],
      ["b", [undefined, "b1"]],
      ["a", ["a1", "DISCARD"]],
      ["b", ["b1", "b2"]]
    ])
    expect(await runKeepLast(inp, { recovery })).toEqual([["a", [undefined, "a3"]], ["b", ["b2", "b3"]]])
  })

  it("a discard in the middle of a batch gives the next value a fresh logic", async () => {
    const out = await runKeepLast([["a", "a1"], ["a", "DISCARD"], ["a", "a3"], ["a", "a4"]], { batchSize: 4 })
    expect(out).toEqual([
      ["a", [undefined, "a1"]],
      ["a", ["a1", "DISCARD"]],
      ["a", [undefined, "a3"]],
      ["a", ["a3", "a4"]]
    ])
  })

  it("a builder that doesn't return a StatefulLogic fails the run", async () => {
    const { flow } = flowOf([["a", 1] as const], (s) =>
      op.stateful("bad", s, (() => ({ nope: true })) as unknown as () => StatefulLogic<number, number, number>))
    await failsWith(flow, "return value of `builder` in step 'test_df.bad' must be a `StatefulLogic`; got a `Object` instead")
  })
})

describe("statefulMap", () => {
  it("a running mean over a list state", async () => {
    const out = await runOf([2, 5, 8, 1, 3], (s) =>
      op.statefulMap("running_mean", keyAll(s), (acc: Array<number> | undefined, x: number) => {
        // Bytewax's test keeps the *first* items when truncating (`last_3[:-3]`); same mapper, same outputs.
        let next = [...(acc ?? []), x]
        if (next.length > 3) next = next.slice(0, -3)
        return [next, next.reduce((a, b) => a + b, 0) / next.length] as const
      }))
    expect(out).toEqual([["ALL", 2], ["ALL", 3.5], ["ALL", 5], ["ALL", 2], ["ALL", 2.5]])
  })

  it("a mapper that returns a bare value fails the run", async () => {
    const bad = (() => 5) as unknown as (s: number | undefined, x: number) => readonly [number, number]
    const { flow } = flowOf([1], (s) => op.statefulMap("bad", keyAll(s), bad))
    const err = await failsWith(
      flow,
      "return value of `mapper` in step 'test_df.bad' must be a 2-element array `[updatedState, emitValue]`; got a `number` instead"
    )
    expect(err.stepId).toBe("test_df.bad.statefulBatch")
  })

  it("an undefined state mid-batch: the next value sees undefined; emits are kept", async () => {
    const { flow, out } = flowOf([1, 2, 3, 4], (s) =>
      op.statefulMap("m", keyAll(s), (seen: number | undefined, x: number) => [x === 2 ? undefined : (seen ?? 0) + x, seen] as const), 4)
    await runMain(flow)
    expect(out).toEqual([["ALL", undefined], ["ALL", 1], ["ALL", undefined], ["ALL", 3]])
  })

  it("the logic discards when the state ends undefined and snapshots the state", () => {
    const discarding = new StatefulMapLogic<number, undefined, string>(undefined, () => [undefined, undefined], "test_df.m")
    expect(discarding.onBatch([1])).toEqual([[undefined], true])
    const keeping = new StatefulMapLogic<number, undefined, string>(undefined, () => ["new_state", undefined], "test_df.m")
    expect(keeping.onBatch([1])).toEqual([[undefined], false])
    expect(keeping.snapshot()).toBe("new_state")
  })

  it("is one statefulBatch kernel step", () => {
    const flow = new Dataflow("test_df")
    op.statefulMap("sum", keyAll(op.input("inp", flow, new TestingSource([1]))), (s: number | undefined, x: number) => [x, s] as const)
    const step = flow.substeps.find((s) => s.stepName === "sum")!
    expect(step.opType).toBe("statefulMap")
    expect(step.substeps.map((s: Step) => s.id)).toEqual(["test_df.sum.statefulBatch"])
  })
})

describe("statefulFlatMap", () => {
  it("a mapper returning an undefined state discards", () => {
    const logic = new StatefulFlatMapLogic<number, never, string>(undefined, () => [undefined, []], "test_df.sfm")
    expect(logic.onBatch([1])[1]).toBe(true)
  })

  it("the state is what the snapshot holds", () => {
    const logic = new StatefulFlatMapLogic<number, never, string>(undefined, () => ["new_state", []], "test_df.sfm")
    logic.onBatch([1])
    expect(logic.snapshot()).toBe("new_state")
  })

  it("emits only when the value increases", async () => {
    const out = await runOf([2, 5, 8, 1, 3], (s) =>
      op.statefulFlatMap("rise", keyAll(s), (last: number | undefined, x: number) => [x, last === undefined || x > last ? [x] : []] as const))
    expect(out).toEqual([["ALL", 2], ["ALL", 5], ["ALL", 8], ["ALL", 3]])
  })

  it("the returned values may be any iterable, and must be one", async () => {
    const out = await runOf([2], (s) =>
      op.statefulFlatMap("gen", keyAll(s), (_: number | undefined, x: number) => [x, new Set([x, x + 1])] as const))
    expect(out).toEqual([["ALL", 2], ["ALL", 3]])
    const { flow } = flowOf([1], (s) =>
      op.statefulFlatMap("bad", keyAll(s), (_: number | undefined, x: number) => [x, x as unknown as Array<number>] as const))
    await failsWith(flow, "in step 'test_df.bad' must be an iterable; got a `number` instead")
  })

  it("a state is snapshotted per key, a discarded key is not", async () => {
    const recovery = new InMemoryRecovery()
    const { flow } = flowOf([["k", 1] as const, ["gone", 2] as const, new TestingSource.ABORT()], (s: KeyedStream<number>) =>
      op.statefulFlatMap("sfm", s, (_s: string | undefined, x: number) => [x === 1 ? "new_state" : undefined, []] as const))
    await runMain(flow, { epochInterval: 0, recovery })
    expect(await recovery.statesOf("test_df.sfm.statefulBatch")).toEqual(new Map([["k", "new_state"]]))
  })
})

describe("statefulMap and statefulFlatMap take values straight from the batch", () => {
  // The runtime feeds these two from the batch (no array per key): their output must be what `onBatch` per key gives.
  const keyed: Array<readonly [string, number]> = Array.from({ length: 200 }, (_, i) => [`k${(i * 7) % 13}`, i] as const)
  const viaOnBatch = <W>(logic: () => StatefulMapLogic<number, W, number> | StatefulFlatMapLogic<number, W, number>, batchSize: number) => {
    // The reference: the same logic class driven through `statefulBatch` (the generic, `onBatch` path).
    const { flow, out } = flowOf(keyed, (s: Stream<readonly [string, number]>) =>
      op.statefulBatch<number, W, number | undefined>("ref", s as KeyedStream<number>, (resume: number | undefined) => {
        const l = logic()
        if (resume !== undefined) (l as unknown as { state: number }).state = resume
        return l
      }), batchSize)
    return runMain(flow).then(() => out)
  }
  const sum = (s: number | undefined, x: number) => [(s ?? 0) + x, (s ?? 0) + x] as const
  const evens = (s: number | undefined, x: number) => [(s ?? 0) + 1, x % 2 === 0 ? [x, -x] : []] as const

  for (const batchSize of [1, 7, 64, 1024]) {
    it(`statefulMap, batches of ${batchSize}: keys in order of first arrival, values in arrival order, as onBatch`, async () => {
      const out = await runOf(keyed, (s: Stream<readonly [string, number]>) => op.statefulMap("m", s as KeyedStream<number>, sum), { batchSize })
      expect(out).toEqual(await viaOnBatch(() => new StatefulMapLogic(undefined, sum, "test_df.ref"), batchSize))
      expect(out).toHaveLength(keyed.length)
    })

    it(`statefulFlatMap, batches of ${batchSize}: the same as onBatch, zero or more values per value`, async () => {
      const out = await runOf(keyed, (s: Stream<readonly [string, number]>) => op.statefulFlatMap("fm", s as KeyedStream<number>, evens), { batchSize })
      expect(out).toEqual(await viaOnBatch(() => new StatefulFlatMapLogic(undefined, evens, "test_df.ref"), batchSize))
      expect(out).toHaveLength(keyed.length)
    })
  }

  it("in one batch of several keys, the first key's values come out first", async () => {
    const out = await runOf([["a", 1], ["b", 10], ["a", 2], ["c", 5], ["b", 20]] as const, (s) =>
      op.statefulMap("m", s as KeyedStream<number>, sum), { batchSize: 5 })
    expect(out).toEqual([["a", 1], ["a", 3], ["b", 10], ["b", 30], ["c", 5]])
  })

  it("a mapper failing mid-batch fails the run naming the key; the state committed before stays", async () => {
    const recovery = new InMemoryRecovery()
    const boom = (s: number | undefined, x: number): readonly [number, number] => {
      if (x === 99) throw new Error("boom")
      return [(s ?? 0) + x, (s ?? 0) + x]
    }
    const inp = [["a", 1] as const, ["b", 2] as const, new TestingSource.ABORT(), ["a", 5] as const, ["b", 99] as const, ["a", 6] as const]
    const first = flowOf(inp, (s: KeyedStream<number>) => op.statefulMap("m", s, boom), 2)
    await runMain(first.flow, { epochInterval: 0, recovery })
    expect(first.out).toEqual([["a", 1], ["b", 2]])
    const second = flowOf(inp, (s: KeyedStream<number>) => op.statefulMap("m", s, boom), 3)
    const err = await runMain(second.flow, { epochInterval: 0, recovery }).then(() => undefined, (e: unknown) => e)
    expect(String((err as Error).message)).toContain("for key 'b'")
    expect(second.out).toEqual([])
    expect(await recovery.statesOf("test_df.m.statefulBatch")).toEqual(new Map([["a", 1], ["b", 2]]))
  })
})

describe("foldFinal", () => {
  it("the logic's snapshot is the folded state", () => {
    const logic = new FoldFinalLogic<number, string>("old_state", () => "builder", () => "new_state")
    logic.onBatch([5])
    expect(logic.snapshot()).toBe("new_state")
  })

  it("folds with a builder and max, emitting only at EOF", async () => {
    const out = await runOf([1, 4, 2, 9, 4, 3], (s) =>
      op.foldFinal("fold", keyAll(s), () => 0, (a: number, b: number) => Math.max(a, b)))
    expect(out).toEqual([["ALL", 9]])
  })

  it("folds a batch in one go and snapshots a copy of a mutable accumulator", async () => {
    const recovery = new InMemoryRecovery()
    const { flow, out } = flowOf([["a", 1] as const, ["a", 2] as const, ["b", 3] as const, new TestingSource.ABORT()], (s) =>
      op.foldFinal("fold", s, (): Array<number> => [], (acc: Array<number>, x: number) => {
        acc.push(x)
        return acc
      }), 3)
    await runMain(flow, { epochInterval: 0, recovery })
    expect(out).toEqual([])
    expect(await recovery.statesOf("test_df.fold.statefulBatch")).toEqual(new Map([["a", [1, 2]], ["b", [3]]]))
    await runMain(flow, { epochInterval: 0, recovery })
    expect(out).toEqual([["a", [1, 2]], ["b", [3]]])
  })
})

describe("reduceFinal", () => {
  it("reduces with max", async () => {
    expect(await runOf([1, 4, 2, 9, 4, 3], (s) => op.reduceFinal("max", keyAll(s), Math.max))).toEqual([["ALL", 9]])
  })

  it("pre-aggregates each batch per key before the stateful step", async () => {
    const calls: Array<readonly [number, number]> = []
    const { flow, out } = flowOf([["a", 1], ["b", 10], ["a", 2], ["a", 3], ["b", 20]] as const, (s) =>
      op.reduceFinal("sum", s, (a: number, b: number) => {
        calls.push([a, b])
        return a + b
      }), 5)
    await runMain(flow)
    expect(out).toEqual([["a", 6], ["b", 30]])
    // One batch: reduced per key before routing; one value per key reaches the stateful step.
    expect(calls).toEqual([[1, 2], [3, 3], [10, 20]])
  })

  it("has a preReduce flatMapBatch step and a statefulBatch step", () => {
    const flow = new Dataflow("test_df")
    op.reduceFinal("sum", keyAll(op.input("inp", flow, new TestingSource([1]))), (a: number, b: number) => a + b)
    const step = flow.substeps.find((s) => s.stepName === "sum")!
    expect(step.substeps.map((s: Step) => [s.id, s.opType])).toEqual([
      ["test_df.sum.preReduce", "flatMapBatch"],
      ["test_df.sum.statefulBatch", "statefulBatch"]
    ])
  })
})

describe("countFinal", () => {
  it("counts by key, emitted at EOF in key order", async () => {
    const out = await runOf(["a", "a", "b", "c", "b", "a"], (s) => op.countFinal("count", s, (x: string) => x))
    expect(out).toEqual([["a", 3], ["b", 2], ["c", 1]])
  })
})

describe("maxFinal, minFinal", () => {
  interface Row {
    readonly user: string
    readonly val: number
  }
  const rows: Array<Row> = [{ user: "a", val: 1 }, { user: "a", val: 9 }, { user: "a", val: 3 }]
  const byUser = (s: Stream<Row>) => op.keyOn("key", s, (r) => r.user)

  it("max by a field", async () => {
    expect(await runOf(rows, (s) => op.maxFinal("max", byUser(s), (r) => r.val))).toEqual([["a", { user: "a", val: 9 }]])
  })

  it("min by a field", async () => {
    expect(await runOf(rows, (s) => op.minFinal("min", byUser(s), (r) => r.val))).toEqual([["a", { user: "a", val: 1 }]])
  })

  it("on ties the earlier value wins; without `by` values compare themselves", async () => {
    const tied = [{ id: 1, v: 5 }, { id: 2, v: 5 }]
    expect(await runOf(tied, (s) => op.maxFinal("max", keyAll(s), (r) => r.v))).toEqual([["ALL", { id: 1, v: 5 }]])
    expect(await runOf(tied, (s) => op.minFinal("min", keyAll(s), (r) => r.v))).toEqual([["ALL", { id: 1, v: 5 }]])
    expect(await runOf([3, 1, 2], (s) => op.maxFinal("max", keyAll(s)))).toEqual([["ALL", 3]])
  })
})
