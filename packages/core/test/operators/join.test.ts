/**
 * join (catalogue §1: test_join): rows are arrays with one slot per side,
 * `undefined` for a missing side; product rows are left-major.
 */
import { Dataflow, type KeyedStream, op, runMain, type Step } from "@weir/core"
import { InMemoryRecovery, TestingSink, TestingSource, type TestingSourceItem } from "@weir/testing"
import { describe, expect, expectTypeOf, it } from "vitest"

type JoinOptions = Parameters<typeof op.join>[2]

/** Left and right inputs keyed "ALL", joined, unkeyed; arrival order L1, R1, L2, R2, … */
const joinOf = async (
  lefts: Array<TestingSourceItem<number>>,
  rights: Array<TestingSourceItem<number>>,
  options?: JoinOptions,
  recovery?: InMemoryRecovery
): Promise<Array<unknown>> => {
  const flow = new Dataflow("test_df")
  const out: Array<unknown> = []
  const l = op.keyOn("key_l", op.input("inp_l", flow, new TestingSource(lefts)), () => "ALL")
  const r = op.keyOn("key_r", op.input("inp_r", flow, new TestingSource(rights)), () => "ALL")
  op.join("join", [l, r], options).then(op.keyRm, "unkey").then(op.output, "out", new TestingSink(out))
  await runMain(flow, recovery === undefined ? {} : { epochInterval: 0, recovery })
  return out
}

describe("join", () => {
  it("rows are the product of the sides, an empty side giving undefined", () => {
    expect(op.joinRows([[1, 2], [], [3, 4]])).toEqual([
      [1, undefined, 3],
      [1, undefined, 4],
      [2, undefined, 3],
      [2, undefined, 4]
    ])
  })

  it("last/complete emits once every side has a value", async () => {
    expect(await joinOf([1], [2], { insertMode: "last", emitMode: "complete" })).toEqual([[1, 2]])
  })

  it("defaults to last/complete", async () => {
    expect(await joinOf([1], [2])).toEqual([[1, 2]])
  })

  it("first/final keeps the first value per side, emitted at EOF", async () => {
    expect(await joinOf([1], [2, 3], { insertMode: "first", emitMode: "final" })).toEqual([[1, 2]])
  })

  it("last/final keeps the last value per side", async () => {
    expect(await joinOf([1], [2, 3], { insertMode: "last", emitMode: "final" })).toEqual([[1, 3]])
  })

  it("last/running emits on every value, undefined for missing sides", async () => {
    expect(await joinOf([1], [2, 3], { insertMode: "last", emitMode: "running" })).toEqual([[1, undefined], [1, 2], [1, 3]])
  })

  it("product/final emits the cartesian product at EOF", async () => {
    expect(await joinOf([1, 2], [3, 4], { insertMode: "product", emitMode: "final" })).toEqual([
      [1, 3],
      [1, 4],
      [2, 3],
      [2, 4]
    ])
  })

  it("complete is one-shot: after a row the key starts over", async () => {
    // L1, R2 → row; then L3 starts a fresh state, R4 completes it.
    expect(await joinOf([1, 3], [2, 4])).toEqual([[1, 2], [3, 4]])
  })

  it("a pending join state survives a restart", async () => {
    const recovery = new InMemoryRecovery()
    const lefts = [1, new TestingSource.ABORT()]
    const rights = [new TestingSource.PAUSE(0), new TestingSource.PAUSE(0), 2]
    expect(await joinOf(lefts, rights, {}, recovery)).toEqual([])
    expect(await joinOf(lefts, rights, {}, recovery)).toEqual([[1, 2]])
  })

  it("unknown modes are refused when the flow is defined", () => {
    const flow = new Dataflow("test_df")
    const l = op.keyOn("k", op.input("inp", flow, new TestingSource([1])), () => "ALL")
    expect(() => op.join("join", [l], { emitMode: "eventually" as "final" })).toThrow("unknown join emit mode 'eventually'")
    expect(() => op.join("join2", [l], { insertMode: "middle" as "first" })).toThrow("unknown join insert mode 'middle'")
  })

  it("types each row slot by its side", () => {
    const flow = new Dataflow("test_df")
    const names: KeyedStream<string> = op.keyOn("kn", op.input("names", flow, new TestingSource(["ada"])), (s) => s)
    const ages: KeyedStream<number> = op.keyOn("ka", op.input("ages", flow, new TestingSource([36])), String)
    const joined = op.join("join", [names, ages])
    expectTypeOf(joined).toEqualTypeOf<KeyedStream<[string | undefined, number | undefined]>>()
    const step = flow.substeps.find((s) => s.stepName === "join")!
    expect(step.substeps.map((s: Step) => s.opType)).toEqual(["mapValue", "mapValue", "merge", "statefulBatch"])
  })
})
