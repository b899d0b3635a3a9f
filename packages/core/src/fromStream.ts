/**
 * An Effect `Stream` as a source.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Pull from "effect/Pull"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { DynamicSource, EOF, type StatelessSourcePartition } from "./inputs.js"

/**
 * Read an Effect `Stream` as a (dynamic, not resumable) source: worker 0 pulls
 * the stream chunk by chunk, each chunk a batch; other workers get nothing.
 * A failing stream fails the run; the stream's resources are released when
 * the partition closes.
 *
 * @example
 * ```ts
 * import { Stream } from "effect"
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
    const scope = Effect.runSync(Scope.make())
    const pull = Effect.runSync(Scope.provide(scope)(Stream.toPull(this.stream)))
    let ended = false
    return {
      nextBatch: () => {
        if (ended) return EOF
        return Effect.catchCause(
          Effect.map(pull, (chunk): Array<X> | typeof EOF => Array.from(chunk)),
          (cause) => {
            if (Pull.isDoneCause(cause)) {
              ended = true
              return Effect.succeed(EOF)
            }
            return Effect.failCause(cause as Cause.Cause<E>)
          }
        )
      },
      close: () => Scope.close(scope, Exit.void)
    }
  }
}
