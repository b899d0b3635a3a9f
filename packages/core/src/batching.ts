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
export function* batch<X>(items: Iterable<X>, size: number): Generator<Array<X>, void, undefined> {
  checkSize(size)
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
 * const batches = batchGetter(() => queue.shift() ?? (closed ? EOF : undefined), 100)
 * const part = { nextBatch: () => { const r = batches.next(); return r.done ? EOF : r.value } }
 * ```
 * @since 0.1.0
 */
export function* batchGetter<X, Y = undefined>(
  getter: () => X | Y | typeof EOF,
  size: number,
  yieldOn?: Y
): Generator<Array<Exclude<X, Y>>, void, undefined> {
  checkSize(size)
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
 * const batches = batchGetterEx(() => queue.take(), 100, (e) => e instanceof QueueEmpty)
 * ```
 * @since 0.1.0
 */
export function* batchGetterEx<X>(
  getter: () => X | typeof EOF,
  size: number,
  isEmpty: (error: unknown) => boolean
): Generator<Array<X>, void, undefined> {
  const EMPTY: unique symbol = Symbol("empty")
  yield* batchGetter<X | typeof EMPTY, typeof EMPTY>(() => {
    try {
      return getter()
    } catch (e) {
      if (isEmpty(e)) return EMPTY
      throw e
    }
  }, size, EMPTY)
}

/** What {@link batchAsync} returns: call `next()` from `nextBatch`. */
export interface AsyncBatcher<X> {
  /** The next batch: up to `size` items, whatever arrived within the timeout (maybe none), or `EOF`. */
  next(): Promise<Array<X> | typeof EOF>
}

/**
 * Batches from an async iterable: each `next()` gathers items for up to
 * `timeout` or until `size` of them arrived. A pending read is kept for the
 * next batch, so nothing is lost; a final partial batch is returned before
 * `EOF`.
 *
 * @example
 * ```ts
 * const batcher = batchAsync(socketMessages(), "100 millis", 500)
 * const part = { nextBatch: () => batcher.next() }
 * ```
 * @since 0.1.0
 */
export const batchAsync = <X>(items: AsyncIterable<X>, timeout: Duration.Input, size: number): AsyncBatcher<X> => {
  checkSize(size)
  const timeoutMs = Duration.toMillis(Duration.fromInputUnsafe(timeout))
  const it = items[Symbol.asyncIterator]()
  let pending: Promise<IteratorResult<X>> | undefined
  let done = false
  const TIMEOUT = Symbol("timeout")
  return {
    async next() {
      if (done) return EOF
      const out: Array<X> = []
      const deadline = Date.now() + timeoutMs
      while (out.length < size) {
        pending ??= it.next()
        const left = deadline - Date.now()
        let timer: ReturnType<typeof setTimeout> | undefined
        const r = await Promise.race([
          pending,
          new Promise<typeof TIMEOUT>((resolve) => {
            timer = setTimeout(() => resolve(TIMEOUT), Math.max(0, left))
          })
        ])
        clearTimeout(timer)
        if (r === TIMEOUT) break
        pending = undefined
        if (r.done) {
          done = true
          break
        }
        out.push(r.value)
      }
      if (done && out.length === 0) return EOF
      return out
    }
  }
}
