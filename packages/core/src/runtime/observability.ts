/**
 * What a run tells the outside while it works, beyond its metrics
 * (`metrics.ts`): the spans it opens, and the hooks a host (the `weir`
 * command, a test) can watch it through. Tracing itself is set up by
 * `@weir/tracing`, which provides Effect's tracer and these references.
 */
import * as Context from "effect/Context"
import * as Exit from "effect/Exit"
import type * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Tracer from "effect/Tracer"
import type { RenderedDataflow } from "../visualize.js"

/**
 * The share of step batches that get a `weir.step` span (0 to 1), at most
 * 16 per worker each quarter second (a span costs about 10 µs to record and export).
 * Epochs and commits always get theirs. `@weir/tracing` sets it from its
 * config's sampling ratio; without tracing it is 0.
 *
 * @since 0.2.0
 */
export const StepSpanSampling: Context.Reference<number> = Context.Reference<number>("@weir/core/StepSpanSampling", {
  defaultValue: () => 0
})

/**
 * Whether a run counts items per step (the `weir_items_*` metrics and the
 * gauges). On by default; the benchmarks turn it off to measure its cost.
 *
 * @since 0.2.0
 */
export const RuntimeMetrics: Context.Reference<boolean> = Context.Reference<boolean>("@weir/core/RuntimeMetrics", {
  defaultValue: () => true
})

/**
 * How worker threads set tracing up for themselves: a module each thread
 * imports, and the plain-data options it passes to that module's
 * `threadLayer(options)`. `@weir/tracing` provides it; without it, threads
 * run untraced (their metrics still reach the calling thread).
 *
 * @since 0.2.0
 */
export interface ThreadTracing {
  readonly module: string
  readonly options: unknown
}

/** @since 0.2.0 */
export const ThreadTracingSpec: Context.Reference<ThreadTracing | undefined> = Context.Reference<ThreadTracing | undefined>(
  "@weir/core/ThreadTracingSpec",
  { defaultValue: () => undefined }
)

/**
 * An epoch closed on every worker.
 *
 * @since 0.2.0
 */
export interface EpochClosed {
  readonly epoch: number
  /** Items the inputs read since the previous epoch closed (all workers). */
  readonly itemsIn: number
  /**
   * How long the epoch's close spent on its commit to the recovery store, or
   * `undefined` without a store (or when nothing changed). With a store that
   * writes while the next epoch runs (PostgreSQL), this is the snapshot and
   * the wait for the previous write; `weir_epoch_commit_seconds` has the
   * writes themselves.
   */
  readonly commitMs: number | undefined
}

/**
 * Hooks to watch a run by. Each is called on the thread that started the
 * run, and must not throw.
 *
 * @example
 * ```ts
 * await runMain(flow, { observe: { epochClosed: (e) => console.error(`epoch ${e.epoch}: ${e.itemsIn} items in`) } })
 * ```
 * @since 0.2.0
 */
export interface RunObserver {
  /** The run started this dataflow (as `toJSON` renders it). */
  readonly started?: ((flow: RenderedDataflow) => void) | undefined
  /** An epoch closed on every worker. */
  readonly epochClosed?: ((epoch: EpochClosed) => void) | undefined
}

let defaultLayer: Layer.Layer<unknown> | undefined

/**
 * Provide `layer` to every run started through the Promise entry points
 * (`runMain`, `clusterMain`) from now on; `undefined` removes it. This is
 * what `setupTracing` of `@weir/tracing` calls. Effect programs provide
 * their layers to `run` themselves.
 *
 * @since 0.2.0
 */
export const setDefaultLayer = <A>(layer: Layer.Layer<A> | undefined): void => {
  defaultLayer = layer as Layer.Layer<unknown> | undefined
}

/** The layer {@link setDefaultLayer} set, if any. */
export const getDefaultLayer = (): Layer.Layer<unknown> | undefined => defaultLayer

/** Nanoseconds since the epoch, for span times. */
export const nowNanos = (): bigint => BigInt(Date.now()) * 1_000_000n

/** Start a span outside any Effect (the runtime's synchronous parts). */
export const startSpan = (
  tracer: Tracer.Tracer,
  name: string,
  parent: Tracer.AnySpan | undefined,
  attributes: Readonly<Record<string, unknown>>
): Tracer.Span => {
  const span = tracer.span({
    name,
    parent: parent === undefined ? Option.none() : Option.some(parent),
    annotations: Context.empty(),
    links: [],
    startTime: nowNanos(),
    kind: "internal",
    root: false,
    sampled: true
  })
  for (const [k, v] of Object.entries(attributes)) span.attribute(k, v)
  return span
}

/** End a span, with the error that ended it if any. */
export const endSpan = (span: Tracer.Span, error?: unknown): void => {
  span.end(nowNanos(), error === undefined ? Exit.void : Exit.fail(error))
}
