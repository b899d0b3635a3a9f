/**
 * collect (catalogue §1: test_collect), plus the inactivity timeout on a
 * virtual clock.
 */
import { Dataflow, op } from "@weir/core"
import { TestingSource, VirtualClock } from "@weir/testing"
import { describe, expect, it } from "vitest"
import { CollectLogic } from "../../src/operators/collect.js"
import { keyAll, range, runOf } from "./helpers.js"

const clock = () => new VirtualClock(new Date("2024-01-01T00:00:00Z"))

describe("collect", () => {
  it("the logic's snapshot holds the list and the deadline, now + timeout", () => {
    const now = new Date("2023-01-01T00:00:00Z").getTime()
    const logic = new CollectLogic<number>(undefined, 10_000, 3, () => now)
    logic.onBatch([1])
    expect(logic.snapshot()).toEqual({ acc: [1], timeoutAt: now + 10_000 })
    expect(logic.notifyAt()).toEqual(new Date(now + 10_000))
  })

  it("emits when the list is full and flushes the rest at EOF", async () => {
    const out = await runOf(range(10), (s) => op.collect("collect", keyAll(s), { timeout: "10 seconds", maxSize: 3 }))
    expect(out).toEqual([["ALL", [0, 1, 2]], ["ALL", [3, 4, 5]], ["ALL", [6, 7, 8]], ["ALL", [9]]])
  })

  it("fills lists by size within one batch too", async () => {
    const out = await runOf(range(7), (s) => op.collect("collect", keyAll(s), { timeout: "10 seconds", maxSize: 3 }), { batchSize: 7 })
    expect(out).toEqual([["ALL", [0, 1, 2]], ["ALL", [3, 4, 5]], ["ALL", [6]]])
  })

  it("emits after `timeout` without a new value: every value pushes the deadline back", async () => {
    const items = [1, 2, new TestingSource.PAUSE("5 seconds"), 3, new TestingSource.PAUSE("8 seconds"), 4, new TestingSource.PAUSE("20 seconds"), 5]
    const out = await runOf(items, (s) => op.collect("collect", keyAll(s), { timeout: "10 seconds", maxSize: 100 }), { clock: clock() })
    // Neither the 5 s nor the 8 s pause is 10 s of inactivity (though 13 s have passed since the first value); the 20 s one is.
    expect(out).toEqual([["ALL", [1, 2, 3, 4]], ["ALL", [5]]])
  })

  it("keeps one list per key", async () => {
    const out = await runOf([["a", 1], ["b", 2], ["a", 3], ["a", 4]] as const, (s) =>
      op.collect("collect", s, { timeout: "1 minute", maxSize: 2 }))
    // "a" fills up; at EOF the rest is flushed in key order.
    expect(out).toEqual([["a", [1, 3]], ["a", [4]], ["b", [2]]])
  })

  it("refuses bad options when the flow is defined", () => {
    const flow = new Dataflow("test_df")
    const keyed = keyAll(op.input("inp", flow, new TestingSource([1])))
    expect(() => op.collect("c1", keyed, { timeout: "10 seconds", maxSize: 0 })).toThrow("'maxSize' must be a positive integer")
    expect(() => op.collect("c2", keyed, { timeout: "soon" as "10 seconds", maxSize: 3 })).toThrow("'timeout' must be a duration")
  })
})
