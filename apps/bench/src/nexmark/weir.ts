/**
 * The Nexmark queries as Weir flows, reading the pre-built batches from a
 * {@link BatchSource} and writing to a {@link CollectSink}.
 */
import { Dataflow, op, type Stream } from "@weir/core"
import { EventClock, TumblingWindower, win } from "@weir/windowing"
import { BatchSource } from "../data.js"
import type { Auction, Bid, NexmarkEvent, Person } from "./generator.js"
import { BASE } from "./generator.js"
import {
  type CollectSink,
  Q2_MODULUS,
  Q3_CATEGORY,
  Q3_STATES,
  Q7_WINDOW_MS,
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

/** q7: every bid under one key into a 10-second tumbling `maxWindow` by price on event time (wait 0). */
const q7 = (batches: Batches, sink: CollectSink<QueryOut["q7"]>): Dataflow => {
  const flow = new Dataflow("nexmark_q7")
  const bids = op.keyOn("all", op.filterMap("bids", events(flow, batches), bidOf), () => "all")
  const clock = new EventClock((b: Bid) => new Date(b.dateTime), 0)
  const windower = new TumblingWindower(Q7_WINDOW_MS, new Date(BASE))
  const best = win.maxWindow("max", bids, clock, windower, (b: Bid) => b.price)
  const rows = op.map("row", best.down, ([, [w, b]]): QueryOut["q7"] => [BASE + w * Q7_WINDOW_MS, b.auction, b.price, b.bidder])
  op.output("out", rows, sink)
  return flow
}

/** Each query's flow. */
export const flows: { readonly [Q in Query]: (batches: Batches, sink: CollectSink<QueryOut[Q]>) => Dataflow } = { q0, q1, q2, q3, q7 }
