/**
 * The window operators in the pipeable form and through `.then`: item types
 * flow into the clock's timestamp getter and the window callbacks with no
 * annotation (checked by `tsc` in the package's `typecheck` target), and the
 * result is the same as the data-first form's.
 */
import { Dataflow, type KeyedStream, op, runMain, type Stream } from "@weir/core"
import { TestingSink, TestingSource } from "@weir/testing"
import { describe, expect, expectTypeOf, it } from "vitest"
import { EventClock, TumblingWindower, win } from "../src/index.js"

interface Reading {
  readonly sensor: string
  readonly at: Date
  readonly celsius: number
}
const t0 = new Date("2024-01-01T00:00:00Z")
const at = (s: number) => new Date(t0.getTime() + s * 1000)
const readings: ReadonlyArray<Reading> = [
  { sensor: "a", at: at(1), celsius: 20 },
  { sensor: "b", at: at(2), celsius: 10 },
  { sensor: "a", at: at(4), celsius: 24 },
  { sensor: "a", at: at(11), celsius: 30 }
]

describe("window operators, pipeable", () => {
  it("infer the item type in the clock and the reducer", async () => {
    const flow = new Dataflow("win_pipe")
    const out: Array<readonly [string, readonly [number, number]]> = []
    const maxes = op.input("inp", flow, new TestingSource(readings)).pipe(
      op.keyOn("by_sensor", (r) => r.sensor),
      win.reduceWindow(
        "max",
        new EventClock((r) => r.at, "0 seconds"),
        new TumblingWindower("10 seconds", t0),
        (a, b) => (b.celsius > a.celsius ? b : a)
      )
    )
    expectTypeOf(maxes.down).toEqualTypeOf<KeyedStream<readonly [number, Reading]>>()
    maxes.down.pipe(
      op.mapValue("celsius", ([id, r]) => [id, r.celsius] as const),
      op.output("out", new TestingSink(out))
    )
    await runMain(flow)
    expect([...out].sort()).toEqual([
      ["a", [0, 24]],
      ["a", [1, 30]],
      ["b", [0, 10]]
    ])
  })

  it("type .then callbacks from the stream's items", () => {
    const flow = new Dataflow("win_then")
    const keyed: KeyedStream<Reading> = op.input("inp", flow, new TestingSource(readings)).pipe(op.keyOn("k", (r) => r.sensor))
    const counts = op
      .input("inp2", flow, new TestingSource(readings))
      .then(win.countWindow, "count", new EventClock((r) => r.at, "0 seconds"), new TumblingWindower("10 seconds", t0), (r) => r.sensor)
    expectTypeOf(counts.down).toEqualTypeOf<KeyedStream<readonly [number, number]>>()
    const collected = keyed.then(win.collectWindow, "c", new EventClock((r) => r.at, "0 seconds"), new TumblingWindower("10 seconds", t0))
    expectTypeOf(collected.down).toEqualTypeOf<KeyedStream<readonly [number, Array<Reading>]>>()
    // @ts-expect-error — `time` is not a field of Reading
    keyed.then(win.collectWindow, "bad", new EventClock((r) => r.time, "0 seconds"), new TumblingWindower("10 seconds", t0))
    const unkeyed: Stream<number> = op.keyRm("unkey", op.mapValue("n", counts.down, ([, n]) => n))
    expect(unkeyed.id).toBe("win_then.unkey.down")
  })
})
