/**
 * What the Nexmark queries compute, shared by the Weir flows (weir.ts) and the
 * hand-written loops (loop.ts): output shapes, constants and the canonical
 * form both are compared in.
 */
import { DynamicSink, type StatelessSinkPartition } from "@weir/core"
import type { Bid, NexmarkEvent } from "./generator.js"

/** The queries this directory implements. */
export const QUERIES = ["q0", "q1", "q2", "q3", "q4", "q5", "q6", "q7", "q8", "q11"] as const
export type Query = (typeof QUERIES)[number]

/** q1: a bid with its price converted from dollars to euros (`Math.floor(price * 0.908)`). */
export type Q1Out = Bid
/** q2: `[auction, price]` of the bids on auctions whose id is a multiple of {@link Q2_MODULUS}. */
export type Q2Out = readonly [auction: number, price: number]
/** q3: `[name, city, state, auctionId]`: a local seller's auction in category {@link Q3_CATEGORY}. */
export type Q3Out = readonly [name: string, city: string, state: string, auctionId: number]
/**
 * q4 (average closing price per category): `[windowStart, category, auctions, averagePrice]`.
 *
 * An auction's closing price is the highest price among its bids that fall in the 10-second
 * tumbling event-time window ({@link CLOSING_WINDOW_MS}, aligned to `BASE`) the auction was
 * created in and come before its `expires` (auctions with no such bid have none): auctions and
 * bids joined by auction id per window. Then per window and category: `auctions` = how many
 * auctions of that category created in the window have a closing price, and `averagePrice` = the
 * sum of their closing prices (an integer) divided once by `auctions`. Only (window, category)
 * pairs with at least one such auction are emitted.
 *
 * Departure from the Nexmark paper: there an auction closes at `expires`, its price is its highest
 * bid over its whole life (Beam needs a custom window per auction lifetime for that), and the
 * average per category is a running value updated as each auction closes. Here bids in later
 * windows than the auction's creation window are not counted (with this generator every bid of
 * the creation window is before `expires`, which is at least 10 s after creation), and the
 * average is emitted once per window, so the results as a set do not depend on the order in
 * which auctions closing together are processed.
 */
export type Q4Out = readonly [windowStart: number, category: number, auctions: number, averagePrice: number]
/**
 * q5 (hot items): `[windowStart, auction, bids]`: for each sliding event-time window
 * ({@link Q5_WINDOW_MS} long, one starting every {@link Q5_SLIDE_MS}, aligned to `BASE`, so each
 * bid is in five windows and the first four windows start before `BASE`) that has any bid, the
 * auction with the most bids in it (ties: the smallest auction id) and its number of bids.
 *
 * Bids are counted per auction per window (`countWindow`), each auction on its own event clock
 * that only event time moves (wait 0): an auction's bids never go back in time, so none is late,
 * and its windows close when one of its bids passes them, else at end of input — mostly the
 * latter, since an auction gets bids for only about 2 s. So a window's counts are known to be
 * complete only at end of input, and the second stage, the top auction per window
 * (`reduceFinal` keyed by window), emits then; its result does not depend on the order the
 * counts arrive in.
 *
 * Departure from the Nexmark paper: there the windows are 60 min every 1 min, every auction tied
 * for the most bids is output, and a global watermark lets each window's result out as soon as
 * it closes. Here one auction per window (the smallest id on ties), and with per-key clocks
 * (Weir's and Bytewax's) every result comes at end of input.
 */
export type Q5Out = readonly [windowStart: number, auction: number, bids: number]
/**
 * q6 (average selling price by seller): `[windowStart, seller, auctions, averagePrice]`: q4's
 * closing prices (the same first stage), grouped per seller instead of per category: per window,
 * the number of the seller's auctions created in that window that have a closing price, and the
 * sum of those prices divided once by that number.
 *
 * Departure from the Nexmark paper: there q6 averages the closing prices of each seller's last 10
 * auctions, re-emitted as each auction closes, a running value whose outputs depend on the order
 * in which auctions closing together are processed. Here an auction closes with its creation
 * window (see {@link Q4Out}) and the average is over the seller's auctions that closed in that
 * window, emitted once per window.
 */
export type Q6Out = readonly [windowStart: number, seller: number, auctions: number, averagePrice: number]
/** q7: `[windowStart, auction, price, bidder]`: the highest bid of a 10-second window (ties: the first). */
export type Q7Out = readonly [windowStart: number, auction: number, price: number, bidder: number]
/**
 * q8 (new users): `[personId, name, windowStart]`: a person who created an auction (as its
 * seller) in the same 10-second tumbling event-time window ({@link Q8_WINDOW_MS}, aligned to
 * `BASE`) they registered in; one row per such person, however many auctions. Persons (by id)
 * and auctions (by seller) are joined per window (`joinWindow`, insert mode `last`, emit mode
 * `final`: one row per key and window when it closes) and the rows with both sides kept. Each
 * key's clock is moved by event time only (wait 0) and a key's events never go back in time, so
 * nothing is late; a key's window closes when one of its auctions of a later window comes, else
 * at end of input.
 *
 * Departure from the Nexmark paper: this is the Beam/Flink form of q8 (10 s tumbling windows,
 * `id, name, windowStart`). The paper's CQL joins 12-hour sliding ranges and outputs the
 * auction's `reserve` with each (person, auction) pair.
 */
export type Q8Out = readonly [personId: number, name: string, windowStart: number]
/**
 * q11 (user sessions): `[bidder, sessionStart, sessionEnd, bids]`: each bidder's bids in
 * event-time session windows with a {@link Q11_GAP_MS} gap (a bid at most that long after the
 * session's last bid extends it; a later one starts a new session), counted (`countWindow` with
 * a `SessionWindower`, the bidder's clock moved by event time only, so nothing is late).
 * `sessionStart` and `sessionEnd` are the `dateTime`s of the session's first and last bid: the
 * closed window's metadata `openTime` and `closeTime` (Bytewax: `open_time`, `close_time`), which
 * for a session window are exactly those two timestamps in both engines. The count (`down`) and
 * the metadata (`meta`) are joined by bidder and window id.
 *
 * Departure from the Nexmark paper: the query is Beam's and Flink's q11 (bids per bidder per
 * 10 s-gap session). Flink's `SESSION_END` is the last bid's time plus the gap; here it is the
 * last bid's time itself, what both engines' metadata report.
 */
export type Q11Out = readonly [bidder: number, sessionStart: number, sessionEnd: number, bids: number]

/** The output type of each query. */
export interface QueryOut {
  readonly q0: NexmarkEvent
  readonly q1: Q1Out
  readonly q2: Q2Out
  readonly q3: Q3Out
  readonly q4: Q4Out
  readonly q5: Q5Out
  readonly q6: Q6Out
  readonly q7: Q7Out
  readonly q8: Q8Out
  readonly q11: Q11Out
}

export const EUR_PER_USD = 0.908
export const Q2_MODULUS = 123
export const Q3_STATES: ReadonlySet<string> = new Set(["OR", "ID", "CA"])
export const Q3_CATEGORY = 10
/** q4 and q6: the length of the tumbling event-time windows closing prices are taken in (aligned to `BASE`). */
export const CLOSING_WINDOW_MS = 10_000
export const Q7_WINDOW_MS = 10_000
/** q5: the length of the sliding event-time windows bids are counted in (aligned to `BASE`). */
export const Q5_WINDOW_MS = 10_000
/** q5: how often a sliding window starts: each bid is in {@link Q5_WINDOW_MS} / this = 5 windows. */
export const Q5_SLIDE_MS = 2_000
/** q8: the length of the tumbling event-time windows persons and auctions are joined in (aligned to `BASE`). */
export const Q8_WINDOW_MS = 10_000
/** q11: the session gap: a bidder's bid more than this after their previous one starts a new session. */
export const Q11_GAP_MS = 10_000

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
