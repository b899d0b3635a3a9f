import { describe, expect, it } from "vitest"
import { LATE_SESSION_ID, SessionWindower, SlidingWindower, TumblingWindower } from "../src/index.js"

const align = new Date("2024-01-01T09:00:00Z")
const at = (hms: string) => new Date(`2024-01-01T${hms}Z`).getTime()

describe("sliding window ids around alignTo", () => {
  it("length 10 s, offset 5 s (offset divides length)", () => {
    const w = new SlidingWindower("10 seconds", "5 seconds", align)
    expect(w.idsFor(at("09:00:13"))).toEqual([1, 2])
    expect(w.idsFor(at("08:59:57"))).toEqual([-2, -1])
    expect(w.idsFor(at("09:00:03"))).toEqual([-1, 0])
    expect(w.idsFor(at("09:00:07"))).toEqual([0, 1])
    expect(w.idsFor(at("09:00:15"))).toEqual([2, 3])
    // Exactly on edges: start inclusive, end exclusive.
    expect(w.idsFor(at("08:59:55"))).toEqual([-2, -1])
    expect(w.idsFor(at("09:00:00"))).toEqual([-1, 0])
    expect(w.idsFor(at("09:00:10"))).toEqual([1, 2])
  })

  it("length 10 s, offset 3 s (offset doesn't divide length)", () => {
    const w = new SlidingWindower("10 seconds", "3 seconds", align)
    expect(w.idsFor(at("09:00:11"))).toEqual([1, 2, 3])
    expect(w.idsFor(at("09:00:11.500"))).toEqual([1, 2, 3])
    expect(w.idsFor(at("08:59:59"))).toEqual([-3, -2, -1])
    expect(w.idsFor(at("08:59:58.500"))).toEqual([-3, -2, -1])
    expect(w.idsFor(at("09:00:05"))).toEqual([-1, 0, 1])
  })

  it("length 10 s, offset 7 s", () => {
    const w = new SlidingWindower("10 seconds", "7 seconds", align)
    expect(w.idsFor(at("09:00:14"))).toEqual([1, 2])
    expect(w.idsFor(at("08:59:53"))).toEqual([-2, -1])
    expect(w.idsFor(at("09:00:00"))).toEqual([-1, 0])
    expect(w.idsFor(at("09:00:17"))).toEqual([2])
    expect(w.idsFor(at("08:59:56"))).toEqual([-1])
    expect(w.idsFor(at("09:00:10"))).toEqual([1])
  })

  it("offset longer than length leaves gaps where items belong to no window", () => {
    const w = new SlidingWindower("5 seconds", "10 seconds", align)
    expect(w.idsFor(at("09:00:00"))).toEqual([0])
    expect(w.idsFor(at("09:00:04.999"))).toEqual([0])
    expect(w.idsFor(at("09:00:05"))).toEqual([])
    expect(w.idsFor(at("09:00:09"))).toEqual([])
    expect(w.idsFor(at("09:00:10"))).toEqual([1])
    expect(w.idsFor(at("08:59:52"))).toEqual([-1])
    expect(w.idsFor(at("08:59:56"))).toEqual([])
  })

  it("tumbling windows: one id per item", () => {
    const w = new TumblingWindower("10 seconds", align)
    expect(w.idsFor(at("09:00:15"))).toEqual([1])
    expect(w.idsFor(at("08:59:55"))).toEqual([-1])
    expect(w.idsFor(at("09:00:05"))).toEqual([0])
    expect(w.idsFor(at("09:00:20"))).toEqual([2])
    expect(w.idsFor(at("08:59:50"))).toEqual([-1])
    expect(w.idsFor(at("09:00:00"))).toEqual([0])
    expect(w.idsFor(at("09:00:10"))).toEqual([1])
  })

  it("hourly windows aligned to the new year: 2023-12-14 00:00 is window 8328", () => {
    const w = new TumblingWindower("1 hour", new Date("2023-01-01T00:00:00Z"))
    expect(w.idsFor(new Date("2023-12-14T00:00:00Z").getTime())).toEqual([8328])
  })

  it("a window closes when the watermark reaches its end; notifyAt is the earliest end", () => {
    const logic = new TumblingWindower("10 seconds", align).build(undefined)
    expect(Array.from(logic.openFor(at("09:00:03")))).toEqual([0])
    expect(Array.from(logic.openFor(at("09:00:12")))).toEqual([1])
    expect(logic.notifyAt()).toBe(at("09:00:10"))
    expect(Array.from(logic.closeFor(at("09:00:09.999")))).toEqual([])
    const closed = Array.from(logic.closeFor(at("09:00:10")))
    expect(closed).toEqual([[0, { openTime: new Date(at("09:00:00")), closeTime: new Date(at("09:00:10")), mergedIds: new Set() }]])
    expect(logic.isEmpty()).toBe(false)
    expect(Array.from(logic.closeFor(Infinity)).map(([id]) => id)).toEqual([1])
    expect(logic.isEmpty()).toBe(true)
  })

  it("state round-trips through a snapshot", () => {
    const w = new SlidingWindower("10 seconds", "5 seconds", align)
    const logic = w.build(undefined)
    logic.openFor(at("09:00:07"))
    const copy = w.build(structuredClone(logic.snapshot()))
    expect(copy.notifyAt()).toBe(at("09:00:10"))
    expect(Array.from(copy.closeFor(Infinity)).map(([id]) => id)).toEqual([0, 1])
  })

  it("bad arguments are refused", () => {
    expect(() => new SlidingWindower("10 seconds", 0, align)).toThrow(/offset` must be positive/)
    expect(() => new TumblingWindower("10 seconds", "soon" as unknown as Date)).toThrow(/alignTo` must be a valid `Date`/)
    expect(() => new SessionWindower(-1)).toThrow("session window `gap` must not be negative")
  })
})

describe("session windows", () => {
  const gap10 = () => new SessionWindower("10 seconds").build(undefined)
  const s = (n: number) => at("09:00:00") + n * 1000

  it("the first session is id 0; items within the gap (inclusive) extend it forward", () => {
    const w = gap10()
    expect(Array.from(w.openFor(s(0)))).toEqual([0])
    expect(Array.from(w.openFor(s(5)))).toEqual([0])
    expect(Array.from(w.openFor(s(15)))).toEqual([0]) // exactly at the gap
    expect(Array.from(w.openFor(s(26)))).toEqual([1]) // past it: a new session
  })

  it("extends backward within the gap and exactly at it", () => {
    const w = gap10()
    w.openFor(s(30))
    expect(Array.from(w.openFor(s(25)))).toEqual([0])
    expect(Array.from(w.openFor(s(15)))).toEqual([0])
    expect(Array.from(w.openFor(s(4)))).toEqual([1])
  })

  it("an item bridging two sessions merges them; metadata lists the merged id", () => {
    const w = gap10()
    w.openFor(s(0))
    expect(Array.from(w.openFor(s(18)))).toEqual([1])
    expect(Array.from(w.openFor(s(9)))).toEqual([0])
    expect(Array.from(w.merged())).toEqual([[1, 0]])
    expect(Array.from(w.merged())).toEqual([])
    const [[id, meta]] = Array.from(w.closeFor(Infinity)) as [[number, { openTime: Date; closeTime: Date; mergedIds: ReadonlySet<number> }]]
    expect(id).toBe(0)
    expect(meta.openTime).toEqual(new Date(s(0)))
    expect(meta.closeTime).toEqual(new Date(s(18)))
    expect(meta.mergedIds).toEqual(new Set([1]))
  })

  it("three sessions merge into the earliest", () => {
    const w = gap10()
    w.openFor(s(0))
    w.openFor(s(40))
    w.openFor(s(20))
    expect(Array.from(w.merged())).toEqual([])
    w.openFor(s(10))
    w.openFor(s(30))
    expect(Array.from(w.merged())).toEqual([[2, 0], [1, 0]])
    const closed = Array.from(w.closeFor(Infinity))
    expect(closed.map(([id, m]) => [id, m.mergedIds])).toEqual([[0, new Set([1, 2])]])
  })

  it("closes once the watermark is more than the gap past the last item; late items get id -1", () => {
    const w = gap10()
    w.openFor(s(0))
    // Bytewax wakes at close + gap, when nothing closes yet; we wake when the session closes.
    expect(w.notifyAt()).toBe(s(10) + 1)
    expect(Array.from(w.closeFor(s(10)))).toEqual([])
    expect(Array.from(w.closeFor(s(10) + 1)).map(([id]) => id)).toEqual([0])
    expect(Array.from(w.lateFor(s(1)))).toEqual([LATE_SESSION_ID])
    expect(w.isEmpty()).toBe(true)
  })
})

describe("window bounds from an id", () => {
  it("tumbling: window i is [alignTo + i·length, alignTo + (i+1)·length)", () => {
    const w = new TumblingWindower("1 minute", align)
    expect(w.bounds(2)).toEqual({ openTime: new Date("2024-01-01T09:02:00Z"), closeTime: new Date("2024-01-01T09:03:00Z") })
    expect(w.bounds(-1)).toEqual({ openTime: new Date("2024-01-01T08:59:00Z"), closeTime: new Date("2024-01-01T09:00:00Z") })
  })

  it("sliding: every id a timestamp falls in has bounds containing it", () => {
    const w = new SlidingWindower("10 seconds", "5 seconds", align)
    const t = at("09:00:13")
    for (const id of w.idsFor(t)) {
      const { openTime, closeTime } = w.bounds(id)
      expect(openTime.getTime()).toBeLessThanOrEqual(t)
      expect(closeTime.getTime()).toBeGreaterThan(t)
      expect(closeTime.getTime() - openTime.getTime()).toBe(10_000)
    }
  })

  it("refuses an id that is not an integer", () => {
    expect(() => new TumblingWindower("1 minute", align).bounds(1.5)).toThrow("window id must be an integer; got 1.5 instead")
  })
})
