/**
 * An Effect `Stream` as a source.
 *
 * @since 0.1.0
 */
import type * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Pull from "effect/Pull"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { DynamicSource, EOF, type StatelessSourcePartition } from "./inputs.js"

/**
 * Read an Effect `Stream` as a (dynamic, not resumable) source: worker 0 pulls
 * the stream chunk by chunk, each chunk one batch; every other worker's
 * partition ends at once. `nextBatch` returns an `Effect` that waits for the
 * next chunk (the runtime keeps serving other partitions meanwhile) and ends
 * the partition when the stream ends. A failing stream fails that
 * `nextBatch`, and so the run. The stream runs in a `Scope` opened with the
 * partition and closed when the partition closes, which releases whatever
 * the stream acquired.
 *
 * Each run builds a new partition, so the stream is run from its start each
 * time: at-most-once across a crash, like every `DynamicSource`.
 *
 * @example
 * ```ts
 * import { Stream } from "effect"
 * import { Dataflow, fromStream, op } from "@weir/core"
 *
 * const flow = new Dataflow("numbers")
 * const nums = op.input("nums", flow, fromStream(Stream.range(1, 1000)))
 * ```
 * @since 0.1.0
 */
export const fromStream = <X, E>(stream: Stream.Stream<X, E>): DynamicSource<X> => new StreamSource(stream)

class StreamSource<X, E> extends DynamicSource<X> {
  constructor(private readonly stream: Stream.Stream<X, E>) {
    super()
  }
  build(_stepId: string, workerIndex: number): StatelessSourcePartition<X> {
    if (workerIndex !== 0) return { nextBatch: () => EOF }
    return new StreamPartition(this.stream)
  }
}

class StreamPartition<X, E> implements StatelessSourcePartition<X> {
  private readonly scope = Scope.makeUnsafe()
  /** Made on the first `nextBatch`, in the partition's scope. */
  private pull: Pull.Pull<ReadonlyArray<X>, E> | undefined = undefined
  private ended = false
  constructor(private readonly stream: Stream.Stream<X, E>) {}

  nextBatch(): Effect.Effect<Array<X> | typeof EOF, E> {
    if (this.ended) return Effect.succeed(EOF)
    const pull = this.pull ?? Effect.flatMap(Scope.provide(this.scope)(Stream.toPull(this.stream)), (p) => {
      this.pull = p
      return p
    })
    return Effect.catchCause(
      Effect.map(pull, (chunk): Array<X> | typeof EOF => Array.from(chunk)),
      (cause) => {
        if (Pull.isDoneCause(cause)) {
          this.ended = true
          return Effect.succeed(EOF)
        }
        return Effect.failCause(cause as Cause.Cause<E>)
      }
    )
  }

  close(): Effect.Effect<void> {
    return Scope.close(this.scope, Exit.void)
  }
}
