/**
 * SimplePollingSource partitions driven by a TimeTestingGetter (the test_inputs
 * partition cases, catalogue §5), and pollNextBatch on slow partitions.
 */
import { EOF, SimplePollingSource, type StatefulSourcePartition } from "@weir/core"
import { type Duration, Effect } from "effect"
import { describe, expect, it } from "vitest"
import { pollNextBatch, PollTimeoutError, TimeTestingGetter } from "../src/index.js"

const at = (hms: string) => new Date(`2024-01-01T${hms}Z`)

/** Polls `next` on a clock the test moves. */
class Poller<X> extends SimplePollingSource<X> {
  constructor(interval: Duration.Input, alignTo: Date | undefined, clock: TimeTestingGetter, private readonly next: () => X | undefined | typeof EOF) {
    super(interval, alignTo, { nowGetter: () => clock.get() })
  }
  nextItem(): X | undefined | typeof EOF {
    return this.next()
  }
}

const partOf = <X>(source: Poller<X>): StatefulSourcePartition<X, undefined> =>
  source.buildPart("test_df.inp", "singleton", undefined)

describe("SimplePollingSource partition on a TimeTestingGetter", () => {
  it("interval: emits, and the next poll is an interval later", () => {
    const clock = new TimeTestingGetter(at("05:00:00"))
    const part = partOf(new Poller("30 minutes", clock.get(), clock, () => true))
    expect(part.nextBatch()).toEqual([true])
    expect(part.nextAwake!()).toEqual(at("05:30:00"))
  })

  it("retry: Retry(5 s) gives an empty batch and polls again 5 s later", () => {
    const clock = new TimeTestingGetter(at("05:00:00"))
    const part = partOf(new Poller("30 minutes", clock.get(), clock, () => {
      throw new SimplePollingSource.Retry("5 seconds")
    }))
    expect(part.nextBatch()).toEqual([])
    expect(part.nextAwake!()).toEqual(at("05:00:05"))
  })

  it("alignTo: the first poll is on the next mark", () => {
    const clock = new TimeTestingGetter(at("05:15:00"))
    expect(partOf(new Poller("30 minutes", at("04:00:00"), clock, () => true)).nextAwake!()).toEqual(at("05:30:00"))
  })

  it("alignTo: exactly on a mark polls at once", () => {
    const clock = new TimeTestingGetter(at("05:00:00"))
    expect(partOf(new Poller("30 minutes", at("04:00:00"), clock, () => true)).nextAwake!()).toEqual(at("05:00:00"))
  })

  it("keeps a fixed cadence from the schedule, not from when it was polled", () => {
    const clock = new TimeTestingGetter(at("05:00:00"))
    let n = 0
    const part = partOf(new Poller("1 minute", undefined, clock, () => n++))
    expect(part.nextBatch()).toEqual([0])
    clock.advance("70 seconds")
    expect(part.nextBatch()).toEqual([1])
    expect(part.nextAwake!()).toEqual(at("05:02:00"))
  })
})

describe("pollNextBatch", () => {
  it("runs an Effect nextBatch", async () => {
    expect(await pollNextBatch({ nextBatch: () => Effect.succeed(["e"]) })).toEqual(["e"])
  })

  it("times out while a nextBatch Promise is still pending", async () => {
    const never = { nextBatch: () => new Promise<Array<number>>(() => {}) }
    const started = Date.now()
    const error = await pollNextBatch(never, "30 millis").catch((e: unknown) => e)
    expect(error).toBeInstanceOf(PollTimeoutError)
    expect((error as PollTimeoutError)._tag).toBe("PollTimeoutError")
    expect((error as Error).name).toBe("TimeoutError")
    expect(Date.now() - started).toBeLessThan(2000)
  })

  it("rejects with the partition's own error", async () => {
    await expect(pollNextBatch({ nextBatch: () => Promise.reject(new Error("broken")) })).rejects.toThrow("broken")
  })

  it("drains any iterable a partition returns", async () => {
    expect(await pollNextBatch({ nextBatch: () => new Set([1, 2]) })).toEqual([1, 2])
  })
})
