/**
 * The pipeable (data-last) form of the operators and `Stream.pipe`: types
 * are inferred through every step with no annotation (checked by `tsc`, which
 * type-checks this file in the package's `typecheck` target: a wrong type
 * below fails CI), and at run time the data-last and data-first forms build
 * the same graph and the same output.
 */
import { describe, expect, expectTypeOf, it } from "vitest"
import { Dataflow, type KeyedStream, op, runMain, type Stream } from "../src/index.js"
import { TestingSink, TestingSource } from "@weir/testing"

interface Order {
  readonly user: string
  readonly amount: number
}
const orders: ReadonlyArray<Order> = [
  { user: "ada", amount: 30 },
  { user: "bob", amount: 5 },
  { user: "ada", amount: 12 }
]

describe("pipe", () => {
  it("infers every type from the source with no annotation", async () => {
    const flow = new Dataflow("pipe_sum")
    const out: Array<readonly [string, number]> = []
    const sums = op
      .input("inp", flow, new TestingSource(orders))
      .pipe(
        op.keyOn("k", (o) => o.user),
        op.mapValue("a", (o) => o.amount),
        op.reduceFinal("sum", (a, b) => a + b)
      )
    expectTypeOf(sums).toEqualTypeOf<KeyedStream<number>>()
    sums.pipe(op.output("out", new TestingSink(out)))
    await runMain(flow)
    expect([...out].sort()).toEqual([
      ["ada", 42],
      ["bob", 5]
    ])
  })

  it("makes a typo in a field a compile error", () => {
    const flow = new Dataflow("pipe_typo")
    const inp = op.input("inp", flow, new TestingSource(orders))
    // @ts-expect-error — `amout` is not a field of Order
    inp.pipe(op.map("a", (o) => o.amout))
    // @ts-expect-error — a stream of numbers does not fit a sink of strings
    inp.pipe(op.map("b", (o) => o.amount), op.output("out", new TestingSink<string>()))
  })

  it("infers state types of statefulMap from the mapper", async () => {
    const flow = new Dataflow("pipe_state")
    const out: Array<readonly [string, string]> = []
    const running = op.input("inp", flow, new TestingSource(orders)).pipe(
      op.keyOn("k", (o) => o.user),
      op.statefulMap("total", (total: number | undefined, o) => {
        const next = (total ?? 0) + o.amount
        return [next, `${o.user}:${next}`] as const
      })
    )
    expectTypeOf(running).toEqualTypeOf<KeyedStream<`${string}:${number}`>>()
    running.pipe(op.output("out", new TestingSink(out)))
    await runMain(flow)
    expect(out).toEqual([
      ["ada", "ada:30"],
      ["bob", "bob:5"],
      ["ada", "ada:42"]
    ])
  })

  it("narrows with type guards and splits with branch", async () => {
    const flow = new Dataflow("pipe_branch")
    const evens: Array<number> = []
    const strings: Array<string> = []
    const mixed = op.input("inp", flow, new TestingSource<number | string>([1, "a", 2, "b", 4]))
    const nums = mixed.pipe(op.filter("nums", (x): x is number => typeof x === "number"))
    expectTypeOf(nums).toEqualTypeOf<Stream<number>>()
    const { trues, falses } = mixed.pipe(op.branch("split", (x): x is string => typeof x === "string"))
    expectTypeOf(trues).toEqualTypeOf<Stream<string>>()
    expectTypeOf(falses).toEqualTypeOf<Stream<number>>()
    trues.pipe(op.output("strs", new TestingSink(strings)))
    nums.pipe(op.filter("even", (x) => x % 2 === 0), op.output("evens", new TestingSink(evens)))
    await runMain(flow)
    expect(evens).toEqual([2, 4])
    expect(strings).toEqual(["a", "b"])
  })

  it("builds the same graph as the data-first form and .then", () => {
    const build = (form: "first" | "last" | "then"): unknown => {
      const flow = new Dataflow("same")
      const inp = op.input("inp", flow, new TestingSource([1, 2, 3]))
      if (form === "first") op.output("out", op.keyRm("unkey", op.keyOn("key", op.map("double", inp, (x) => x * 2), String)), new TestingSink())
      else if (form === "last") inp.pipe(op.map("double", (x) => x * 2), op.keyOn("key", String), op.keyRm("unkey"), op.output("out", new TestingSink()))
      else inp.then(op.map, "double", (x) => x * 2).then(op.keyOn, "key", String).then(op.keyRm, "unkey").then(op.output, "out", new TestingSink())
      return JSON.parse(JSON.stringify(flow, (k, v) => (k === "kernel" ? undefined : v)))
    }
    expect(build("last")).toEqual(build("first"))
    expect(build("then")).toEqual(build("first"))
  })

  it("types .then callbacks from the stream's items", () => {
    const flow = new Dataflow("then_types")
    const totals = op
      .input("inp", flow, new TestingSource(orders))
      .then(op.keyOn, "k", (o) => o.user)
      .then(op.mapValue, "a", (o) => o.amount)
    expectTypeOf(totals).toEqualTypeOf<KeyedStream<number>>()
    // @ts-expect-error — `amout` is not a field of Order
    op.input("inp2", flow, new TestingSource(orders)).then(op.map, "m", (o) => o.amout)
  })

  it("checks the step id of the data-last form at once", () => {
    expect(() => op.map("a.b", (x: number) => x)).toThrow("'stepId' can't contain any periods '.'; got 'a.b'")
  })

  it("still rejects a wrong upstream in the data-first form", () => {
    const notAStream = 5 as unknown as Stream<number>
    expect(() => op.map("m", notAStream, (x) => x)).toThrow("operator 'map': 'up' must be a `Stream`")
  })
})
