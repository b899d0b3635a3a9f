/**
 * Core throughput: (1) map → filter → sum and (2) keyOn over 10,000 keys →
 * statefulMap running sum → sink; each against a hand-written loop, a naive
 * per-element Effect Stream and RxJS.
 */
import { Dataflow, op, runMain, type Stream as WeirStream } from "@weir/core"
import { TestingSource } from "@weir/testing"
import { Effect, Stream } from "effect"
import { filter as rxFilter, from, map as rxMap, reduce as rxReduce, lastValueFrom } from "rxjs"
import { BatchSource, batchesOf, CountSink } from "../data.js"
import { type BenchCase, median } from "../harness.js"

/** The per-element variants are much slower: they run on the first tenth of the items (ns/item stays comparable). */
const naiveShare = (n: number) => Math.max(1, Math.floor(n / 10))

/*
 * Effect 4's `Stream.fromIterable(array)` emits the whole array as one chunk, so
 * `Stream.map`/`filter` over it are two `Array` passes, not per-element work. The
 * row that matches DESIGN.md's "Effect Stream, per element" is `chunkSize: 1`;
 * the default is shown too, because it is what naive code gets.
 */
const ONE_CHUNK = "Effect Stream, fromIterable(array): one chunk (1/10 of items)"
const PER_ELEMENT = "Effect Stream, per element: chunkSize 1 (1/10 of items)"
const RXJS = "RxJS, per element (1/10 of items)"

const effectStateless = (numbers: Stream.Stream<number>) =>
  Effect.runPromise(
    numbers.pipe(
      Stream.map((x) => x * 2),
      Stream.filter((x) => x % 3 === 0),
      Stream.runFold(() => 0, (s, x) => s + x)
    )
  )

/** The input of a core flow: the pre-built batches, or (`items`) the same items from a `TestingSource` in batches of 1,024. */
type CoreInput = { readonly batches: ReadonlyArray<Array<number>> } | { readonly items: ReadonlyArray<number> }
const coreInput = (flow: Dataflow, from: CoreInput): WeirStream<number> =>
  op.input("inp", flow, "batches" in from ? new BatchSource(from.batches) : new TestingSource(from.items, 1024))

/** The TestingSource row's name: the same flow reading the same items through `TestingSource(items, 1024)`. */
const TESTING_SOURCE = "Weir (runMain), TestingSource(items, 1024)"

/** Times the two Weir rows' runs, for the note on what `TestingSource` adds per item. */
const sourceCost = () => {
  const ms: Array<Array<number>> = [[], []]
  return {
    timed: async (row: 0 | 1, f: () => Promise<void>) => {
      const t = performance.now()
      await f()
      ms[row]!.push(performance.now() - t)
    },
    note: (items: number): Array<string> => {
      if (ms[0]!.length < 2 || ms[1]!.length < 2) return []
      const nsPerItem = (xs: Array<number>) => (median(xs.slice(1)) * 1e6) / items
      const added = nsPerItem(ms[1]!) - nsPerItem(ms[0]!)
      return [`TestingSource(items, 1024) adds ${added.toFixed(1)} ns/item over the batch source (medians of the timed runs, same run)`]
    }
  }
}

/** The stateless pipeline of both cases here (and of cases/observability.ts): map(x*2) → filter(x%3==0) → `sink`. */
export const statelessFlow = (batches: ReadonlyArray<Array<number>> | CoreInput, sink: CountSink<number>): Dataflow => {
  const flow = new Dataflow("bench")
  const doubled = op.map("double", coreInput(flow, Array.isArray(batches) ? { batches } : batches as CoreInput), (x: number) => x * 2)
  op.output("sum", op.filter("thirds", doubled, (x: number) => x % 3 === 0), sink)
  return flow
}

const statelessCost = sourceCost()
let statelessItems = 0
export const stateless: BenchCase = {
  id: "stateless",
  name: "stateless: map(x*2) → filter(x%3==0) → sum, batches of 1,024",
  unit: "item",
  notes: () => statelessCost.note(statelessItems),
  variants({ items }) {
    statelessItems = items
    const batches = batchesOf(items, (i) => i)
    const flat = batches.flat()
    const few = batches.flat().slice(0, naiveShare(items))
    const handLoop = (): number => {
      let sum = 0
      for (const b of batches) {
        for (let i = 0; i < b.length; i++) {
          const y = b[i]! * 2
          if (y % 3 === 0) sum += y
        }
      }
      return sum
    }
    const check = handLoop()
    return [
      {
        name: "hand-written loop",
        items,
        run: () => {
          if (handLoop() !== check) throw new Error("the hand loop's sum changed between runs")
        }
      },
      {
        name: "Weir (runMain)",
        items,
        run: () =>
          statelessCost.timed(0, async () => {
            const sink = new CountSink<number>()
            await runMain(statelessFlow(batches, sink))
            if (sink.sum !== check) throw new Error(`Weir computed ${sink.sum}, expected ${check}`)
          })
      },
      {
        name: TESTING_SOURCE,
        items,
        run: () =>
          statelessCost.timed(1, async () => {
            const sink = new CountSink<number>()
            await runMain(statelessFlow({ items: flat }, sink))
            if (sink.sum !== check) throw new Error(`Weir with TestingSource computed ${sink.sum}, expected ${check}`)
          })
      },
      { name: ONE_CHUNK, items: few.length, run: () => effectStateless(Stream.fromIterable(few)) },
      { name: PER_ELEMENT, items: few.length, run: () => effectStateless(Stream.fromIterable(few, { chunkSize: 1 })) },
      {
        name: RXJS,
        items: few.length,
        run: () => lastValueFrom(from(few).pipe(rxMap((x) => x * 2), rxFilter((x) => x % 3 === 0), rxReduce((s, x) => s + x, 0)))
      }
    ]
  }
}

const KEYS = Array.from({ length: 10_000 }, (_, i) => `key-${i}`)

const effectKeyed = (numbers: Stream.Stream<number>) => {
  const sums = new Map<string, number>()
  return Effect.runPromise(
    numbers.pipe(
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

/** The keyed pipeline: keyOn over 10,000 keys → statefulMap running sum → `sink`. */
export const keyedFlow = (batches: ReadonlyArray<Array<number>> | CoreInput, sink: CountSink<readonly [string, number]>): Dataflow => {
  const flow = new Dataflow("bench")
  const keyedStream = op.keyOn("key", coreInput(flow, Array.isArray(batches) ? { batches } : batches as CoreInput), (x: number) => KEYS[x % 10_000]!)
  op.statefulMap("sum", keyedStream, (s: number | undefined, x: number) => {
    const next = (s ?? 0) + x
    return [next, next] as const
  }).then(op.output, "out", sink)
  return flow
}

const keyedCost = sourceCost()
let keyedItems = 0
export const keyed: BenchCase = {
  id: "keyed",
  name: "keyed: keyOn over 10,000 keys → statefulMap running sum → sink",
  unit: "item",
  notes: () => keyedCost.note(keyedItems),
  variants({ items }) {
    keyedItems = items
    const batches = batchesOf(items, (i) => i)
    const flat = batches.flat()
    const few = batches.flat().slice(0, naiveShare(items))
    return [
      {
        name: "hand-written loop (Map.get/Map.set, [key, sum] batches to the sink)",
        items,
        run: () => {
          const sink = new CountSink<readonly [string, number]>()
          const part = sink.build()
          const sums = new Map<string, number>()
          for (const b of batches) {
            const out: Array<readonly [string, number]> = new Array(b.length)
            for (let i = 0; i < b.length; i++) {
              const x = b[i]!
              const key = KEYS[x % 10_000]!
              const s = (sums.get(key) ?? 0) + x
              sums.set(key, s)
              out[i] = [key, s]
            }
            part.writeBatch(out)
          }
          if (sink.count !== items) throw new Error(`the hand loop emitted ${sink.count}, expected ${items}`)
        }
      },
      {
        name: "Weir (runMain)",
        items,
        run: () =>
          keyedCost.timed(0, async () => {
            const sink = new CountSink<readonly [string, number]>()
            await runMain(keyedFlow(batches, sink))
            if (sink.count !== items) throw new Error(`Weir emitted ${sink.count}, expected ${items}`)
          })
      },
      {
        name: TESTING_SOURCE,
        items,
        run: () =>
          keyedCost.timed(1, async () => {
            const sink = new CountSink<readonly [string, number]>()
            await runMain(keyedFlow({ items: flat }, sink))
            if (sink.count !== items) throw new Error(`Weir with TestingSource emitted ${sink.count}, expected ${items}`)
          })
      },
      { name: ONE_CHUNK, items: few.length, run: () => effectKeyed(Stream.fromIterable(few)) },
      { name: PER_ELEMENT, items: few.length, run: () => effectKeyed(Stream.fromIterable(few, { chunkSize: 1 })) },
      {
        name: RXJS,
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

/** Run order: the stateless case first. */
export const cases = [stateless, keyed]
