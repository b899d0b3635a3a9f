/** The batching helpers beyond the Bytewax cases in inputs.test.ts: argument checks, sentinels, async edge cases. */
import { batch, batchAsync, batchGetter, batchGetterEx, EOF } from "@weir/core"
import { describe, expect, it } from "vitest"

/** An async iterator whose reads resolve only when the test says so. */
const manualAsync = <X>() => {
  const waiting: Array<(r: IteratorResult<X>) => void> = []
  const failing: Array<(e: unknown) => void> = []
  let reads = 0
  const iterable: AsyncIterable<X> = {
    [Symbol.asyncIterator]: () => ({
      next: () => {
        reads++
        return new Promise<IteratorResult<X>>((resolve, reject) => {
          waiting.push(resolve)
          failing.push(reject)
        })
      }
    })
  }
  const take = () => {
    failing.shift()
    return waiting.shift()!
  }
  return {
    iterable,
    reads: () => reads,
    push: (x: X) => take()({ done: false, value: x }),
    end: () => take()({ done: true, value: undefined }),
    fail: (e: unknown) => {
      waiting.shift()
      failing.shift()!(e)
    }
  }
}

const tick = () => new Promise((r) => setTimeout(r, 0))

describe("batch", () => {
  it("refuses a size that is not a positive integer, at the call", () => {
    expect(() => batch([1], 0)).toThrow(/positive integer/)
    expect(() => batch([1], 1.5)).toThrow(/positive integer/)
    expect(() => batchGetter(() => EOF, -1)).toThrow(/positive integer/)
    expect(() => batchGetterEx(() => EOF, 0, () => true)).toThrow(/positive integer/)
    expect(() => batchAsync({ [Symbol.asyncIterator]: () => ({ next: async () => ({ done: true, value: undefined }) }) }, 10, 0))
      .toThrow(/positive integer/)
  })

  it("gives nothing for an empty iterable", () => {
    expect([...batch([], 3)]).toEqual([])
  })

  it("reads a one-shot iterator lazily", () => {
    let pulled = 0
    function* gen() {
      for (let i = 0; i < 10; i++) {
        pulled++
        yield i
      }
    }
    const it = batch(gen(), 4)
    expect(pulled).toBe(0)
    expect(it.next().value).toEqual([0, 1, 2, 3])
    expect(pulled).toBe(4)
  })
})

describe("batchGetter", () => {
  it("stops a batch at a custom yieldOn value", () => {
    const NOTHING = Symbol("nothing")
    const feed: Array<number | typeof NOTHING | typeof EOF> = [1, NOTHING, 2, 3, EOF]
    const it = batchGetter(() => feed.shift()!, 10, NOTHING)
    expect(it.next().value).toEqual([1])
    expect(it.next().value).toEqual([2, 3])
    expect(it.next().done).toBe(true)
  })

  it("ends without an empty batch when the getter ends at once", () => {
    expect([...batchGetter(() => EOF, 3)]).toEqual([])
  })
})

describe("batchGetterEx", () => {
  it("lets other errors through", () => {
    const it = batchGetterEx(() => {
      throw new RangeError("broken")
    }, 3, (e) => e instanceof TypeError)
    expect(() => it.next()).toThrow(RangeError)
  })
})

describe("batchAsync", () => {
  it("keeps a read pending at the timeout for the next batch: nothing lost, nothing read twice", async () => {
    const src = manualAsync<string>()
    const b = batchAsync(src.iterable, 20, 3)
    expect(await b.next()).toEqual([])
    expect(src.reads()).toBe(1)
    src.push("a")
    const second = b.next()
    await tick()
    src.push("b")
    await tick()
    src.push("c")
    expect(await second).toEqual(["a", "b", "c"])
    expect(src.reads()).toBe(3)
  })

  it("returns what arrived before the timeout", async () => {
    const src = manualAsync<number>()
    const b = batchAsync(src.iterable, 30, 100)
    const first = b.next()
    await tick()
    src.push(1)
    await tick()
    src.push(2)
    expect(await first).toEqual([1, 2])
  })

  it("ends with the final partial batch, then EOF forever", async () => {
    const src = manualAsync<number>()
    const b = batchAsync(src.iterable, "1 second", 5)
    const first = b.next()
    await tick()
    src.push(1)
    await tick()
    src.end()
    expect(await first).toEqual([1])
    expect(await b.next()).toBe(EOF)
    expect(await b.next()).toBe(EOF)
    expect(src.reads()).toBe(2)
  })

  it("rejects the call in which the iterable fails", async () => {
    const src = manualAsync<number>()
    const b = batchAsync(src.iterable, "1 second", 5)
    const first = b.next()
    await tick()
    src.fail(new Error("socket closed"))
    await expect(first).rejects.toThrow("socket closed")
  })

  it("a read that fails while nobody waits rejects the next call, not the process", async () => {
    const src = manualAsync<number>()
    const b = batchAsync(src.iterable, 5, 5)
    expect(await b.next()).toEqual([])
    src.fail(new Error("late failure"))
    await tick()
    await expect(b.next()).rejects.toThrow("late failure")
  })

  it("with a zero timeout, takes what is ready without waiting", async () => {
    async function* ready() {
      yield* [1, 2, 3]
    }
    const b = batchAsync(ready(), 0, 2)
    expect(await b.next()).toEqual([1, 2])
    expect(await b.next()).toEqual([3])
    expect(await b.next()).toBe(EOF)
  })
})
