/**
 * Small helpers for testing sources.
 *
 * @since 0.1.0
 */
import { EOF, type StatefulSourcePartition, type StatelessSourcePartition } from "@weir/core"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"

/** Raised by {@link pollNextBatch} when no items arrive in time. */
export class PollTimeoutError extends Error {
  constructor(message: string) {
    super(message)
    this.name = "TimeoutError"
  }
}

/**
 * Call `nextBatch` until it returns items (awaiting Promises and running
 * Effects); resolves with them, or with `EOF` if the partition ends. Rejects
 * after `timeout` (default 5 seconds).
 *
 * @example
 * ```ts
 * const part = await source.buildPart("test.inp", "p0", undefined)
 * expect(await pollNextBatch(part)).toEqual(["line 1"])
 * ```
 * @since 0.1.0
 */
export const pollNextBatch = async <X>(
  partition: StatefulSourcePartition<X, unknown> | StatelessSourcePartition<X>,
  timeout: Duration.Input = "5 seconds"
): Promise<Array<X> | typeof EOF> => {
  const deadline = Date.now() + Duration.toMillis(Duration.fromInputUnsafe(timeout))
  for (;;) {
    const r = partition.nextBatch()
    const batch = Effect.isEffect(r) ? await Effect.runPromise(r as Effect.Effect<Iterable<X> | typeof EOF, unknown>) : await r
    if (batch === EOF) return EOF
    const items = Array.from(batch)
    if (items.length > 0) return items
    if (Date.now() >= deadline) throw new PollTimeoutError(`no items within ${Duration.format(Duration.fromInputUnsafe(timeout))}`)
    await new Promise((resolve) => setTimeout(resolve, 1))
  }
}

/**
 * Skip `n` items of an iterator.
 *
 * @example
 * ```ts
 * const it = [0, 1, 2, 3, 4][Symbol.iterator]()
 * it.next()        // 0
 * ffwdIter(it, 3)
 * it.next().value  // 4
 * ```
 * @since 0.1.0
 */
export const ffwdIter = <X>(it: Iterator<X>, n: number): void => {
  for (let i = 0; i < n; i++) if (it.next().done) return
}
