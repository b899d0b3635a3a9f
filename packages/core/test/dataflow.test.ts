import { Dataflow, defineOperator, op, runMain, type Stream } from "@weir/core"
import { TestingSink, TestingSource } from "@weir/testing"
import { describe, expect, it } from "vitest"

describe("Dataflow definition", () => {
  it("a flow id can't contain a period", () => {
    expect(() => new Dataflow("a.b")).toThrow("flow ID can't contain a period `.`")
  })

  it("operators with named downstreams wire every returned stream", async () => {
    const split = defineOperator(
      "split",
      { ups: [{ name: "up", index: 0, kind: "one" }] },
      (up: Stream<number>) => {
        const { trues, falses } = op.branch("branch", up, (x) => x % 2 === 0)
        return { evens: trues, odds: falses }
      }
    )
    const flow = new Dataflow("test_df")
    const evens: Array<number> = []
    const odds: Array<number> = []
    const out = split("split", op.input("inp", flow, new TestingSource([1, 2, 3, 4])))
    op.output("evens", out.evens, new TestingSink(evens))
    op.output("odds", out.odds, new TestingSink(odds))
    expect(out.evens.id).toBe("test_df.split.evens")
    await runMain(flow)
    expect(evens).toEqual([2, 4])
    expect(odds).toEqual([1, 3])
  })

  it("an operator with an optional extra argument works with and without it", async () => {
    const scale = defineOperator(
      "scale",
      { ups: [{ name: "up", index: 0, kind: "one" }] },
      (up: Stream<number>, options: { readonly by?: number } = {}) => op.map("map", up, (x) => x * (options.by ?? 1))
    )
    const flow = new Dataflow("test_df")
    const out: Array<number> = []
    const inp = op.input("inp", flow, new TestingSource([1, 2]))
    op.output("out", op.merge("both", scale("once", inp), scale("twice", inp, { by: 2 })), new TestingSink(out))
    await runMain(flow)
    expect(out.sort()).toEqual([1, 2, 2, 4])
  })

  it("passing a list of streams as a plain argument is refused", () => {
    const flow = new Dataflow("test_df")
    const inp = op.input("inp", flow, new TestingSource([1]))
    const takesOne = defineOperator(
      "takesOne",
      { ups: [{ name: "up", index: 0, kind: "one" }] },
      (up: Stream<number>, _more: ReadonlyArray<Stream<number>>) => op.map("map", up, (x) => x)
    )
    const nested = defineOperator(
      "nested",
      { ups: [{ name: "up", index: 0, kind: "one" }] },
      (up: Stream<number>, others: ReadonlyArray<Stream<number>>) => takesOne("inner", others[0]!, [up])
    )
    expect(() => nested("n", inp, [inp])).toThrow(/inconsistent stream scoping/)
  })

  it("then chains operators fluently", async () => {
    const flow = new Dataflow("test_df")
    const out: Array<number> = []
    op.input("inp", flow, new TestingSource([0, 1, 2]))
      .then(op.map, "add_one", (x: number) => x + 1)
      .then(op.output, "out", new TestingSink(out))
    await runMain(flow)
    expect(out).toEqual([1, 2, 3])
  })

  it("a step id must be a string", () => {
    const flow = new Dataflow("test_df")
    expect(() => op.input(1 as unknown as string, flow, new TestingSource([1]))).toThrow(
      "'stepId' must be a `string`; got a `number` instead"
    )
  })

  it("a step id can't contain periods", () => {
    const flow = new Dataflow("test_df")
    expect(() => op.input("1.5", flow, new TestingSource([1]))).toThrow("'stepId' can't contain any periods '.'")
  })

  it("a non-stream upstream is refused", () => {
    expect(() => op.map("map", 1 as unknown as Stream<number>, (x: number) => x)).toThrow(
      "operator 'map': 'up' must be a `Stream`; got a `number` instead"
    )
  })

  it("non-stream varargs are refused", () => {
    expect(() => op.merge("map", ...([1, 2, 3] as unknown as Array<Stream<number>>))).toThrow(
      "operator 'merge': 'ups' must be a `Stream`; got a `number` instead"
    )
  })

  it("duplicate step ids among siblings are refused; the same id under another parent is fine", () => {
    const flow = new Dataflow("test_df")
    const inp = op.input("inp", flow, new TestingSource([1]))
    op.map("m", inp, (x: number) => x)
    expect(() => op.map("m", inp, (x: number) => x)).toThrow(
      "step 'test_df.m' already exists; do you have two steps with the same ID?"
    )
    // The failed call left nothing behind, so a different id still works.
    expect(op.map("m2", inp, (x: number) => x).id).toBe("test_df.m2.down")
  })

  it("streams from another flow can't be mixed in", () => {
    const a = op.input("inp", new Dataflow("a"), new TestingSource([1]))
    const b = op.input("inp", new Dataflow("b"), new TestingSource([1]))
    expect(() => op.merge("m", a, b)).toThrow(/inconsistent stream scoping/)
  })
})
