/**
 * Stateless composites (catalogue §1: test_map, test_map_value, test_filter*,
 * test_flat_map, test_flatten, test_key_on, test_inspect, test_raises,
 * helpers/test_map_dict_value), plus the shape errors each one reports.
 */
import { Dataflow, type KeyedStream, op, runMain, type Step } from "@weir/core"
import { TestingSource } from "@weir/testing"
import { describe, expect, it } from "vitest"
import { failsWith, flowOf, keyAll, runOf } from "./helpers.js"

describe("map, mapValue", () => {
  it("map adds one", async () => {
    expect(await runOf([0, 1, 2], (s) => op.map("add_one", s, (x: number) => x + 1))).toEqual([1, 2, 3])
  })

  it("mapValue adds one to values and keeps keys", async () => {
    expect(await runOf([0, 1, 2], (s) => op.mapValue("add_one", keyAll(s), (x: number) => x + 1))).toEqual([
      ["ALL", 1],
      ["ALL", 2],
      ["ALL", 3]
    ])
  })

  it("map is one flatMapBatch kernel step named after it", () => {
    const flow = new Dataflow("test_df")
    op.map("add_one", op.input("inp", flow, new TestingSource([0])), (x: number) => x + 1)
    const step = flow.substeps.find((s) => s.stepName === "add_one")!
    expect(step.opType).toBe("map")
    expect(step.substeps.map((s: Step) => [s.id, s.opType])).toEqual([["test_df.add_one.flatMapBatch", "flatMapBatch"]])
  })

  it("mapValue on items that aren't [key, value] pairs fails the run", async () => {
    const { flow } = flowOf([1], (s) => op.mapValue("m", s as unknown as KeyedStream<number>, (x: number) => x))
    await failsWith(flow, "step 'test_df.m' requires `[key, value]` 2-element arrays from upstream; got a `number` instead")
  })
})

describe("filter, filterValue, filterMap, filterMapValue", () => {
  it("filter keeps odd numbers", async () => {
    expect(await runOf([1, 2, 3], (s) => op.filter("filter", s, (x: number) => x % 2 === 1))).toEqual([1, 3])
  })

  it("filter narrows with a type guard", async () => {
    const out: Array<number> = await runOf<number | string, number>([1, "x", 2], (s) =>
      op.filter("f", s, (x): x is number => typeof x === "number"))
    expect(out).toEqual([1, 2])
  })

  it("a predicate that doesn't return a boolean fails the run, naming step and type", async () => {
    const { flow } = flowOf([1], (s) => op.filter("f", s, () => "yes" as unknown as boolean))
    const err = await failsWith(flow, "return value of `predicate` in step 'test_df.f' must be a `boolean`; got a `string` instead")
    expect(err.stepId).toBe("test_df.f.flatMapBatch")
  })

  it("filterValue filters on values after keyOn", async () => {
    expect(await runOf([1, 2, 3], (s) => op.filterValue("fv", keyAll(s), (x: number) => x % 2 === 1))).toEqual([
      ["ALL", 1],
      ["ALL", 3]
    ])
  })

  it("filterValue's predicate must return a boolean too", async () => {
    const { flow } = flowOf([1], (s) => op.filterValue("fv", keyAll(s), () => 1 as unknown as boolean))
    await failsWith(flow, "return value of `predicate` in step 'test_df.fv' must be a `boolean`; got a `number` instead")
  })

  it("filterMap drops undefined and maps the rest", async () => {
    const out = await runOf(range6, (s) => op.filterMap("fm", s, (x: number) => (x % 2 === 1 ? undefined : x + 1)))
    expect(out).toEqual([1, 3, 5])
  })

  it("filterMap drops null as well", async () => {
    const out = await runOf(range6, (s) => op.filterMap("fm", s, (x: number) => (x % 2 === 1 ? null : x)))
    expect(out).toEqual([0, 2, 4])
  })

  it("filterMapValue does the same on values", async () => {
    const inp = range6.map((x) => ["ALL", x] as const)
    const out = await runOf(inp, (s) => op.filterMapValue("fm", s, (x: number) => (x % 2 === 1 ? undefined : x + 1)))
    expect(out).toEqual([["ALL", 1], ["ALL", 3], ["ALL", 5]])
  })
})

const range6 = [0, 1, 2, 3, 4, 5]

describe("flatMap, flatMapValue, flatten", () => {
  it("flatMap flattens returned arrays", async () => {
    expect(await runOf(["split this"], (s) => op.flatMap("split", s, (x: string) => x.split(" ")))).toEqual(["split", "this"])
  })

  it("flatMap accepts generators", async () => {
    const inp: Array<readonly [string, number]> = [["a", 2], ["b", 4]]
    const out = await runOf(inp, (s) =>
      op.flatMap("repeat", s, function*([x, n]: readonly [string, number]) {
        for (let i = 0; i < n; i++) yield x
      }))
    expect(out).toEqual(["a", "a", "b", "b", "b", "b"])
  })

  it("flatMap's mapper must return an iterable", async () => {
    const { flow } = flowOf([1], (s) => op.flatMap("fm", s, (x: number) => x as unknown as Array<number>))
    await failsWith(flow, "return value of `mapper` in step 'test_df.fm' must be an iterable; got a `number` instead")
  })

  it("flatMapValue emits every value with the item's key", async () => {
    const out = await runOf([["a", "xy"], ["b", ""], ["c", "z"]] as const, (s) =>
      op.flatMapValue("letters", s, (w: string) => w.split("")))
    expect(out).toEqual([["a", "x"], ["a", "y"], ["c", "z"]])
  })

  it("flatMapValue refuses items that aren't [key, value] pairs", async () => {
    const { flow } = flowOf([["a", 1, 2]], (s) => op.flatMapValue("fmv", s as unknown as KeyedStream<number>, (x: number) => [x]))
    await failsWith(flow, "step 'test_df.fmv' requires `[key, value]` 2-element arrays from upstream; got a `Array(3)` instead")
  })

  it("flatten moves sub-items up; empty lists vanish", async () => {
    expect(await runOf([[1, 2], [], [3]], (s) => op.flatten("flatten", s))).toEqual([1, 2, 3])
  })

  it("flatten refuses non-iterable items", async () => {
    const { flow } = flowOf([666] as unknown as Array<Array<number>>, (s) => op.flatten("flatten", s))
    await failsWith(flow, "step 'test_df.flatten' requires upstream items to be iterables; got a `number` instead")
  })
})

describe("keyOn, keyRm", () => {
  it("the key function's result becomes the key", async () => {
    expect(await runOf([1, 2, 3], (s) => op.keyOn("key", s, String))).toEqual([["1", 1], ["2", 2], ["3", 3]])
  })

  it("a non-string key fails the run", async () => {
    const { flow } = flowOf([1], (s) => op.keyOn("key", s, (x: number) => x as unknown as string))
    const err = await failsWith(flow, "return value of `key` in step 'test_df.key' must be a `string`; got a `number` instead")
    expect(err.stepId).toBe("test_df.key.flatMapBatch")
  })

  it("keyRm drops the keys", async () => {
    expect(await runOf([1, 2], (s) => op.keyRm("unkey", keyAll(s)))).toEqual([1, 2])
  })
})

describe("inspect", () => {
  it("the inspector gets the fully-qualified step id and the item (and counts as an output)", async () => {
    const flow = new Dataflow("test_df")
    const seen: Array<unknown> = []
    op.inspect("insp", op.input("inp", flow, new TestingSource(["a"])), (stepId, item) => void seen.push([stepId, item]))
    await runMain(flow)
    expect(seen).toEqual([["test_df.insp", "a"]])
  })

  it("passes items on when chained", async () => {
    const seen: Array<unknown> = []
    const out = await runOf(["a"], (s) => s.then(op.inspect, "insp", (stepId: string, item: string) => void seen.push([stepId, item])))
    expect(seen).toEqual([["test_df.insp", "a"]])
    expect(out).toEqual(["a"])
  })
})

describe("raises", () => {
  it("any item fails the run", async () => {
    const flow = new Dataflow("test_df")
    op.raises("raises", op.input("inp", flow, new TestingSource([0, 1, 2])))
    const err = await failsWith(flow, "`raises` step 'test_df.raises' got an item: 0")
    expect(err.stepId).toBe("test_df.raises.inspectDebug")
  })
})

describe("mapDictValue", () => {
  it("maps one field of each object", async () => {
    const out = await runOf([{ a: 0, b: 0 }, { a: 1, b: 0 }, { a: 2, b: 0 }], (s) =>
      op.map("m", s, op.mapDictValue("a", (a: number) => a + 1)))
    expect(out).toEqual([{ a: 1, b: 0 }, { a: 2, b: 0 }, { a: 3, b: 0 }])
  })
})
