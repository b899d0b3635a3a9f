/** TestingSource sentinels beyond the catalogue cases: empty batches, PAUSE timing, resuming more than once. */
import { AbortExecution, Dataflow, EOF, op, runMain, type StatefulSourcePartition } from "@weir/core"
import { afterEach, describe, expect, it, vi } from "vitest"
import { InMemoryRecovery, TestingSink, TestingSource, VirtualClock } from "../src/index.js"

const part = <X>(source: TestingSource<X>, resume?: number) =>
  source.buildPart("test_df.inp", "iterable", resume) as StatefulSourcePartition<X, number>

describe("TestingSource sentinels at the start of a batch", () => {
  it("EOF ends the partition at once instead of giving an empty batch", () => {
    const p = part(new TestingSource([0, 1, new TestingSource.EOF(), 2], 2))
    expect(p.nextBatch()).toEqual([0, 1])
    expect(p.nextBatch()).toBe(EOF)
    expect(p.snapshot()).toBe(3)
  })

  it("ABORT aborts at once; the snapshot points at it, so a rerun skips it and goes on", () => {
    const source = new TestingSource([0, 1, new TestingSource.ABORT(), 2], 2)
    const p = part(source)
    expect(p.nextBatch()).toEqual([0, 1])
    expect(() => p.nextBatch()).toThrow(AbortExecution)
    expect(p.snapshot()).toBe(2)
    const resumed = part(source, 2)
    expect(resumed.nextBatch()).toEqual([2])
    expect(resumed.snapshot()).toBe(4)
  })

  it("an empty list ends at once", () => {
    expect(part(new TestingSource<number>([])).nextBatch()).toBe(EOF)
  })
})

describe("TestingSource batches between sentinels", () => {
  // Whole batches of plain items are slices; a batch that reaches a sentinel is read item by item from it.
  it("ends a batch at a sentinel in its middle, and the sentinel acts in the same call", () => {
    const items = [...Array.from({ length: 2500 }, (_, i) => i), new TestingSource.PAUSE("0 seconds"), 2500, 2501, new TestingSource.EOF(), 9]
    const p = part(new TestingSource(items, 1024))
    const sizes: Array<number> = []
    const snapshots: Array<number> = []
    for (let b = p.nextBatch(); b !== EOF; b = p.nextBatch()) {
      sizes.push((b as Array<number>).length)
      snapshots.push(p.snapshot())
    }
    // 1024, 1024, then the 452 before PAUSE with the PAUSE counted; then the two before EOF with EOF counted.
    expect(sizes).toEqual([1024, 1024, 452, 2])
    expect(snapshots).toEqual([1024, 2048, 2501, 2504])
    expect(p.snapshot()).toBe(2504)
    // A rerun from there continues after the EOF.
    expect(part(new TestingSource(items, 1024), 2504).nextBatch()).toEqual([9])
  })

  it("a spent ABORT in the middle of a batch is skipped, the batch goes on past it", () => {
    const abort = new TestingSource.ABORT()
    abort.triggered = true
    const p = part(new TestingSource([0, 1, abort, 2, 3, 4], 4))
    expect(p.nextBatch()).toEqual([0, 1, 2, 3])
    expect(p.nextBatch()).toEqual([4])
    expect(p.nextBatch()).toBe(EOF)
  })

  it("reads the list as it is when each run builds the partition", () => {
    const items: Array<number | TestingSource.EOF> = [0, 1, 2, 3]
    const source = new TestingSource(items, 2)
    items[1] = new TestingSource.EOF()
    const p = part(source)
    expect(p.nextBatch()).toEqual([0])
    expect(p.nextBatch()).toBe(EOF)
  })
})

describe("TestingSource PAUSE", () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it("asks to be woken `duration` after now, and is counted in the resume state", () => {
    vi.useFakeTimers({ toFake: ["Date"] })
    vi.setSystemTime(new Date("2024-01-01T00:00:00Z"))
    const p = part(new TestingSource([new TestingSource.PAUSE("2 minutes"), 1]))
    expect(p.nextBatch()).toEqual([])
    expect(p.nextAwake!()).toEqual(new Date("2024-01-01T00:02:00Z"))
    expect(p.snapshot()).toBe(1)
    expect(p.nextBatch()).toEqual([1])
    expect(p.nextAwake!()).toBeUndefined()
  })

  it("pauses on the run's clock: a virtual hour passes between the items", async () => {
    const clock = new VirtualClock(new Date("2024-01-01T00:00:00Z"))
    const seen: Array<readonly [number, number]> = []
    const flow = new Dataflow("test_df")
    op.input("inp", flow, new TestingSource([1, new TestingSource.PAUSE("1 hour"), 2]))
      .then(op.inspect, "when", (_step: string, x: number) => void seen.push([x, clock.now()]))
      .then(op.output, "out", new TestingSink())
    await runMain(flow, { clock })
    expect(seen.map(([x]) => x)).toEqual([1, 2])
    expect(seen[1]![1] - seen[0]![1]).toBeGreaterThanOrEqual(3_600_000)
  })
})

describe("TestingSource resumed more than once", () => {
  it("never replays an item past a PAUSE or a spent ABORT", async () => {
    const items = [1, new TestingSource.PAUSE(0), 2, new TestingSource.ABORT(), 3, new TestingSource.EOF(), 4]
    const recovery = new InMemoryRecovery()
    const outs: Array<Array<number>> = []
    for (let run = 0; run < 3; run++) {
      const out: Array<number> = []
      const flow = new Dataflow("test_df")
      op.input("inp", flow, new TestingSource(items)).then(op.output, "out", new TestingSink(out))
      await runMain(flow, { epochInterval: 0, recovery, clock: new VirtualClock() })
      outs.push(out)
    }
    expect(outs).toEqual([[1, 2], [3], [4]])
  })

  it("item lists can be typed with the sentinel types", () => {
    const items: Array<number | TestingSource.EOF | TestingSource.ABORT | TestingSource.PAUSE> = [
      1,
      new TestingSource.EOF(),
      new TestingSource.ABORT(),
      new TestingSource.PAUSE("1 second")
    ]
    expect(new TestingSource(items).listParts()).toEqual(["iterable"])
  })
})
