/** The Bytewax 0.21 testing-helper cases (test catalogue §9), ported. */
import { AbortExecution, Dataflow, EOF, op, runMain, type StatefulSourcePartition } from "@weir/core"
import { describe, expect, it } from "vitest"
import { ffwdIter, InMemoryRecovery, pollNextBatch, TestingSink, TestingSource, TimeTestingGetter, VirtualClock } from "../src/index.js"

const part = <X>(source: TestingSource<X>, resume?: number) =>
  source.buildPart("test_df.inp", "iterable", resume) as StatefulSourcePartition<X, number>

describe("ffwdIter", () => {
  it("skips items", () => {
    const it = [0, 1, 2, 3, 4][Symbol.iterator]()
    expect(it.next().value).toBe(0)
    ffwdIter(it, 3)
    expect(it.next().value).toBe(4)
    expect(it.next().done).toBe(true)
  })
})

describe("TestingSource partition", () => {
  it("emits one item per batch, then EOF; close is fine", () => {
    const p = part(new TestingSource([0, 1, 2]))
    expect(p.nextBatch()).toEqual([0])
    expect(p.nextBatch()).toEqual([1])
    expect(p.nextBatch()).toEqual([2])
    expect(p.nextBatch()).toBe(EOF)
    expect(() => p.close?.()).not.toThrow()
  })

  it("its resume state is the number of elements consumed", () => {
    const source = new TestingSource([0, 1, 2])
    const p = part(source)
    expect(p.nextBatch()).toEqual([0])
    expect(p.nextBatch()).toEqual([1])
    expect(p.snapshot()).toBe(2)
    expect(p.nextBatch()).toEqual([2])
    const resumed = part(source, 2)
    expect(resumed.snapshot()).toBe(2)
    expect(resumed.nextBatch()).toEqual([2])
    expect(resumed.nextBatch()).toBe(EOF)
  })

  it("batches up to batchSize items", () => {
    const p = part(new TestingSource([0, 1, 2, 3, 4], 2))
    expect(p.nextBatch()).toEqual([0, 1])
    expect(p.nextBatch()).toEqual([2, 3])
    expect(p.nextBatch()).toEqual([4])
  })

  it("EOF ends the partition; a rebuilt one continues after it", () => {
    const source = new TestingSource([0, 1, 2, new TestingSource.EOF(), 3, 4], 2)
    const p = part(source)
    expect(p.nextBatch()).toEqual([0, 1])
    expect(p.nextBatch()).toEqual([2])
    expect(p.nextBatch()).toBe(EOF)
    const resumed = part(source, p.snapshot())
    expect(resumed.nextBatch()).toEqual([3, 4])
    expect(resumed.nextBatch()).toBe(EOF)
  })

  it("ABORT aborts once; a partition rebuilt from an earlier snapshot skips it", () => {
    const source = new TestingSource([0, 1, 2, new TestingSource.ABORT(), 3, 4], 2)
    const p = part(source)
    expect(p.nextBatch()).toEqual([0, 1])
    expect(p.snapshot()).toBe(2)
    expect(p.nextBatch()).toEqual([2])
    expect(() => p.nextBatch()).toThrow(AbortExecution)
    const resumed = part(source, 2)
    expect(resumed.nextBatch()).toEqual([2, 3])
    expect(resumed.nextBatch()).toEqual([4])
    expect(resumed.nextBatch()).toBe(EOF)
  })

  it("PAUSE ends the batch and asks to be woken later (on the run's clock)", () => {
    const p = part(new TestingSource([0, new TestingSource.PAUSE("5 seconds"), 1], 10))
    const before = Date.now()
    expect(p.nextBatch()).toEqual([0])
    expect(p.nextAwake!()!.getTime()).toBeGreaterThanOrEqual(before + 5000)
    expect(p.nextBatch()).toEqual([1])
    expect(p.nextAwake!()).toBeUndefined()
  })

  it("refuses a bad batch size", () => {
    expect(() => new TestingSource([1], 0)).toThrow(/positive integer/)
  })
})

describe("TestingSource in a flow with recovery", () => {
  const runTwice = async (items: Array<number | InstanceType<typeof TestingSource.EOF> | InstanceType<typeof TestingSource.ABORT>>) => {
    const recovery = new InMemoryRecovery()
    const outs: Array<Array<number>> = []
    for (let i = 0; i < 2; i++) {
      const out: Array<number> = []
      const flow = new Dataflow("test_df")
      op.input("inp", flow, new TestingSource(items, 2)).then(op.output, "out", new TestingSink(out))
      await runMain(flow, { epochInterval: 0, recovery })
      outs.push(out)
    }
    return outs
  }

  it("EOF: the second run continues after it", async () => {
    expect(await runTwice([0, 1, 2, new TestingSource.EOF(), 3, 4])).toEqual([[0, 1, 2], [3, 4]])
  })

  it("ABORT: the second run resumes after the last closed epoch", async () => {
    expect(await runTwice([0, 1, 2, new TestingSource.ABORT(), 3, 4])).toEqual([[0, 1, 2], [3, 4]])
  })

  it("a rerun with no new data emits nothing", async () => {
    const recovery = new InMemoryRecovery()
    const items = [0, 1]
    for (const expected of [[0, 1], []]) {
      const out: Array<number> = []
      const flow = new Dataflow("test_df")
      op.input("inp", flow, new TestingSource(items)).then(op.output, "out", new TestingSink(out))
      await runMain(flow, { epochInterval: 0, recovery })
      expect(out).toEqual(expected)
    }
  })
})

describe("time", () => {
  it("TimeTestingGetter moves when told", () => {
    const t = new TimeTestingGetter(new Date("2024-01-01T00:00:00Z"))
    t.advance("90 seconds")
    expect(t.now()).toEqual(new Date("2024-01-01T00:01:30Z"))
    expect(t.get()).toEqual(t.now())
  })

  it("VirtualClock makes a long pause take no real time", async () => {
    const clock = new VirtualClock(new Date("2024-01-01T00:00:00Z"))
    const out: Array<number> = []
    const flow = new Dataflow("test_df")
    op.input("inp", flow, new TestingSource([1, new TestingSource.PAUSE("1 hour"), 2])).then(op.output, "out", new TestingSink(out))
    const started = Date.now()
    await runMain(flow, { clock })
    expect(out).toEqual([1, 2])
    expect(Date.now() - started).toBeLessThan(5000)
    expect(clock.now()).toBeGreaterThanOrEqual(new Date("2024-01-01T01:00:00Z").getTime())
  })
})

describe("pollNextBatch", () => {
  it("polls until items arrive", async () => {
    let n = 0
    const p = { nextBatch: () => (n++ < 3 ? [] : Promise.resolve(["x"])) }
    expect(await pollNextBatch(p)).toEqual(["x"])
  })

  it("times out", async () => {
    await expect(pollNextBatch({ nextBatch: () => [] }, 20)).rejects.toThrow(/no items within/)
  })

  it("returns EOF when the partition ends", async () => {
    expect(await pollNextBatch({ nextBatch: () => EOF })).toBe(EOF)
  })
})

describe("TestingSink", () => {
  it("appends to the given array and exposes it", async () => {
    const sink = new TestingSink<number>()
    const flow = new Dataflow("test_df")
    op.input("inp", flow, new TestingSource([1, 2])).then(op.output, "out", sink)
    await runMain(flow)
    expect(sink.getOutput()).toEqual([1, 2])
  })
})
