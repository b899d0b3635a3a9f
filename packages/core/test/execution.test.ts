import {
  AbortExecution,
  clusterMain,
  currentTime,
  Dataflow,
  DynamicSource,
  EOF,
  FixedPartitionedSource,
  op,
  runMain,
  SimplePollingSource,
  type StatefulSourcePartition,
  WeirRuntimeError
} from "@weir/core"
import { TestingSink, TestingSource, VirtualClock } from "@weir/testing"
import { describe, expect, it } from "vitest"

type Flow = Dataflow
const entryPoints: ReadonlyArray<readonly [string, (flow: Flow) => Promise<void>]> = [
  ["runMain", (flow) => runMain(flow)],
  ["clusterMain with one worker", (flow) => clusterMain(flow, { addresses: [], processId: 0 })],
  ["clusterMain with two workers", (flow) => clusterMain(flow, { addresses: [], processId: 0, workersPerProcess: 2 })]
]

describe("execution (test_execution.py)", () => {
  for (const [name, entry] of entryPoints) {
    it(`runs a flow with ${name}`, async () => {
      const flow = new Dataflow("test_df")
      const out: Array<number> = []
      op.input("inp", flow, new TestingSource([0, 1, 2]))
        .then(op.map, "add_one", (x: number) => x + 1)
        .then(op.output, "out", new TestingSink(out))
      await entry(flow)
      expect(out.sort()).toEqual([1, 2, 3])
    })

    it(`re-raises a custom exception as the cause with ${name}`, async () => {
      class CustomException extends Error {
        constructor(msg: string, readonly extra: number) {
          super(msg)
        }
      }
      const flow = new Dataflow("test_df")
      const out: Array<number> = []
      op.input("inp", flow, new TestingSource([0, 1, 2]))
        .then(op.map, "explode", (x: number) => {
          if (x === 0) throw new CustomException("BOOM", 42)
          return x
        })
        .then(op.output, "out", new TestingSink(out))
      const err = await entry(flow).then(() => undefined, (e: unknown) => e)
      expect(err).toBeInstanceOf(WeirRuntimeError)
      expect((err as WeirRuntimeError).cause).toBeInstanceOf(CustomException)
      expect(out.length).toBeLessThan(3)
    })
  }
})

/** Emits `n` twice per batch, then EOF after 5 batches. */
const repeatingBatch = () => {
  let n = 0
  return {
    nextBatch: (): Iterable<number> | typeof EOF => {
      if (n === 5) return EOF
      const v = n++
      return (function*() {
        yield v
        yield v
      })()
    }
  }
}

describe("inputs (test_inputs.py)", () => {
  it("a flow requires an input", async () => {
    await expect(runMain(new Dataflow("test_df"))).rejects.toThrow(/at least one input/)
  })

  it("a flow requires an output", async () => {
    const flow = new Dataflow("test_df")
    op.input("inp", flow, new TestingSource([1]))
    await expect(runMain(flow)).rejects.toThrow(/at least one output/)
  })

  it("a dynamic source's nextBatch may return any iterable", async () => {
    class Repeat extends DynamicSource<number> {
      build() {
        return repeatingBatch()
      }
    }
    const out: Array<number> = []
    const flow = new Dataflow("test_df")
    op.input("inp", flow, new Repeat()).then(op.output, "out", new TestingSink(out))
    await runMain(flow)
    expect(out).toEqual([0, 0, 1, 1, 2, 2, 3, 3, 4, 4])
  })

  it("a fixed-partitioned source's nextBatch may return any iterable", async () => {
    class Repeat extends FixedPartitionedSource<number, undefined> {
      listParts() {
        return ["one"]
      }
      buildPart(): StatefulSourcePartition<number, undefined> {
        return { ...repeatingBatch(), snapshot: () => undefined }
      }
    }
    const out: Array<number> = []
    const flow = new Dataflow("test_df")
    op.input("inp", flow, new Repeat()).then(op.output, "out", new TestingSink(out))
    await runMain(flow)
    expect(out).toEqual([0, 0, 1, 1, 2, 2, 3, 3, 4, 4])
  })

  /** A metronome: one item per 100 ms (read from the run's clock), 5 items. */
  const metronome = () => {
    let n = 0
    let next = 0
    return {
      nextBatch: (): Array<number> | typeof EOF => {
        if (n === 5) return EOF
        n++
        const now = currentTime().getTime()
        next = now + 100
        return [now]
      },
      nextAwake: () => new Date(next),
      snapshot: () => n
    }
  }

  const spacing = (times: ReadonlyArray<number>) => times.slice(1).map((t, i) => t - times[i]!)

  it("a dynamic source is paced by nextAwake (virtual time)", async () => {
    class Metronome extends DynamicSource<number> {
      build() {
        return metronome()
      }
    }
    const out: Array<number> = []
    const flow = new Dataflow("test_df")
    op.input("inp", flow, new Metronome()).then(op.output, "out", new TestingSink(out))
    await runMain(flow, { clock: new VirtualClock(new Date(0)) })
    expect(out.length).toBe(5)
    for (const d of spacing(out)) expect(d).toBeGreaterThanOrEqual(100)
  })

  it("a fixed-partitioned source is paced by nextAwake (virtual time)", async () => {
    class Metronome extends FixedPartitionedSource<number, number> {
      listParts() {
        return ["one"]
      }
      buildPart() {
        return metronome()
      }
    }
    const out: Array<number> = []
    const flow = new Dataflow("test_df")
    op.input("inp", flow, new Metronome()).then(op.output, "out", new TestingSink(out))
    await runMain(flow, { clock: new VirtualClock(new Date(0)) })
    expect(out.length).toBe(5)
    for (const d of spacing(out)) expect(d).toBeGreaterThanOrEqual(100)
  })

  for (const kind of ["dynamic", "fixed-partitioned"] as const) {
    it(`a slow ${kind} source doesn't stall epochs for a fast one`, async () => {
      const paced = (every: number, label: string) => {
        let n = 0
        let next = 0
        return {
          nextBatch: (): Array<readonly [string, number, number]> | typeof EOF => {
            if (n === 5) return EOF
            n++
            const now = currentTime().getTime()
            next = now + every
            return [[label, now, 0] as const]
          },
          nextAwake: () => new Date(next),
          snapshot: () => n
        }
      }
      const make = (every: number, label: string) =>
        kind === "dynamic"
          ? new (class extends DynamicSource<readonly [string, number, number]> {
            build() {
              return paced(every, label)
            }
          })()
          : new (class extends FixedPartitionedSource<readonly [string, number, number], number> {
            listParts() {
              return [label]
            }
            buildPart() {
              return paced(every, label)
            }
          })()
      const seen: Array<readonly [string, number, number]> = []
      const flow = new Dataflow("test_df")
      const fast = op.input("fast", flow, make(100, "fast"))
      const slow = op.input("slow", flow, make(500, "slow"))
      op.merge("merge", fast, slow).then(
        op.inspectDebug,
        "dbg",
        (_s, [label, at], epoch) => void seen.push([label, at, epoch])
      )
      await runMain(flow, { epochInterval: 250, clock: new VirtualClock(new Date(0)) })
      const fastTimes = seen.filter(([l]) => l === "fast").map(([, t]) => t)
      expect(fastTimes.length).toBe(5)
      for (const d of spacing(fastTimes)) expect(d).toBeGreaterThanOrEqual(100)
      // Epochs kept advancing (every 250 ms) while the slow source slept.
      const fastEpochs = seen.filter(([l]) => l === "fast").map(([, , e]) => e)
      expect(fastEpochs[4]! - fastEpochs[0]!).toBeGreaterThanOrEqual(1)
    })
  }

  it("SimplePollingSource resumes from its own snapshot when the same source is run again", async () => {
    class ListPoller extends SimplePollingSource<string, number> {
      private i = 0
      constructor(private readonly items: ReadonlyArray<string | "ABORT">) {
        super(0)
      }
      nextItem(): string | undefined | typeof EOF {
        if (this.i >= this.items.length) return EOF
        const item = this.items[this.i++]!
        if (item === "ABORT") throw new AbortExecution()
        return item
      }
      override snapshot() {
        return this.i
      }
      override resume(state: number) {
        this.i = state
      }
    }
    const source = new ListPoller(["a", "b", "ABORT", "c"])
    const out: Array<string> = []
    const flow = new Dataflow("test_df")
    op.input("inp", flow, source).then(op.output, "out", new TestingSink(out))
    await runMain(flow)
    expect(out).toEqual(["a", "b"])
    out.length = 0
    await runMain(flow)
    expect(out).toEqual(["c"])
  })
})
