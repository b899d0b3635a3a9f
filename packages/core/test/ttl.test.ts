/**
 * State time-to-live (`ttl`) of the keyed stateful operators, on a virtual
 * clock: a key untouched for `ttl` is discarded (no `onNotify`/`onEof`,
 * nothing emitted, fresh state for its next item), a key touched in time is
 * kept, a logic's own wake-ups don't extend it; with the in-memory store, an
 * expired key's state is gone and a resume expires keys when an uninterrupted
 * run would. (The real stores: packages/recovery/test/ttl.test.ts; windows:
 * packages/windowing/test/ttl.test.ts; worker threads: threads-ttl.test.ts.)
 */
import { clusterMain, currentTimeMillis, Dataflow, type KeyedStream, op, runMain, StatefulLogic, type Stream } from "@weir/core"
import { InMemoryRecovery, TestingSink, TestingSource, type TestingSourceItem, VirtualClock } from "@weir/testing"
import type * as Duration from "effect/Duration"
import { describe, expect, it } from "vitest"
import { runOf } from "./operators/helpers.js"

const START = new Date("2024-01-01T00:00:00Z")
const clock = () => new VirtualClock(START)
const PAUSE = (d: Duration.Input) => new TestingSource.PAUSE(d)
const MINUTE = 60_000

type Pair = readonly [string, number]

const sum = (acc: number | undefined, x: number) => [(acc ?? 0) + x, (acc ?? 0) + x] as const

/** Minutes since START on the run's clock. */
const minutesNow = () => (currentTimeMillis() - START.getTime()) / MINUTE

describe("ttl on statefulMap", () => {
  it("discards a key untouched for ttl: its next item starts from fresh state", async () => {
    const items: Array<TestingSourceItem<Pair>> = [["a", 1], ["a", 2], PAUSE("2 hours"), ["a", 10]]
    const out = await runOf(items, (s) => op.statefulMap("sum", s, sum, { ttl: "1 hour" }), { clock: clock() })
    expect(out).toEqual([["a", 1], ["a", 3], ["a", 10]])
  })

  it("keeps a key touched within ttl, however long it lives", async () => {
    // Six touches 50 minutes apart: 4 h 10 min in all, never an hour without an item.
    const items: Array<TestingSourceItem<Pair>> = []
    for (let i = 1; i <= 6; i++) items.push(["a", i], PAUSE("50 minutes"))
    const out = await runOf(items, (s) => op.statefulMap("sum", s, sum, { ttl: "1 hour" }), { clock: clock() })
    expect(out).toEqual([["a", 1], ["a", 3], ["a", 6], ["a", 10], ["a", 15], ["a", 21]])
  })

  it("expires each key on its own: a busy key survives a quiet one", async () => {
    const items: Array<TestingSourceItem<Pair>> = [
      ["quiet", 1],
      ["busy", 1],
      PAUSE("40 minutes"),
      ["busy", 1],
      PAUSE("40 minutes"),
      ["busy", 1],
      ["quiet", 1]
    ]
    const out = await runOf(items, (s) => op.statefulMap("sum", s, sum, { ttl: "1 hour" }), { clock: clock() })
    expect(out).toEqual([["quiet", 1], ["busy", 1], ["busy", 2], ["busy", 3], ["quiet", 1]])
  })

  it("without ttl the same flow keeps every key", async () => {
    const items: Array<TestingSourceItem<Pair>> = [["a", 1], ["a", 2], PAUSE("2 hours"), ["a", 10]]
    const out = await runOf(items, (s) => op.statefulMap("sum", s, sum), { clock: clock() })
    expect(out).toEqual([["a", 1], ["a", 3], ["a", 13]])
  })

  it("works in the data-last form, in `then`, and on interleaved workers", async () => {
    const items: Array<TestingSourceItem<Pair>> = [["a", 1], ["b", 5], PAUSE("2 hours"), ["a", 10], ["b", 1]]
    const piped = await runOf(items, (s) => s.pipe(op.statefulMap("sum", sum, { ttl: "1 hour" })), { clock: clock() })
    const fluent = await runOf(items, (s) => s.then(op.statefulMap, "sum", sum, { ttl: "1 hour" }), { clock: clock() })
    expect(piped).toEqual([["a", 1], ["b", 5], ["a", 10], ["b", 1]])
    expect(fluent).toEqual(piped)

    const flow = new Dataflow("test_df")
    const out: Array<Pair> = []
    op.input("inp", flow, new TestingSource(items))
      .pipe(op.statefulMap("sum", sum, { ttl: "1 hour" }))
      .then(op.output, "out", new TestingSink(out))
    await clusterMain(flow, { workersPerProcess: 3, clock: clock() })
    expect([...out].sort()).toEqual([...piped].sort())
  })
})

describe("what expiry calls and emits", () => {
  type Out = readonly [string, number]
  /** Emits ["item", n], ["notify", minute] and ["eof", n]; wakes at `wakeAfter` minutes after each item, if set. */
  class Probe extends StatefulLogic<number, Out, { n: number; wake: number | undefined }> {
    private n: number
    private wake: number | undefined
    constructor(resume: { n: number; wake: number | undefined } | undefined, private readonly wakeAfter: number | undefined) {
      super()
      this.n = resume?.n ?? 0
      this.wake = resume?.wake
    }
    onItem(x: number) {
      this.n += x
      if (this.wakeAfter !== undefined) this.wake = currentTimeMillis() + this.wakeAfter * MINUTE
      const out: Out = ["item", this.n]
      return [[out], StatefulLogic.RETAIN] as const
    }
    override onNotify() {
      this.wake = undefined
      const out: Out = ["notify", minutesNow()]
      return [[out], StatefulLogic.RETAIN] as const
    }
    override onEof() {
      const out: Out = ["eof", this.n]
      return [[out], StatefulLogic.DISCARD] as const
    }
    override notifyAt() {
      return this.wake === undefined ? undefined : new Date(this.wake)
    }
    snapshot() {
      return { n: this.n, wake: this.wake }
    }
  }
  const probe = (wakeAfter: number | undefined, ttl: Duration.Input) => (s: KeyedStream<number>) =>
    op.stateful("probe", s, (resume: { n: number; wake: number | undefined } | undefined) => new Probe(resume, wakeAfter), { ttl })

  it("an expired key gets no onNotify and no onEof, and emits nothing", async () => {
    // The logic wants a wake-up 2 hours after its item; its ttl of 1 hour comes first.
    const items: Array<TestingSourceItem<Pair>> = [["a", 1], ["b", 1], PAUSE("3 hours"), ["b", 1]]
    const out = await runOf(items, probe(120, "1 hour"), { clock: clock() })
    // "a" expired silently; "b" expired too, and its item after the pause started over.
    expect(out).toEqual([["a", ["item", 1]], ["b", ["item", 1]], ["b", ["item", 1]], ["b", ["eof", 1]]])
  })

  it("a logic's wake-up due before the expiry still comes, and does not extend the ttl", async () => {
    // Wake-ups 20 minutes after each item, ttl 30 minutes: onNotify at minute 20, expiry at 30.
    const items: Array<TestingSourceItem<Pair>> = [["a", 1], PAUSE("2 hours"), ["a", 5]]
    const out = await runOf(items, probe(20, "30 minutes"), { clock: clock() })
    // (The input ends right after the last item, before its wake-up.)
    expect(out).toEqual([["a", ["item", 1]], ["a", ["notify", 20]], ["a", ["item", 5]], ["a", ["eof", 5]]])
  })

  it("a wake-up due at the very moment of expiry goes first", async () => {
    const items: Array<TestingSourceItem<Pair>> = [["a", 1], PAUSE("2 hours"), ["a", 5]]
    const out = await runOf(items, probe(30, "30 minutes"), { clock: clock() })
    expect(out).toEqual([["a", ["item", 1]], ["a", ["notify", 30]], ["a", ["item", 5]], ["a", ["eof", 5]]])
  })

  it("foldFinal emits at end of input only the keys touched within ttl", async () => {
    const items: Array<TestingSourceItem<Pair>> = [["old", 1], ["both", 1], PAUSE("2 hours"), ["both", 2], ["new", 3]]
    const out = await runOf(items, (s) => op.foldFinal("total", s, () => 0, (a: number, x: number) => a + x, { ttl: "1 hour" }), {
      clock: clock()
    })
    expect(out).toEqual([["both", 2], ["new", 3]])
  })

  it("reduceFinal, countFinal, maxFinal and minFinal take the ttl too", async () => {
    // Without the ttl: a sum of 9, a count of 3, a maximum of 4 and a minimum of 1.
    const run = <Y>(first: number, body: (s: Stream<Pair>) => Stream<Y>) =>
      runOf([["a", first], ["b", 1], PAUSE("2 hours"), ["a", 2], ["a", 3]], body, { clock: clock() })
    expect(await run(4, (s) => op.reduceFinal("r", s, (a: number, b: number) => a + b, { ttl: "1 hour" }))).toEqual([["a", 5]])
    expect(await run(4, (s) => op.countFinal("c", s, ([k]) => k, { ttl: "1 hour" }))).toEqual([["a", 2]])
    expect(await run(4, (s) => op.maxFinal("max", s, undefined, { ttl: "1 hour" }))).toEqual([["a", 3]])
    expect(await run(1, (s) => s.pipe(op.minFinal("min", (x: number) => x, { ttl: "1 hour" })))).toEqual([["a", 2]])
  })

  it("statefulFlatMap and statefulBatch take the ttl too", async () => {
    const items: Array<TestingSourceItem<Pair>> = [["a", 1], PAUSE("2 hours"), ["a", 2]]
    const flat = await runOf(items, (s) =>
      op.statefulFlatMap("f", s, (acc: number | undefined, x: number) => [(acc ?? 0) + x, [(acc ?? 0) + x]] as const, { ttl: "1 hour" }), {
      clock: clock()
    })
    expect(flat).toEqual([["a", 1], ["a", 2]])
    const counted = await runOf(items, (s) => s.then(op.stateful, "p", (r: { n: number; wake: number | undefined } | undefined) => new Probe(r, undefined), { ttl: "1 hour" }), {
      clock: clock()
    })
    expect(counted).toEqual([["a", ["item", 1]], ["a", ["item", 2]], ["a", ["eof", 2]]])
  })
})

describe("ttl on collect and join", () => {
  it("collect: a timeout shorter than the ttl emits first; a ttl shorter than the timeout drops the list", async () => {
    const items: Array<TestingSourceItem<Pair>> = [["a", 1], PAUSE("2 hours"), ["a", 2]]
    const timeoutFirst = await runOf(items, (s) => op.collect("c", s, { timeout: "10 minutes", maxSize: 10, ttl: "1 hour" }), {
      clock: clock()
    })
    expect(timeoutFirst).toEqual([["a", [1]], ["a", [2]]])
    const dropped = await runOf(items, (s) => op.collect("c", s, { timeout: "1 hour", maxSize: 10, ttl: "10 minutes" }), {
      clock: clock()
    })
    expect(dropped).toEqual([["a", [2]]])
  })

  it("join: a side's value older than the ttl is forgotten", async () => {
    const flow = new Dataflow("test_df")
    const out: Array<readonly [string, [string | undefined, string | undefined]]> = []
    const lefts = op.input("l", flow, new TestingSource<readonly [string, string]>([["u1", "L1"], ["u2", "L2"]]))
    const rights = op.input("r", flow, new TestingSource<readonly [string, string]>([
      PAUSE("30 minutes"),
      ["u1", "R1"],
      PAUSE("2 hours"),
      ["u2", "R2"]
    ]))
    op.output("out", op.join("join", [lefts, rights], { emitMode: "running", ttl: "1 hour" }), new TestingSink(out))
    await runMain(flow, { clock: clock() })
    // u1's left value was 30 minutes old: joined. u2's was 2.5 hours old: gone.
    expect(out).toEqual([["u1", ["L1", undefined]], ["u2", ["L2", undefined]], ["u1", ["L1", "R1"]], ["u2", [undefined, "R2"]]])
  })
})

describe("ttl with recovery (in-memory store)", () => {
  const STEP = "test_df.sum.statefulBatch"
  const flowWith = (items: ReadonlyArray<TestingSourceItem<Pair>>, ttl: Duration.Input | undefined) => {
    const flow = new Dataflow("test_df")
    const out: Array<Pair> = []
    op.input("inp", flow, new TestingSource(items))
      .then(op.statefulMap, "sum", sum, ttl === undefined ? undefined : { ttl })
      .then(op.output, "out", new TestingSink(out))
    return { flow, out }
  }

  it("an expired key's state is gone from the store; the stored state carries the last-touched time", async () => {
    const recovery = new InMemoryRecovery()
    const items: Array<TestingSourceItem<Pair>> = [["a", 1], ["b", 1], PAUSE("40 minutes"), ["b", 1], PAUSE("40 minutes"), new TestingSource.EOF()]
    const first = flowWith(items, "1 hour")
    const c = clock()
    await runMain(first.flow, { clock: c, epochInterval: "1 minute", recovery })
    expect(first.out).toEqual([["a", 1], ["b", 1], ["b", 2]])
    // "a" expired at minute 60; "b", touched at minute 40, lives until 100.
    expect(await recovery.statesOf(STEP)).toEqual(
      new Map([["b", { "weir:state": 2, "weir:touchedAt": START.getTime() + 40 * MINUTE }]])
    )
  })

  it("a resume expires keys when an uninterrupted run would, and never brings an expired key back", async () => {
    // The crash comes 55 minutes after "a" was touched (5 after "b", long enough for an epoch to
    // commit it); the resumed run starts there, its clock too.
    const items: Array<TestingSourceItem<Pair>> = [
      ["a", 1],
      PAUSE("50 minutes"),
      ["b", 1],
      PAUSE("5 minutes"),
      new TestingSource.ABORT(),
      PAUSE("15 minutes"),
      ["a", 10],
      ["b", 10]
    ]
    const recovery = new InMemoryRecovery()
    const c = clock()
    const first = flowWith(items, "1 hour")
    await runMain(first.flow, { clock: c, epochInterval: "1 minute", recovery })
    expect(first.out).toEqual([["a", 1], ["b", 1]])
    const second = flowWith(items, "1 hour")
    await runMain(second.flow, { clock: c, epochInterval: "1 minute", recovery })
    // "a" (touched at minute 0) expired at minute 60, during the pause; "b" (minute 50) was kept.
    expect(second.out).toEqual([["a", 10], ["b", 11]])

    // Uninterrupted, the same.
    const straight = flowWith(items.filter((x) => !(x instanceof TestingSource.ABORT)), "1 hour")
    await runMain(straight.flow, { clock: clock() })
    expect(straight.out).toEqual([...first.out, ...second.out])
  })

  it("a resume long after the expiry drops the key at once, before any new item", async () => {
    const items: Array<TestingSourceItem<Pair>> = [["a", 1], new TestingSource.ABORT(), ["a", 10]]
    const recovery = new InMemoryRecovery()
    const c = clock()
    const first = flowWith(items, "1 hour")
    await runMain(first.flow, { clock: c, epochInterval: 0, recovery })
    expect(first.out).toEqual([["a", 1]])
    // The process was down for a day.
    c.advance("1 day")
    const second = flowWith(items, "1 hour")
    await runMain(second.flow, { clock: c, epochInterval: 0, recovery })
    expect(second.out).toEqual([["a", 10]])
  })

  it("a resume long after the expiry still gives the logic its wake-ups due before it, then drops the key", async () => {
    type Ticks = { readonly ticks: number; readonly wake: number }
    /** Ticks every 10 minutes after its item, on its own timer. */
    class Ticker extends StatefulLogic<number, number, Ticks> {
      private ticks: number
      private wake: number
      constructor(resume: Ticks | undefined) {
        super()
        this.ticks = resume?.ticks ?? 0
        this.wake = resume?.wake ?? NaN
      }
      onItem() {
        this.wake = currentTimeMillis() + 10 * MINUTE
        return [[], StatefulLogic.RETAIN] as const
      }
      override onNotify() {
        this.ticks += 1
        this.wake += 10 * MINUTE
        return [[this.ticks], StatefulLogic.RETAIN] as const
      }
      override notifyAt() {
        return Number.isNaN(this.wake) ? undefined : new Date(this.wake)
      }
      snapshot(): Ticks {
        return { ticks: this.ticks, wake: this.wake }
      }
    }
    const tickerFlow = (items: ReadonlyArray<TestingSourceItem<Pair>>) => {
      const flow = new Dataflow("test_df")
      const out: Array<readonly [string, number]> = []
      op.input("inp", flow, new TestingSource(items))
        .then(op.stateful, "tick", (resume: Ticks | undefined) => new Ticker(resume), { ttl: "30 minutes" })
        .then(op.output, "out", new TestingSink(out))
      return { flow, out }
    }
    // Uninterrupted: ticks at minutes 10, 20 and 30 (the last at the very moment of expiry), then the key is gone.
    const straight = tickerFlow([["a", 1], PAUSE("3 hours")])
    await runMain(straight.flow, { clock: clock() })
    expect(straight.out).toEqual([["a", 1], ["a", 2], ["a", 3]])

    // A crash at minute 5; the resume comes a day later: the same three ticks, then nothing.
    const items: Array<TestingSourceItem<Pair>> = [["a", 1], PAUSE("5 minutes"), new TestingSource.ABORT(), PAUSE("3 hours")]
    const recovery = new InMemoryRecovery()
    const c = clock()
    const first = tickerFlow(items)
    await runMain(first.flow, { clock: c, epochInterval: "1 minute", recovery })
    expect(first.out).toEqual([])
    c.advance("1 day")
    const second = tickerFlow(items)
    await runMain(second.flow, { clock: c, epochInterval: "1 minute", recovery })
    expect(second.out).toEqual([["a", 1], ["a", 2], ["a", 3]])
    expect(await recovery.statesOf("test_df.tick.statefulBatch")).toEqual(new Map())
  })

  it("a store written without ttl resumes with ttl: restored keys count as touched at the resume", async () => {
    const items: Array<TestingSourceItem<Pair>> = [
      ["a", 1],
      PAUSE("5 minutes"),
      new TestingSource.ABORT(),
      PAUSE("50 minutes"),
      ["a", 10],
      PAUSE("2 hours"),
      ["a", 100]
    ]
    const recovery = new InMemoryRecovery()
    const c = clock()
    const first = flowWith(items, undefined)
    await runMain(first.flow, { clock: c, epochInterval: "1 minute", recovery })
    c.advance("1 day")
    const second = flowWith(items, "1 hour")
    await runMain(second.flow, { clock: c, epochInterval: "1 minute", recovery })
    // Kept at minute 50 after the resume (a full hour from it), expired after the 2-hour pause.
    expect(second.out).toEqual([["a", 11], ["a", 100]])
  })

  it("a store written with ttl resumes without one: the states are unwrapped and live on", async () => {
    const items: Array<TestingSourceItem<Pair>> = [["a", 1], PAUSE("5 minutes"), new TestingSource.ABORT(), PAUSE("2 hours"), ["a", 10]]
    const recovery = new InMemoryRecovery()
    const c = clock()
    const first = flowWith(items, "1 hour")
    await runMain(first.flow, { clock: c, epochInterval: "1 minute", recovery })
    const second = flowWith(items, undefined)
    await runMain(second.flow, { clock: c, epochInterval: "1 minute", recovery })
    expect(second.out).toEqual([["a", 11]])
    expect(await recovery.statesOf(STEP)).toEqual(new Map([["a", 11]]))
  })
})

describe("ttl option checks", () => {
  const keyedIn = () => op.input("inp", new Dataflow("test_df"), new TestingSource<Pair>([]))
  it.each([
    ["0", 0],
    ["a negative duration", -5],
    ["a string that is no duration", "soon"]
  ])("refuses %s, naming the operator", (_name, ttl) => {
    expect(() => op.statefulMap("s", keyedIn(), sum, { ttl: ttl as number })).toThrow(
      /operator 'statefulMap': 'ttl' must be a positive duration, e\.g\. "1 hour"/
    )
    expect(() => op.collect("c", keyedIn(), { timeout: "1 second", maxSize: 2, ttl: ttl as number })).toThrow(/operator 'collect': 'ttl'/)
    expect(() => op.join("j", [keyedIn()], { ttl: ttl as number })).toThrow(/operator 'join': 'ttl'/)
  })

  it("refuses options that are not an object", () => {
    expect(() => op.foldFinal("f", keyedIn(), () => 0, (a: number) => a, "1 hour" as never)).toThrow(
      "operator 'foldFinal': 'options' must be an object such as `{ ttl: \"1 hour\" }`; got a `string` instead"
    )
  })

  it("an infinite ttl is no ttl", async () => {
    const items: Array<TestingSourceItem<Pair>> = [["a", 1], PAUSE("2 hours"), ["a", 10]]
    const out = await runOf(items, (s) => op.statefulMap("sum", s, sum, { ttl: "Infinity" }), { clock: clock() })
    expect(out).toEqual([["a", 1], ["a", 11]])
  })
})
