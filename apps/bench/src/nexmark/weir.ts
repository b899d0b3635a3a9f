/**
 * The Nexmark queries as Weir flows, reading the pre-built batches from a
 * {@link BatchSource} and writing to a {@link CollectSink}.
 */
import { Dataflow, type KeyedStream, op, type Stream } from "@weir/core"
import { EventClock, SessionWindower, SlidingWindower, TumblingWindower, win } from "@weir/windowing"
import * as Duration from "effect/Duration"
import { BatchSource } from "../data.js"
import type { Auction, Bid, NexmarkEvent, Person } from "./generator.js"
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

type Batches = ReadonlyArray<Array<NexmarkEvent>>

const events = (flow: Dataflow, batches: Batches): Stream<NexmarkEvent> => op.input("events", flow, new BatchSource(batches))
const bidOf = (e: NexmarkEvent): Bid | undefined => (e.kind === "bid" ? e : undefined)

const q0 = (batches: Batches, sink: CollectSink<NexmarkEvent>): Dataflow => {
  const flow = new Dataflow("nexmark_q0")
  op.output("out", events(flow, batches), sink)
  return flow
}

const q1 = (batches: Batches, sink: CollectSink<QueryOut["q1"]>): Dataflow => {
  const flow = new Dataflow("nexmark_q1")
  op.output("out", op.filterMap("euros", events(flow, batches), (e) => (e.kind === "bid" ? toEuros(e) : undefined)), sink)
  return flow
}

const q2 = (batches: Batches, sink: CollectSink<QueryOut["q2"]>): Dataflow => {
  const flow = new Dataflow("nexmark_q2")
  const picked = op.filterMap("pick", events(flow, batches), (e): QueryOut["q2"] | undefined =>
    e.kind === "bid" && e.auction % Q2_MODULUS === 0 ? [e.auction, e.price] : undefined
  )
  op.output("out", picked, sink)
  return flow
}

/** q3's per-person state: the person once seen (and local), and the auctions that came before it. */
interface Q3State {
  person: Person | undefined
  waiting: Array<Auction>
}

/**
 * q3: local persons and category-10 auctions keyed by person id (an auction by
 * its seller) into one `statefulFlatMap`, which emits each pair once, when its
 * second side arrives.
 */
const q3 = (batches: Batches, sink: CollectSink<QueryOut["q3"]>): Dataflow => {
  const flow = new Dataflow("nexmark_q3")
  const sides = op.filterMap("sides", events(flow, batches), (e): readonly [string, Person | Auction] | undefined => {
    if (e.kind === "person") return Q3_STATES.has(e.state) ? [String(e.id), e] : undefined
    if (e.kind === "auction") return e.category === Q3_CATEGORY ? [String(e.seller), e] : undefined
    return undefined
  })
  const joined = op.statefulFlatMap("join", sides, (s: Q3State | undefined, v: Person | Auction) => {
    const state: Q3State = s ?? { person: undefined, waiting: [] }
    if (v.kind === "person") {
      state.person = v
      const out = state.waiting.map((a): QueryOut["q3"] => [v.name, v.city, v.state, a.id])
      state.waiting = []
      return [state, out] as const
    }
    const p = state.person
    if (p === undefined) {
      state.waiting.push(v)
      return [state, []] as const
    }
    return [state, [[p.name, p.city, p.state, v.id] as QueryOut["q3"]]] as const
  })
  op.output("out", op.map("unkey", joined, ([, row]) => row), sink)
  return flow
}

/** q4 and q6's closing price of an auction: `[windowStart, auction, price]`, of the window the auction was created in. */
type Closing = readonly [windowStart: number, auction: Auction, price: number]

const auctionOf = (e: NexmarkEvent): Auction | undefined => (e.kind === "auction" ? e : undefined)

/**
 * The event clocks' options in every windowed query: system time frozen, so a key's watermark is
 * exactly the highest `dateTime` it has seen (wait 0) and its windows close on event time alone,
 * and no wake-ups (`toSystemTime: () => undefined`, as Bytewax's `to_system_utc=None`): a frozen
 * time can't place them on the run's clock. With the run's clock instead, the watermark creeps on
 * with system time between batches, and events at the last batch's millisecond turn late —
 * dropped, differently per run (432 to 581 of 300,000 events in q4's join; 1–3 thousand of 1 M
 * bids in q7).
 */
const FROZEN_AT = new Date(BASE)
const FROZEN = { nowGetter: () => FROZEN_AT, toSystemTime: () => undefined } as const

/**
 * Timestamps a value by the window start it carries, and never closes a window before the end of
 * input (an infinite wait: no watermark, no wake-ups). The join closes an auction's window when
 * that auction's own watermark passes it — when one of its bids of a later window comes, else
 * at the end of input — so a row of an early window can come after rows of later ones: any finite
 * wait would drop some, depending on the order the keys are flushed in.
 */
const atWindowStart = new EventClock((c: Closing) => c[0], Duration.infinity)

const closingWindows = new TumblingWindower(CLOSING_WINDOW_MS, new Date(BASE))

/**
 * q4 and q6's first stage: auctions (by id) and bids (by auction) into a `joinWindow` per 10 s
 * tumbling event-time window (every bid kept: insert mode `product`; rows when the window closes:
 * emit mode `final`); rows with the auction and a bid before its `expires` priced; then the
 * highest price per auction per window (`maxWindow`).
 */
const closingPrices = (flow: Dataflow, batches: Batches): Stream<Closing> => {
  const all = events(flow, batches)
  const auctions = op.keyOn("auction_id", op.filterMap("auctions", all, auctionOf), (a) => String(a.id))
  const bids = op.keyOn("bid_auction", op.filterMap("bids", all, bidOf), (b) => String(b.auction))
  const clock = new EventClock((x: Auction | Bid) => x.dateTime, 0, FROZEN)
  const joined = win.joinWindow("join", clock, closingWindows, [auctions, bids], { insertMode: "product", emitMode: "final" })
  const priced = op.filterMapValue("priced", joined.down, ([w, [a, b]]): Closing | undefined =>
    a !== undefined && b !== undefined && b.dateTime < a.expires ? [BASE + w * CLOSING_WINDOW_MS, a, b.price] : undefined
  )
  const closing = win.maxWindow("closing", priced, atWindowStart, closingWindows, (c: Closing) => c[2])
  return op.map("closed", closing.down, ([, [, c]]) => c)
}

/**
 * q4 and q6's second stage: per key (a category or a seller id) per window, the count and the
 * integer sum of the closing prices (`foldWindow`), then `[windowStart, key, count, sum / count]`.
 */
const averages = (keyed: KeyedStream<Closing>): Stream<readonly [windowStart: number, key: number, auctions: number, averagePrice: number]> => {
  const sums = win.foldWindow("sum", keyed, atWindowStart, closingWindows, (): readonly [number, number] => [0, 0],
    (acc, c: Closing) => [acc[0] + 1, acc[1] + c[2]] as const, (a, b) => [a[0] + b[0], a[1] + b[1]] as const)
  return op.map("average", sums.down, ([key, [w, [n, sum]]]) => [BASE + w * CLOSING_WINDOW_MS, Number(key), n, sum / n] as const)
}

/** q4: the closing prices keyed by category, averaged per window. */
const q4 = (batches: Batches, sink: CollectSink<QueryOut["q4"]>): Dataflow => {
  const flow = new Dataflow("nexmark_q4")
  op.output("out", averages(op.keyOn("category", closingPrices(flow, batches), (c) => String(c[1].category))), sink)
  return flow
}

/** q6: the same closing prices keyed by seller, averaged per window. */
const q6 = (batches: Batches, sink: CollectSink<QueryOut["q6"]>): Dataflow => {
  const flow = new Dataflow("nexmark_q6")
  op.output("out", averages(op.keyOn("seller", closingPrices(flow, batches), (c) => String(c[1].seller))), sink)
  return flow
}

/**
 * q5: bids counted per auction (`countWindow`) in 10 s sliding windows every 2 s on event time
 * (wait 0; system time frozen as for q4's join, {@link FROZEN}, so nothing is late), then per
 * window the auction with the most bids (ties: the smallest id) by a `reduceFinal` keyed by
 * window: each auction's windows close on its own watermark, mostly at end of input, so a
 * window's counts are complete only then.
 */
const q5 = (batches: Batches, sink: CollectSink<QueryOut["q5"]>): Dataflow => {
  const flow = new Dataflow("nexmark_q5")
  const bids = op.filterMap("bids", events(flow, batches), bidOf)
  const clock = new EventClock((b: Bid) => b.dateTime, 0, FROZEN)
  const windower = new SlidingWindower(Q5_WINDOW_MS, Q5_SLIDE_MS, new Date(BASE))
  const counts = win.countWindow("count", bids, clock, windower, (b) => String(b.auction))
  const byWindow = op.map("by_window", counts.down, ([auction, [w, n]]) => [String(w), [w, Number(auction), n] as const] as const)
  const top = op.reduceFinal("top", byWindow, (a, b) => (b[2] > a[2] || (b[2] === a[2] && b[1] < a[1]) ? b : a))
  op.output("out", op.map("row", top, ([, [w, auction, n]]): QueryOut["q5"] => [BASE + w * Q5_SLIDE_MS, auction, n]), sink)
  return flow
}

/**
 * q7: every bid under one key into a 10-second tumbling `maxWindow` by price on event time (wait 0),
 * on the frozen clock (see {@link FROZEN}): on the run's clock the watermark creeps past the
 * last batch's millisecond and a few thousand of 1 M bids turn late (dropped), differently per run.
 */
const q7 = (batches: Batches, sink: CollectSink<QueryOut["q7"]>): Dataflow => {
  const flow = new Dataflow("nexmark_q7")
  const bids = op.keyOn("all", op.filterMap("bids", events(flow, batches), bidOf), () => "all")
  const clock = new EventClock((b: Bid) => b.dateTime, 0, FROZEN)
  const windower = new TumblingWindower(Q7_WINDOW_MS, new Date(BASE))
  const best = win.maxWindow("max", bids, clock, windower, (b: Bid) => b.price)
  const rows = op.map("row", best.down, ([, [w, b]]): QueryOut["q7"] => [BASE + w * Q7_WINDOW_MS, b.auction, b.price, b.bidder])
  op.output("out", rows, sink)
  return flow
}

const personOf = (e: NexmarkEvent): Person | undefined => (e.kind === "person" ? e : undefined)

/**
 * q8: persons (by id) and auctions (by seller) into a `joinWindow` per 10 s tumbling event-time
 * window (wait 0, system time frozen: nothing is late; insert mode `last`, emit mode `final`),
 * keeping the rows that have both a person and an auction.
 */
const q8 = (batches: Batches, sink: CollectSink<QueryOut["q8"]>): Dataflow => {
  const flow = new Dataflow("nexmark_q8")
  const all = events(flow, batches)
  const persons = op.keyOn("person_id", op.filterMap("persons", all, personOf), (p) => String(p.id))
  const auctions = op.keyOn("seller", op.filterMap("auctions", all, auctionOf), (a) => String(a.seller))
  const clock = new EventClock((x: Person | Auction) => x.dateTime, 0, FROZEN)
  const windower = new TumblingWindower(Q8_WINDOW_MS, new Date(BASE))
  const joined = win.joinWindow("join", clock, windower, [persons, auctions], { emitMode: "final" })
  const rows = op.filterMap("new_users", joined.down, ([, [w, [p, a]]]): QueryOut["q8"] | undefined =>
    p !== undefined && a !== undefined ? [p.id, p.name, BASE + w * Q8_WINDOW_MS] : undefined
  )
  op.output("out", rows, sink)
  return flow
}

/**
 * q11: bids counted per bidder (`countWindow`) in event-time sessions with a 10 s gap (wait 0,
 * system time frozen: nothing is late); each session's count joined (`op.join`, by bidder and
 * window id) with its metadata, whose `openTime` and `closeTime` are its first and last bid's time.
 */
const q11 = (batches: Batches, sink: CollectSink<QueryOut["q11"]>): Dataflow => {
  const flow = new Dataflow("nexmark_q11")
  const bids = op.filterMap("bids", events(flow, batches), bidOf)
  const clock = new EventClock((b: Bid) => b.dateTime, 0, FROZEN)
  const sessions = win.countWindow("count", bids, clock, new SessionWindower(Q11_GAP_MS), (b) => String(b.bidder))
  const counts = op.map("count_by_session", sessions.down, ([bidder, [id, n]]) => [`${bidder}:${id}`, n] as const)
  const spans = op.map("meta_by_session", sessions.meta, ([bidder, [id, m]]) =>
    [`${bidder}:${id}`, [Number(bidder), m.openTime.getTime(), m.closeTime.getTime()] as const] as const
  )
  const joined = op.join("with_meta", [counts, spans])
  op.output("out", op.map("row", joined, ([, [n, s]]): QueryOut["q11"] => [s![0], s![1], s![2], n!]), sink)
  return flow
}

/** Each query's flow. */
export const flows: { readonly [Q in Query]: (batches: Batches, sink: CollectSink<QueryOut[Q]>) => Dataflow } = { q0, q1, q2, q3, q4, q5, q6, q7, q8, q11 }
