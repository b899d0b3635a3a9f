/**
 * Small helpers for testing sources.
 *
 * @since 0.1.0
 */
import { EOF, type StatefulSourcePartition, type StatelessSourcePartition } from "@weir/core"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"

/**
 * Raised by {@link pollNextBatch} when no items arrive in time. Its `name` is
 * `"TimeoutError"`, as Python's.
 *
 * @example
 * ```ts
 * declare const part: StatefulSourcePartition<string, number>   // one with nothing to read yet
 * await expect(pollNextBatch(part, "100 millis")).rejects.toBeInstanceOf(PollTimeoutError)
 * ```
 * @since 0.1.0
 */
export class PollTimeoutError extends Error {
  /** As Effect's tagged errors have it (`Effect.catchTag("PollTimeoutError", …)`). */
  readonly _tag = "PollTimeoutError" as const
  constructor(message: string) {
    super(message)
    this.name = "TimeoutError"
  }
}

/**
 * Call `nextBatch` until it returns items (awaiting Promises and running
 * Effects), 1 ms apart; resolves with them as an array, or with `EOF` if the
 * partition ends. Rejects with a {@link PollTimeoutError} when `timeout`
 * (default 5 seconds) passes first, including while a `nextBatch` is still
 * pending; an error from `nextBatch` rejects as is. Honours neither
 * `nextAwake` nor a run's clock: it is for testing a partition by itself.
 *
 * @example
 * ```ts
 * const source = new TestingSource(["line 1"])
 * const part = source.buildPart("test.inp", "iterable", undefined)
 * expect(await pollNextBatch(part)).toEqual(["line 1"])
 * ```
 * @since 0.1.0
 */
export const pollNextBatch = async <X>(
  partition: StatefulSourcePartition<X, unknown> | StatelessSourcePartition<X>,
  timeout: Duration.Input = "5 seconds"
): Promise<Array<X> | typeof EOF> => {
  const limit = Duration.fromInputUnsafe(timeout)
  const deadline = Date.now() + Duration.toMillis(limit)
  const timedOut = () => new PollTimeoutError(`no items within ${Duration.format(limit)}`)
  for (;;) {
    const r = partition.nextBatch()
    const batch = Effect.isEffect(r) || r instanceof Promise ? await beforeDeadline(r, deadline, timedOut) : r
    if (batch === EOF) return EOF
    const items = Array.from(batch)
    if (items.length > 0) return items
    if (Date.now() >= deadline) throw timedOut()
    await new Promise((resolve) => setTimeout(resolve, 1))
  }
}

/** Wait for an asynchronous batch, or reject once `deadline` has passed. */
const beforeDeadline = <A>(
  r: Promise<A> | Effect.Effect<A, unknown>,
  deadline: number,
  timedOut: () => Error
): Promise<A> => {
  const p = Effect.isEffect(r) ? Effect.runPromise(r) : r
  let timer: ReturnType<typeof setTimeout> | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(timedOut()), Math.max(0, deadline - Date.now()))
  })
  return Promise.race([p, late]).finally(() => clearTimeout(timer))
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
