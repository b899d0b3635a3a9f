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
  /**
   * `true` for a connector that can't run in a worker thread — one whose
   * client is a native addon that is not context-aware, as librdkafka's
   * Node binding is. A run on worker threads (`runCluster` with a flow
   * module, `weir run -w N`) of a flow holding one runs its workers
   * interleaved on the calling thread instead, with a warning.
   *
   * @since 0.3.0
   */
  get mainThreadOnly(): boolean {
    return false
  }
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

/**
 * One worker's writer of a {@link TransactionalSink}. It stages what each
 * epoch writes, hands the staged output to the runtime when the epoch closes
 * (the runtime stores it with the epoch's state: an outbox), and publishes an
 * epoch's output once every worker has committed that epoch.
 *
 * @since 0.3.0
 */
export interface TransactionalSinkPartition<X, P> {
  /**
   * Stage `items`, written in epoch `epoch`. Nothing may be visible
   * downstream yet. Items of a later epoch can arrive before an earlier epoch
   * is prepared, so stage per epoch.
   */
  writeBatch(items: Array<X>, epoch: number): MaybeAsyncVoid
  /**
   * Epoch `epoch` closes on this worker: return what it staged and forget it,
   * or `undefined` when it staged nothing. The value is stored in the
   * recovery store in the same transaction as the epoch's state and source
   * positions, so it must be plain data (a `Uint8Array` is cheapest).
   * Synchronous.
   */
  prepare(epoch: number): P | undefined
  /**
   * Every worker has committed epoch `epoch`: make `prepared` visible,
   * atomically. Called in epoch order, one call at a time, while later
   * epochs are staged. The run fails if it fails; on resume the epoch is
   * handed to {@link TransactionalSink.recover}, so an epoch may be
   * published twice across a crash and the second time must be detected
   * and skipped (for example with a marker written in the same
   * transaction).
   */
  publish(epoch: number, prepared: P): MaybeAsyncVoid
  close?(): MaybeAsyncVoid
}

/**
 * A sink with exactly-once output: every worker writes its own items, as in a
 * {@link DynamicSink}, but an epoch's output is kept in the recovery store
 * with the epoch's state (the outbox), and is published only once every
 * worker has committed the epoch. On resume, every stored epoch that may not
 * have been published goes to {@link TransactionalSink.recover} before any
 * input is read. A run with a transactional sink needs a recovery store.
 *
 * A subclass may also offer at-least-once writing: when `transactional` is
 * `false`, the runtime uses it as a plain {@link DynamicSink} (its `build`).
 *
 * @example
 * ```ts
 * // Publishes each epoch's lines to an append-only log, exactly once.
 * class LogSink extends TransactionalSink<string, Array<string>> {
 *   readonly log: Array<{ readonly epoch: number; readonly lines: Array<string> }> = []
 *   buildTransactional() {
 *     const staged = new Map<number, Array<string>>()
 *     return {
 *       writeBatch: (items: Array<string>, epoch: number) => void (staged.get(epoch) ?? staged.set(epoch, []).get(epoch)!).push(...items),
 *       prepare: (epoch: number) => {
 *         const lines = staged.get(epoch)
 *         staged.delete(epoch)
 *         return lines
 *       },
 *       publish: (epoch: number, lines: Array<string>) => this.append(epoch, lines)
 *     }
 *   }
 *   recover(_stepId: string, _writer: number, epochs: ReadonlyArray<readonly [number, Array<string>]>) {
 *     for (const [epoch, lines] of epochs) this.append(epoch, lines)
 *   }
 *   private append(epoch: number, lines: Array<string>) {
 *     // The marker: an epoch already in the log is not published again.
 *     if (!this.log.some((e) => e.epoch === epoch)) this.log.push({ epoch, lines })
 *   }
 * }
 * ```
 * @since 0.3.0
 */
export abstract class TransactionalSink<X, P> extends DynamicSink<X> {
  /** Whether this sink publishes per epoch (exactly once); `false`: it is a plain {@link DynamicSink}. */
  get transactional(): boolean {
    return true
  }

  /** At-least-once writing, used when {@link TransactionalSink.transactional} is `false`. */
  build(
    _stepId: string,
    _workerIndex: number,
    _workerCount: number
  ): StatelessSinkPartition<X> | Promise<StatelessSinkPartition<X>> | Effect.Effect<StatelessSinkPartition<X>, unknown> {
    throw new TypeError(`${this.constructor.name} is transactional only: it has no at-least-once writer`)
  }

  /** This worker's transactional writer. */
  abstract buildTransactional(
    stepId: string,
    workerIndex: number,
    workerCount: number
  ): TransactionalSinkPartition<X, P> | Promise<TransactionalSinkPartition<X, P>> | Effect.Effect<TransactionalSinkPartition<X, P>, unknown>

  /**
   * On resume, before anything else is built or read: `epochs` are what
   * worker `writer` of an earlier execution prepared, in epoch order; every
   * worker committed them, and some may already be published. Publish, in
   * order, the ones that are not. `writer` may be past the current worker
   * count (the flow was rescaled), so publish under the identity of
   * `writer`, not of a current worker.
   */
  abstract recover(stepId: string, writer: number, epochs: ReadonlyArray<readonly [epoch: number, prepared: P]>): MaybeAsyncVoid
}

/** `true` when `u` is a transactional sink in its transactional mode. */
export const isTransactionalSink = (u: unknown): u is TransactionalSink<unknown, unknown> =>
  isSink(u) && typeof (u as TransactionalSink<unknown, unknown>).buildTransactional === "function" &&
  (u as TransactionalSink<unknown, unknown>).transactional === true

/** `true` when `u` is a sink. */
export const isSink = (u: unknown): u is Sink<unknown> => typeof u === "object" && u !== null && SinkTypeId in u
