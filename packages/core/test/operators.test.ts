/**
 * The Bytewax 0.21 operator conformance cases (test catalogue §1), ported:
 * same inputs, same expected outputs.
 */
import {
  Dataflow,
  type KeyedStream,
  op,
  runMain,
  type RunOptions,
  StatefulLogic,
  type Stream,
  TTLCache,
  WeirRuntimeError
} from "@weir/core"
import { InMemoryRecovery, TestingSink, TestingSource, TimeTestingGetter, VirtualClock } from "@weir/testing"
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

  it("a predicate that doesn't return a boolean fails the run", async () => {
    const flow = new Dataflow("test_df")
    const b = op.branch("branch", op.input("inp", flow, new TestingSource([1])), () => "not a bool" as unknown as boolean)
    op.output("out", b.trues, new TestingSink())
    const err = await failsWith(flow, /must be a `boolean`; got a `string` instead/)
    expect(err.message).toContain("error calling `predicate` in step 'test_df.branch'")
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
  it("emits when the list is full and flushes the rest at EOF", async () => {
    const out = await runOf(Array.from({ length: 10 }, (_, i) => i), (s) =>
      op.collect("collect", all(s), { timeout: "10 seconds", maxSize: 3 }))
    expect(out).toEqual([["ALL", [0, 1, 2]], ["ALL", [3, 4, 5]], ["ALL", [6, 7, 8]], ["ALL", [9]]])
  })

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

describe("countFinal", () => {
  it("counts by key, emitted at EOF in key order", async () => {
    const out = await runOf(["a", "a", "b", "c", "b", "a"], (s) => op.countFinal("count", s, (x: string) => x))
    expect(out).toEqual([["a", 3], ["b", 2], ["c", 1]])
  })
})

describe("enrichCached", () => {
  it("the first get calls the getter", () => {
    const lookup = new Map([["a", 1], ["b", 2]])
    const cache = new TTLCache((k: string) => lookup.get(k)!, () => new Date(), "1 minute")
    expect(cache.get("a")).toBe(1)
  })

  it("a second get is served from the cache", () => {
    const lookup = new Map([["a", 1], ["b", 2]])
    const pop = (k: string) => {
      const v = lookup.get(k)
      if (v === undefined) throw new Error(`KeyError: ${k}`)
      lookup.delete(k)
      return v
    }
    const cache = new TTLCache(pop, () => new Date(), "1 minute")
    expect(cache.get("a")).toBe(1)
    expect(cache.get("a")).toBe(1)
  })

  it("an expired entry is fetched again", () => {
    const lookup = new Map([["a", 1]])
    const clock = new TimeTestingGetter(new Date("2024-01-01T00:00:00Z"))
    const cache = new TTLCache((k: string) => lookup.get(k)!, () => clock.now(), "1 minute")
    expect(cache.get("a")).toBe(1)
    clock.advance("2 minutes")
    lookup.set("a", 3)
    expect(cache.get("a")).toBe(3)
    cache.remove("a")
    expect(() => cache.remove("a")).toThrow(/not in the cache/)
  })

  it("enriches items in a flow", async () => {
    const lookup = new Map([["a", 1], ["b", 2]])
    const out = await runOf(["a", "b", "a"], (s) =>
      op.enrichCached("enrich", s, (k: string) => lookup.get(k)!, (cache, item: string) => cache.get(item)))
    expect(out).toEqual([1, 2, 1])
  })
})

describe("filter, filterMap, filterMapValue, filterValue", () => {
  it("filter keeps odd numbers", async () => {
    expect(await runOf([1, 2, 3], (s) => op.filter("filter", s, (x: number) => x % 2 === 1))).toEqual([1, 3])
  })

  it("filter narrows with a type guard and refuses non-boolean results", async () => {
    const out = await runOf<number | string, number>([1, "x", 2], (s) => op.filter("f", s, (x): x is number => typeof x === "number"))
    expect(out).toEqual([1, 2])
    const { flow } = flowOf([1], (s) => op.filter("f", s, () => 1 as unknown as boolean))
    await failsWith(flow, /return value of `predicate` in step 'test_df.f' must be a `boolean`; got a `number` instead/)
  })

  it("filterMap drops undefined and maps the rest", async () => {
    const out = await runOf([0, 1, 2, 3, 4, 5], (s) => op.filterMap("fm", s, (x: number) => (x % 2 === 1 ? undefined : x + 1)))
    expect(out).toEqual([1, 3, 5])
  })

  it("filterMapValue does the same on values", async () => {
    const out = await runOf([0, 1, 2, 3, 4, 5].map((x) => ["ALL", x] as const), (s) =>
      op.filterMapValue("fm", s, (x: number) => (x % 2 === 1 ? undefined : x + 1)))
    expect(out).toEqual([["ALL", 1], ["ALL", 3], ["ALL", 5]])
  })

  it("filterValue filters on values after keyOn", async () => {
    const out = await runOf([1, 2, 3], (s) => op.filterValue("fv", all(s), (x: number) => x % 2 === 1))
    expect(out).toEqual([["ALL", 1], ["ALL", 3]])
  })
})

describe("flatMap, flatMapBatch, flatten", () => {
  it("flatMap flattens returned arrays", async () => {
    expect(await runOf(["split this"], (s) => op.flatMap("split", s, (x: string) => x.split(" ")))).toEqual(["split", "this"])
  })

  it("flatMap accepts generators", async () => {
    const out = await runOf([["a", 2], ["b", 4]] as Array<readonly [string, number]>, (s) =>
      op.flatMap("repeat", s, function*([x, n]: readonly [string, number]) {
        for (let i = 0; i < n; i++) yield x
      }))
    expect(out).toEqual(["a", "a", "b", "b", "b", "b"])
  })

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

  it("flatten moves sub-items up; empty lists vanish", async () => {
    expect(await runOf([[1, 2], [], [3]], (s) => op.flatten("flatten", s))).toEqual([1, 2, 3])
  })

  it("flatten refuses non-iterable items", async () => {
    const { flow } = flowOf([666] as unknown as Array<Array<number>>, (s) => op.flatten("flatten", s))
    await failsWith(flow, /requires upstream items to be iterables; got a `number` instead/)
  })
})

describe("foldFinal", () => {
  it("the logic's snapshot is the folded state", async () => {
    const flow = new Dataflow("test_df")
    const out: Array<unknown> = []
    const recovery = new InMemoryRecovery()
    op.input("inp", flow, new TestingSource([["k", 5] as const, new TestingSource.ABORT()]))
      .then(op.foldFinal, "fold", () => "old_state", (_s: string, _v: number) => "new_state")
      .then(op.output, "out", new TestingSink(out))
    await runMain(flow, { epochInterval: 0, recovery })
    expect(await recovery.statesOf("test_df.fold.statefulBatch")).toEqual(new Map([["k", "new_state"]]))
  })

  it("folds with a builder and max, emitting only at EOF", async () => {
    const out = await runOf([1, 4, 2, 9, 4, 3], (s) => op.foldFinal("fold", all(s), () => 0, (a: number, b: number) => Math.max(a, b)))
    expect(out).toEqual([["ALL", 9]])
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

  it("passes items on when chained", async () => {
    const seen: Array<unknown> = []
    const out = await runOf(["a"], (s) => s.then(op.inspect, "insp", (stepId: string, item: string) => void seen.push([stepId, item])))
    expect(seen).toEqual([["test_df.insp", "a"]])
    expect(out).toEqual(["a"])
  })

  it("inspectDebug also gets the epoch and the worker", async () => {
    const flow = new Dataflow("test_df")
    const seen: Array<unknown> = []
    op.inspectDebug("insp", op.input("inp", flow, new TestingSource(["a"])), (...args) => void seen.push(args))
    await runMain(flow)
    expect(seen).toEqual([["test_df.insp", "a", 1, 0]])
  })
})

describe("join", () => {
  const joinOf = async (
    lefts: Array<number>,
    rights: Array<number>,
    options?: Parameters<typeof op.join>[2]
  ) => {
    const flow = new Dataflow("test_df")
    const out: Array<unknown> = []
    const l = op.keyOn("key_l", op.input("inp_l", flow, new TestingSource(lefts)), () => "ALL")
    const r = op.keyOn("key_r", op.input("inp_r", flow, new TestingSource(rights)), () => "ALL")
    op.join("join", [l, r] as const, options).then(op.keyRm, "unkey").then(op.output, "out", new TestingSink(out))
    await runMain(flow)
    return out
  }

  it("rows are the product of the sides, an empty side giving undefined", async () => {
    const { joinRows } = op
    expect(joinRows([[1, 2], [], [3, 4]])).toEqual([[1, undefined, 3], [1, undefined, 4], [2, undefined, 3], [2, undefined, 4]])
  })

  it("last/complete emits once every side has a value", async () => {
    expect(await joinOf([1], [2], { insertMode: "last", emitMode: "complete" })).toEqual([[1, 2]])
  })

  it("defaults to last/complete", async () => {
    expect(await joinOf([1], [2])).toEqual([[1, 2]])
  })

  it("first/final keeps the first value per side, emitted at EOF", async () => {
    expect(await joinOf([1], [2, 3], { insertMode: "first", emitMode: "final" })).toEqual([[1, 2]])
  })

  it("last/final keeps the last value per side", async () => {
    expect(await joinOf([1], [2, 3], { insertMode: "last", emitMode: "final" })).toEqual([[1, 3]])
  })

  it("last/running emits on every value, undefined for missing sides", async () => {
    expect(await joinOf([1], [2, 3], { insertMode: "last", emitMode: "running" })).toEqual([[1, undefined], [1, 2], [1, 3]])
  })

  it("product/final emits the cartesian product at EOF", async () => {
    expect(await joinOf([1, 2], [3, 4], { insertMode: "product", emitMode: "final" })).toEqual([[1, 3], [1, 4], [2, 3], [2, 4]])
  })

  it("unknown modes are refused when the flow is defined", () => {
    const flow = new Dataflow("test_df")
    const l = op.keyOn("k", op.input("inp", flow, new TestingSource([1])), () => "ALL")
    expect(() => op.join("join", [l], { emitMode: "eventually" as "final" })).toThrow("unknown join emit mode 'eventually'")
    expect(() => op.join("join2", [l], { insertMode: "middle" as "first" })).toThrow("unknown join insert mode 'middle'")
  })
})

describe("keyOn", () => {
  it("the key function's result becomes the key", async () => {
    expect(await runOf([1, 2, 3], (s) => op.keyOn("key", s, String))).toEqual([["1", 1], ["2", 2], ["3", 3]])
  })

  it("a non-string key fails the run", async () => {
    const { flow } = flowOf([1], (s) => op.keyOn("key", s, (x: number) => x as unknown as string))
    const err = await failsWith(flow, /return value of `key` in step 'test_df.key' must be a `string`; got a `number` instead/)
    expect(err.stepId).toBe("test_df.key.flatMapBatch")
  })
})

describe("map, mapValue", () => {
  it("map adds one", async () => {
    expect(await runOf([0, 1, 2], (s) => op.map("add_one", s, (x: number) => x + 1))).toEqual([1, 2, 3])
  })

  it("mapValue adds one to values", async () => {
    expect(await runOf([0, 1, 2], (s) => op.mapValue("add_one", all(s), (x: number) => x + 1))).toEqual([
      ["ALL", 1],
      ["ALL", 2],
      ["ALL", 3]
    ])
  })
})

describe("maxFinal, minFinal", () => {
  const rows = [{ user: "a", val: 1 }, { user: "a", val: 9 }, { user: "a", val: 3 }]
  it("max by a field", async () => {
    const out = await runOf(rows, (s) => op.maxFinal("max", op.keyOn("key", s, (r) => r.user), (r) => r.val))
    expect(out).toEqual([["a", { user: "a", val: 9 }]])
  })
  it("min by a field", async () => {
    const out = await runOf(rows, (s) => op.minFinal("min", op.keyOn("key", s, (r) => r.user), (r) => r.val))
    expect(out).toEqual([["a", { user: "a", val: 1 }]])
  })
})

describe("merge", () => {
  it("interleaves three inputs batch by batch on one worker", async () => {
    const flow = new Dataflow("test_df")
    const out: Array<number> = []
    const odds = op.input("odds", flow, new TestingSource([1, 3, 5]))
    const evens = op.input("evens", flow, new TestingSource([2, 4, 6]))
    const huge = op.input("huge", flow, new TestingSource([100, 200, 300]))
    op.merge("merge", odds, evens, huge).then(op.output, "out", new TestingSink(out))
    await runMain(flow)
    expect(out).toEqual([1, 2, 100, 3, 4, 200, 5, 6, 300])
  })
})

describe("raises", () => {
  it("any item fails the run", async () => {
    const flow = new Dataflow("test_df")
    op.raises("raises", op.input("inp", flow, new TestingSource([0, 1, 2])))
    const err = await failsWith(flow, /`raises` step 'test_df.raises' got an item: 0/)
    expect(err.stepId).toBe("test_df.raises.inspectDebug")
  })
})

describe("reduceFinal", () => {
  it("reduces with max", async () => {
    expect(await runOf([1, 4, 2, 9, 4, 3], (s) => op.reduceFinal("max", all(s), Math.max))).toEqual([["ALL", 9]])
  })

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

  it("retain after an item", async () => {
    expect(await statefulRun([1, 2, new TestingSource.ABORT()], lifecycle({}))).toEqual([
      ["ALL", ["NEW", "ITEM"]],
      ["ALL", ["ITEM", "ITEM"]]
    ])
  })

  it("discard after a notification", async () => {
    expect(await statefulRun([1, 2, new TestingSource.ABORT()], lifecycle({ itemTriggersNotify: true, notify: true })))
      .toEqual([
        ["ALL", ["NEW", "ITEM"]],
        ["ALL", ["ITEM", "NOTIFY"]],
        ["ALL", ["NEW", "ITEM"]],
        ["ALL", ["ITEM", "NOTIFY"]]
      ])
  })

  it("retain after a notification", async () => {
    expect(await statefulRun([1, 2, new TestingSource.ABORT()], lifecycle({ itemTriggersNotify: true }))).toEqual([
      ["ALL", ["NEW", "ITEM"]],
      ["ALL", ["ITEM", "NOTIFY"]],
      ["ALL", ["NOTIFY", "ITEM"]],
      ["ALL", ["ITEM", "NOTIFY"]]
    ])
  })

  it("discard at EOF: the resumed run starts fresh", async () => {
    const recovery = new InMemoryRecovery()
    const inp = [1, new TestingSource.EOF(), 2, new TestingSource.ABORT()]
    expect(await statefulRun(inp, lifecycle({ eof: true }), recovery)).toEqual([["ALL", ["NEW", "ITEM"]], ["ALL", ["ITEM", "EOF"]]])
    expect(await statefulRun(inp, lifecycle({ eof: true }), recovery)).toEqual([["ALL", ["NEW", "ITEM"]]])
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

  it("keeps one logic per key", async () => {
    expect(await keepLast([["a", "a1"], ["b", "b1"], ["a", "a2"], ["b", "b2"]])).toEqual([
      ["a", [undefined, "a1"]],
      ["b", [undefined, "b1"]],
      ["a", ["a1", "a2"]],
      ["b", ["b1", "b2"]]
    ])
  })

  it("snapshots each key's logic and restores it on resume", async () => {
    const recovery = new InMemoryRecovery()
    const inp: Array<Item<readonly [string, string]>> = [["a", "a1"], ["b", "b1"], new TestingSource.ABORT(), ["a", "a2"], ["b", "b2"]]
    expect(await keepLast(inp, recovery)).toEqual([["a", [undefined, "a1"]], ["b", [undefined, "b1"]]])
    expect(await keepLast(inp, recovery)).toEqual([["a", ["a1", "a2"]], ["b", ["b1", "b2"]]])
  })

  it("a discard is persisted", async () => {
    const recovery = new InMemoryRecovery()
    const inp: Array<Item<readonly [string, string]>> = [
      ["a", "a1"],
      ["b", "b1"],
      ["a", "DISCARD"],
      ["b", "b2"],
      new TestingSource.ABORT(),
      ["a", "a3"],
      ["b", "b3"]
    ]
    expect(await keepLast(inp, recovery)).toEqual([
      ["a", [undefined, "a1"]],
      ["b", [undefined, "b1"]],
      ["a", ["a1", "DISCARD"]],
      ["b", ["b1", "b2"]]
    ])
    expect(await keepLast(inp, recovery)).toEqual([["a", [undefined, "a3"]], ["b", ["b2", "b3"]]])
  })
})

describe("statefulFlatMap", () => {
  it("emits only when the value increases", async () => {
    const out = await runOf([2, 5, 8, 1, 3], (s) =>
      op.statefulFlatMap("rise", all(s), (last: number | undefined, x: number) => [x, last === undefined || x > last ? [x] : []] as const))
    expect(out).toEqual([["ALL", 2], ["ALL", 5], ["ALL", 8], ["ALL", 3]])
  })

  it("an undefined state discards the key, and a state is snapshotted", async () => {
    const recovery = new InMemoryRecovery()
    const { flow } = flowOf([["k", 1] as const, ["gone", 2] as const, new TestingSource.ABORT()], (s) =>
      op.statefulFlatMap("sfm", s as KeyedStream<number>, (_s: string | undefined, x: number) =>
        [x === 1 ? "new_state" : undefined, []] as const))
    await runMain(flow, { epochInterval: 0, recovery })
    expect(await recovery.statesOf("test_df.sfm.statefulBatch")).toEqual(new Map([["k", "new_state"]]))
  })
})

describe("statefulMap", () => {
  it("a running mean over a list state", async () => {
    const out = await runOf([2, 5, 8, 1, 3], (s) =>
      op.statefulMap("running_mean", all(s), (acc: Array<number> | undefined, x: number) => {
        // Bytewax's test keeps the *first* items when truncating (`last_3[:-3]`); same mapper, same outputs.
        let next = [...(acc ?? []), x]
        if (next.length > 3) next = next.slice(0, -3)
        return [next, next.reduce((a, b) => a + b, 0) / next.length] as const
      }))
    expect(out).toEqual([["ALL", 2], ["ALL", 3.5], ["ALL", 5], ["ALL", 2], ["ALL", 2.5]])
  })

  it("a mapper that returns a bare value fails the run", async () => {
    const { flow } = flowOf([1], (s) => op.statefulMap("bad", all(s), (() => 5) as unknown as (s: number | undefined, x: number) => readonly [number, number]))
    await failsWith(flow, /must be a 2-element array `\[updatedState, emitValue\]`; got a `number` instead/)
  })
})

describe("mapDictValue", () => {
  it("maps one field of each object", async () => {
    const out = await runOf([{ a: 0, b: 0 }, { a: 1, b: 0 }, { a: 2, b: 0 }], (s) =>
      op.map("m", s, op.mapDictValue("a", (a: number) => a + 1)))
    expect(out).toEqual([{ a: 1, b: 0 }, { a: 2, b: 0 }, { a: 3, b: 0 }])
  })
})
