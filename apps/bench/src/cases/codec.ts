/**
 * Frame codec: encode + decode of batches of 1,024 keyed items, the way they
 * cross between worker threads: (1) `[string, number]` pairs, (2) `[string,
 * object]` pairs. `structuredClone` (what `postMessage` does to a batch
 * without a codec) is the baseline; against msgpackr packing the whole array,
 * V8's serializer (the recovery stores' format) and Weir's `encodeBatch` /
 * `decodeBatch` (runtime/codec.ts: columns for the keys and numbers, msgpack
 * for other values). They run on at most 4 million pairs of numbers and 1
 * million of objects: the slower rows would take minutes at `--items`'s default.
 */
import { Packr } from "msgpackr"
import * as v8 from "node:v8"
import { decodeBatch, encodeBatch } from "../../../../packages/core/src/runtime/codec.js"
import { BATCH } from "../data.js"
import type { BenchCase, Variant } from "../harness.js"

/** Distinct batches cycled through, so no variant gets to reuse one batch's caches. */
const POOL = 64

/** The codec's msgpack settings (runtime/codec.ts), for a like-for-like comparison. */
const packr = new Packr({ useRecords: true, mapsAsObjects: false, moreTypes: true, useBigIntExtension: true, copyBuffers: true })

interface Shape<X> {
  readonly make: (i: number) => readonly [string, X]
  /** A number read off a decoded item, summed so that no work is optimised away. */
  readonly weigh: (item: readonly [string, X]) => number
}

const variantsOf = <X>(items: number, shape: Shape<X>): ReadonlyArray<Variant> => {
  const pool = Array.from({ length: POOL }, (_, b) => Array.from({ length: BATCH }, (_, j) => shape.make(b * BATCH + j)))
  const rounds = Math.max(1, Math.round(items / BATCH))
  const n = rounds * BATCH
  let expected: number | undefined
  /** Send every round's batch through `roundTrip` and check what comes back. */
  const run = (roundTrip: (batch: Array<readonly [string, X]>) => Array<unknown>) => () => {
    let sum = 0
    for (let r = 0; r < rounds; r++) {
      const back = roundTrip(pool[r % POOL]!) as Array<readonly [string, X]>
      for (let i = 0; i < back.length; i += 97) sum += shape.weigh(back[i]!) + back[i]![0].length
    }
    expected ??= sum
    if (sum !== expected) throw new Error(`the decoded items weigh ${sum}, expected ${expected}`)
  }
  return [
    { name: "structuredClone (postMessage without a codec)", items: n, run: run((batch) => structuredClone(batch)) },
    // A transferable frame must own its ArrayBuffer: `pack` returns a view into the Packr's reused one, hence the copy.
    { name: "msgpackr pack (+ copy out) → unpack, whole array", items: n, run: run((batch) => packr.unpack(Uint8Array.prototype.slice.call(packr.pack(batch)))) },
    { name: "v8.serialize → v8.deserialize (the store's format)", items: n, run: run((batch) => v8.deserialize(v8.serialize(batch))) },
    { name: "encodeBatch → decodeBatch (Weir)", items: n, run: run((batch) => decodeBatch(encodeBatch("bench.codec", batch))) }
  ]
}

const KEYS = Array.from({ length: 10_000 }, (_, i) => `key-${i}`)

export const codecNumbers: BenchCase = {
  id: "codec-numbers",
  name: "codec: encode + decode of [string, number] pairs, batches of 1,024",
  unit: "item",
  variants: ({ items }) =>
    variantsOf<number>(Math.min(items, 4_000_000), { make: (i) => [KEYS[i % 10_000]!, i * 0.25], weigh: ([, x]) => x })
}

interface Order {
  readonly id: number
  readonly user: string
  readonly amount: number
  readonly paid: boolean
  readonly tags: ReadonlyArray<string>
}

export const codecObjects: BenchCase = {
  id: "codec-objects",
  name: "codec: encode + decode of [string, {id, user, amount, paid, tags}] pairs, batches of 1,024",
  unit: "item",
  variants: ({ items }) =>
    variantsOf<Order>(Math.min(items, 1_000_000), {
      make: (i) => [KEYS[i % 10_000]!, { id: i, user: `user-${i % 1000}`, amount: i * 0.25, paid: i % 3 === 0, tags: i % 2 === 0 ? ["new"] : [] }],
      weigh: ([, o]) => o.id + o.amount + o.tags.length
    })
}

export const cases = [codecNumbers, codecObjects]
