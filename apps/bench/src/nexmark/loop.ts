/**
 * The Nexmark queries as hand-written loops over the same batches the Weir
 * flows read: per input batch, the outputs go to the sink as one batch (as
 * Weir's output step writes them), so both pay for the same collecting.
 */
import type { Auction, NexmarkEvent, Person } from "./generator.js"
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

/** Each query's loop. */
export const loops: { readonly [Q in Query]: (batches: Batches, sink: CollectSink<QueryOut[Q]>) => void } = { q0, q1, q2, q3, q7 }
