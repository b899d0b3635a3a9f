/**
 * Time for the runtime and for logic that needs "now". Everything the runtime
 * does with time goes through a {@link WeirClock}, so tests can run on virtual
 * time. While a worker runs user code, {@link currentTime} reads that worker's
 * clock; outside a run it is the system time.
 */
import * as Effect from "effect/Effect"

/**
 * A source of time for a run. `now` is read on the hot path (once per loop
 * turn), `sleep` is how an idle worker waits.
 *
 * @since 0.1.0
 */
export interface WeirClock {
  /** Milliseconds since the Unix epoch. */
  now(): number
  /** Wait `millis` milliseconds (virtual clocks may just advance). */
  sleep(millis: number): Effect.Effect<void>
}

/** The system clock: `Date.now()` and real sleeps. */
export const systemClock: WeirClock = {
  now: () => Date.now(),
  sleep: (millis) => Effect.sleep(millis)
}

let active: WeirClock | undefined
/** "Now" for the turn being run: sampled once when the clock is activated (as Bytewax samples per activation). */
let activeNow = 0

/**
 * @internal make `clock` the one user code reads while a worker runs it; time
 * is read once here and stays fixed until the next activation.
 */
export const setActiveClock = (clock: WeirClock | undefined): WeirClock | undefined => {
  const prev = active
  active = clock
  if (clock !== undefined) activeNow = clock.now()
  return prev
}

/** @internal milliseconds now on the active clock */
export const nowMillis = (): number => (active === undefined ? Date.now() : activeNow)

/**
 * "Now" on the running worker's clock (virtual in tests), or the system time
 * outside a run. Use it in stateful logic instead of `new Date()` so that
 * tests with a virtual clock are deterministic.
 *
 * @example
 * ```ts
 * import { currentTime } from "@weir/core"
 * const deadline = new Date(currentTime().getTime() + 10_000)
 * ```
 * @since 0.1.0
 */
export const currentTime = (): Date => new Date(nowMillis())

/**
 * {@link currentTime} as milliseconds since the epoch, without allocating a
 * `Date`: for hot paths such as window logic.
 *
 * @example
 * ```ts
 * const deadlineMs = Date.parse("2024-01-01T00:00:10Z")
 * const dueIn = deadlineMs - currentTimeMillis()
 * ```
 * @since 0.1.0
 */
export const currentTimeMillis = (): number => nowMillis()
