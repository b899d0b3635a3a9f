/**
 * Turning a config into Effect layers: the OTLP exporter of spans and
 * metrics (`effect/observability`'s `Otlp`, over `fetch`), the step-span
 * sampling ratio core reads, and how worker threads set the same up.
 *
 * @since 0.1.0
 */
import { setDefaultLayer, StepSpanSampling, ThreadTracingSpec } from "@weir/core"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
import * as Layer from "effect/Layer"
import * as Otlp from "effect/observability/Otlp"
import type * as OtlpExporter from "effect/observability/OtlpExporter"
import * as References from "effect/References"
import type { ResolvedTracing, TracingConfig } from "./config.js"

/**
 * A log level for Effect's logger, as `weir run --log-level` takes it.
 *
 * @since 0.1.0
 */
export type LogLevel = "error" | "warn" | "info" | "debug" | "trace"

const effectLevel = { error: "Error", warn: "Warn", info: "Info", debug: "Debug", trace: "Trace" } as const

/** The layers for resolved settings (what a worker thread rebuilds from plain data). */
const layerOf = (r: ResolvedTracing, logLevel: LogLevel | undefined): Layer.Layer<OtlpExporter.Flusher> => {
  const otlp = Otlp.layerJson({
    baseUrl: r.url,
    resource: { serviceName: r.serviceName },
    headers: r.headers,
    tracerExportInterval: r.exportIntervalMs,
    metricsExportInterval: r.exportIntervalMs,
    loggerExportInterval: r.exportIntervalMs,
    // Weir's own log lines stay on the console too.
    loggerMergeWithExisting: true
  }).pipe(Layer.provide(FetchHttpClient.layer))
  const refs = Layer.mergeAll(
    Layer.succeed(StepSpanSampling, r.samplingRatio),
    Layer.succeed(ThreadTracingSpec, { module: "@weir/tracing", options: { resolved: r, logLevel } }),
    logLevel === undefined ? Layer.empty : Layer.succeed(References.MinimumLogLevel, effectLevel[logLevel])
  )
  return Layer.mergeAll(otlp, refs)
}

/**
 * The tracing layers for Effect programs: provide them to `run` or
 * `runCluster`. Spans and metrics are sent every export interval and once
 * more when the layer's scope closes.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { type Dataflow, run } from "@weir/core"
 * import { OtlpTracingConfig, Tracing } from "@weir/tracing"
 *
 * declare const flow: Dataflow   // your dataflow
 * await Effect.runPromise(run(flow).pipe(Effect.provide(Tracing.layer(new OtlpTracingConfig({ serviceName: "orders" })))))
 * ```
 * @since 0.1.0
 */
export const Tracing = {
  layer: (config: TracingConfig, logLevel?: LogLevel): Layer.Layer<OtlpExporter.Flusher> => layerOf(config.resolved, logLevel)
} as const

/**
 * What {@link setupTracing} returns.
 *
 * @since 0.1.0
 */
export interface TracingHandle {
  /** Stop tracing the runs started from now on (each run already sent its telemetry when it ended). */
  shutdown(): Promise<void>
}

/**
 * Trace every run started with `runMain` or `clusterMain` from now on (and
 * export its metrics), to the collector `config` names; `logLevel` sets the
 * minimum level of Effect's logger for those runs. Each run starts its own
 * exporter and sends what is left when it ends, so nothing is lost when the
 * process exits right after.
 *
 * @example
 * ```ts
 * import { type Dataflow, runMain } from "@weir/core"
 * import { JaegerConfig, setupTracing } from "@weir/tracing"
 *
 * declare const flow: Dataflow   // your dataflow
 * const tracing = setupTracing(new JaegerConfig({ serviceName: "orders" }), "info")
 * await runMain(flow)
 * await tracing.shutdown()
 * ```
 * @since 0.1.0
 */
export const setupTracing = (config: TracingConfig, logLevel?: LogLevel): TracingHandle => {
  setDefaultLayer(Tracing.layer(config, logLevel))
  return {
    shutdown: () => {
      setDefaultLayer(undefined)
      return Promise.resolve()
    }
  }
}

/**
 * The layer a worker thread builds from the plain options the calling
 * thread passed it (see core's `ThreadTracingSpec`). Not for direct use.
 *
 * @since 0.1.0
 */
export const threadLayer = (options: { readonly resolved: ResolvedTracing; readonly logLevel?: LogLevel | undefined }): Layer.Layer<OtlpExporter.Flusher> =>
  layerOf(options.resolved, options.logLevel)
