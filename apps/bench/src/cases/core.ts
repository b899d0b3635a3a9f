/**
 * Core throughput: (1) map → filter → sum and (2) keyOn over 10,000 keys →
 * statefulMap running sum → sink; each against a hand-written loop, a naive
 * per-element Effect Stream and RxJS.
 */
import { Dataflow, op, runMain } from "@weir/core"
import { Effect, Stream } from "effect"
import { filter as rxFilter, from, map as rxMap, reduce as rxReduce, lastValueFrom } from "rxjs"
import { BatchSource, batchesOf, CountSink } from "../data.js"
import type { BenchCase } from "../harness.js"

/** The naive variants are ~50× slower: they run on a tenth of the items (ns/item stays comparable). */
const naiveShare = (n: number) => Math.max(1, Math.floor(n / 10))

export const stateless: BenchCase = {
  name: "stateless: map(x*2) → filter(x%3==0) → sum, batches of 1,024",
  unit: "item",
  variants({ items }) {
    const batches = batchesOf(items, (i) => i)
    const flat = batches.flat()
    const few = flat.slice(0, naiveShare(items))
    let check = 0
    return [
      {
        name: "hand-written loop",
        items,
        run: () => {
          let sum = 0
          for (const b of batches) {
            for (let i = 0; i < b.length; i++) {
              const y = b[i]! * 2
              if (y % 3 === 0) sum += y
            }
          }
          check = sum
        }
      },
      {
        name: "Weir (runMain)",
        items,
        run: async () => {
          const flow = new Dataflow("bench")
          const sink = new CountSink<number>()
          const doubled = op.map("double", op.input("inp", flow, new BatchSource(batches)), (x: number) => x * 2)
          op.output("sum", op.filter("thirds", doubled, (x: number) => x % 3 === 0), sink)
          await runMain(flow)
          if (sink.sum !== check) throw new Error(`Weir computed ${sink.sum}, expected ${check}`)
        }
      },
      {
        name: "Effect Stream, per element (1/10 of items)",
        items: few.length,
        run: () =>
          Effect.runPromise(
            Stream.fromIterable(few).pipe(
              Stream.map((x) => x * 2),
              Stream.filter((x) => x % 3 === 0),
              Stream.runFold(() => 0, (s, x) => s + x)
            )
          )
      },
      {
        name: "RxJS, per element (1/10 of items)",
        items: few.length,
        run: () => lastValueFrom(from(few).pipe(rxMap((x) => x * 2), rxFilter((x) => x % 3 === 0), rxReduce((s, x) => s + x, 0)))
      }
    ]
  }
}

const KEYS = Array.from({ length: 10_000 }, (_, i) => `key-${i}`)

export const keyed: BenchCase = {
  name: "keyed: keyOn over 10,000 keys → statefulMap running sum → sink",
  unit: "item",
  variants({ items }) {
    const batches = batchesOf(items, (i) => i)
    const few = batches.flat().slice(0, naiveShare(items))
    return [
      {
        name: "hand-written loop (Map.get/Map.set, emits [key, sum])",
        items,
        run: () => {
          const sums = new Map<string, number>()
          let emitted = 0
          for (const b of batches) {
            const out: Array<readonly [string, number]> = []
            for (let i = 0; i < b.length; i++) {
              const x = b[i]!
              const key = KEYS[x % 10_000]!
              const s = (sums.get(key) ?? 0) + x
              sums.set(key, s)
              out.push([key, s])
            }
            emitted += out.length
          }
          return emitted
        }
      },
      {
        name: "Weir (runMain)",
        items,
        run: async () => {
          const flow = new Dataflow("bench")
          const sink = new CountSink<readonly [string, number]>()
          const keyedStream = op.keyOn("key", op.input("inp", flow, new BatchSource(batches)), (x: number) => KEYS[x % 10_000]!)
          op.statefulMap("sum", keyedStream, (s: number | undefined, x: number) => {
            const next = (s ?? 0) + x
            return [next, next] as const
          }).then(op.output, "out", sink)
          await runMain(flow)
          if (sink.count !== items) throw new Error(`Weir emitted ${sink.count}, expected ${items}`)
        }
      },
      {
        name: "Effect Stream, per element (1/10 of items)",
        items: few.length,
        run: () => {
          const sums = new Map<string, number>()
          return Effect.runPromise(
            Stream.fromIterable(few).pipe(
              Stream.map((x) => [KEYS[x % 10_000]!, x] as const),
              Stream.map(([k, x]) => {
                const s = (sums.get(k) ?? 0) + x
                sums.set(k, s)
                return [k, s] as const
              }),
              Stream.runCount
            )
          )
        }
      },
      {
        name: "RxJS, per element (1/10 of items)",
        items: few.length,
        run: () => {
          const sums = new Map<string, number>()
          return lastValueFrom(
            from(few).pipe(
              rxMap((x) => [KEYS[x % 10_000]!, x] as const),
              rxMap(([k, x]) => {
                const s = (sums.get(k) ?? 0) + x
                sums.set(k, s)
                return [k, s] as const
              }),
              rxReduce((n) => n + 1, 0)
            )
          )
        }
      }
    ]
  }
}

