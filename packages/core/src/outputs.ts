/**
 * Sinks: where items go. A {@link FixedPartitionedSink} routes keyed items to
 * named, resumable partitions (exactly-once when the target can seek and
 * overwrite); a {@link DynamicSink} lets every worker write its own items.
 *
 * `writeBatch` may return nothing, a `Promise` or an `Effect`; the batch counts
 * as written when it settles.
 *
 * @since 0.1.0
 */
import type * as Effect from "effect/Effect"
import { stableHash } from "./internal/hash.js"

const SinkTypeId: unique symbol = Symbol.for("@weir/core/Sink")

/** The common marker of every sink; subclass {@link FixedPartitionedSink} or {@link DynamicSink}. */
export abstract class Sink<X> {
  /** @internal */
  readonly [SinkTypeId] = SinkTypeId
  /** @internal phantom */
  declare readonly _X: (_: X) => void
}

/** What a sink method may return. */
export type MaybeAsyncVoid = void | Promise<void> | Effect.Effect<void, unknown>

/** One partition of a {@link FixedPartitionedSink}. */
export interface StatefulSinkPartition<X, S> {
  /** Write values in order; called in epoch order. */
  writeBatch(values: Array<X>): MaybeAsyncVoid
  /** The position after the last written value; taken at each epoch close in which the partition was written. */
  snapshot(): S
  close?(): MaybeAsyncVoid
}

/**
 * A sink of `[key, value]` items split into named partitions. The key picks the
 * partition (`partFn(key) % count` over the partition names sorted
 * lexicographically); the partition receives only values. Partitions are built
 * lazily on first write, or eagerly from a snapshot on resume.
 *
 * @example
 * ```ts
 * class Buckets extends FixedPartitionedSink<string, number> {
 *   readonly files = new Map<string, string[]>()
 *   listParts() { return ["a", "b"] }
 *   buildPart(_stepId: string, part: string, resume: number | undefined) {
 *     const lines = (this.files.get(part) ?? []).slice(0, resume ?? 0)
 *     this.files.set(part, lines)
 *     return { writeBatch: (vs: string[]) => void lines.push(...vs), snapshot: () => lines.length }
 *   }
 * }
 * ```
 * @since 0.1.0
 */
export abstract class FixedPartitionedSink<X, S> extends Sink<readonly [string, X]> {
  /** The partitions this worker can reach. */
  abstract listParts(): ReadonlyArray<string> | Promise<ReadonlyArray<string>>
  /** Which partition (index into the sorted names, modulo their count) a key goes to. Must be the same on every process. */
  partFn(itemKey: string): number {
    return stableHash(itemKey)
  }
  abstract buildPart(
    stepId: string,
    forPart: string,
    resumeState: S | undefined
  ): StatefulSinkPartition<X, S> | Promise<StatefulSinkPartition<X, S>> | Effect.Effect<StatefulSinkPartition<X, S>, unknown>
}

/** One worker's writer of a {@link DynamicSink}. */
export interface StatelessSinkPartition<X> {
  writeBatch(items: Array<X>): MaybeAsyncVoid
  close?(): MaybeAsyncVoid
}

/**
 * A sink every worker writes its own items to. At-least-once: items of the
 * resume epoch are written again after a resume.
 *
 * @example
 * ```ts
 * class ConsoleSink extends DynamicSink<string> {
 *   build() { return { writeBatch: (items: string[]) => { for (const i of items) console.log(i) } } }
 * }
 * ```
 * @since 0.1.0
 */
export abstract class DynamicSink<X> extends Sink<X> {
  abstract build(
    stepId: string,
    workerIndex: number,
    workerCount: number
  ): StatelessSinkPartition<X> | Promise<StatelessSinkPartition<X>> | Effect.Effect<StatelessSinkPartition<X>, unknown>
}

/** `true` when `u` is a sink. */
export const isSink = (u: unknown): u is Sink<unknown> => typeof u === "object" && u !== null && SinkTypeId in u
