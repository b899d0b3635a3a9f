/**
 * Bytewax 0.21 operator conformance cases (test catalogue §1) that the
 * per-operator files in test/operators/ do not already hold: same inputs,
 * same expected outputs.
 */
import {
  Dataflow,
  type KeyedStream,
  op,
  runMain,
  type RunOptions,
  StatefulLogic,
  type Stream,
  WeirRuntimeError
} from "@weir/core"
import { InMemoryRecovery, TestingSink, TestingSource, VirtualClock } from "@weir/testing"
import { describe, expect, it } from "vitest"

type Item<X> = X | InstanceType<typeof TestingSource.EOF> | InstanceType<typeof TestingSource.ABORT>

/** input → body → output, run once; returns what reached the sink. */
const flowOf = <X, Y>(inp: ReadonlyArray<Item<X>>, body: (s: Stream<X>) => Stream<Y>, batchSize = 1) => {
  const flow = new Dataflow("test_df")
  const out: Array<Y> = []
  body(op.input("inp", flow, new TestingSource(inp, batchSize))).then(op.output, "out", new TestingSink(out))
  return { flow, out }
}
const runOf = async <X, Y>(inp: ReadonlyArray<Item<X>>, body: (s: Stream<X>) => Stream<Y>, options?: RunOptions) => {
  const { flow, out } = flowOf(inp, body)
  await runMain(flow, options)
  return out
}
const failsWith = async (flow: Dataflow, cause: RegExp) => {
  const err = await runMain(flow).then(() => undefined, (e: unknown) => e)
  expect(err).toBeInstanceOf(WeirRuntimeError)
  expect(String((err as WeirRuntimeError).cause)).toMatch(cause)
  return err as WeirRuntimeError
}
const all = <X>(s: Stream<X>) => op.keyOn("key", s, () => "ALL")

describe("branch", () => {
  it("routes by the predicate", async () => {
    const flow = new Dataflow("test_df")
    const trues: Array<number> = []
    const falses: Array<number> = []
    const b = op.branch("branch", op.input("inp", flow, new TestingSource([1, 2, 3])), (x: number) => x % 2 === 1)
    op.output("trues", b.trues, new TestingSink(trues))
    op.output("falses", b.falses, new TestingSink(falses))
    await runMain(flow)
    expect(trues).toEqual([1, 3])
    expect(falses).toEqual([2])
  })

  it("narrows both sides with a type guard", async () => {
    const flow = new Dataflow("test_df")
    const ints: Array<number> = []
    const strs: Array<string> = []
    const b = op.branch(
      "branch",
      op.input("inp", flow, new TestingSource<number | string>([1, "a", 2, "b"])),
      (x): x is number => typeof x === "number"
    )
    op.output("ints", b.trues, new TestingSink(ints))
    op.output("strs", b.falses, new TestingSink(strs))
    await runMain(flow)
    expect(ints).toEqual([1, 2])
    expect(strs).toEqual(["a", "b"])
  })

  it("keeps exact order over many batches", async () => {
    const flow = new Dataflow("test_df")
    const evens: Array<number> = []
    const odds: Array<number> = []
    const items = Array.from({ length: 100_000 }, (_, i) => i)
    const b = op.branch("branch", op.input("inp", flow, new TestingSource(items, 10)), (x: number) => x % 2 === 0)
    op.output("evens", b.trues, new TestingSink(evens))
    op.output("odds", b.falses, new TestingSink(odds))
    await runMain(flow)
    expect(evens).toEqual(items.filter((x) => x % 2 === 0))
    expect(odds).toEqual(items.filter((x) => x % 2 === 1))
  })
})

describe("collect", () => {
  it("the logic's snapshot holds the list and the inactivity deadline", async () => {
    const { CollectLogic } = await import("../src/operators/collect.js")
    const now = new Date("2023-01-01T00:00:00Z").getTime()
    const logic = new CollectLogic<number>(undefined, 10_000, 3, () => now)
    logic.onBatch([1])
    expect(logic.snapshot()).toEqual({ acc: [1], timeoutAt: now + 10_000 })
  })

  it("emits after `timeout` of inactivity (virtual time)", async () => {
    const items = [1, 2, new TestingSource.PAUSE("5 seconds"), 3, new TestingSource.PAUSE("20 seconds"), 4]
    const out = await runOf(items as Array<number>, (s) => op.collect("collect", all(s), { timeout: "10 seconds", maxSize: 100 }), {
      clock: new VirtualClock(new Date("2024-01-01T00:00:00Z"))
    })
    // The 5 s pause doesn't time out (the deadline moves with every item); the 20 s one does.
    expect(out).toEqual([["ALL", [1, 2, 3]], ["ALL", [4]]])
  })
})

describe("filter, filterMap, filterMapValue, filterValue", () => {
  it("filter narrows with a type guard and refuses non-boolean results", async () => {
    const out = await runOf<number | string, number>([1, "x", 2], (s) => op.filter("f", s, (x): x is number => typeof x === "number"))
    expect(out).toEqual([1, 2])
    const { flow } = flowOf([1], (s) => op.filter("f", s, () => 1 as unknown as boolean))
    await failsWith(flow, /return value of `predicate` in step 'test_df.f' must be a `boolean`; got a `number` instead/)
  })

})

describe("flatMap, flatMapBatch, flatten", () => {
  it("flatMapBatch gets whole batches and may return a generator", async () => {
    const { flow, out } = flowOf(["split this", "and this"], (s) =>
      op.flatMapBatch("split", s, function*(xs: Array<string>) {
        for (const x of xs) yield* x.split(" ")
      }), 10)
    await runMain(flow)
    expect(out).toEqual(["split", "this", "and", "this"])
  })

  it("flatMapBatch identity keeps every item in order", async () => {
    const items = Array.from({ length: 100_000 }, (_, i) => i)
    const { flow, out } = flowOf(items, (s) => op.flatMapBatch("id", s, (xs: Array<number>) => xs), 10)
    await runMain(flow)
    expect(out).toEqual(items)
  })

})

describe("inspect", () => {
  it("the inspector gets the fully-qualified step id and the item", async () => {
    const flow = new Dataflow("test_df")
    const seen: Array<unknown> = []
    op.inspect("insp", op.input("inp", flow, new TestingSource(["a"])), (stepId, item) => void seen.push([stepId, item]))
    await runMain(flow)
    expect(seen).toEqual([["test_df.insp", "a"]])
  })

  it("inspectDebug also gets the epoch and the worker", async () => {
    const flow = new Dataflow("test_df")
    const seen: Array<unknown> = []
    op.inspectDebug("insp", op.input("inp", flow, new TestingSource(["a"])), (...args) => void seen.push(args))
    await runMain(flow)
    expect(seen).toEqual([["test_df.insp", "a", 1, 0]])
  })
})

describe("map, mapValue", () => {
  it("mapValue adds one to values", async () => {
    expect(await runOf([0, 1, 2], (s) => op.mapValue("add_one", all(s), (x: number) => x + 1))).toEqual([
      ["ALL", 1],
      ["ALL", 2],
      ["ALL", 3]
    ])
  })
})

describe("reduceFinal", () => {
  it("pre-aggregates each batch before the stateful step", async () => {
    const calls: Array<readonly [number, number]> = []
    const { flow, out } = flowOf([1, 2, 3, 4], (s) =>
      op.reduceFinal("sum", all(s), (a: number, b: number) => {
        calls.push([a, b])
        return a + b
      }), 4)
    await runMain(flow)
    expect(out).toEqual([["ALL", 10]])
    // One batch of four: reduced once per pair before routing, nothing left for the stateful step.
    expect(calls).toEqual([[1, 2], [3, 3], [6, 4]])
  })
})

/** The Bytewax test logic: state "NEW", then "ITEM", "NOTIFY" or "EOF"; emits [old, new]. */
const lifecycle = (flags: { item?: boolean; notify?: boolean; eof?: boolean; itemTriggersNotify?: boolean }) =>
  class BaseTestLogic extends StatefulLogic<number, readonly [string, string], string> {
    private notifyAtTime: Date | undefined = undefined
    constructor(private state: string) {
      super()
    }
    onItem(): readonly [Array<readonly [string, string]>, boolean] {
      const old = this.state
      this.state = "ITEM"
      if (flags.itemTriggersNotify) this.notifyAtTime = new Date(0)
      return [[[old, this.state]], flags.item === true]
    }
    override onNotify(): readonly [Array<readonly [string, string]>, boolean] {
      const old = this.state
      this.state = "NOTIFY"
      this.notifyAtTime = undefined
      return [[[old, this.state]], flags.notify === true]
    }
    override onEof(): readonly [Array<readonly [string, string]>, boolean] {
      const old = this.state
      this.state = "EOF"
      return [[[old, this.state]], flags.eof === true]
    }
    override notifyAt(): Date | undefined {
      return this.notifyAtTime
    }
    snapshot(): string {
      return this.state
    }
  }

describe("stateful (StatefulLogic lifecycle)", () => {
  const statefulRun = async (
    inp: Array<Item<number>>,
    Logic: ReturnType<typeof lifecycle>,
    recovery?: InMemoryRecovery
  ) => {
    const { flow, out } = flowOf(inp, (s) => op.stateful("stateful", all(s), (resume: string | undefined) => new Logic(resume ?? "NEW")))
    await runMain(flow, recovery === undefined ? { epochInterval: 0 } : { epochInterval: 0, recovery })
    return out
  }

  it("discard after an item", async () => {
    expect(await statefulRun([1, 2, new TestingSource.ABORT()], lifecycle({ item: true }))).toEqual([
      ["ALL", ["NEW", "ITEM"]],
      ["ALL", ["NEW", "ITEM"]]
    ])
  })

  it("retain at EOF: the state left by onEof is snapshotted and restored", async () => {
    const recovery = new InMemoryRecovery()
    const inp = [1, new TestingSource.EOF(), 2, new TestingSource.ABORT()]
    expect(await statefulRun(inp, lifecycle({}), recovery)).toEqual([["ALL", ["NEW", "ITEM"]], ["ALL", ["ITEM", "EOF"]]])
    expect(await statefulRun(inp, lifecycle({}), recovery)).toEqual([["ALL", ["EOF", "ITEM"]]])
  })

  class KeepLast extends StatefulLogic<string, readonly [string | undefined, string], string | undefined> {
    constructor(private last: string | undefined) {
      super()
    }
    onItem(value: string) {
      const old = this.last
      this.last = value
      return [[[old, value] as const], value === "DISCARD"] as const
    }
    snapshot() {
      return this.last
    }
  }
  const keepLast = (inp: Array<Item<readonly [string, string]>>, recovery?: InMemoryRecovery) => {
    const { flow, out } = flowOf(inp, (s) =>
      op.stateful<string, readonly [string | undefined, string], string | undefined>("keep_last", s as KeyedStream<string>, (resume) => new KeepLast(resume)))
    return runMain(flow, recovery === undefined ? {} : { epochInterval: 0, recovery }).then(() => out)
  }

})

describe("statefulFlatMap", () => {
  it("an undefined state discards the key, and a state is snapshotted", async () => {
    const recovery = new InMemoryRecovery()
    const { flow } = flowOf([["k", 1] as const, ["gone", 2] as const, new TestingSource.ABORT()], (s) =>
      op.statefulFlatMap("sfm", s as KeyedStream<number>, (_s: string | undefined, x: number) =>
        [x === 1 ? "new_state" : undefined, []] as const))
    await runMain(flow, { epochInterval: 0, recovery })
    expect(await recovery.statesOf("test_df.sfm.statefulBatch")).toEqual(new Map([["k", "new_state"]]))
  })
})

