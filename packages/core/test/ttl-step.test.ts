/**
 * The TTL stateful step on its own, for the order a worker thread takes
 * things in: a batch arriving *before* the expired key's timer has fired
 * (threads take in frames before they run timers). The interleaved runs of
 * ttl.test.ts always fire timers first, so they do not reach this path.
 */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { StatefulBatchLogic } from "../src/index.js"
import { setActiveClock } from "../src/runtime/clock.js"
import { type KeyState, TtlStatefulStep } from "../src/runtime/steps.js"
import { TimerHeap } from "../src/runtime/timers.js"

/** Sums values; emits the running sum. */
class Sum extends StatefulBatchLogic<number, number, number> {
  constructor(private sum: number) {
    super()
  }
  onBatch(values: Array<number>) {
    for (const v of values) this.sum += v
    return [[this.sum], StatefulBatchLogic.RETAIN] as const
  }
  snapshot() {
    return this.sum
  }
}

/** Make `now` the run's time for what follows (as a worker's turn does). */
const at = (now: number): void => {
  setActiveClock({ now: () => now, sleep: () => Effect.void })
}

describe("TtlStatefulStep", () => {
  it("drops a key that expired before its timer fired, when items for it arrive first", () => {
    const out: Array<unknown> = []
    const timers = new TimerHeap<KeyState>()
    const step = new TtlStatefulStep("flow.sum", (resume) => new Sum((resume as number | undefined) ?? 0), timers, true, (b) => out.push(...b), 1_000)
    try {
      at(0)
      step.push(0, [["a", 1], ["b", 10]])
      at(500)
      step.push(0, [["b", 10]])
      // 1,400 ms: "a" (touched at 0) expired at 1,000 and its timer is due but has not run yet;
      // "b" (touched at 500) expires at 1,500.
      at(1_400)
      expect(timers.nextAt()).toBeLessThanOrEqual(1_400)
      step.push(0, [["a", 2], ["b", 10]])
      expect(out).toEqual([
        ["a", 1],
        ["b", 10],
        ["b", 20],
        ["a", 2], // fresh state: not 3
        ["b", 30] // "b" was touched at 500: alive
      ])
      const keys: Array<string> = []
      const states: Array<unknown> = []
      step.takeSnapshots(false, keys, states)
      expect(keys).toEqual(expect.arrayContaining(["a", "b"]))
    } finally {
      setActiveClock(undefined)
    }
  })

  it("skips the expiry check when no timer is due, and still keeps keys touched in time", () => {
    const out: Array<unknown> = []
    const timers = new TimerHeap<KeyState>()
    const step = new TtlStatefulStep("flow.sum", (resume) => new Sum((resume as number | undefined) ?? 0), timers, false, (b) => out.push(...b), 1_000)
    try {
      at(0)
      step.push(0, [["a", 1]])
      at(999)
      expect(timers.nextAt()).toBeGreaterThan(999)
      step.push(0, [["a", 1]])
      expect(out).toEqual([
        ["a", 1],
        ["a", 2]
      ])
    } finally {
      setActiveClock(undefined)
    }
  })
})
