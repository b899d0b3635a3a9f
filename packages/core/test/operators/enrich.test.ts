/**
 * enrichCached and TTLCache (catalogue §1: test_enrich_cached).
 */
import { op, TTLCache } from "@weir/core"
import { TestingSource, TimeTestingGetter, VirtualClock } from "@weir/testing"
import { describe, expect, it } from "vitest"
import { runOf } from "./helpers.js"

/** Like Python's `dict.pop`: a key can be fetched once. */
const popper = (entries: Array<readonly [string, number]>) => {
  const lookup = new Map(entries)
  return (k: string): number => {
    const v = lookup.get(k)
    if (v === undefined) throw new Error(`KeyError: ${k}`)
    lookup.delete(k)
    return v
  }
}

describe("TTLCache", () => {
  it("the first get calls the getter", () => {
    const lookup = new Map([["a", 1], ["b", 2]])
    const cache = new TTLCache((k: string) => lookup.get(k)!, () => new Date(), "1 minute")
    expect(cache.get("a")).toBe(1)
  })

  it("a second get is served from the cache", () => {
    const cache = new TTLCache(popper([["a", 1], ["b", 2]]), () => new Date(), "1 minute")
    expect(cache.get("a")).toBe(1)
    expect(cache.get("a")).toBe(1)
  })

  it("an expired entry is fetched again", () => {
    const lookup = new Map([["a", 1], ["b", 2]])
    const clock = new TimeTestingGetter(new Date("2024-01-01T00:00:00Z"))
    const cache = new TTLCache((k: string) => lookup.get(k)!, () => clock.now(), "1 minute")
    expect(cache.get("a")).toBe(1)
    clock.advance("2 minutes")
    lookup.set("a", 3)
    expect(cache.get("a")).toBe(3)
  })

  it("expires strictly after the TTL; remove forgets a key and refuses an absent one", () => {
    let calls = 0
    const clock = new TimeTestingGetter(new Date("2024-01-01T00:00:00Z"))
    const cache = new TTLCache((_k: string) => ++calls, () => clock.now(), "1 minute")
    expect(cache.get("a")).toBe(1)
    clock.advance("1 minute")
    expect(cache.get("a")).toBe(1)
    cache.remove("a")
    expect(cache.get("a")).toBe(2)
    expect(() => cache.remove("b")).toThrow()
  })
})

describe("enrichCached", () => {
  it("enriches items in a flow", async () => {
    const getter = popper([["a", 1], ["b", 2]])
    const out = await runOf(["a", "b", "a"], (s) => op.enrichCached("enrich", s, getter, (cache, item: string) => cache.get(item)))
    expect(out).toEqual([1, 2, 1])
  })

  it("re-fetches after the TTL on the run's clock", async () => {
    const fetched: Array<string> = []
    const getter = (k: string) => {
      fetched.push(k)
      return k.toUpperCase()
    }
    const items = ["a", "a", new TestingSource.PAUSE("2 minutes"), "a"]
    const out = await runOf(items, (s) =>
      op.enrichCached("enrich", s, getter, (cache, item: string) => `${item}=${cache.get(item)}`, { ttl: "1 minute" }), {
      clock: new VirtualClock(new Date("2024-01-01T00:00:00Z"))
    })
    expect(out).toEqual(["a=A", "a=A", "a=A"])
    expect(fetched).toEqual(["a", "a"])
  })
})
