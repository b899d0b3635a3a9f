/** PacedSource: its partitions, its pace on the run's clock, resuming, and what it refuses. */
import { Dataflow, EOF, op, runMain, type StatefulSourcePartition } from "@weir/core"
import { afterEach, describe, expect, it, vi } from "vitest"
import { PacedSource, TestingSink, VirtualClock } from "../src/index.js"

const part = <X>(source: PacedSource<X>, name: string, resume?: number) =>
  source.buildPart("test_df.inp", name, resume) as StatefulSourcePartition<X, number>

describe("PacedSource partitions", () => {
  it("lists p0 … p<parts-1>; each emits its indexes batchSize at a time, then EOF", () => {
    const source = new PacedSource({ parts: 3, perPart: 5, batchSize: 2, interval: "1 millis" })
    expect(source.listParts()).toEqual(["p0", "p1", "p2"])
    const p = part(source, "p1")
    expect(p.nextBatch()).toEqual([0, 1])
    expect(p.nextBatch()).toEqual([2, 3])
    expect(p.nextBatch()).toEqual([4])
    expect(p.nextBatch()).toBe(EOF)
  })

  it("makes each item with `item(part, index)`", () => {
    const source = new PacedSource({ parts: 2, perPart: 3, batchSize: 3, interval: 0, item: (p, i) => `p${p}-${i}` })
    expect(part(source, "p0").nextBatch()).toEqual(["p0-0", "p0-1", "p0-2"])
    expect(part(source, "p1").nextBatch()).toEqual(["p1-0", "p1-1", "p1-2"])
  })

  it("its resume state is the number of items emitted; a resumed partition continues after them", () => {
    const source = new PacedSource({ perPart: 4, interval: 0 })
    const p = part(source, "p0")
    expect(p.snapshot()).toBe(0)
    expect(p.nextBatch()).toEqual([0])
    expect(p.nextBatch()).toEqual([1])
    expect(p.snapshot()).toBe(2)
    const resumed = part(source, "p0", p.snapshot())
    expect(resumed.nextBatch()).toEqual([2])
    expect(resumed.nextBatch()).toEqual([3])
    expect(resumed.snapshot()).toBe(4)
    expect(resumed.nextBatch()).toBe(EOF)
    expect(part(source, "p0", 4).nextBatch()).toBe(EOF)
  })

  it("perPart 0 ends at once", () => {
    expect(part(new PacedSource({ perPart: 0, interval: 0 }), "p0").nextBatch()).toBe(EOF)
  })
})

describe("PacedSource pace", () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it("wants its first batch at once and each later one `interval` after the last", () => {
    vi.useFakeTimers({ toFake: ["Date"] })
    vi.setSystemTime(new Date("2024-01-01T00:00:00Z"))
    const p = part(new PacedSource({ perPart: 3, interval: "2 seconds" }), "p0")
    expect(p.nextAwake!()!.getTime()).toBeLessThanOrEqual(Date.now())
    expect(p.nextBatch()).toEqual([0])
    expect(p.nextAwake!()).toEqual(new Date("2024-01-01T00:00:02Z"))
    vi.setSystemTime(new Date("2024-01-01T00:00:05Z"))
    expect(p.nextBatch()).toEqual([1])
    expect(p.nextAwake!()).toEqual(new Date("2024-01-01T00:00:07Z"))
  })

  it("paces on the run's clock: on a VirtualClock a virtual hour passes between batches", async () => {
    const clock = new VirtualClock(new Date("2024-01-01T00:00:00Z"))
    const seen: Array<readonly [number, number]> = []
    const out: Array<number> = []
    const flow = new Dataflow("test_df")
    op.input("inp", flow, new PacedSource({ perPart: 3, interval: "1 hour" }))
      .then(op.inspect, "when", (_step: string, x: number) => void seen.push([x, clock.now()]))
      .then(op.output, "out", new TestingSink(out))
    await runMain(flow, { clock })
    expect(out).toEqual([0, 1, 2])
    expect(seen[1]![1] - seen[0]![1]).toBeGreaterThanOrEqual(3_600_000)
    expect(seen[2]![1] - seen[1]![1]).toBeGreaterThanOrEqual(3_600_000)
  })

  it("a run reads every item of every partition", async () => {
    const out: Array<string> = []
    const flow = new Dataflow("test_df")
    const source = new PacedSource({ parts: 3, perPart: 50, batchSize: 7, interval: "1 millis", item: (p, i) => `${p}:${i}` })
    op.input("inp", flow, source).then(op.output, "out", new TestingSink(out))
    await runMain(flow)
    const expected = [0, 1, 2].flatMap((p) => Array.from({ length: 50 }, (_, i) => `${p}:${i}`))
    expect(out.toSorted()).toEqual(expected.toSorted())
    // Each partition's items arrive in order.
    for (const p of [0, 1, 2]) expect(out.filter((x) => x.startsWith(`${p}:`))).toEqual(expected.filter((x) => x.startsWith(`${p}:`)))
  })
})

describe("PacedSource options", () => {
  it("refuses counts that are not integers and intervals that are not durations", () => {
    expect(() => new PacedSource({ parts: 0, perPart: 1, interval: 0 })).toThrow(
      new TypeError("PacedSource: parts must be a positive integer; got 0")
    )
    expect(() => new PacedSource({ perPart: 1, batchSize: 1.5, interval: 0 })).toThrow(
      new TypeError("PacedSource: batchSize must be a positive integer; got 1.5")
    )
    expect(() => new PacedSource({ perPart: -1, interval: 0 })).toThrow(
      new TypeError("PacedSource: perPart must be a non-negative integer; got -1")
    )
    expect(() => new PacedSource({ perPart: 1, interval: "Infinity" })).toThrow(
      new TypeError("PacedSource: interval must be a finite duration of 0 or more, such as \"5 millis\"; got Infinity")
    )
    expect(() => new PacedSource({ perPart: 1, interval: "soon" as "5 millis" })).toThrow(/interval must be a finite duration.*got soon/)
  })
})
