import { Effect, Fiber, type Scope } from "effect"
import * as TestClock from "effect/testing/TestClock"
import { describe, expect, it } from "vitest"
import {
  AbortExecution,
  clusterMain,
  currentTime,
  Dataflow,
  DynamicSink,
  DynamicSource,
  EOF,
  FixedPartitionedSource,
  type KeyedStream,
  op,
  run,
  runMain,
  StatefulBatchLogic,
  type StatefulSourcePartition,
  WeirRuntimeError
} from "@weir/core"

/**
 * Registers a test whose body is an Effect, like `@effect/vitest`'s `it.effect` (no
 * release of it supports both Node 20 and effect 4.1): the Effect runs in its own Scope,
 * with a TestClock, so time moves only through `TestClock.adjust`. A failure or defect
 * of the Effect (a failed `expect` included) fails the test; vitest's abort signal
 * (timeout) interrupts it.
 */
const itEffect = <A, E>(name: string, self: () => Effect.Effect<A, E, Scope.Scope>) =>
  it(name, (ctx) =>
    Effect.runPromise(
      Effect.suspend(self).pipe(Effect.scoped, Effect.provide(TestClock.layer())),
      { signal: ctx.signal }
    ).then(() => undefined))

/** A source over fixed batches; each batch is returned as-is, in the given mode. */
class BatchesSource<X> extends FixedPartitionedSource<X, number> {
  closed = 0
  constructor(
    readonly batches: ReadonlyArray<ReadonlyArray<X>>,
    readonly mode: "sync" | "promise" | "effect" = "sync",
    readonly name = "part"
  ) {
    super()
  }
  listParts() {
    return [this.name]
  }
  buildPart(_stepId: string, _part: string, resume: number | undefined): StatefulSourcePartition<X, number> {
    let i = resume ?? 0
    const next = (): Array<X> | typeof EOF => (i < this.batches.length ? [...this.batches[i++]!] : EOF)
    return {
      nextBatch: () => {
        if (this.mode === "promise") return new Promise((resolve) => setTimeout(() => resolve(next()), 1))
        if (this.mode === "effect") return Effect.sync(next)
        return next()
      },
      snapshot: () => i,
      close: () => {
        this.closed++
      }
    }
  }
}

class ListSink<X> extends DynamicSink<X> {
  readonly out: Array<X> = []
  closed = 0
  constructor(readonly mode: "sync" | "promise" | "effect" = "sync") {
    super()
  }
  build() {
    return {
      writeBatch: (items: Array<X>) => {
        if (this.mode === "promise") {
          return new Promise<void>((resolve) =>
            setTimeout(() => {
              this.out.push(...items)
              resolve()
            }, 1)
          )
        }
        if (this.mode === "effect") return Effect.sync(() => void this.out.push(...items))
        this.out.push(...items)
      },
      close: () => {
        this.closed++
      }
    }
  }
}

const plusOne = (source: FixedPartitionedSource<number, number>, sink: ListSink<number>) => {
  const flow = new Dataflow("test_df")
  op.input("inp", flow, source).then(op.map, "add_one", (x: number) => x + 1).then(op.output, "out", sink)
  return flow
}

describe("entry points", () => {
  itEffect("run is an Effect that completes when the inputs end", () =>
    Effect.gen(function*() {
      const sink = new ListSink<number>()
      yield* run(plusOne(new BatchesSource([[0, 1], [2]]), sink))
      expect(sink.out).toEqual([1, 2, 3])
    }))

  it("runMain resolves after every source and sink is closed", async () => {
    const source = new BatchesSource([[0], [1]])
    const sink = new ListSink<number>()
    await runMain(plusOne(source, sink))
    expect(sink.out).toEqual([1, 2])
    expect(source.closed).toBe(1)
    expect(sink.closed).toBe(1)
  })

  it("clusterMain with two workers routes each key to one worker", async () => {
    const seen: Array<readonly [string, number]> = []
    const flow = new Dataflow("test_df")
    const sink = new ListSink<readonly [string, number]>()
    op.input("inp", flow, new BatchesSource([[1, 2, 3, 4, 5, 6, 7, 8]]))
      .then(op.keyOn, "key", (x: number) => `k${x % 4}`)
      .then(op.statefulMap, "sum", (s: number | undefined, x: number) => [(s ?? 0) + x, (s ?? 0) + x] as const)
      .then(op.inspectDebug, "where", (_id, item, _epoch, worker) => void seen.push([item[0], worker]))
      .then(op.output, "out", sink)
    await clusterMain(flow, { workersPerProcess: 2 })
    expect([...sink.out].sort()).toEqual([["k0", 12], ["k0", 4], ["k1", 1], ["k1", 6], ["k2", 2], ["k2", 8], ["k3", 10], ["k3", 3]])
    const workerOf = new Map<string, Set<number>>()
    for (const [key, w] of seen) workerOf.set(key, (workerOf.get(key) ?? new Set()).add(w))
    for (const ws of workerOf.values()) expect(ws.size).toBe(1)
    expect(new Set(seen.map(([, w]) => w))).toEqual(new Set([0, 1]))
  })

  it("clusterMain refuses static clusters of several processes, pointing to scale-out on Kafka", async () => {
    await expect(clusterMain(plusOne(new BatchesSource([[0]]), new ListSink()), { addresses: ["a:1", "b:2"] }))
      .rejects.toThrow(/static clusters of several processes \(2 addresses\) are not supported: .*`cluster`/)
  })
})

describe("sources and sinks may be asynchronous", () => {
  for (const mode of ["promise", "effect"] as const) {
    it(`a ${mode}-returning source and sink deliver every batch in order`, async () => {
      const sink = new ListSink<number>(mode)
      await runMain(plusOne(new BatchesSource([[0, 1], [], [2, 3], [4]], mode), sink))
      expect(sink.out).toEqual([1, 2, 3, 4, 5])
    })
  }

  it("a slow asynchronous partition does not hold back a synchronous one", async () => {
    const order: Array<string> = []
    const flow = new Dataflow("test_df")
    const slow = op.input("slow", flow, new BatchesSource([["s1"], ["s2"]], "promise"))
    const fast = op.input("fast", flow, new BatchesSource([["f1"], ["f2"], ["f3"]]))
    op.merge("merge", slow, fast).then(op.inspect, "seen", (_id, x: string) => void order.push(x))
    await runMain(flow)
    expect(order.indexOf("f3")).toBeLessThan(order.indexOf("s1"))
    expect(order.filter((x) => x.startsWith("s"))).toEqual(["s1", "s2"])
  })

  it("an asynchronous source's batches arrive with an epoch interval of 0", async () => {
    // The loop closes an epoch every turn here; it must still give the event loop
    // a turn, or the source's pending Promise never settles.
    const sink = new ListSink<number>()
    await runMain(plusOne(new BatchesSource([[0], [1, 2], [3]], "promise"), sink), { epochInterval: 0 })
    expect(sink.out).toEqual([1, 2, 3, 4])
  })
})

describe("epochs", () => {
  const epochsOf = async (epochInterval: number | undefined, batches: Array<Array<number>>) => {
    const seen: Array<number> = []
    const flow = new Dataflow("test_df")
    op.input("inp", flow, new BatchesSource(batches)).then(op.inspectDebug, "dbg", (_s, _x, epoch) => void seen.push(epoch))
    await runMain(flow, epochInterval === undefined ? {} : { epochInterval })
    return seen
  }

  it("a fresh run starts at epoch 1 and, with the default interval, stays there for a quick input", async () => {
    expect(await epochsOf(undefined, [[1, 2], [3]])).toEqual([1, 1, 1])
  })

  it("an interval of 0 makes every batch its own epoch", async () => {
    expect(await epochsOf(0, [[1, 2], [3], [4]])).toEqual([1, 1, 2, 3])
  })

  itEffect("epochs advance with time even when the source is not due", () =>
    Effect.gen(function*() {
      const seen: Array<readonly [string, number]> = []
      let polled = 0
      class Slow extends DynamicSource<string> {
        build() {
          let n = 0
          let awake = 0
          return {
            nextBatch: () => {
              polled++
              awake = currentTime().getTime()
              return n < 2 ? [`slow${n++}`] : EOF
            },
            // Asked right after the build too: the first poll is immediate, then one a minute.
            nextAwake: () => (polled === 0 ? undefined : new Date(awake + 60_000))
          }
        }
      }
      const flow = new Dataflow("test_df")
      op.input("inp", flow, new Slow()).then(op.inspectDebug, "dbg", (_s, x, epoch) => void seen.push([x, epoch]))
      const fiber = yield* Effect.forkChild(run(flow, { epochInterval: "1 second" }))
      yield* TestClock.adjust("30 seconds")
      yield* TestClock.adjust("31 seconds")
      yield* TestClock.adjust("61 seconds")
      yield* Fiber.join(fiber)
      expect(polled).toBe(3)
      expect(seen[0]![1]).toBe(1)
      // Between the two items about a minute passed, one epoch per second.
      expect(seen[1]![1]).toBeGreaterThanOrEqual(50)
    }))
})

class Notifier extends StatefulBatchLogic<number, string, number> {
  constructor(private count: number, private readonly at: Date) {
    super()
  }
  onBatch(values: Array<number>) {
    this.count += values.length
    return [[`batch ${this.count}`], StatefulBatchLogic.RETAIN] as const
  }
  override notifyAt() {
    return this.at
  }
  override onNotify() {
    return [[`notified at ${this.at.toISOString()}`], StatefulBatchLogic.DISCARD] as const
  }
  override onEof() {
    return [["eof"], StatefulBatchLogic.RETAIN] as const
  }
  snapshot() {
    return this.count
  }
}

describe("stateful timing", () => {
  itEffect("notifyAt wakes the logic on the run's clock (TestClock)", () =>
    Effect.gen(function*() {
      const sink = new ListSink<readonly [string, string]>()
      class Pausing extends DynamicSource<number> {
        build() {
          let step = 0
          return {
            nextBatch: () => (step++ === 0 ? [1] : step < 3 ? [] : EOF),
            nextAwake: () => (step === 1 ? new Date(20_000) : undefined)
          }
        }
      }
      const flow = new Dataflow("test_df")
      op.input("inp", flow, new Pausing())
        .then(op.keyOn, "key", () => "k")
        .then(op.statefulBatch, "timer", (resume: number | undefined) => new Notifier(resume ?? 0, new Date(10_000)))
        .then(op.output, "out", sink)
      const fiber = yield* Effect.forkChild(run(flow, { epochInterval: "1 hour" }))
      yield* TestClock.adjust("5 seconds")
      expect(sink.out).toEqual([["k", "batch 1"]])
      yield* TestClock.adjust("6 seconds")
      expect(sink.out).toEqual([["k", "batch 1"], ["k", "notified at 1970-01-01T00:00:10.000Z"]])
      yield* TestClock.adjust("20 seconds")
      yield* Fiber.join(fiber)
      // The logic was discarded by onNotify, so no key is left for onEof.
      expect(sink.out.length).toBe(2)
    }))

  it("onEof is called once per live key, in key order, after the last batch", async () => {
    const sink = new ListSink<readonly [string, string]>()
    const flow = new Dataflow("test_df")
    op.input("inp", flow, new BatchesSource([[3, 1], [2], [1]]))
      .then(op.keyOn, "key", (x: number) => `key${x}`)
      .then(op.statefulBatch, "logic", (resume: number | undefined) => new Notifier(resume ?? 0, new Date(8.64e15)))
      .then(op.output, "out", sink)
    await runMain(flow)
    expect(sink.out).toEqual([
      ["key3", "batch 1"],
      ["key1", "batch 1"],
      ["key2", "batch 1"],
      ["key1", "batch 2"],
      ["key1", "eof"],
      ["key2", "eof"],
      ["key3", "eof"]
    ])
  })
})

describe("abort and interruption", () => {
  it("AbortExecution stops the run at once, without error", async () => {
    class Aborting extends DynamicSource<number> {
      build() {
        let n = 0
        return {
          nextBatch: () => {
            if (n === 2) throw new AbortExecution()
            return [n++]
          }
        }
      }
    }
    const sink = new ListSink<number>()
    const flow = new Dataflow("test_df")
    op.input("inp", flow, new Aborting()).then(op.output, "out", sink)
    await runMain(flow)
    expect(sink.out).toEqual([0, 1])
  })

  itEffect("interrupting the run closes its partitions", () =>
    Effect.gen(function*() {
      class Endless extends FixedPartitionedSource<number, number> {
        closed = 0
        listParts() {
          return ["forever"]
        }
        buildPart() {
          let n = 0
          return { nextBatch: () => [n++], snapshot: () => n, close: () => void this.closed++ }
        }
      }
      const source = new Endless()
      const sink = new ListSink<number>()
      const flow = new Dataflow("test_df")
      op.input("inp", flow, source).then(op.output, "out", sink)
      const fiber = yield* Effect.forkChild(run(flow))
      yield* TestClock.adjust("10 millis")
      yield* Effect.promise(() => new Promise((r) => setTimeout(r, 30)))
      yield* Fiber.interrupt(fiber)
      expect(source.closed).toBe(1)
      expect(sink.closed).toBe(1)
      expect(sink.out.length).toBeGreaterThan(0)
    }))
})

describe("errors", () => {
  const failing = (mapper: (x: number) => number) => {
    const flow = new Dataflow("test_df")
    const sink = new ListSink<number>()
    op.input("inp", flow, new BatchesSource([[0], [1], [2]])).then(op.map, "explode", mapper).then(op.output, "out", sink)
    return { flow, sink }
  }

  it("a throwing mapper fails the run naming the kernel step, with the error as cause", async () => {
    class CustomError extends Error {
      constructor(readonly a: number, readonly b: string) {
        super(`custom ${a} ${b}`)
      }
    }
    const { flow, sink } = failing((x) => {
      if (x === 1) throw new CustomError(1, "two")
      return x
    })
    const err = await runMain(flow).then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(WeirRuntimeError)
    const e = err as WeirRuntimeError
    expect(e.stepId).toBe("test_df.explode.flatMapBatch")
    expect(e.message).toContain("error calling `mapper` in step 'test_df.explode.flatMapBatch'")
    expect(e.message).toContain("custom 1 two")
    expect(e.cause).toBeInstanceOf(CustomError)
    expect(sink.out.length).toBeLessThan(3)
  })

  it("a failing source names its step and partition", async () => {
    class Broken extends FixedPartitionedSource<number, undefined> {
      listParts() {
        return ["p0"]
      }
      buildPart() {
        return {
          nextBatch: (): Array<number> => {
            throw new RangeError("disk on fire")
          },
          snapshot: () => undefined
        }
      }
    }
    const flow = new Dataflow("test_df")
    op.input("inp", flow, new Broken()).then(op.output, "out", new ListSink())
    await expect(runMain(flow)).rejects.toThrow(
      "error calling `StatefulSourcePartition.nextBatch` in step 'test_df.inp' for partition 'p0': RangeError: disk on fire"
    )
  })

  it("a failing asynchronous sink write fails the run with the sink's step", async () => {
    class Rejecting extends DynamicSink<number> {
      build() {
        return { writeBatch: () => Promise.reject(new Error("disk full")) }
      }
    }
    const flow = new Dataflow("test_df")
    op.input("inp", flow, new BatchesSource([[1], [2]])).then(op.output, "out", new Rejecting())
    await expect(runMain(flow)).rejects.toThrow(/StatelessSinkPartition.writeBatch.*test_df.out.*disk full/)
  })

  it("unkeyed items into a stateful step are refused with a hint", async () => {
    const flow = new Dataflow("test_df")
    const up = op.input("inp", flow, new BatchesSource([[1]])) as unknown as KeyedStream<number>
    op.statefulMap("sum", up, (s: number | undefined, x: number) => [s, x] as const).then(op.output, "out", new ListSink())
    await expect(runMain(flow)).rejects.toThrow(/requires `\[key, value\]` 2-element arrays.*got a `number` instead/)
  })

  it("a flow without input or without output is refused before it runs", async () => {
    await expect(runMain(new Dataflow("empty"))).rejects.toThrow(/at least one input step/)
    const flow = new Dataflow("no_out")
    op.input("inp", flow, new BatchesSource([[1]]))
    await expect(runMain(flow)).rejects.toThrow(/at least one output or inspect step/)
  })

  it("a bad epoch interval is refused", async () => {
    await expect(runMain(plusOne(new BatchesSource([[1]]), new ListSink()), { epochInterval: -5 })).rejects.toThrow(
      /epochInterval must be a non-negative duration/
    )
  })
})
