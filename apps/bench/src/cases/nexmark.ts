/**
 * Nexmark q0, q1, q2, q3 and q7 (see src/nexmark/): each query as a Weir flow
 * against a hand-written loop over the same generated events, in batches of
 * 1,024. The first run of each variant (the warm-up) has its results put in
 * canonical form (JSON per result, sorted); Weir's must equal the loop's or the
 * case fails.
 */
import { runMain } from "@weir/core"
import { batchesOf } from "../data.js"
import { type BenchCase, median } from "../harness.js"
import { generateEvents, type NexmarkEvent } from "../nexmark/generator.js"
import { loops } from "../nexmark/loop.js"
import { canonical, CollectSink, firstDifference, type Query, type QueryOut } from "../nexmark/queries.js"
import { flows } from "../nexmark/weir.js"

/** Events per run: 1,000,000 at the default `--items` (10 million), scaled by it. */
export const nexmarkEvents = (items: number): number => Math.max(1000, Math.round(items / 10))

let cached: { readonly n: number; readonly batches: Array<Array<NexmarkEvent>> } | undefined
/** The events as batches, generated once per count and shared by the queries' cases. */
const eventBatches = (n: number): Array<Array<NexmarkEvent>> => {
  if (cached?.n !== n) {
    const events = generateEvents(n)
    cached = { n, batches: batchesOf(n, (i) => events[i]!) }
  }
  return cached.batches
}

const DESCRIPTIONS: { readonly [Q in Query]: string } = {
  q0: "pass-through (every event out)",
  q1: "bids, price × 0.908 (dollars → euros)",
  q2: "bids on auctions with id % 123 == 0 → [auction, price]",
  q3: "local sellers (OR/ID/CA) of category-10 auctions: incremental join → [name, city, state, auction]",
  q7: "highest bid per 10 s tumbling event-time window → [windowStart, auction, price, bidder]"
}

const nexmarkCase = <Q extends Query>(q: Q): BenchCase => {
  const runsMs: Array<Array<number>> = [[], []]
  let outputs = 0
  let checked = false
  let n = 0
  return {
    id: `nexmark-${q}`,
    name: `nexmark ${q}: ${DESCRIPTIONS[q]}`,
    unit: "event",
    variants({ items }) {
      n = nexmarkEvents(items)
      const batches = eventBatches(n)
      runsMs[0] = []
      runsMs[1] = []
      checked = false
      let expected: Array<string> | undefined
      const timed = async (i: 0 | 1, f: () => Promise<ReadonlyArray<QueryOut[Q]>> | ReadonlyArray<QueryOut[Q]>) => {
        const t = performance.now()
        const out = await f()
        runsMs[i]!.push(performance.now() - t)
        return out
      }
      return [
        {
          name: "hand-written loop",
          items: n,
          run: async () => {
            const out = await timed(0, () => {
              const sink = new CollectSink<QueryOut[Q]>()
              loops[q](batches, sink)
              return sink.items
            })
            if (expected === undefined) {
              expected = canonical(out)
              outputs = out.length
            } else if (out.length !== outputs) throw new Error(`nexmark ${q}: the hand loop emitted ${out.length} results, before ${outputs}`)
          }
        },
        {
          name: "Weir (runMain)",
          items: n,
          run: async () => {
            const out = await timed(1, async () => {
              const sink = new CollectSink<QueryOut[Q]>()
              await runMain(flows[q](batches, sink))
              return sink.items
            })
            if (expected === undefined) throw new Error(`nexmark ${q}: the hand loop must run before Weir (it is the baseline)`)
            if (!checked) {
              const diff = firstDifference(canonical(out), expected)
              if (diff !== undefined) throw new Error(`nexmark ${q}: Weir's results differ from the hand loop's, ${diff}`)
              checked = true
            } else if (out.length !== outputs) throw new Error(`nexmark ${q}: Weir emitted ${out.length} results, the hand loop ${outputs}`)
          }
        }
      ]
    },
    notes() {
      // The first run of each variant is the warm-up.
      const rate = (ms: ReadonlyArray<number>) => (ms.length < 2 ? "n/a" : Math.round(n / (median(ms.slice(1)) / 1000)).toLocaleString("en-US"))
      return [
        `events/s: hand loop ${rate(runsMs[0]!)}, Weir ${rate(runsMs[1]!)}; ${outputs.toLocaleString("en-US")} results of ${n.toLocaleString("en-US")} events, ` +
          `Weir's equal to the hand loop's (canonical form, checked on the warm-up run)`
      ]
    }
  }
}

export const nexmarkQ0 = nexmarkCase("q0")
export const nexmarkQ1 = nexmarkCase("q1")
export const nexmarkQ2 = nexmarkCase("q2")
export const nexmarkQ3 = nexmarkCase("q3")
export const nexmarkQ7 = nexmarkCase("q7")

/** Run order: by query number. */
export const cases = [nexmarkQ0, nexmarkQ1, nexmarkQ2, nexmarkQ3, nexmarkQ7]
