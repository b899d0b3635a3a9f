import * as v8 from "node:v8"
import { describe, expect, it } from "vitest"
import { findUncloneable } from "../src/runtime/snapshotCheck.js"

class Counter {
  n = 0
  inc() {
    this.n++
  }
}

describe("findUncloneable: which snapshots survive a store", () => {
  const plain: ReadonlyArray<readonly [string, unknown]> = [
    ["a number", 1],
    ["a plain object", { a: 1, b: "x", c: [1, 2] }],
    ["a Map of plain values", new Map<string, unknown>([["k", { v: [1] }]])],
    ["a Set", new Set([1, "a"])],
    ["a Date", new Date(5)],
    ["a RegExp", /ab+/g],
    ["a bigint inside an object", { big: 10n }],
    ["typed arrays and a Buffer", [new Float64Array([1.5]), new Uint8Array([1]), Buffer.from("ab")]],
    ["an Error", new RangeError("x")],
    ["boxed primitives", [new Number(3), new String("s")]]
  ]
  it.each(plain)("accepts %s, which round-trips with its prototype", (_name, value) => {
    expect(findUncloneable(value)).toBeUndefined()
    const back = v8.deserialize(v8.serialize(value)) as unknown
    expect(Object.getPrototypeOf(back)).toBe(Object.getPrototypeOf(value))
  })

  it("accepts an object without prototype, which comes back as a plain object (it gains methods, loses none)", () => {
    const value = Object.assign(Object.create(null) as object, { a: 1 })
    expect(findUncloneable(value)).toBeUndefined()
    expect(v8.deserialize(v8.serialize(value))).toEqual({ a: 1 })
  })

  it("accepts a cycle", () => {
    const a: Record<string, unknown> = { x: 1 }
    a.self = a
    expect(findUncloneable(a)).toBeUndefined()
  })

  it("finds a class instance at the top, and says what V8 would make of it", () => {
    expect(findUncloneable(new Counter())).toEqual({ path: "state", type: "Counter" })
    expect(Object.getPrototypeOf(v8.deserialize(v8.serialize(new Counter())))).toBe(Object.prototype)
  })

  it("finds a class instance nested anywhere: objects, arrays, Map keys and values, Sets", () => {
    expect(findUncloneable({ totals: { ada: new Counter() } })).toEqual({ path: "state.totals.ada", type: "Counter" })
    expect(findUncloneable([1, [2, new Counter()]])).toEqual({ path: "state[1][1]", type: "Counter" })
    expect(findUncloneable(new Map([["k", new Counter()]]))).toEqual({ path: 'state.get("k")', type: "Counter" })
    expect(findUncloneable(new Map([[new Counter(), 1]]))).toEqual({ path: "state.keys()[0]", type: "Counter" })
    expect(findUncloneable({ s: new Set([new Counter()]) })).toEqual({ path: "state.s.values()[0]", type: "Counter" })
    expect(findUncloneable({ "odd key": new Counter() })).toEqual({ path: 'state["odd key"]', type: "Counter" })
  })

  it("finds subclasses of built-ins, which come back as the built-in", () => {
    class Totals extends Map<string, number> {}
    class AppError extends Error {}
    expect(findUncloneable({ t: new Totals() })).toEqual({ path: "state.t", type: "Totals" })
    expect(findUncloneable(new AppError("x"))).toEqual({ path: "state", type: "AppError" })
  })
})
