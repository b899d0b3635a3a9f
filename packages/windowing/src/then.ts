/**
 * `Stream.then` overloads for the window operators, so that
 * `up.then(win.collectWindow, "w", clock, windower)` types its callbacks
 * from the stream's items like the core operators do (see `ThenOverloads`
 * in `@weir/core`). `Stream.pipe` with the data-last forms needs none of
 * this.
 *
 * @since 0.2.0
 */
import type { Stream, Tagged, ValueOf } from "@weir/core"
import type { Clock } from "./clocks.js"
import type { WindowLogic, WindowOptions, WindowOut } from "./window.js"
import type { Windower } from "./windowers.js"

declare module "@weir/core" {
  interface Stream<X> {
    then<S>(
      operator: Tagged<"foldWindow">,
      stepId: string,
      clock: Clock<ValueOf<X>, unknown>,
      windower: Windower<unknown>,
      builder: () => S,
      folder: (acc: S, value: ValueOf<X>) => S,
      merger: (target: S, original: S) => S,
      options?: WindowOptions
    ): WindowOut<ValueOf<X>, S>
    then(
      operator: Tagged<"reduceWindow">,
      stepId: string,
      clock: Clock<ValueOf<X>, unknown>,
      windower: Windower<unknown>,
      reducer: (acc: ValueOf<X>, value: ValueOf<X>) => ValueOf<X>,
      options?: WindowOptions
    ): WindowOut<ValueOf<X>, ValueOf<X>>
    then(
      operator: Tagged<"collectWindow">,
      stepId: string,
      clock: Clock<ValueOf<X>, unknown>,
      windower: Windower<unknown>,
      options?: WindowOptions
    ): WindowOut<ValueOf<X>, Array<ValueOf<X>>>
    then(
      operator: Tagged<"countWindow">,
      stepId: string,
      clock: Clock<X, unknown>,
      windower: Windower<unknown>,
      key: (item: X) => string,
      options?: WindowOptions
    ): WindowOut<X, number>
    then(
      operator: Tagged<"maxWindow" | "minWindow">,
      stepId: string,
      clock: Clock<ValueOf<X>, unknown>,
      windower: Windower<unknown>,
      by?: (value: ValueOf<X>) => unknown,
      options?: WindowOptions
    ): WindowOut<ValueOf<X>, ValueOf<X>>
    then<W, S>(
      operator: Tagged<"window">,
      stepId: string,
      clock: Clock<ValueOf<X>, unknown>,
      windower: Windower<unknown>,
      builder: (resumeState: S | undefined) => WindowLogic<ValueOf<X>, W, S>,
      options?: WindowOptions
    ): WindowOut<ValueOf<X>, W>
  }
}

/** @internal keeps this module's augmentation in the package's import graph. */
export type WindowThen = Stream<unknown>["then"]
