/**
 * State time-to-live cost: the keyed running sum of `keyed` (statefulMap over
 * 10,000 keys) run three ways in the same process and rounds: (a) without
 * `ttl`, (b) with a `ttl` longer than the run, so nothing expires (the
 * steady-state cost of tracking when each key was touched), (c) with a 10 s
 * `ttl` on the run's clock, so a large share of the keys expire and are
 * rebuilt as the stream goes.
 *
 * The run's clock is virtual: the source advances it by 1 ms per item it hands
 * out (1,000 items per virtual second), so expiry depends on the data only,
 * never on the machine's speed or load. Keys are drawn uniformly at random
 * (seeded), so a key's next item comes after a geometric gap of 10,000 items
 * (10 virtual seconds) on average and a 10 s ttl expires a key before about
 * e⁻¹ ≈ 37 % of the items. An untimed simulation of the ttl rule says how many
 * items must find their key expired; every run of (c) is checked against it,
 * and (a) and (b) must build each key exactly once.
 */
import { Dataflow, EOF, FixedPartitionedSource, op, runMain, type StatefulSourcePartition, type WeirClock } from "@weir/core"
import { type Duration, Effect } from "effect"
import { batchesOf, CountSink } from "../data.js"
import { type BenchCase, median, type Variant } from "../harness.js"

const KEY_COUNT = 10_000
const KEYS = Array.from({ length: KEY_COUNT }, (_, i) => `key-${i}`)
/** Where the virtual clock starts. */
const T0 = Date.UTC(2024, 0, 1)
/** (b): far longer than any run (10 million items are under 3 virtual hours; (b)'s check fails if a key expires). */
const LONG_TTL: Duration.Input = "365 days"
/** (c): the mean gap between two items of a key, so about a third of the items find their key expired. */
const SHORT_TTL: Duration.Input = "10 seconds"
const SHORT_TTL_MS = 10_000
/** No epoch closes during a run (there is no recovery here), as in `keyed` on the real clock. */
const EPOCH: Duration.Input = "365 days"

/** mulberry32: a small seeded generator, so every run and every process gets the same keys. */
const random = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

/** A virtual clock that only moves when the source hands out items. */
class ItemClock implements WeirClock {
  t = T0
  now(): number {
    return this.t
  }
  sleep(millis: number): Effect.Effect<void> {
    return Effect.sync(() => {
      this.t += millis
    })
  }
}

/** The pre-built batches of key indices; each batch handed out advances `clock` by 1 ms per item. */
class ClockedSource extends FixedPartitionedSource<number, number> {
  constructor(private readonly batches: ReadonlyArray<Array<number>>, private readonly clock: ItemClock) {
    super()
  }
  listParts() {
    return ["memory"]
  }
  buildPart(_s: string, _p: string, resume: number | undefined): StatefulSourcePartition<number, number> {
    let i = resume ?? 0
    const { batches, clock } = this
    return {
      nextBatch: () => {
        if (i >= batches.length) return EOF
        const b = batches[i++]!
        clock.t += b.length
        return b
      },
      snapshot: () => i
    }
  }
}

/**
 * How many items find their key new or expired, by the ttl rule (README of
 * @weir/core): the clock is read once per batch, at the start of the turn that
 * reads it (before the batch advances it), and a key touched at `t` is gone
 * from `t + ttl` on. Also how many keys hold state after the last batch.
 */
const simulate = (batches: ReadonlyArray<Array<number>>, ttlMs: number): { fresh: number; liveAtEnd: number } => {
  const touched = new Float64Array(KEY_COUNT).fill(NaN)
  let now = T0
  let fresh = 0
  for (const b of batches) {
    for (let i = 0; i < b.length; i++) {
      const k = b[i]!
      const at = touched[k]!
      if (Number.isNaN(at) || at + ttlMs <= now) fresh++
      touched[k] = now
    }
    now += b.length
  }
  let liveAtEnd = 0
  for (const at of touched) if (at + ttlMs > now) liveAtEnd++
  return { fresh, liveAtEnd }
}

/** One run: keyOn → statefulMap running sum (counting the items that start from fresh state) → sink. */
const runOnce = async (batches: ReadonlyArray<Array<number>>, ttl: Duration.Input | undefined): Promise<{ count: number; fresh: number }> => {
  const clock = new ItemClock()
  const sink = new CountSink<readonly [string, number]>()
  let fresh = 0
  const flow = new Dataflow("bench")
  const keyed = op.keyOn("key", op.input("inp", flow, new ClockedSource(batches, clock)), (x: number) => KEYS[x]!)
  op.statefulMap("sum", keyed, (s: number | undefined, x: number) => {
    if (s === undefined) fresh++
    const next = (s ?? 0) + x
    return [next, next] as const
  }, ttl === undefined ? undefined : { ttl }).then(op.output, "out", sink)
  await runMain(flow, { clock, epochInterval: EPOCH })
  return { count: sink.count, fresh }
}

const pct = (part: number, whole: number) => `${((100 * part) / whole).toFixed(1)}%`
const int = (n: number) => n.toLocaleString("en-US")

/** What notes() prints, filled in by variants() and the runs. */
let report: { items: number; keys: number; freshC: number; liveAtEnd: number; runsMs: Array<Array<number>> } | undefined

export const ttl: BenchCase = {
  id: "ttl",
  name: `ttl: keyed running sum over ${int(KEY_COUNT)} random keys, without ttl / ttl ${LONG_TTL} (nothing expires) / ttl ${SHORT_TTL} (keys expire)`,
  unit: "item",
  variants({ items }) {
    const next = random(0x5eed)
    const batches = batchesOf(items, () => Math.floor(next() * KEY_COUNT))
    const keys = simulate(batches, Infinity).fresh
    const { fresh: freshC, liveAtEnd } = simulate(batches, SHORT_TTL_MS)
    const runsMs: Array<Array<number>> = [[], [], []]
    report = { items, keys, freshC, liveAtEnd, runsMs }
    const variant = (i: number, name: string, ttlOption: Duration.Input | undefined, fresh: number): Variant => ({
      name,
      items,
      run: async () => {
        const t = performance.now()
        const r = await runOnce(batches, ttlOption)
        runsMs[i]!.push(performance.now() - t)
        if (r.count !== items) throw new Error(`'${name}' emitted ${r.count} items, expected ${items}`)
        if (r.fresh !== fresh) {
          throw new Error(`'${name}': ${r.fresh} items started from fresh state; the ttl rule says ${fresh}`)
        }
      }
    })
    return [
      variant(0, "(a) no ttl", undefined, keys),
      variant(1, `(b) ttl ${LONG_TTL}: nothing expires`, LONG_TTL, keys),
      variant(2, `(c) ttl ${SHORT_TTL}: ${pct(freshC, items)} of items find their key expired`, SHORT_TTL, freshC)
    ]
  },
  notes() {
    if (report === undefined) return []
    const { items, keys, freshC, liveAtEnd, runsMs } = report
    // The first run of each variant is the warm-up; round r is the (r+1)-th run of every variant.
    const [a, b, c] = runsMs.map((xs) => xs.slice(1))
    const paired = (xs: Array<number>) => xs.map((x, r) => x / a![r]!)
    const show = (label: string, xs: Array<number>) => {
      const rs = paired(xs)
      return `${label} per round: ${rs.map((r) => r.toFixed(2)).join(" ")}; median ${median(rs).toFixed(2)}`
    }
    return [
      `Run clock: virtual, +1 ms per item the source hands out (1,000 items per virtual second; a run of ${int(items)} items ` +
      `spans ${(items / 3_600_000).toFixed(1)} virtual hours); no epoch closes. Keys uniform at random: a key's next item ` +
      `comes ${int(KEY_COUNT)} items (10 virtual s) later on average.`,
      `(a), (b): each of the ${int(keys)} keys is built once. (c): ${int(freshC)} of ${int(items)} items (${pct(freshC, items)}) ` +
      `started from fresh state (new or expired key) — ${((freshC - keys) / keys).toFixed(0)} expiries per key ` +
      `on average, ${int(liveAtEnd)} keys holding state at the end; as a simulation of the ttl rule predicts (every run checked).`,
      show("(b)/(a)", b!),
      show("(c)/(a)", c!)
    ]
  }
}
