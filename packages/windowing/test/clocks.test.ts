import { Duration } from "effect"
import { describe, expect, it } from "vitest"
import { BEGINNING_OF_TIME, END_OF_TIME, EventClock, SystemClock } from "../src/clocks.js"

/** A controllable "system now" for the clocks. */
const systemTime = (start: string) => {
  let now = new Date(start).getTime()
  return {
    getter: () => new Date(now),
    set: (iso: string) => {
      now = new Date(iso).getTime()
    }
  }
}
const t = (hm: string) => new Date(`2024-01-01T${hm}:00Z`).getTime()
const d = (hm: string) => new Date(`2024-01-01T${hm}:00Z`)

describe("EventClock watermarks", () => {
  it("follows the worked example of the reference (wait 5 minutes)", () => {
    const sys = systemTime("2024-01-01T10:32:00Z")
    const logic = new EventClock((x: Date) => x, "5 minutes", { nowGetter: sys.getter }).build(undefined)
    // Before any item: the beginning of time.
    expect(logic.onNotify()).toBe(BEGINNING_OF_TIME)
    logic.beforeBatch()
    expect(logic.onItem(d("10:35"))).toEqual([t("10:35"), t("10:30")])
    sys.set("2024-01-01T10:33:00Z")
    expect(logic.onNotify()).toBe(t("10:31"))
    sys.set("2024-01-01T10:34:00Z")
    logic.beforeBatch()
    expect(logic.onItem(d("10:38"))).toEqual([t("10:38"), t("10:33")])
    sys.set("2024-01-01T10:36:00Z")
    logic.beforeBatch()
    // Candidate 10:34 is behind the current 10:35: the watermark stays.
    expect(logic.onItem(d("10:39"))).toEqual([t("10:39"), t("10:35")])
    sys.set("2024-01-01T10:38:00Z")
    logic.beforeBatch()
    const [ts, wm] = logic.onItem(d("10:36"))
    expect(wm).toBe(t("10:37"))
    expect(ts < wm).toBe(true) // late
  })

  it("with wait 0 the watermark is the largest timestamp, then advances with system time", () => {
    const sys = systemTime("2024-01-01T00:00:00Z")
    const logic = new EventClock((x: Date) => x, 0, { nowGetter: sys.getter }).build(undefined)
    logic.beforeBatch()
    expect(logic.onItem(d("10:00"))).toEqual([t("10:00"), t("10:00")])
    // An item exactly at the watermark is on time (not strictly less).
    expect(logic.onItem(d("10:00"))).toEqual([t("10:00"), t("10:00")])
    expect(logic.onItem(d("09:59"))[0]).toBeLessThan(t("10:00"))
    sys.set("2024-01-01T00:01:00Z")
    expect(logic.onNotify()).toBe(t("10:01"))
  })

  it("never goes backwards when the system clock steps back", () => {
    const sys = systemTime("2024-01-01T00:10:00Z")
    const logic = new EventClock((x: Date) => x, 0, { nowGetter: sys.getter }).build(undefined)
    logic.beforeBatch()
    logic.onItem(d("10:00"))
    sys.set("2024-01-01T00:12:00Z")
    expect(logic.onNotify()).toBe(t("10:02"))
    sys.set("2024-01-01T00:05:00Z")
    expect(logic.onNotify()).toBe(t("10:02"))
    logic.beforeBatch()
    expect(logic.onItem(d("09:00"))[1]).toBe(t("10:02"))
  })

  it("an infinite wait keeps the watermark at the beginning of time until EOF", () => {
    const sys = systemTime("2024-01-01T00:00:00Z")
    const logic = new EventClock((x: Date) => x, Duration.infinity, { nowGetter: sys.getter }).build(undefined)
    logic.beforeBatch()
    expect(logic.onItem(d("10:00"))).toEqual([t("10:00"), BEGINNING_OF_TIME])
    sys.set("2030-01-01T00:00:00Z")
    expect(logic.onNotify()).toBe(BEGINNING_OF_TIME)
    expect(logic.toSystemTime(t("11:00"))).toBeUndefined()
    expect(logic.onEof()).toBe(END_OF_TIME)
  })

  it("EOF is the end of time and doesn't change the snapshotted state", () => {
    const sys = systemTime("2024-01-01T00:00:00Z")
    const logic = new EventClock((x: Date) => x, "1 minute", { nowGetter: sys.getter }).build(undefined)
    logic.beforeBatch()
    logic.onItem(d("10:00"))
    const before = logic.snapshot()
    expect(logic.onEof()).toBe(Infinity)
    expect(logic.snapshot()).toEqual(before)
  })

  it("wake-ups are at the system time when the watermark reaches the timestamp", () => {
    const sys = systemTime("2024-01-01T00:00:00Z")
    const logic = new EventClock((x: Date) => x, "1 minute", { nowGetter: sys.getter }).build(undefined)
    logic.beforeBatch()
    logic.onItem(d("10:00")) // watermark 09:59 at system 00:00
    expect(logic.toSystemTime(t("10:05"))).toBe(new Date("2024-01-01T00:06:00Z").getTime())
  })

  it("state round-trips and downtime advances the watermark after a resume", () => {
    const sys = systemTime("2024-01-01T00:00:00Z")
    const clock = new EventClock((x: Date) => x, 0, { nowGetter: sys.getter })
    const logic = clock.build(undefined)
    logic.beforeBatch()
    logic.onItem(d("10:00"))
    const state = structuredClone(logic.snapshot())
    sys.set("2024-01-01T00:30:00Z")
    const resumed = clock.build(state)
    expect(resumed.onNotify()).toBe(t("10:30"))
  })

  it("rejects a tsGetter that doesn't return a Date", () => {
    const logic = new EventClock((x: string) => x as unknown as Date, 0).build(undefined)
    logic.beforeBatch()
    expect(() => logic.onItem("yesterday")).toThrow(/must return a valid `Date` or a finite number of epoch milliseconds; got a `string`/)
  })

  it("takes epoch milliseconds as well as Dates, and refuses numbers that are no instant", () => {
    const byNumber = new EventClock((ms: number) => ms, 1000).build(undefined)
    const byDate = new EventClock((ms: number) => new Date(ms), 1000).build(undefined)
    for (const ms of [t("10:00"), t("10:05"), t("10:01")]) {
      byNumber.beforeBatch()
      byDate.beforeBatch()
      expect([...byNumber.onItem(ms)]).toEqual([...byDate.onItem(ms)])
    }
    expect([...byNumber.onItem(t("10:06"))]).toEqual([t("10:06"), t("10:06") - 1000])
    expect(() => byNumber.onItem(NaN)).toThrow(/finite number of epoch milliseconds; got the number NaN/)
    expect(() => byNumber.onItem(Infinity)).toThrow(/got the number Infinity/)
  })
})

describe("EventClock toSystemTime", () => {
  it("places wake-ups where the option says, or nowhere", () => {
    const frozen = () => d("09:00")
    const shifted = new EventClock((ms: number) => ms, 0, { nowGetter: frozen, toSystemTime: (ts) => new Date(ts.getTime() + 60_000) })
      .build(undefined)
    shifted.beforeBatch()
    shifted.onItem(t("10:00"))
    expect(shifted.toSystemTime(t("10:05"))).toBe(t("10:06"))
    const never = new EventClock((ms: number) => ms, 0, { nowGetter: frozen, toSystemTime: () => undefined }).build(undefined)
    never.beforeBatch()
    expect([...never.onItem(t("10:00"))]).toEqual([t("10:00"), t("10:00")])
    expect(never.toSystemTime(t("10:05"))).toBeUndefined()
    // Without the option, the frozen time places it in the past: due at once, on every turn.
    const derived = new EventClock((ms: number) => ms, 0, { nowGetter: frozen }).build(undefined)
    derived.beforeBatch()
    derived.onItem(t("10:00"))
    expect(derived.toSystemTime(t("10:05"))).toBe(t("09:05"))
  })

  it("is kept by contramap, and a wrong return is a clear error", () => {
    const clock = new EventClock((ms: number) => ms, 0, { toSystemTime: () => "soon" as unknown as Date })
    const logic = clock.contramap((x: { readonly at: number }) => x.at).build(undefined)
    logic.beforeBatch()
    logic.onItem({ at: t("10:00") })
    expect(() => logic.toSystemTime(t("10:05"))).toThrow(/`toSystemTime` must return a valid `Date` or `undefined`; got a `string`/)
    expect(() => new EventClock((ms: number) => ms, 0, { toSystemTime: 5 as unknown as () => undefined })).toThrow(/must be a function/)
  })
})

describe("SystemClock", () => {
  it("timestamps every item with now, so nothing is late; EOF is the end of time", () => {
    const logic = new SystemClock().build()
    logic.beforeBatch()
    const [ts, wm] = logic.onItem("anything")
    expect(ts).toBe(wm)
    expect(logic.onEof()).toBe(END_OF_TIME)
    expect(logic.snapshot()).toBeUndefined()
  })
})
