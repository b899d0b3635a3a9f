/**
 * `enrichCached` and its cache.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import { dataLast, defineOperator, type Stream, type Tagged } from "../Dataflow.js"
import { currentTime } from "../runtime/clock.js"
import { mustBeFunction, upPort } from "./checks.js"
import { flatMapBatch } from "./kernel.js"

/**
 * A cache whose entries expire `ttl` after they were fetched. `get` calls
 * `getter` for a missing or expired key.
 *
 * @example
 * ```ts
 * declare const lookupCurrency: (code: string) => { readonly name: string; readonly symbol: string }
 * const cache = new TTLCache((code: string) => lookupCurrency(code), () => new Date(), "1 minute")
 * cache.get("EUR")
 * ```
 * @since 0.1.0
 */
export class TTLCache<K, V> {
  private readonly entries = new Map<K, { readonly at: number; readonly value: V }>()
  private readonly ttlMillis: number
  constructor(
    private readonly getter: (key: K) => V,
    private readonly nowGetter: () => Date,
    ttl: Duration.Input = Duration.infinity
  ) {
    const d = Duration.fromInputUnsafe(ttl)
    this.ttlMillis = Duration.isFinite(d) ? Duration.toMillis(d) : Infinity
  }
  /** The cached value, fetched again if absent or older than the TTL (strictly). */
  get(key: K): V {
    const now = this.nowGetter().getTime()
    const hit = this.entries.get(key)
    if (hit !== undefined && !(now - hit.at > this.ttlMillis)) return hit.value
    const value = this.getter(key)
    this.entries.set(key, { at: now, value })
    return value
  }
  /** Forget a key; throws if it is not cached. */
  remove(key: K): void {
    if (!this.entries.delete(key)) throw new RangeError(`key ${String(key)} is not in the cache`)
  }
}

/**
 * Enrich items with data from a slow lookup, cached per worker and step.
 * `mapper(cache, item)` is called per item; `cache.get(k)` calls `getter(k)`
 * at most once per `ttl` (default: forever). Not persisted across resumes.
 *
 * @example
 * ```ts
 * interface Order { readonly sku: string; readonly quantity: number }
 * declare const orders: Stream<Order>
 * declare const fetchPrice: (sku: string) => number
 * const priced = op.enrichCached("price", orders, (sku: string) => fetchPrice(sku),
 *   (cache, order: Order) => ({ ...order, price: cache.get(order.sku) }), { ttl: "5 minutes" })
 * const priced2 = orders.pipe(op.enrichCached("price2", fetchPrice,
 *   (cache, order) => ({ ...order, price: cache.get(order.sku) }), { ttl: "5 minutes" }))
 * ```
 * @since 0.1.0
 */
export const enrichCached: {
  <X, Y, K, V>(
    stepId: string,
    getter: (key: K) => V,
    mapper: (cache: TTLCache<K, V>, item: X) => Y,
    options?: { readonly ttl?: Duration.Input | undefined }
  ): (up: Stream<X>) => Stream<Y>
  <X, Y, K, V>(
    stepId: string,
    up: Stream<X>,
    getter: (key: K) => V,
    mapper: (cache: TTLCache<K, V>, item: X) => Y,
    options?: { readonly ttl?: Duration.Input | undefined }
  ): Stream<Y>
} & Tagged<"enrichCached"> = dataLast(4, defineOperator(
  "enrichCached",
  upPort,
  <X, Y, K, V>(
    up: Stream<X>,
    getter: (key: K) => V,
    mapper: (cache: TTLCache<K, V>, item: X) => Y,
    options: { readonly ttl?: Duration.Input | undefined } = {}
  ): Stream<Y> => {
    mustBeFunction("enrichCached", "getter", getter)
    mustBeFunction("enrichCached", "mapper", mapper)
    // "Now" is sampled once per batch.
    let batchNow = new Date(0)
    const cache = new TTLCache<K, V>(getter, () => batchNow, options.ttl ?? Duration.infinity)
    return flatMapBatch("flatMapBatch", up, (xs: Array<X>) => {
      batchNow = currentTime()
      const out: Array<Y> = new Array(xs.length)
      for (let i = 0; i < xs.length; i++) out[i] = mapper(cache, xs[i]!)
      return out
    })
  }
))
