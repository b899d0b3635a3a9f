import * as v8 from "node:v8"
import { Worker } from "node:worker_threads"
import { describe, expect, it } from "vitest"
import { WeirRuntimeError } from "../src/errors.js"
import { decodeBatch, encodeBatch } from "../src/runtime/codec.js"

const roundTrip = (items: ReadonlyArray<unknown>): Array<unknown> => decodeBatch(encodeBatch("test.step", items))

/** What the recovery stores' serializer gives back: what a frame must give back too. */
const viaStore = (items: ReadonlyArray<unknown>): unknown => v8.deserialize(v8.serialize(items))

/** The frame's kind, from its header (byte 1). */
const kindOf = (frame: ArrayBuffer): string => ["any", "keyed numbers", "keyed", "v8"][new Uint8Array(frame)[1]!]!

const pairs = <X>(n: number, value: (i: number) => X): Array<[string, X]> =>
  Array.from({ length: n }, (_, i): [string, X] => [`key-${i % 1000}`, value(i)])

class Counter {
  n = 0
  inc() {
    this.n++
  }
}

const thrown = (f: () => unknown): WeirRuntimeError => {
  try {
    f()
  } catch (e) {
    expect(e).toBeInstanceOf(WeirRuntimeError)
    return e as WeirRuntimeError
  }
  throw new Error("expected a WeirRuntimeError, nothing was thrown")
}

describe("encodeBatch/decodeBatch: the frames items cross threads in", () => {
  it("[string, number] pairs go as columns, keeping -0, NaN and ±Infinity exactly", () => {
    const items = [["a", -0], ["b", NaN], ["c", Infinity], ["d", -Infinity], ["e", Number.MIN_VALUE], ["f", 2 ** 53 + 2], ["g", 1.5]]
    const frame = encodeBatch("test.step", items)
    expect(kindOf(frame)).toBe("keyed numbers")
    const back = decodeBatch(frame) as Array<[string, number]>
    expect(back).toStrictEqual(items)
    expect(Object.is(back[0]![1], -0)).toBe(true)
  })

  it("keys of any length and content survive the keys column: unicode, lone surrogates, empty, long", () => {
    const items = [
      ["ключ", 1],
      ["😀", 2],
      ["\ud800", 3],
      ["\udc00 then a longer key", 4],
      ["", 5],
      ["a".repeat(1000), 6],
      ["exactly13char", 7],
      ["twelve-chars", 8]
    ]
    expect(roundTrip(items)).toStrictEqual(items)
    expect(roundTrip(items.map(([k, n]) => [k, { n }]))).toStrictEqual(items.map(([k, n]) => [k, { n }]))
  })

  it("[string, anything] pairs go as the keys column and msgpack of the values", () => {
    const items = [["ada", { total: 3, tags: ["x"] }], ["bob", "text"], ["cy", 4], ["dee", null]]
    const frame = encodeBatch("test.step", items)
    expect(kindOf(frame)).toBe("keyed")
    expect(decodeBatch(frame)).toStrictEqual(items)
  })

  it("any other batch goes as msgpack of the whole array", () => {
    const items = [1, "two", { three: 3 }, [4, 4], ["not", "keyed", "pair"], [5, "number key"], undefined, null]
    const frame = encodeBatch("test.step", items)
    expect(kindOf(frame)).toBe("any")
    expect(decodeBatch(frame)).toStrictEqual(items)
  })

  it("an empty batch is a bare header", () => {
    const frame = encodeBatch("test.step", [])
    expect(frame.byteLength).toBe(16)
    expect(decodeBatch(frame)).toStrictEqual([])
  })

  it("large batches: 5,000 [string, number] pairs and 5,000 [string, object] pairs", () => {
    const numbers = pairs(5000, (i) => i * 1.5 - 100)
    const objects = pairs(5000, (i) => ({ user: `u${i}`, n: i, at: new Date(i), tags: i % 2 === 0 ? ["even"] : [] }))
    expect(roundTrip(numbers)).toStrictEqual(viaStore(numbers))
    expect(roundTrip(objects)).toStrictEqual(viaStore(objects))
  })
})

describe("decodeBatch gives back what the recovery store's serializer (node:v8) would", () => {
  const cycle: Record<string, unknown> = { name: "loop" }
  cycle.self = cycle
  let deep: unknown = "bottom"
  for (let i = 0; i < 100; i++) deep = { down: deep }

  const values: ReadonlyArray<readonly [string, unknown]> = [
    ["a Map with object, array and number keys", new Map<unknown, unknown>([[{ id: 1 }, "a"], [[1, 2], "b"], [3, { c: 4 }]])],
    ["a Map nested in a Set", new Set<unknown>([new Map([["k", new Set([1])]]), "x"])],
    ["Dates, also invalid and far from 1970", [new Date(1_700_000_000_123), new Date(-1), new Date(8.64e15), new Date(NaN)]],
    ["bigints: 2**70, its negative, the 64-bit edges", [2n ** 70n, -(2n ** 70n), 0n, -1n, 2n ** 64n - 1n, -(2n ** 63n)]],
    ["a bigint of 2,000 bits", -(2n ** 2000n) + 1n],
    [
      "every typed array kind",
      [
        Int8Array.of(-1),
        Uint8Array.of(255),
        Uint8ClampedArray.of(7),
        Int16Array.of(-300),
        Uint16Array.of(65535),
        Int32Array.of(-1e9),
        Uint32Array.of(4e9),
        Float32Array.of(1.5),
        Float64Array.of(-0, NaN, Infinity),
        BigInt64Array.of(-(2n ** 63n), 5n),
        BigUint64Array.of(2n ** 64n - 1n)
      ]
    ],
    ["a Buffer, an ArrayBuffer and a DataView", [Buffer.from("héllo"), Uint8Array.of(1, 2).buffer, new DataView(Uint8Array.of(3, 4).buffer)]],
    ["nested plain objects and arrays", { a: { b: [1, { c: "x", d: [[], {}] }] }, e: [] }],
    ["an object without prototype (it comes back as a plain object)", Object.assign(Object.create(null) as object, { a: 1 })],
    ["a sparse array", [1, , 3]],
    ["undefined and null, also as properties", [undefined, null, { a: undefined, b: null }]],
    ["NaN, ±Infinity and -0 as values", [NaN, Infinity, -Infinity, -0, { zero: -0 }]],
    ["unicode and lone surrogates in strings and property names", ["héllo", "😀", "\ud800", "a\udc00b".repeat(20), { "\ud83d": "x", ключ: "значение" }]],
    ["a RegExp", /ab+c/giu],
    ["an Error", new RangeError("boom", { cause: "why" })],
    ["boxed primitives", [new Number(3), new String("s"), new Boolean(false)]],
    ["a cycle", cycle],
    ["an own __proto__ key", JSON.parse("{\"__proto__\": {\"x\": 1}, \"a\": 2}")],
    ["100 levels of nesting", deep]
  ]

  it.each(values)("%s, as a keyed value, an item and among other items", (_name, value) => {
    for (const items of [[["k", value]], [value], [["k", 1], value, "other"]]) {
      expect(roundTrip(items)).toStrictEqual(viaStore(items))
    }
  })

  it("an Error keeps its stack", () => {
    const error = new TypeError("boom")
    const [[, back]] = roundTrip([["k", error]]) as [[string, Error]]
    expect(back.stack).toBe(error.stack)
  })

  it("msgpack carries what it keeps exactly; what it would change goes through V8's serializer", () => {
    // msgpack turns -0 into 0, lone surrogates into U+FFFD, holes into undefined, boxed primitives into
    // objects, drops an Error's stack, renames an own `__proto__` key and overflows the stack on a cycle.
    const exact = [{ a: [1, "é"] }, new Map([[{ k: 1 }, new Set([2n ** 70n])]]), new Date(5), Float64Array.of(-0), Buffer.from("x"), /x/]
    for (const value of exact) expect(kindOf(encodeBatch("test.step", [["k", value]]))).toBe("keyed")
    const changed = [{ z: -0 }, "\ud800", { "\udc00": 1 }, [1, , 3], new Number(1), new Error("x"), cycle, JSON.parse("{\"__proto__\": 1}"), deep]
    for (const value of changed) expect(kindOf(encodeBatch("test.step", [["k", value]]))).toBe("v8")
    expect(kindOf(encodeBatch("test.step", [["k", 1], ["j", , ]]))).toBe("v8")
  })

  it("decoded values keep no part of the frame alive", () => {
    const frame = encodeBatch("test.step", [["k", [Float64Array.of(1), Buffer.from("ab"), Uint8Array.of(1).buffer]]])
    const [[, [floats, buffer, arrayBuffer]]] = decodeBatch(frame) as [[string, [Float64Array, Buffer, ArrayBuffer]]]
    expect(floats.buffer).not.toBe(frame)
    expect(Buffer.isBuffer(buffer)).toBe(true)
    expect(buffer.buffer).not.toBe(frame)
    expect(arrayBuffer).not.toBe(frame)
  })

  // Where every kind but V8's differs from the store: these are copies of plain data, not a heap graph.
  it("a value referenced twice arrives as two equal copies (V8 keeps one), and an array's extra properties are dropped", () => {
    const shared = { s: 1 }
    const [[, [a, b]]] = roundTrip([["k", [shared, shared]]]) as [[string, [object, object]]]
    expect(a).toStrictEqual(b)
    expect(a).not.toBe(b)
    const [[, withProp]] = roundTrip([["k", Object.assign([1, 2], { extra: "x" })]]) as [[string, Array<number>]]
    expect(withProp).toStrictEqual([1, 2])
  })
})

describe("encodeBatch refuses what can't cross a thread", () => {
  const message = (items: ReadonlyArray<unknown>): string => {
    const error = thrown(() => encodeBatch("flow.count", items))
    expect(error.stepId).toBe("flow.count")
    expect(error.message).toContain("'flow.count'")
    expect(error.message).toContain("clusterMain")
    return error.message
  }

  it("a function, with where it sits", () => {
    const text = message([["k", 1], ["j", { onDone: () => 1 }]])
    expect(text).toContain("a function at `item[1].onDone`")
    expect(text).toContain("a function can't be copied")
  })

  it("a symbol, with where it sits", () => {
    const text = message([{ tags: ["a", Symbol("b")] }])
    expect(text).toContain("a symbol at `item.tags[1]`")
  })

  it("a class instance nested in a Map inside an object, with its class and where it sits", () => {
    const text = message([["k", { totals: new Map([["ada", new Counter()]]) }]])
    expect(text).toContain("a `Counter` instance at `item[1].totals.get(\"ada\")`")
    expect(text).toContain("would arrive without its methods")
  })

  it("a class instance as the item itself, and a subclass of a built-in", () => {
    expect(message([new Counter()])).toContain("a `Counter` instance at `item`")
    class Totals extends Map<string, number> {}
    expect(message([["k", new Totals()]])).toContain("a `Totals` instance at `item[1]`")
  })

  it("even in a batch that would go through V8's serializer (which would drop the class silently)", () => {
    expect(message([["k", { z: -0, c: new Counter() }]])).toContain("a `Counter` instance at `item[1].c`")
  })
})

describe("frames are the caller's to transfer", () => {
  it("a frame is its own ArrayBuffer: transferring detaches it and the copy decodes", () => {
    const items = [["a", 1], ["b", 2]]
    const frame = encodeBatch("test.step", items)
    const other = encodeBatch("test.step", [["c", { x: 1 }]])
    const moved = structuredClone(frame, { transfer: [frame] })
    expect(frame.byteLength).toBe(0)
    expect(decodeBatch(moved)).toStrictEqual(items)
    expect(decodeBatch(other)).toStrictEqual([["c", { x: 1 }]])
  })

  it("a frame encoded here decodes on another thread", async () => {
    const items = [["ada", { total: 3, seen: new Map<unknown, unknown>([[{ id: 1 }, new Set([2n ** 70n])]]) }], ["bob", [Float64Array.of(-0)]]]
    const frame = encodeBatch("test.step", items)
    // The worker imports the codec through tsx, as a fresh module: its own msgpack decoder, nothing shared.
    const worker = new Worker(
      `
      const { parentPort, workerData } = require("node:worker_threads")
      parentPort.once("message", async (frame) => {
        const { register } = await import("tsx/esm/api")
        register()
        const { decodeBatch } = await import(workerData)
        parentPort.postMessage(decodeBatch(frame))
      })`,
      { eval: true, workerData: new URL("../src/runtime/codec.ts", import.meta.url).href }
    )
    try {
      const back = new Promise((resolve, reject) => {
        worker.once("message", resolve)
        worker.once("error", reject)
      })
      worker.postMessage(frame, [frame])
      expect(frame.byteLength).toBe(0)
      expect(await back).toStrictEqual(viaStore(items))
    } finally {
      await worker.terminate()
    }
  })
})
