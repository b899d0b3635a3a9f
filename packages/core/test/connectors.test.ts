/** StdOutSink and RandomMetricSource at the partition level (test_stdio, test_demo); flow-level cases are in inputs.test.ts. */
import { inspect } from "node:util"
import { EOF, RandomMetricSource, StdOutSink, type StatelessSinkPartition } from "@weir/core"
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest"

/** Everything written to stdout while `f` runs, one string per write call. */
const captureStdout = async (f: () => unknown): Promise<Array<string>> => {
  const writes: Array<string> = []
  const spy = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    writes.push(String(chunk))
    return true
  })
  try {
    await f()
  } finally {
    spy.mockRestore()
  }
  return writes
}

describe("StdOutSink", () => {
  const sinkPart = () => new StdOutSink().build("test_df.out", 0, 1) as StatelessSinkPartition<unknown>

  it("writes each item and a newline, one write per batch", async () => {
    const part = sinkPart()
    const writes = await captureStdout(() => {
      part.writeBatch(["a", "b"])
      part.writeBatch(["c"])
    })
    expect(writes).toEqual(["a\nb\n", "c\n"])
  })

  it("prints items the way console.log does, one line each", async () => {
    const part = sinkPart()
    const big = { user: "ada", tags: Array.from({ length: 30 }, (_, i) => `tag${i}`) }
    const items = [1, "plain text", ["x", [0, 2]], { user: "ada", amount: 42 }, null, undefined, new Date(0), big]
    const writes = await captureStdout(() => part.writeBatch(items))
    const lines = writes.join("").split("\n")
    expect(lines.slice(0, 7)).toEqual([
      "1",
      "plain text",
      "[ 'x', [ 0, 2 ] ]",
      "{ user: 'ada', amount: 42 }",
      "null",
      "undefined",
      "1970-01-01T00:00:00.000Z"
    ])
    // A value console.log would spread over lines stays on one.
    expect(inspect(big).split("\n").length).toBeGreaterThan(1)
    expect(lines[7]).toBe(`{ user: 'ada', tags: [ ${big.tags.map((t) => `'${t}'`).join(", ")} ] }`)
    expect(lines).toHaveLength(items.length + 1)
    expect(lines[8]).toBe("")
  })

  it("writes nothing for an empty batch", async () => {
    const part = sinkPart()
    expect(await captureStdout(() => part.writeBatch([]))).toEqual([])
  })
})

describe("RandomMetricSource partition", () => {
  const start = new Date("2024-01-01T00:00:00Z")
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["Date"] })
    vi.setSystemTime(start)
  })
  afterEach(() => {
    vi.useRealTimers()
  })
  const at = (ms: number) => new Date(start.getTime() + ms)

  it("has one partition, named after the metric", () => {
    expect(new RandomMetricSource("volts").listParts()).toEqual(["volts"])
  })

  it("emits at once, then one value per interval on a fixed cadence, then ends after count", () => {
    const source = new RandomMetricSource("volts", { interval: "1 second", count: 3, nextRandom: () => 42 })
    const part = source.buildPart("test_df.inp", "volts", undefined)
    expect(part.nextAwake!()).toEqual(at(0))
    expect(part.nextBatch()).toEqual([["volts", 42]])
    expect(part.nextAwake!()).toEqual(at(1000))
    vi.setSystemTime(at(1300)) // polled late: the next one is still due at 2 s
    expect(part.nextBatch()).toEqual([["volts", 42]])
    expect(part.nextAwake!()).toEqual(at(2000))
    expect(part.nextBatch()).toEqual([["volts", 42]])
    expect(part.nextBatch()).toBe(EOF)
    expect(part.snapshot()).toEqual({ awakeAt: at(3000).getTime(), count: 3 })
  })

  it("resumes from its state: the count and when the next value is due", () => {
    const source = new RandomMetricSource("volts", { interval: 500, count: 3, nextRandom: () => 1 })
    const part = source.buildPart("test_df.inp", "volts", undefined)
    part.nextBatch()
    part.nextBatch()
    const state = part.snapshot()
    expect(state).toEqual({ awakeAt: at(1000).getTime(), count: 2 })
    vi.setSystemTime(at(60_000))
    const resumed = source.buildPart("test_df.inp", "volts", state)
    expect(resumed.nextAwake!()).toEqual(at(1000))
    expect(resumed.nextBatch()).toEqual([["volts", 1]])
    expect(resumed.nextBatch()).toBe(EOF)
  })

  it("snapshots are copies", () => {
    const part = new RandomMetricSource("volts", { interval: 0, count: 5 }).buildPart("s", "volts", undefined)
    const before = part.snapshot()
    part.nextBatch()
    expect(before.count).toBe(0)
    expect(part.snapshot().count).toBe(1)
  })

  it("defaults to integers 0..9 every 700 ms", () => {
    const part = new RandomMetricSource("volts").buildPart("s", "volts", undefined)
    for (let i = 0; i < 50; i++) {
      const batch = part.nextBatch() as Array<readonly [string, number]>
      const value = batch[0]![1]
      expect(Number.isInteger(value) && value >= 0 && value <= 9).toBe(true)
    }
    expect(part.nextAwake!()).toEqual(at(50 * 700))
  })
})
