import { DISCARDED } from "@weir/core"
import { describe, expect, it } from "vitest"
import { decodeSegment, encodeSegments, statesFromSegments } from "../src/segments.js"

const roundTrip = (keys: Array<string>, states: Array<unknown>, full = false) => {
  const segments = encodeSegments({ stepId: "f.s", full, keys, states })
  const back: Array<readonly [string, unknown]> = []
  for (const s of segments) decodeSegment("f.s", s.data, (k, v) => back.push([k, v]))
  return { segments, back }
}

describe("snapshot segments", () => {
  it("keys of every shape come back exactly: empty, ASCII long and short, non-ASCII, emoji, lone surrogates", () => {
    const keys = ["", "a", "account-123", "x".repeat(63), "y".repeat(64), "z".repeat(5000), "é", "grüße", "世界", "🌊", "a\uD800b", "\uDC00"]
    const { back } = roundTrip(keys, keys.map((_, i) => i))
    expect(back).toEqual(keys.map((k, i) => [k, i]))
  })

  it("states and tombstones come back in order, and a large step spans several segments", () => {
    const keys = Array.from({ length: 3000 }, (_, i) => `k${i}`)
    const states = keys.map((_, i) => (i % 5 === 0 ? DISCARDED : { i, text: "t".repeat(2000) }))
    const { segments, back } = roundTrip(keys, states)
    expect(segments.length).toBeGreaterThan(1)
    expect(segments.map((s) => s.seq)).toEqual(segments.map((_, i) => i))
    expect(segments.reduce((n, s) => n + s.count, 0)).toBe(3000)
    expect(back).toEqual(keys.map((k, i) => [k, states[i]]))
  })

  it("an empty full snapshot is still one segment: it says the step holds no key", () => {
    expect(roundTrip([], [], true).segments).toHaveLength(1)
    expect(roundTrip([], [], false).segments).toHaveLength(0)
  })

  it("a resume reads from the newest full snapshot on, in epoch order, newest entry winning", () => {
    const seg = (epoch: number, full: boolean, keys: Array<string>, states: Array<unknown>) =>
      encodeSegments({ stepId: "f.s", full, keys, states }).map((s) => ({ epoch, full, data: s.data }))
    const stored = [
      ...seg(3, false, ["b", "c"], [3, DISCARDED]),
      ...seg(1, false, ["old"], [1]),
      ...seg(2, true, ["a", "c"], [2, 2]),
      ...seg(4, false, ["a"], [4])
    ]
    expect(new Map(statesFromSegments("f.s", stored))).toEqual(new Map([["a", 4], ["b", 3]]))
  })
})
