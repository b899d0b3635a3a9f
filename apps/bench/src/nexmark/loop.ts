/**
 * The Nexmark queries as hand-written loops over the same batches the Weir
 * flows read: per input batch, the outputs go to the sink as one batch (as
 * Weir's output step writes them), so both pay for the same collecting.
 */
import type { Auction, NexmarkEvent, Person } from "./generator.js"
import { BASE } from "./generator.js"
import {
  CLOSING_WINDOW_MS,
  type CollectSink,
  Q2_MODULUS,
  Q3_CATEGORY,
  Q3_STATES,
  Q5_SLIDE_MS,
  Q5_WINDOW_MS,
  Q7_WINDOW_MS,
  Q8_WINDOW_MS,
  Q11_GAP_MS,
  type Query,
  type QueryOut,
  toEuros
} from "./queries.js"

type Batches = ReadonlyArray<ReadonlyArray<NexmarkEvent>>

const q0 = (batches: Batches, sink: CollectSink<NexmarkEvent>): void => {
  const part = sink.build()
  for (const b of batches) part.writeBatch(b.slice())
}

const q1 = (batches: Batches, sink: CollectSink<QueryOut["q1"]>): void => {
  const part = sink.build()
  for (const b of batches) {
    const out: Array<QueryOut["q1"]> = []
    for (let i = 0; i < b.length; i++) {
      const e = b[i]!
      if (e.kind === "bid") out.push(toEuros(e))
    }
    part.writeBatch(out)
  }
}

const q2 = (batches: Batches, sink: CollectSink<QueryOut["q2"]>): void => {
  const part = sink.build()
  for (const b of batches) {
    const out: Array<QueryOut["q2"]> = []
    for (let i = 0; i < b.length; i++) {
      const e = b[i]!
      if (e.kind === "bid" && e.auction % Q2_MODULUS === 0) out.push([e.auction, e.price])
    }
    part.writeBatch(out)
  }
}

/** q3's join, order-independent: persons by id, auctions waiting for their seller by seller id. */
const q3 = (batches: Batches, sink: CollectSink<QueryOut["q3"]>): void => {
  const part = sink.build()
  const persons = new Map<number, Person>()
  const waiting = new Map<number, Array<Auction>>()
  for (const b of batches) {
    const out: Array<QueryOut["q3"]> = []
    for (let i = 0; i < b.length; i++) {
      const e = b[i]!
      if (e.kind === "person") {
        if (!Q3_STATES.has(e.state)) continue
        persons.set(e.id, e)
        const ws = waiting.get(e.id)
        if (ws !== undefined) {
          for (const a of ws) out.push([e.name, e.city, e.state, a.id])
          waiting.delete(e.id)
        }
      } else if (e.kind === "auction") {
        if (e.category !== Q3_CATEGORY) continue
        const p = persons.get(e.seller)
        if (p !== undefined) out.push([p.name, p.city, p.state, e.id])
        else {
          const ws = waiting.get(e.seller)
          if (ws === undefined) waiting.set(e.seller, [e])
          else ws.push(e)
        }
      }
    }
    part.writeBatch(out)
  }
}

/** An auction of the window being read, with its highest bid so far before `expires` (0: none). */
interface OpenAuction {
  readonly auction: Auction
  price: number
}

/**
 * q4 and q6's first stage: event time never decreases, so one window is open at a time, holding
 * the auctions created in it by id. A bid raises its auction's price if the auction is in the
 * open window (bids on older auctions count for nothing) and the bid is before `expires`. When an
 * event of a later window comes (or the input ends), `close` gets the window's start and its
 * auctions, to put its results into `out`.
 */
const closingPrices = <X>(
  batches: Batches,
  sink: CollectSink<X>,
  close: (windowStart: number, auctions: ReadonlyMap<number, OpenAuction>, out: Array<X>) => void
): void => {
  const part = sink.build()
  const open = new Map<number, OpenAuction>()
  let window = NaN
  for (const b of batches) {
    const out: Array<X> = []
    for (let i = 0; i < b.length; i++) {
      const e = b[i]!
      if (e.kind === "person") continue
      const w = Math.floor((e.dateTime - BASE) / CLOSING_WINDOW_MS)
      if (w !== window) {
        if (open.size > 0) close(BASE + window * CLOSING_WINDOW_MS, open, out)
        open.clear()
        window = w
      }
      if (e.kind === "auction") open.set(e.id, { auction: e, price: 0 })
      else {
        const o = open.get(e.auction)
        if (o !== undefined && e.price > o.price && e.dateTime < o.auction.expires) o.price = e.price
      }
    }
    part.writeBatch(out)
  }
  if (open.size > 0) {
    const out: Array<X> = []
    close(BASE + window * CLOSING_WINDOW_MS, open, out)
    part.writeBatch(out)
  }
}

/** q4 and q6's second stage for one window: count and sum the closing prices per `keyOf(auction)`, then one row per key. */
const averages = (
  windowStart: number,
  auctions: ReadonlyMap<number, OpenAuction>,
  keyOf: (a: Auction) => number,
  out: Array<readonly [windowStart: number, key: number, auctions: number, averagePrice: number]>
): void => {
  const sums = new Map<number, { n: number; sum: number }>()
  for (const o of auctions.values()) {
    if (o.price === 0) continue
    const key = keyOf(o.auction)
    const s = sums.get(key)
    if (s === undefined) sums.set(key, { n: 1, sum: o.price })
    else {
      s.n++
      s.sum += o.price
    }
  }
  for (const [key, s] of sums) out.push([windowStart, key, s.n, s.sum / s.n])
}

const categoryOf = (a: Auction): number => a.category
const sellerOf = (a: Auction): number => a.seller

const q4 = (batches: Batches, sink: CollectSink<QueryOut["q4"]>): void =>
  closingPrices(batches, sink, (windowStart, auctions, out) => averages(windowStart, auctions, categoryOf, out))

const q6 = (batches: Batches, sink: CollectSink<QueryOut["q6"]>): void =>
  closingPrices(batches, sink, (windowStart, auctions, out) => averages(windowStart, auctions, sellerOf, out))

/** q5: the windows a bid is in (the length is a multiple of the slide), and so the most open at a time. */
const Q5_OPEN = Q5_WINDOW_MS / Q5_SLIDE_MS

/** q5's result for window `w` from its bids per auction, into `out`: the auction with the most bids (ties: the smallest id). */
const q5Top = (w: number, counts: ReadonlyMap<number, number>, out: Array<QueryOut["q5"]>): void => {
  let auction = 0
  let bids = 0
  for (const [a, n] of counts) {
    if (n > bids || (n === bids && a < auction)) {
      auction = a
      bids = n
    }
  }
  out.push([BASE + w * Q5_SLIDE_MS, auction, bids])
}

/**
 * q5: event time never decreases, so the open windows are the {@link Q5_OPEN} consecutive ones the
 * latest bid is in, each counting bids per auction in its map of a ring (window id mod
 * {@link Q5_OPEN}). A window is complete once a bid past its end comes (or the input ends): then
 * its top auction is emitted and its map cleared for the window that will use it next.
 */
const q5 = (batches: Batches, sink: CollectSink<QueryOut["q5"]>): void => {
  const part = sink.build()
  const ring: Array<Map<number, number>> = Array.from({ length: Q5_OPEN }, () => new Map())
  const slot = (w: number): Map<number, number> => ring[((w % Q5_OPEN) + Q5_OPEN) % Q5_OPEN]!
  // The windows from `lo` to `hi` may hold bids (NaN before the first bid).
  let lo = NaN
  let hi = NaN
  const close = (upTo: number, out: Array<QueryOut["q5"]>): void => {
    for (let w = lo; w < upTo && w <= hi; w++) {
      const counts = slot(w)
      if (counts.size > 0) {
        q5Top(w, counts, out)
        counts.clear()
      }
    }
  }
  for (const b of batches) {
    const out: Array<QueryOut["q5"]> = []
    for (let i = 0; i < b.length; i++) {
      const e = b[i]!
      if (e.kind !== "bid") continue
      const last = Math.floor((e.dateTime - BASE) / Q5_SLIDE_MS)
      const first = last - Q5_OPEN + 1
      if (first > lo) close(first, out)
      lo = first
      hi = last
      const a = e.auction
      for (let w = first; w <= last; w++) {
        const counts = slot(w)
        counts.set(a, (counts.get(a) ?? 0) + 1)
      }
    }
    part.writeBatch(out)
  }
  const out: Array<QueryOut["q5"]> = []
  close(Infinity, out)
  part.writeBatch(out)
}

/** q7: event time never decreases, so one open window at a time; it closes when a bid of a later window comes (or at the end). */
const q7 = (batches: Batches, sink: CollectSink<QueryOut["q7"]>): void => {
  const part = sink.build()
  let window = -1
  let best: { auction: number; price: number; bidder: number } | undefined
  for (const b of batches) {
    const out: Array<QueryOut["q7"]> = []
    for (let i = 0; i < b.length; i++) {
      const e = b[i]!
      if (e.kind !== "bid") continue
      const w = Math.floor((e.dateTime - BASE) / Q7_WINDOW_MS)
      if (w !== window) {
        if (best !== undefined) out.push([BASE + window * Q7_WINDOW_MS, best.auction, best.price, best.bidder])
        window = w
        best = e
      } else if (best === undefined || e.price > best.price) best = e
    }
    part.writeBatch(out)
  }
  if (best !== undefined) part.writeBatch([[BASE + window * Q7_WINDOW_MS, best.auction, best.price, best.bidder]])
}

/**
 * q8: event time never decreases, so one window at a time, with the persons registered in it by
 * id. An auction whose seller is one of them emits that person, who is then taken out (one row
 * per person); the persons are dropped when a person or auction of a later window comes.
 */
const q8 = (batches: Batches, sink: CollectSink<QueryOut["q8"]>): void => {
  const part = sink.build()
  const persons = new Map<number, Person>()
  let window = NaN
  for (const b of batches) {
    const out: Array<QueryOut["q8"]> = []
    for (let i = 0; i < b.length; i++) {
      const e = b[i]!
      if (e.kind === "bid") continue
      const w = Math.floor((e.dateTime - BASE) / Q8_WINDOW_MS)
      if (w !== window) {
        persons.clear()
        window = w
      }
      if (e.kind === "person") persons.set(e.id, e)
      else {
        const p = persons.get(e.seller)
        if (p !== undefined) {
          out.push([p.id, p.name, BASE + w * Q8_WINDOW_MS])
          persons.delete(e.seller)
        }
      }
    }
    part.writeBatch(out)
  }
}

/** q11's open session of one bidder. */
interface Session {
  start: number
  last: number
  bids: number
}

/**
 * q11: each bidder's open session by bidder id; a bid more than {@link Q11_GAP_MS} after the
 * session's last one emits the session and starts the next in its place. The sessions still open
 * are emitted at the end.
 */
const q11 = (batches: Batches, sink: CollectSink<QueryOut["q11"]>): void => {
  const part = sink.build()
  const open = new Map<number, Session>()
  for (const b of batches) {
    const out: Array<QueryOut["q11"]> = []
    for (let i = 0; i < b.length; i++) {
      const e = b[i]!
      if (e.kind !== "bid") continue
      const t = e.dateTime
      const s = open.get(e.bidder)
      if (s === undefined) open.set(e.bidder, { start: t, last: t, bids: 1 })
      else if (t - s.last > Q11_GAP_MS) {
        out.push([e.bidder, s.start, s.last, s.bids])
        s.start = t
        s.last = t
        s.bids = 1
      } else {
        s.last = t
        s.bids++
      }
    }
    part.writeBatch(out)
  }
  const out: Array<QueryOut["q11"]> = []
  for (const [bidder, s] of open) out.push([bidder, s.start, s.last, s.bids])
  part.writeBatch(out)
}

/** Each query's loop. */
export const loops: { readonly [Q in Query]: (batches: Batches, sink: CollectSink<QueryOut[Q]>) => void } = { q0, q1, q2, q3, q4, q5, q6, q7, q8, q11 }
