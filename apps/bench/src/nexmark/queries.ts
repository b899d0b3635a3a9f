/**
 * What the Nexmark queries compute, shared by the Weir flows (weir.ts) and the
 * hand-written loops (loop.ts): output shapes, constants and the canonical
 * form both are compared in.
 */
import { DynamicSink, type StatelessSinkPartition } from "@weir/core"
import type { Bid, NexmarkEvent } from "./generator.js"

/** The queries this directory implements. */
export const QUERIES = ["q0", "q1", "q2", "q3", "q7"] as const
export type Query = (typeof QUERIES)[number]

/** q1: a bid with its price converted from dollars to euros (`Math.floor(price * 0.908)`). */
export type Q1Out = Bid
/** q2: `[auction, price]` of the bids on auctions whose id is a multiple of {@link Q2_MODULUS}. */
export type Q2Out = readonly [auction: number, price: number]
/** q3: `[name, city, state, auctionId]`: a local seller's auction in category {@link Q3_CATEGORY}. */
export type Q3Out = readonly [name: string, city: string, state: string, auctionId: number]
/** q7: `[windowStart, auction, price, bidder]`: the highest bid of a 10-second window (ties: the first). */
export type Q7Out = readonly [windowStart: number, auction: number, price: number, bidder: number]

/** The output type of each query. */
export interface QueryOut {
  readonly q0: NexmarkEvent
  readonly q1: Q1Out
  readonly q2: Q2Out
  readonly q3: Q3Out
  readonly q7: Q7Out
}

export const EUR_PER_USD = 0.908
export const Q2_MODULUS = 123
export const Q3_STATES: ReadonlySet<string> = new Set(["OR", "ID", "CA"])
export const Q3_CATEGORY = 10
export const Q7_WINDOW_MS = 10_000

/** q1's conversion of one bid. */
export const toEuros = (b: Bid): Bid => ({ ...b, price: Math.floor(b.price * EUR_PER_USD) })

/** Collects what it is given (both the Weir flows and the loops write their results here). */
export class CollectSink<X> extends DynamicSink<X> {
  readonly items: Array<X> = []
  build(): StatelessSinkPartition<X> {
    const items = this.items
    return {
      writeBatch: (xs) => {
        for (let i = 0; i < xs.length; i++) items.push(xs[i]!)
      }
    }
  }
}

/** The canonical form results are compared in: each result as JSON, sorted. */
export const canonical = (xs: ReadonlyArray<unknown>): Array<string> => xs.map((x) => JSON.stringify(x)).sort()

/** The first difference between two canonical result lists, or `undefined` when they are equal. */
export const firstDifference = (a: ReadonlyArray<string>, b: ReadonlyArray<string>): string | undefined => {
  const n = Math.max(a.length, b.length)
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return `at sorted index ${i} of ${a.length} vs ${b.length} results: ${a[i] ?? "(none)"} vs ${b[i] ?? "(none)"}`
  }
  return undefined
}
