/**
 * `ttl` on the window operators, on a virtual clock: a key that receives no
 * item for `ttl` is discarded with its open windows (which emit nothing, not
 * even `meta`), a window that closes before the expiry closes as usual, and
 * the expired key's state leaves the recovery store. (The kernel behaviour
 * and recovery in depth: packages/core/test/ttl.test.ts and
 * packages/recovery/test/ttl.test.ts.)
 */
import { Dataflow, type KeyedStream, op, runMain, type Stream } from "@weir/core"
import { InMemoryRecovery, TestingSink, TestingSource, type TestingSourceItem, VirtualClock } from "@weir/testing"
import type * as Duration from "effect/Duration"
import { describe, expect, it } from "vitest"
import { EventClock, TumblingWindower, win, type WindowMetadata, type WindowOut } from "../src/index.js"

const align = new Date("2024-01-01T00:00:00Z")
const sec = (n: number) => new Date(align.getTime() + n * 1000)
const PAUSE = (d: Duration.Input) => new TestingSource.PAUSE(d)

interface Event {
  readonly key: string
  readonly at: number // seconds after align
  readonly value: number
}
const ev = (key: string, at: number, value = 1): Event => ({ key, at, value })

/** Event time only: windows close at end of input, never on the system clock. */
const eventTimeOnly = () => new EventClock((e: Event) => sec(e.at), "Infinity")
/** Event time, with the watermark moving on with the run's clock (no wait). */
const followsRunClock = () => new EventClock((e: Event) => sec(e.at), 0)
const minute = () => new TumblingWindower("1 minute", align)

interface Collected<W> {
  down: Array<readonly [string, readonly [number, W]]>
  meta: Array<readonly [string, readonly [number, WindowMetadata]]>
}

const runWindowed = async <W>(
  events: ReadonlyArray<TestingSourceItem<Event>>,
  windowed: (up: Stream<Event>) => WindowOut<Event, W>,
  options: { readonly recovery?: InMemoryRecovery; readonly clock?: VirtualClock } = {}
): Promise<Collected<W>> => {
  const flow = new Dataflow("test_df")
  const out = windowed(op.input("inp", flow, new TestingSource(events)))
  const c: Collected<W> = { down: [], meta: [] }
  op.output("down", out.down, new TestingSink(c.down))
  op.output("meta", out.meta, new TestingSink(c.meta))
  await runMain(flow, { clock: options.clock ?? new VirtualClock(align), epochInterval: "1 minute", recovery: options.recovery })
  return c
}

const byKey = (s: Stream<Event>): KeyedStream<Event> => op.keyOn("key", s, (e: Event) => e.key)
const sum = (ttl: Duration.Input | undefined, clock = eventTimeOnly()) => (s: Stream<Event>) =>
  win.foldWindow("sum", byKey(s), clock, minute(), () => 0, (acc: number, e: Event) => acc + e.value, (a, b) => a + b, { ttl })

describe("window ttl", () => {
  it("drops an open window's key state after ttl without items: the window emits nothing, not even meta", async () => {
    // Both events fall in window 0; "a" is silent for 2 hours (of system time) in between.
    const events = [ev("a", 1, 1), ev("b", 1, 100), PAUSE("40 minutes"), ev("b", 2, 100), PAUSE("80 minutes"), ev("a", 2, 10)]
    const withTtl = await runWindowed(events, sum("1 hour"))
    // "a"'s first window was dropped at minute 60; its event after the silence opened window 0 afresh.
    // "b" (last touched at minute 40) expired at minute 100, with its window.
    expect(withTtl.down).toEqual([["a", [0, 10]]])
    expect(withTtl.meta.map(([k, [id]]) => [k, id])).toEqual([["a", 0]])

    const without = await runWindowed(events, sum(undefined))
    expect(without.down).toEqual([["a", [0, 11]], ["b", [0, 200]]])
  })

  it("a window that closes before the key's expiry closes as usual; a ttl shorter than the window drops it", async () => {
    // The watermark follows the run's clock: window 0 (the first minute) closes 59 s after the event.
    const events = [ev("a", 1, 5), PAUSE("2 hours")]
    const longTtl = await runWindowed(events, sum("2 minutes", followsRunClock()))
    expect(longTtl.down).toEqual([["a", [0, 5]]])
    expect(longTtl.meta.map(([k, [id]]) => [k, id])).toEqual([["a", 0]])
    const shortTtl = await runWindowed(events, sum("30 seconds", followsRunClock()))
    expect(shortTtl).toEqual({ down: [], meta: [] })
  })

  it("every window operator takes the ttl, in both call forms", async () => {
    const events = [ev("a", 1, 3), PAUSE("2 hours"), ev("a", 2, 7), ev("a", 3, 5)]
    const ttl = { ttl: "1 hour" } as const
    const c = () => eventTimeOnly()
    const down = async <W>(f: (s: Stream<Event>) => WindowOut<Event, W>) => (await runWindowed(events, f)).down
    // Without the ttl each would see all three values (3, 7, 5) in window 0.
    expect(await down((s) => win.reduceWindow("r", byKey(s), c(), minute(), (a: Event, b: Event) => ev(a.key, b.at, a.value + b.value), ttl)))
      .toEqual([["a", [0, ev("a", 3, 12)]]])
    expect(await down((s) => win.collectWindow("c", byKey(s), c(), minute(), ttl))).toEqual([["a", [0, [ev("a", 2, 7), ev("a", 3, 5)]]]])
    expect(await down((s) => s.pipe(win.countWindow("n", c(), minute(), (e) => e.key, ttl)))).toEqual([["a", [0, 2]]])
    expect(await down((s) => win.countWindow("n", s, c(), minute(), (e: Event) => e.key, ttl))).toEqual([["a", [0, 2]]])
    expect(await down((s) => byKey(s).pipe(win.maxWindow("max", c(), minute(), (e) => e.value, ttl)))).toEqual([["a", [0, ev("a", 2, 7)]]])
    expect(await down((s) => win.minWindow("min", byKey(s), c(), minute(), (e: Event) => e.value, ttl))).toEqual([["a", [0, ev("a", 3, 5)]]])
    expect(await down((s) => byKey(s).then(win.maxWindow, "max", c(), minute(), undefined, ttl))).toEqual([["a", [0, ev("a", 2, 7)]]])
  })

  it("joinWindow forgets a side's value when its key expires", async () => {
    const flow = new Dataflow("test_df")
    const lefts = op.input("l", flow, new TestingSource<Event>([ev("u1", 1), ev("u2", 1)])).then(op.keyOn, "kl", (e: Event) => e.key)
    const rights = op.input("r", flow, new TestingSource<Event>([PAUSE("30 minutes"), ev("u1", 2), PAUSE("2 hours"), ev("u2", 2)]))
      .then(op.keyOn, "kr", (e: Event) => e.key)
    // Rows on every value, each value fed at once (not held for the watermark).
    const joined = win.joinWindow("join", eventTimeOnly(), minute(), [lefts, rights], { emitMode: "running", ordered: false, ttl: "1 hour" })
    const out: Array<readonly [string, readonly [number, ReadonlyArray<Event | undefined>]]> = []
    op.output("out", joined.down, new TestingSink(out))
    await runMain(flow, { clock: new VirtualClock(align) })
    // u1's sides met 30 minutes apart; u2's left value had expired when its right one came.
    expect(out).toEqual([
      ["u1", [0, [ev("u1", 1), undefined]]],
      ["u2", [0, [ev("u2", 1), undefined]]],
      ["u1", [0, [ev("u1", 1), ev("u1", 2)]]],
      ["u2", [0, [undefined, ev("u2", 2)]]]
    ])
  })

  it("refuses a ttl that is not a positive duration", () => {
    const flow = new Dataflow("test_df")
    const s = op.input("inp", flow, new TestingSource<Event>([]))
    expect(() => sum(0)(s)).toThrow(`operator 'window': 'ttl' must be a positive duration, e.g. "1 hour" or a number of milliseconds; got 0 instead`)
  })

  it("an expired key's windows leave the recovery store, and a resume does not bring them back", async () => {
    const recovery = new InMemoryRecovery()
    const clock = new VirtualClock(align)
    const events: Array<TestingSourceItem<Event>> = [
      ev("a", 1, 1),
      ev("b", 1, 100),
      PAUSE("40 minutes"),
      ev("b", 2, 100),
      PAUSE("30 minutes"),
      new TestingSource.ABORT(),
      PAUSE("10 minutes"),
      ev("a", 3, 10),
      PAUSE("40 minutes")
    ]
    const first = await runWindowed(events, sum("1 hour"), { recovery, clock })
    expect(first).toEqual({ down: [], meta: [] })
    // At the crash (minute 70) "a" had expired (minute 60); "b" was last touched at minute 40.
    const stored = await recovery.statesOf("test_df.sum.window.statefulBatch")
    expect([...stored.keys()]).toEqual(["b"])
    expect(stored.get("b")).toMatchObject({ "weir:touchedAt": align.getTime() + 40 * 60_000 })

    const second = await runWindowed(events, sum("1 hour"), { recovery, clock })
    // "b" expired at minute 100 during the resumed run, unclosed; "a" started afresh at minute 80 and
    // closed its window at the end of input (minute 120).
    expect(second.down).toEqual([["a", [0, 10]]])
  })
})
