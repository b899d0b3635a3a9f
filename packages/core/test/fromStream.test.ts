/** fromStream at the partition level: build the partition and call nextBatch directly (no runtime). */
import { type DynamicSource, EOF, fromStream, type StatelessSourcePartition } from "@weir/core"
import { Cause, Effect, Exit, Stream } from "effect"
import { describe, expect, it } from "vitest"

/** Whatever `nextBatch` returned, settled (an Effect is run, a Promise awaited). */
const settle = async <X>(part: StatelessSourcePartition<X>): Promise<Array<X> | typeof EOF> => {
  const r = part.nextBatch()
  const v = Effect.isEffect(r) ? await Effect.runPromise(r) : await r
  return v === EOF ? EOF : Array.from(v)
}

const closeOf = async (part: StatelessSourcePartition<unknown>): Promise<void> => {
  const r = part.close?.()
  if (Effect.isEffect(r)) await Effect.runPromise(r)
  else await r
}

/** fromStream builds its partitions synchronously. */
const build = <X>(source: DynamicSource<X>, worker = 0, workers = 1): StatelessSourcePartition<X> =>
  source.build("test_df.inp", worker, workers) as StatelessSourcePartition<X>

describe("fromStream partition", () => {
  it("gives one batch per chunk, then EOF on every later call", async () => {
    const part = build(fromStream(Stream.fromArrays([1, 2, 3], [4, 5])))
    expect(await settle(part)).toEqual([1, 2, 3])
    expect(await settle(part)).toEqual([4, 5])
    expect(await settle(part)).toBe(EOF)
    expect(await settle(part)).toBe(EOF)
    await closeOf(part)
  })

  it("only worker 0 reads; other workers' partitions end at once", async () => {
    const source = fromStream(Stream.make("a", "b"))
    const other = build(source, 1, 2)
    expect(await settle(other)).toBe(EOF)
    const first = build(source, 0, 2)
    expect(await settle(first)).toEqual(["a", "b"])
  })

  it("waits for an asynchronous stream's next chunk", async () => {
    async function* slow() {
      await new Promise((r) => setTimeout(r, 5))
      yield "late"
    }
    const part = build(fromStream(Stream.fromAsyncIterable(slow(), (e) => e)))
    expect(await settle(part)).toEqual(["late"])
    expect(await settle(part)).toBe(EOF)
  })

  it("a stream failure is the failure of nextBatch, after the items before it", async () => {
    const boom = new Error("stream broke")
    const part = build(fromStream(Stream.concat(Stream.make(1, 2), Stream.fail(boom))))
    expect(await settle(part)).toEqual([1, 2])
    const r = part.nextBatch()
    expect(Effect.isEffect(r)).toBe(true)
    const exit = await Effect.runPromiseExit(r as Effect.Effect<unknown, unknown>)
    expect(Exit.isFailure(exit) && Cause.squash(exit.cause)).toBe(boom)
  })

  it("does not run the stream before the first nextBatch, and close releases what it acquired", async () => {
    const log: Array<string> = []
    const stream = Stream.scoped(
      Stream.fromEffect(
        Effect.acquireRelease(Effect.sync(() => (log.push("acquire"), 7)), () => Effect.sync(() => void log.push("release")))
      )
    )
    const part = build(fromStream(stream))
    expect(log).toEqual([])
    expect(await settle(part)).toEqual([7])
    expect(await settle(part)).toBe(EOF)
    await closeOf(part)
    expect(log).toEqual(["acquire", "release"])
  })

  it("close before the end interrupts the stream and releases it", async () => {
    let released = false
    const stream = Stream.concat(Stream.make(1), Stream.never).pipe(
      Stream.onExit(() => Effect.sync(() => void (released = true)))
    )
    const part = build(fromStream(stream))
    expect(await settle(part)).toEqual([1])
    await closeOf(part)
    expect(released).toBe(true)
  })

  it("each build runs the stream again from the start", async () => {
    const source = fromStream(Stream.make(1, 2))
    expect(await settle(build(source))).toEqual([1, 2])
    expect(await settle(build(source))).toEqual([1, 2])
  })
})
