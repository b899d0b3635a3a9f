/**
 * Flow modules for cases/threads.ts. Worker threads import this file by path
 * and call one of its exports with plain arguments (`{ module, export, args }`),
 * so it must build the same dataflow in every thread and have no side effects.
 *
 * Sinks count only: each thread adds its count to an `Int32Array` over a
 * `SharedArrayBuffer` passed in `args` (shared, not copied, with every
 * thread), so the main thread can check that every item arrived.
 */
import {
  Dataflow,
  DynamicSink,
  EOF,
  FixedPartitionedSource,
  op,
  type StatefulSourcePartition,
  type StatelessSinkPartition
} from "@weir/core"

/** Source partitions of both flows: 4, so 1, 2 and 4 threads all get an even share. */
export const PARTS = 4
/** Items per source batch. */
export const SOURCE_BATCH = 1024

/** Adds every batch's length to `counter[0]` (atomically: threads share it); no I/O. */
export class SharedCountSink<X> extends DynamicSink<X> {
  constructor(private readonly counter: Int32Array) {
    super()
  }
  build(): StatelessSinkPartition<X> {
    const counter = this.counter
    return { writeBatch: (xs) => void Atomics.add(counter, 0, xs.length) }
  }
}

/** `PARTS` partitions of `total` items, split evenly; partition p makes `make(i)` for its range of `i`. */
class Generated<X> extends FixedPartitionedSource<X, number> {
  constructor(private readonly total: number, private readonly make: (i: number) => X) {
    super()
  }
  listParts(): Array<string> {
    return Array.from({ length: PARTS }, (_, p) => `part-${p}`)
  }
  buildPart(_stepId: string, name: string, resume: number | undefined): StatefulSourcePartition<X, number> {
    const p = Number(name.slice("part-".length))
    const per = Math.ceil(this.total / PARTS)
    const end = Math.min(this.total, (p + 1) * per)
    let at = resume ?? Math.min(end, p * per)
    const make = this.make
    return {
      nextBatch: () => {
        if (at >= end) return EOF
        const n = Math.min(SOURCE_BATCH, end - at)
        const out: Array<X> = new Array(n)
        for (let j = 0; j < n; j++) out[j] = make(at++)
        return out
      },
      snapshot: () => at
    }
  }
}

// ---------------------------------------------------------------------------
// `threads`: a CPU-heavy keyed pipeline.

/** Distinct users (keys) of the heavy flow. */
export const USERS = 4096
/** Rounds of hashing per record in `score`: about 1.5 µs on this machine. */
export const SCORE_ROUNDS = 40

export interface Purchase {
  readonly user: string
  readonly amount: number
  readonly tags: ReadonlyArray<string>
}

/** Record i as a JSON string, made from the counter (cheap next to parsing and scoring it). */
export const purchaseJson = (i: number): string =>
  `{"user":"u${((i * 2654435761) >>> 0) % USERS}","amount":${(i % 2000) / 8},"tags":["t${i % 7}","t${i % 13}","t${i % 31}"]}`

/** The per-item CPU work: `SCORE_ROUNDS` rounds of an FNV-1a hash over the record's fields (deterministic). */
export const score = (r: Purchase): number => {
  let h = 2166136261
  const u = r.user
  const tags = r.tags
  for (let round = 0; round < SCORE_ROUNDS; round++) {
    for (let i = 0; i < u.length; i++) h = Math.imul(h ^ u.charCodeAt(i), 16777619)
    for (let t = 0; t < tags.length; t++) {
      const s = tags[t]!
      for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619)
    }
    h = Math.imul(h ^ ((r.amount * 8) | 0) ^ round, 16777619)
  }
  return h >>> 0
}

/**
 * `total` JSON records over `PARTS` partitions → parse → score → keyOn user →
 * running sum of amount (and a score checksum) per user → counting sink.
 */
export const heavy = (total: number, counter: Int32Array): Dataflow => {
  const flow = new Dataflow("bench-threads")
  op.input("inp", flow, new Generated(total, purchaseJson))
    .then(op.map, "parse", (s: string) => JSON.parse(s) as Purchase)
    .then(op.map, "score", (r: Purchase) => ({ user: r.user, amount: r.amount, score: score(r) }))
    .then(op.keyOn, "user", (r: { readonly user: string }) => r.user)
    .then(op.statefulMap, "total", (acc: readonly [number, number] | undefined, r: { readonly amount: number; readonly score: number }) => {
      const next = [(acc?.[0] ?? 0) + r.amount, ((acc?.[1] ?? 0) ^ r.score) >>> 0] as const
      return [next, next[0]] as const
    })
    .then(op.output, "out", new SharedCountSink(counter))
  return flow
}

// ---------------------------------------------------------------------------
// `threads-hop`: a cheap keyed pipeline, to see what one exchange hop costs.

/** Keys of the hop flow. */
export const HOP_KEYS = 1000
const hopKeys = Array.from({ length: HOP_KEYS }, (_, i) => `key-${i}`)

/** The numbers 0 … total-1 over `PARTS` partitions → keyOn (1,000 keys) → running sum → counting sink. */
export const hop = (total: number, counter: Int32Array): Dataflow => {
  const flow = new Dataflow("bench-threads-hop")
  op.input("inp", flow, new Generated(total, (i) => i))
    .then(op.keyOn, "key", (x: number) => hopKeys[x % HOP_KEYS]!)
    .then(op.statefulMap, "sum", (s: number | undefined, x: number) => {
      const next = (s ?? 0) + x
      return [next, next] as const
    })
    .then(op.output, "out", new SharedCountSink(counter))
  return flow
}
