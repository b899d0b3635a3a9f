/**
 * Controllable time for tests.
 *
 * @since 0.1.0
 */
import type { WeirClock } from "@weir/core"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"

/**
 * A clock you move by hand, for `nowGetter` parameters (e.g. `EventClock`,
 * `SimplePollingSource`).
 *
 * @example
 * ```ts
 * declare const lookupRate: (currency: string) => number
 * const clock = new TimeTestingGetter(new Date("2024-01-01T00:00:00Z"))
 * const cache = new TTLCache(lookupRate, () => clock.now(), "1 minute")
 * clock.advance("2 minutes")
 * ```
 * @since 0.1.0
 */
export class TimeTestingGetter {
  private millis: number
  constructor(now: Date) {
    this.millis = now.getTime()
  }
  /** Move time forward by `by`. */
  advance(by: Duration.Input): void {
    this.millis += Duration.toMillis(Duration.fromInputUnsafe(by))
  }
  /** The current time. */
  now(): Date {
    return new Date(this.millis)
  }
  /** The current time (Bytewax's name). */
  get(): Date {
    return this.now()
  }
}

/**
 * A virtual clock for a whole run (`runMain(flow, { clock })`): time stands
 * still while the dataflow works and jumps ahead whenever it would sleep, so
 * timers, pauses and epoch intervals take no real time and are deterministic.
 *
 * @example
 * ```ts
 * const clock = new VirtualClock(new Date("2024-01-01T00:00:00Z"))
 * await runMain(flow, { clock })   // a 10-minute PAUSE takes no time
 * clock.now()                      // the virtual time the run ended at
 * ```
 * @since 0.1.0
 */
export class VirtualClock implements WeirClock {
  private millis: number
  constructor(start: Date = new Date(0)) {
    this.millis = start.getTime()
  }
  now(): number {
    return this.millis
  }
  sleep(millis: number): Effect.Effect<void> {
    return Effect.flatMap(
      Effect.sync(() => {
        if (millis > 0 && Number.isFinite(millis)) this.millis += millis
      }),
      () => Effect.yieldNow
    )
  }
  /** Move time forward by hand. */
  advance(by: Duration.Input): void {
    this.millis += Duration.toMillis(Duration.fromInputUnsafe(by))
  }
}
