import { Dataflow, type KeyedStream, op, runMain, type Stream } from "@weir/core"
import { TestingSink, TestingSource, VirtualClock } from "@weir/testing"
import { describe, expect, it } from "vitest"
import {
  EventClock,
  SessionWindower,
  SlidingWindower,
  SystemClock,
  TumblingWindower,
  win,
  type WindowMetadata,
  type WindowOut
} from "../src/index.js"

const align = new Date("2024-01-01T00:00:00Z")
const sec = (n: number) => new Date(align.getTime() + n * 1000)

interface Event {
  readonly key: string
  readonly at: number // seconds after align
  readonly value: number
}
const ev = (key: string, at: number, value = 1): Event => ({ key, at, value })
const clock = (wait: number | "Infinity" = 0) => new EventClock((e: Event) => sec(e.at), wait === "Infinity" ? "Infinity" : wait * 1000, { nowGetter: () => align })

interface Collected<V, W> {
  down: Array<readonly [string, readonly [number, W]]>
  late: Array<readonly [string, readonly [number, V]]>
  meta: Array<readonly [string, readonly [number, WindowMetadata]]>
}

/** Build a flow over `events`, apply `windowed`, run it, and collect the three outputs. */
const runWindowed = async <W>(
  events: ReadonlyArray<Event | InstanceType<typeof TestingSource.EOF>>,
  windowed: (keyed: KeyedStream<Event>) => WindowOut<Event, W>,
  batchSize = 1
): Promise<Collected<Event, W>> => {
  const flow = new Dataflow("test_df")
  const keyed = op.input("inp", flow, new TestingSource(events, batchSize)).then(op.keyOn, "key", (e: Event) => e.key)
  const out = windowed(keyed)
  const c: Collected<Event, W> = { down: [], late: [], meta: [] }
  op.output("down", out.down, new TestingSink(c.down))
  op.output("late", out.late, new TestingSink(c.late))
  op.output("meta", out.meta, new TestingSink(c.meta))
  await runMain(flow, { clock: new VirtualClock(align) })
  return c
}

const sum = (keyed: KeyedStream<Event>, windower = new TumblingWindower("10 seconds", align), wait: number | "Infinity" = 0) =>
  win.foldWindow("sum", keyed, clock(wait), windower, () => 0, (s: number, e: Event) => s + e.value, (a, b) => a + b)

describe("foldWindow with tumbling windows", () => {
  it("sums per key per window, emitted when the watermark passes the window end", async () => {
    const out = await runWindowed(
      [ev("a", 1, 1), ev("a", 5, 2), ev("b", 3, 10), ev("a", 12, 4), ev("b", 25, 20)],
      (k) => sum(k)
    )
    expect(out.down).toEqual([["a", [0, 3]], ["b", [0, 10]], ["a", [1, 4]], ["b", [2, 20]]])
    expect(out.late).toEqual([])
    expect(out.meta.map(([k, [id, m]]) => [k, id, m.openTime.toISOString(), m.closeTime.toISOString()])).toEqual([
      ["a", 0, "2024-01-01T00:00:00.000Z", "2024-01-01T00:00:10.000Z"],
      ["b", 0, "2024-01-01T00:00:00.000Z", "2024-01-01T00:00:10.000Z"],
      ["a", 1, "2024-01-01T00:00:10.000Z", "2024-01-01T00:00:20.000Z"],
      ["b", 2, "2024-01-01T00:00:20.000Z", "2024-01-01T00:00:30.000Z"]
    ])
  })

  it("items behind the watermark go to `late` with the ids they would have had", async () => {
    const out = await runWindowed([ev("a", 15), ev("a", 3), ev("a", 16)], (k) => sum(k))
    expect(out.late).toEqual([["a", [0, ev("a", 3)]]])
    expect(out.down).toEqual([["a", [1, 2]]])
  })

  it("with a wait, out-of-order items within it are on time and folded in timestamp order", async () => {
    const seen: Array<number> = []
    const out = await runWindowed([ev("a", 8), ev("a", 2), ev("a", 6), ev("a", 30)], (k) =>
      win.foldWindow("order", k, clock(10), new TumblingWindower("10 seconds", align), () => 0, (s: number, e: Event) => {
        seen.push(e.at)
        return s + 1
      }, (a, b) => a + b))
    expect(seen).toEqual([2, 6, 8, 30])
    expect(out.late).toEqual([])
    expect(out.down).toEqual([["a", [0, 3]], ["a", [3, 1]]])
  })

  it("an infinite wait closes windows only at end of input", async () => {
    const out = await runWindowed([ev("a", 1), ev("a", 100), ev("a", 1000)], (k) => sum(k, undefined, "Infinity"))
    expect(out.down).toEqual([["a", [0, 1]], ["a", [10, 1]], ["a", [100, 1]]])
  })

  it("unordered processing folds in arrival order", async () => {
    const seen: Array<number> = []
    await runWindowed([ev("a", 8), ev("a", 2)], (k) =>
      win.foldWindow("unordered", k, clock(10), new TumblingWindower("10 seconds", align), () => 0, (s: number, e: Event) => {
        seen.push(e.at)
        return s
      }, (a) => a, { ordered: false }))
    expect(seen).toEqual([8, 2])
  })
})

describe("sliding windows", () => {
  it("an item lands in every overlapping window", async () => {
    const out = await runWindowed([ev("a", 7), ev("a", 12)], (k) =>
      sum(k, new SlidingWindower("10 seconds", "5 seconds", align)))
    expect(out.down).toEqual([["a", [0, 1]], ["a", [1, 2]], ["a", [2, 1]]])
  })
})

describe("session windows", () => {
  const sessions = (k: KeyedStream<Event>, gap = 10) =>
    win.collectWindow("collect", k, clock(0), new SessionWindower(gap * 1000))

  it("items within the gap share a session; a later one starts another", async () => {
    const out = await runWindowed([ev("a", 0), ev("a", 5), ev("a", 15), ev("a", 40)], (k) => sessions(k))
    expect(out.down.map(([key, [id, items]]) => [key, id, items.map((e) => e.at)])).toEqual([
      ["a", 0, [0, 5, 15]],
      ["a", 1, [40]]
    ])
  })

  it("an item bridging two sessions merges them; meta names the merged id", async () => {
    const out = await runWindowed([ev("a", 0), ev("a", 18), ev("a", 9), ev("a", 9.5)], (k) =>
      win.collectWindow("collect", k, new EventClock((e: Event) => sec(e.at), "1 minute", { nowGetter: () => align }),
        new SessionWindower("10 seconds"), { ordered: false }))
    // Arrival order: 18 opened session 1, then 9 bridged it into session 0.
    expect(out.down.map(([, [id, items]]) => [id, items.map((e) => e.at)])).toEqual([[0, [0, 9, 18, 9.5]]])
    expect(out.meta.map(([, [id, m]]) => [id, m.mergedIds])).toEqual([[0, new Set([1])]])
  })

  it("a key with no open session keeps no state (no leak for keys that never return)", async () => {
    const builds: Array<string> = []
    const flow = new Dataflow("test_df")
    const keyed = op.input("inp", flow, new TestingSource([ev("a", 0), ev("a", 100), ev("a", 200)]))
      .then(op.keyOn, "key", (e: Event) => e.key)
    const out = win.foldWindow("count", keyed, clock(0), new SessionWindower("10 seconds"), () => {
      builds.push("window")
      return 0
    }, (n: number) => n + 1, (a, b) => a + b)
    const down: Array<unknown> = []
    op.output("out", out.down, new TestingSink(down))
    // Observe the per-key state through the snapshots the step takes: with recovery, a discarded key is a tombstone.
    const { InMemoryRecovery } = await import("@weir/testing")
    const recovery = new InMemoryRecovery()
    await runMain(flow, { clock: new VirtualClock(align), epochInterval: 0, recovery })
    expect(down).toEqual([["a", [0, 1]], ["a", [1, 1]], ["a", [2, 1]]])
    const states = await recovery.statesOf("test_df.count.window.statefulBatch")
    expect(states.size).toBe(0)
  })
})

describe("every operator", () => {
  const events = [ev("a", 1, 5), ev("a", 2, 9), ev("a", 3, 1), ev("b", 4, 7), ev("a", 15, 2)]
  const tumbling = new TumblingWindower("10 seconds", align)

  it("collectWindow collects values in timestamp order", async () => {
    const out = await runWindowed(events, (k) => win.collectWindow("c", k, clock(0), tumbling))
    expect(out.down.map(([k, [id, vs]]) => [k, id, vs.map((e) => e.value)])).toEqual([
      ["a", 0, [5, 9, 1]],
      // Watermarks are per key: b's window closes only at end of input (keys then in order).
      ["a", 1, [2]],
      ["b", 0, [7]]
    ])
  })

  it("reduceWindow, maxWindow and minWindow", async () => {
    const reduce = await runWindowed(events, (k) =>
      win.reduceWindow("r", k, clock(0), tumbling, (a: Event, b: Event) => ({ ...a, value: a.value + b.value })))
    expect(reduce.down.map(([k, [id, e]]) => [k, id, e.value])).toEqual([["a", 0, 15], ["a", 1, 2], ["b", 0, 7]])
    const max = await runWindowed(events, (k) => win.maxWindow("m", k, clock(0), tumbling, (e: Event) => e.value))
    expect(max.down.map(([k, [id, e]]) => [k, id, e.value])).toEqual([["a", 0, 9], ["a", 1, 2], ["b", 0, 7]])
    const min = await runWindowed(events, (k) => win.minWindow("m", k, clock(0), tumbling, (e: Event) => e.value))
    expect(min.down.map(([k, [id, e]]) => [k, id, e.value])).toEqual([["a", 0, 1], ["a", 1, 2], ["b", 0, 7]])
  })

  it("countWindow keys unkeyed items and counts them", async () => {
    const flow = new Dataflow("test_df")
    const out: Array<unknown> = []
    const counted = win.countWindow("count", op.input("inp", flow, new TestingSource(events)), clock(0), tumbling, (e: Event) => e.key)
    op.output("out", counted.down, new TestingSink(out))
    await runMain(flow, { clock: new VirtualClock(align) })
    expect(out).toEqual([["a", [0, 3]], ["a", [1, 1]], ["b", [0, 1]]])
  })

  it("an EventClock without wake-ups (toSystemTime: () => undefined) closes windows on items and at end of input", async () => {
    const flow = new Dataflow("test_df")
    const out: Array<unknown> = []
    const noWake = new EventClock((e: Event) => sec(e.at), 0, { nowGetter: () => align, toSystemTime: () => undefined })
    const counted = win.countWindow("count", op.input("inp", flow, new TestingSource(events)), noWake, tumbling, (e: Event) => e.key)
    op.output("out", counted.down, new TestingSink(out))
    await runMain(flow, { clock: new VirtualClock(align) })
    expect(out).toEqual([["a", [0, 3]], ["a", [1, 1]], ["b", [0, 1]]])
  })

  it("a generic window with a SystemClock on virtual time closes by the timer", async () => {
    const flow = new Dataflow("test_df")
    const out: Array<unknown> = []
    const items = [1, 2, new TestingSource.PAUSE("15 seconds"), 3]
    const keyed = op.input("inp", flow, new TestingSource<number>(items as Array<number>)).then(op.keyOn, "k", () => "all")
    const w = win.collectWindow("c", keyed, new SystemClock(), new TumblingWindower("10 seconds", align))
    op.output("out", w.down, new TestingSink(out))
    await runMain(flow, { clock: new VirtualClock(align) })
    expect(out).toEqual([["all", [0, [1, 2]]], ["all", [1, [3]]]])
  })

  it("sessions with a SystemClock on virtual time close by the timer (the wake is not at the gap's edge)", async () => {
    // Woken at exactly last item + gap, nothing closes yet (closing is strictly past it);
    // on a clock that only moves when the run sleeps, such a wake would fire forever.
    const flow = new Dataflow("test_df")
    const out: Array<unknown> = []
    const items = [1, 2, new TestingSource.PAUSE("15 seconds"), 3]
    const keyed = op.input("inp", flow, new TestingSource<number>(items as Array<number>)).then(op.keyOn, "k", () => "all")
    const w = win.collectWindow("c", keyed, new SystemClock(), new SessionWindower("10 seconds"))
    op.output("out", w.down, new TestingSink(out))
    await runMain(flow, { clock: new VirtualClock(align) })
    // The key's state is discarded when its session closes, so the next session is id 0 again.
    expect(out).toEqual([["all", [0, [1, 2]]], ["all", [0, [3]]]])
  })
})

describe("joinWindow", () => {
  const sides = (flow: Dataflow, left: Array<Event>, right: Array<Event>) => {
    const l = op.input("left", flow, new TestingSource(left)).then(op.keyOn, "kl", (e: Event) => e.key)
    const r = op.input("right", flow, new TestingSource(right)).then(op.keyOn, "kr", (e: Event) => e.key)
    return [l, r] as const
  }
  const joined = async (mode: "complete" | "final" | "running", insert: "first" | "last" | "product") => {
    const flow = new Dataflow("test_df")
    const out: Array<unknown> = []
    const j = win.joinWindow("join", clock(0), new TumblingWindower("10 seconds", align),
      sides(flow, [ev("a", 1, 1), ev("a", 3, 2)], [ev("a", 2, 10), ev("a", 4, 20)]), { emitMode: mode, insertMode: insert })
    op.output("out", j.down as Stream<unknown>, new TestingSink(out))
    await runMain(flow, { clock: new VirtualClock(align) })
    return (out as Array<readonly [string, readonly [number, Array<Event | undefined>]]>).map(([, [, row]]) =>
      row.map((e) => e?.value)
    )
  }

  it("final (default) emits once per window at close", async () => {
    expect(await joined("final", "last")).toEqual([[2, 20]])
    expect(await joined("final", "first")).toEqual([[1, 10]])
    expect(await joined("final", "product")).toEqual([[1, 10], [1, 20], [2, 10], [2, 20]])
  })

  it("complete emits as soon as every side has a value, then starts over within the window", async () => {
    expect(await joined("complete", "last")).toEqual([[1, 10], [2, 20]])
  })

  it("running emits on every value, undefined for missing sides", async () => {
    expect(await joined("running", "last")).toEqual([[1, undefined], [1, 10], [2, 10], [2, 20]])
  })

  it("unknown modes are refused when the flow is defined", () => {
    const flow = new Dataflow("test_df")
    expect(() =>
      win.joinWindow("join", clock(0), new TumblingWindower(1000, align), sides(flow, [], []), {
        emitMode: "sometimes" as "final"
      })
    ).toThrow("unknown join emit mode 'sometimes'")
  })
})
