/**
 * A deterministic Nexmark event generator: the same `(count, seed)` always
 * gives the same events, so Weir, the hand loop and Bytewax (through
 * {@link writeEventsCsv}) all process exactly the same stream.
 *
 * Event `i` is a person when `i % 50 === 0`, an auction when `i % 50` is 1..3,
 * else a bid (Nexmark's 1 : 3 : 46). Its event time is
 * `BASE + Math.floor(i / 10)` ms: 10,000 events per second of event time,
 * never decreasing.
 */
import * as fs from "node:fs"

/** 2026-01-01T00:00:00Z in epoch milliseconds: the first event's time, and what q7's windows align to. */
export const BASE = Date.UTC(2026, 0, 1)

/** The first person's and the first auction's id. */
export const FIRST_ID = 1000

export interface Person {
  readonly kind: "person"
  readonly id: number
  readonly name: string
  readonly emailAddress: string
  readonly creditCard: string
  readonly city: string
  readonly state: string
  /** Event time, epoch milliseconds. */
  readonly dateTime: number
}

export interface Auction {
  readonly kind: "auction"
  readonly id: number
  readonly itemName: string
  readonly description: string
  readonly initialBid: number
  readonly reserve: number
  /** Event time, epoch milliseconds. */
  readonly dateTime: number
  /** When the auction closes: `dateTime` + 10 s … 60 s. */
  readonly expires: number
  /** A person generated before this auction. */
  readonly seller: number
  /** 10 … 14. */
  readonly category: number
}

export interface Bid {
  readonly kind: "bid"
  /** An auction generated before this bid, skewed to recent ones. */
  readonly auction: number
  /** A person generated before this bid. */
  readonly bidder: number
  /** 1 … 10,000,000 (cents). */
  readonly price: number
  readonly channel: string
  readonly url: string
  /** Event time, epoch milliseconds. */
  readonly dateTime: number
}

/** One Nexmark event. */
export type NexmarkEvent = Person | Auction | Bid

/** mulberry32: a small seeded 32-bit PRNG; returns a function giving floats in [0, 1). */
export const mulberry32 = (seed: number): (() => number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export const STATES = ["OR", "ID", "CA", "WA", "AZ", "NY", "TX", "FL", "NV", "UT"] as const
const CITIES = ["Portland", "Boise", "San Francisco", "Seattle", "Phoenix", "New York", "Austin", "Miami", "Reno", "Provo", "Bend", "Kent"]
const FIRST_NAMES = ["Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter"]
const LAST_NAMES = ["Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris"]
const CHANNELS = ["Google", "Facebook", "Baidu", "Apple"] as const

/** Auctions a bid picks from: the most recent this many, the newest most often. */
const HOT_AUCTIONS = 1000

/**
 * `count` events, generated in memory (do this before timing).
 *
 * @example
 * ```ts
 * const events = generateEvents(1_000_000)   // 20,000 persons, 60,000 auctions, 920,000 bids
 * ```
 */
export const generateEvents = (count: number, seed = 42): Array<NexmarkEvent> => {
  const rnd = mulberry32(seed)
  const pick = <T>(xs: ReadonlyArray<T>): T => xs[Math.floor(rnd() * xs.length)]!
  const events: Array<NexmarkEvent> = new Array(count)
  let persons = 0
  let auctions = 0
  for (let i = 0; i < count; i++) {
    const dateTime = BASE + Math.floor(i / 10)
    const slot = i % 50
    if (slot === 0) {
      const id = FIRST_ID + persons++
      const first = pick(FIRST_NAMES)
      const last = pick(LAST_NAMES)
      const card = Array.from({ length: 4 }, () => String(Math.floor(rnd() * 10_000)).padStart(4, "0")).join(" ")
      events[i] = {
        kind: "person",
        id,
        name: `${first} ${last}`,
        emailAddress: `${first.toLowerCase()}.${last.toLowerCase()}${id}@example.com`,
        creditCard: card,
        city: pick(CITIES),
        state: pick(STATES),
        dateTime
      }
    } else if (slot <= 3) {
      const id = FIRST_ID + auctions++
      const initialBid = 1 + Math.floor(rnd() * 10_000)
      events[i] = {
        kind: "auction",
        id,
        itemName: `item-${id}`,
        description: `lot ${id} of ${pick(CITIES)}`,
        initialBid,
        reserve: initialBid + Math.floor(rnd() * 100_000),
        dateTime,
        expires: dateTime + 10_000 + Math.floor(rnd() * 50_001),
        seller: FIRST_ID + Math.floor(rnd() * persons),
        category: 10 + Math.floor(rnd() * 5)
      }
    } else {
      // r² skews toward 0: the newest auctions get most bids.
      const r = rnd()
      const back = Math.floor(r * r * Math.min(auctions, HOT_AUCTIONS))
      const channel = pick(CHANNELS)
      const auction = FIRST_ID + auctions - 1 - back
      events[i] = {
        kind: "bid",
        auction,
        bidder: FIRST_ID + Math.floor(rnd() * persons),
        price: 1 + Math.floor(rnd() * 10_000_000),
        channel,
        url: `https://www.nexmark.com/${channel.toLowerCase()}/item.htm?query=${auction}`,
        dateTime
      }
    }
  }
  return events
}

/** One event as a CSV line (no quoting: generated strings contain no commas). */
export const eventCsvLine = (e: NexmarkEvent): string => {
  switch (e.kind) {
    case "person":
      return `P,${e.id},${e.name},${e.emailAddress},${e.creditCard},${e.city},${e.state},${e.dateTime}`
    case "auction":
      return `A,${e.id},${e.itemName},${e.description},${e.initialBid},${e.reserve},${e.dateTime},${e.expires},${e.seller},${e.category}`
    case "bid":
      return `B,${e.auction},${e.bidder},${e.price},${e.channel},${e.url},${e.dateTime}`
  }
}

/**
 * Write the events to `path`, one line per event:
 * `P,id,name,emailAddress,creditCard,city,state,dateTime`,
 * `A,id,itemName,description,initialBid,reserve,dateTime,expires,seller,category` or
 * `B,auction,bidder,price,channel,url,dateTime` (times in epoch ms).
 */
export const writeEventsCsv = (path: string, events: ReadonlyArray<NexmarkEvent>): void => {
  const fd = fs.openSync(path, "w")
  try {
    const CHUNK = 10_000
    for (let i = 0; i < events.length; i += CHUNK) {
      const lines: Array<string> = []
      for (let j = i; j < Math.min(events.length, i + CHUNK); j++) lines.push(eventCsvLine(events[j]!))
      fs.writeSync(fd, lines.join("\n") + "\n")
    }
  } finally {
    fs.closeSync(fd)
  }
}
