/**
 * Helpers for writing `nextBatch` without blocking: cut what a data source
 * offers into batches.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import { EOF } from "./inputs.js"

/**
 * Cut an iterable into arrays of `size` (the last may be shorter; never empty).
 *
 * @example
 * ```ts
 * const batches = batch([0, 1, 2, 3, 4], 3)
 * batches.next().value // [0, 1, 2]
 * batches.next().value // [3, 4]
 * batches.next().done  // true
 * ```
 * @since 0.1.0
 */
export const batch = <X>(items: Iterable<X>, size: number): Generator<Array<X>, void, undefined> => {
  checkSize(size)
  return chunks(items, size)
}

function* chunks<X>(items: Iterable<X>, size: number): Generator<Array<X>, void, undefined> {
  let chunk: Array<X> = []
  for (const x of items) {
    chunk.push(x)
    if (chunk.length >= size) {
      yield chunk
      chunk = []
    }
  }
  if (chunk.length > 0) yield chunk
}

const checkSize = (size: number): void => {
  if (!Number.isInteger(size) || size < 1) throw new TypeError(`batch size must be a positive integer; got ${String(size)}`)
}

/**
 * Batches from a polling getter: each batch calls `getter()` until it has
 * `size` items or the getter returns `yieldOn` ("nothing right now"; the batch
 * may then be empty). The getter returns {@link EOF} when there is no more:
 * the partial batch is yielded, then iteration ends.
 *
 * @example
 * ```ts
 * const queue: Array<string> = []   // filled by a callback elsewhere
 * let closed = false                 // set when the producer is done
 * const batches = batchGetter(() => queue.shift() ?? (closed ? EOF : undefined), 100)
 * const part = { nextBatch: () => { const r = batches.next(); return r.done ? EOF : r.value } }
 * ```
 * @since 0.1.0
 */
export const batchGetter = <X, Y = undefined>(
  getter: () => X | Y | typeof EOF,
  size: number,
  yieldOn?: Y
): Generator<Array<Exclude<X, Y>>, void, undefined> => {
  checkSize(size)
  return gets(getter, size, yieldOn)
}

function* gets<X, Y>(
  getter: () => X | Y | typeof EOF,
  size: number,
  yieldOn: Y | undefined
): Generator<Array<Exclude<X, Y>>, void, undefined> {
  for (;;) {
    const chunk: Array<Exclude<X, Y>> = []
    let ended = false
    while (chunk.length < size) {
      const x = getter()
      if (x === EOF) {
        ended = true
        break
      }
      if (x === yieldOn) break
      chunk.push(x as Exclude<X, Y>)
    }
    if (ended) {
      if (chunk.length > 0) yield chunk
      return
    }
    yield chunk
  }
}

/**
 * Like {@link batchGetter}, but "nothing right now" is signalled by the getter
 * throwing an error for which `isEmpty(error)` is true.
 *
 * @example
 * ```ts
 * class QueueEmpty extends Error {}
 * declare const queue: { take(): string }   // throws a QueueEmpty when there is nothing
 * const batches = batchGetterEx(() => queue.take(), 100, (e) => e instanceof QueueEmpty)
 * ```
 * @since 0.1.0
 */
export const batchGetterEx = <X>(
  getter: () => X | typeof EOF,
  size: number,
  isEmpty: (error: unknown) => boolean
): Generator<Array<X>, void, undefined> =>
  batchGetter<X | typeof EMPTY, typeof EMPTY>(() => {
    try {
      return getter()
    } catch (e) {
      if (isEmpty(e)) return EMPTY
      throw e
    }
  }, size, EMPTY) as Generator<Array<X>, void, undefined>

/** What {@link batchGetterEx}'s getter gives {@link batchGetter} for "nothing right now". */
const EMPTY: unique symbol = Symbol("empty")

/** What a timed-out read resolves with, inside {@link batchAsync}. */
const TIMED_OUT: unique symbol = Symbol("timed out")

/**
 * What {@link batchAsync} returns: call `next()` from `nextBatch` and return
 * its Promise (the runtime keeps polling other partitions while it waits).
 *
 * @example
 * ```ts
 * declare const messages: AsyncIterable<string>
 * const batcher: AsyncBatcher<string> = batchAsync(messages, "50 millis", 100)
 * const part = { nextBatch: () => batcher.next() }
 * ```
 * @since 0.1.0
 */
export interface AsyncBatcher<X> {
  /**
   * The next batch: up to `size` items, or whatever arrived within the
   * timeout (maybe none); after the iterable ends, its last partial batch
   * (if not empty), then {@link EOF} on every call. An error thrown by the
   * iterable rejects the call it is read in.
   */
  next(): Promise<Array<X> | typeof EOF>
}

/**
 * Batches from an async iterable, for a `nextBatch` that must not block.
 *
 * Bytewax runs the async iterator on a private event loop inside a blocking
 * call; JavaScript has one event loop, so here each `next()` returns a
 * Promise instead. It resolves with up to `size` items, or with what arrived
 * when `timeout` passes (an empty array if nothing did). A read still pending
 * at the timeout is kept and is the first read of the following batch, so no
 * item is lost or read twice. When the iterable ends, the final partial batch
 * is returned (never an empty one), then `EOF`.
 *
 * Call `next()` again only after the previous Promise settled (the runtime
 * does so: it waits for one `nextBatch` before asking for another).
 *
 * @example
 * ```ts
 * async function* ticks() { for (let i = 0; i < 5; i++) yield i }
 * const batcher = batchAsync(ticks(), "1 second", 2)
 * await batcher.next() // [0, 1]
 * await batcher.next() // [2, 3]
 * await batcher.next() // [4]
 * await batcher.next() // EOF
 *
 * // as a partition
 * const part = { nextBatch: () => batcher.next() }
 * ```
 * @since 0.1.0
 */
export const batchAsync = <X>(items: AsyncIterable<X>, timeout: Duration.Input, size: number): AsyncBatcher<X> => {
  checkSize(size)
  const timeoutMs = Math.max(0, Duration.toMillis(Duration.fromInputUnsafe(timeout)))
  const it = items[Symbol.asyncIterator]()
  let pending: Promise<IteratorResult<X>> | undefined
  let done = false
  const read = (): Promise<IteratorResult<X>> => {
    if (pending === undefined) {
      pending = it.next()
      // A read left pending at a timeout may fail before anyone awaits it
      // again; mark it handled so that is not an unhandled rejection.
      pending.catch(() => {})
    }
    return pending
  }
  return {
    async next() {
      if (done) return EOF
      const out: Array<X> = []
      let timer: ReturnType<typeof setTimeout> | undefined
      const timedOut = new Promise<typeof TIMED_OUT>((resolve) => {
        timer = setTimeout(() => resolve(TIMED_OUT), timeoutMs)
      })
      try {
        while (out.length < size) {
          let r: IteratorResult<X> | typeof TIMED_OUT
          try {
            r = await Promise.race([read(), timedOut])
          } catch (e) {
            pending = undefined
            throw e
          }
          if (r === TIMED_OUT) break
          pending = undefined
          if (r.done === true) {
            done = true
            break
          }
          out.push(r.value)
        }
      } finally {
        clearTimeout(timer)
      }
      if (done && out.length === 0) return EOF
      return out
    }
  }
}
