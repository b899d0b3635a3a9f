/** Batching helpers, SimplePollingSource partitions, fromStream, and the no-dependency connectors. */
import {
  batch,
  batchAsync,
  batchGetter,
  batchGetterEx,
  Dataflow,
  EOF,
  fromStream,
  op,
  RandomMetricSource,
  runMain,
  SimplePollingSource,
  StdOutSink
} from "@weir/core"
import { TestingSink, TestingSource } from "@weir/testing"
import { Stream } from "effect"
import { describe, expect, it, vi } from "vitest"

describe("batching helpers", () => {
  it("batch cuts an iterable", () => {
    const it = batch([0, 1, 2, 3, 4], 3)
    expect(it.next().value).toEqual([0, 1, 2])
    expect(it.next().value).toEqual([3, 4])
    expect(it.next().done).toBe(true)
    expect(it.next().done).toBe(true)
  })

  const queueTest = (make: (q: Array<number>, closed: () => boolean) => Iterator<Array<number>>) => {
    const q: Array<number> = []
    let closed = false
    const it = make(q, () => closed)
    q.push(0, 1, 2, 3, 4)
    expect(it.next().value).toEqual([0, 1, 2])
    expect(it.next().value).toEqual([3, 4])
    expect(it.next().value).toEqual([])
    q.push(5)
    closed = true
    expect(it.next().value).toEqual([5])
    expect(it.next().done).toBe(true)
    expect(it.next().done).toBe(true)
  }

  it("batchGetter polls a getter", () => {
    queueTest((q, closed) => batchGetter(() => (q.length > 0 ? q.shift()! : closed() ? EOF : undefined), 3))
  })

  it("batchGetterEx polls a getter that throws when empty", () => {
    class Empty extends Error {}
    queueTest((q, closed) =>
      batchGetterEx(() => {
        if (q.length > 0) return q.shift()!
        if (closed()) return EOF
        throw new Empty()
      }, 3, (e) => e instanceof Empty))
  })

  it("batchAsync gathers an async iterable by size, then a final partial batch, then EOF", async () => {
    async function* gen() {
      for (let i = 0; i < 5; i++) {
        await new Promise((r) => setTimeout(r, 0))
        yield i
      }
    }
    const b = batchAsync(gen(), "1 second", 2)
    expect(await b.next()).toEqual([0, 1])
    expect(await b.next()).toEqual([2, 3])
    expect(await b.next()).toEqual([4])
    expect(await b.next()).toBe(EOF)
    expect(await b.next()).toBe(EOF)
  })

  it("batchAsync returns what arrived when the timeout passes, keeping the pending read", async () => {
    let release!: () => void
    async function* slow() {
      yield 1
      await new Promise<void>((r) => (release = r))
      yield 2
    }
    const b = batchAsync(slow(), 30, 10)
    expect(await b.next()).toEqual([1])
    expect(await b.next()).toEqual([])
    release()
    expect(await b.next()).toEqual([2])
    expect(await b.next()).toBe(EOF)
  })
})

describe("SimplePollingSource partitions", () => {
  const at = (hm: string) => new Date(`2024-01-01T${hm}:00Z`)
  class Always extends SimplePollingSource<boolean> {
    constructor(interval: `${number} minutes`, alignTo: Date | undefined, now: Date, private readonly retry = false) {
      super(interval, alignTo, { nowGetter: () => now })
    }
    nextItem(): boolean {
      if (this.retry) throw new SimplePollingSource.Retry("5 seconds")
      return true
    }
  }
  const partOf = (s: Always) => s.buildPart("test_df.inp", "singleton", undefined)

  it("emits the item and schedules the next poll an interval later", () => {
    const p = partOf(new Always("30 minutes", at("05:00"), at("05:00")))
    expect(p.nextBatch()).toEqual([true])
    expect(p.nextAwake!()).toEqual(at("05:30"))
  })

  it("Retry polls again sooner", () => {
    const p = partOf(new Always("30 minutes", at("05:00"), at("05:00"), true))
    expect(p.nextBatch()).toEqual([])
    expect(p.nextAwake!()).toEqual(new Date("2024-01-01T05:00:05Z"))
  })

  it("aligns the first poll to the next mark", () => {
    expect(partOf(new Always("30 minutes", at("04:00"), at("05:15"))).nextAwake!()).toEqual(at("05:30"))
  })

  it("starts at once when now is exactly on a mark", () => {
    expect(partOf(new Always("30 minutes", at("04:00"), at("05:00"))).nextAwake!()).toEqual(at("05:00"))
  })
})

describe("fromStream", () => {
  it("reads an Effect Stream as a source", async () => {
    const out: Array<number> = []
    const flow = new Dataflow("test_df")
    op.input("inp", flow, fromStream(Stream.range(1, 2500))).then(op.output, "out", new TestingSink(out))
    await runMain(flow)
    expect(out).toEqual(Array.from({ length: 2500 }, (_, i) => i + 1))
  })

  it("a failing stream fails the run", async () => {
    const flow = new Dataflow("test_df")
    const s = Stream.concat(Stream.make(1, 2), Stream.fail(new Error("stream broke")))
    op.input("inp", flow, fromStream(s)).then(op.output, "out", new TestingSink())
    await expect(runMain(flow)).rejects.toThrow(/StatelessSinkPartition|nextBatch.*stream broke/)
  })

  it("releases the stream's resources when the partition closes", async () => {
    let released = false
    const { Effect } = await import("effect")
    const s = Stream.scoped(
      Stream.fromEffect(Effect.acquireRelease(Effect.succeed(7), () => Effect.sync(() => void (released = true))))
    )
    const flow = new Dataflow("test_df")
    const out: Array<number> = []
    op.input("inp", flow, fromStream(s)).then(op.output, "out", new TestingSink(out))
    await runMain(flow)
    expect(out).toEqual([7])
    expect(released).toBe(true)
  })
})

describe("connectors without dependencies", () => {
  it("StdOutSink prints one line per item", async () => {
    const written: Array<string> = []
    const spy = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk))
      return true
    })
    try {
      const flow = new Dataflow("test_df")
      op.input("inp", flow, new TestingSource(["a", "b"])).then(op.output, "out", new StdOutSink())
      await runMain(flow)
    } finally {
      spy.mockRestore()
    }
    expect(written.join("")).toBe("a\nb\n")
  })

  it("RandomMetricSource emits count values", async () => {
    const out: Array<readonly [string, number]> = []
    const flow = new Dataflow("test_df")
    op.input("inp", flow, new RandomMetricSource("volts", { interval: 0, count: 3, nextRandom: () => 42 }))
      .then(op.output, "out", new TestingSink(out))
    await runMain(flow)
    expect(out).toEqual([["volts", 42], ["volts", 42], ["volts", 42]])
  })

  it("RandomMetricSource resumes its count", () => {
    const source = new RandomMetricSource("volts", { interval: 0, count: 3, nextRandom: () => 1 })
    const p = source.buildPart("s", "volts", undefined)
    p.nextBatch()
    p.nextBatch()
    const resumed = source.buildPart("s", "volts", p.snapshot())
    expect(resumed.nextBatch()).toEqual([["volts", 1]])
    expect(resumed.nextBatch()).toBe(EOF)
  })
})
