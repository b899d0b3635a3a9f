/**
 * `weir run --otlp URL`: the tracing layer of the optional `@weir/tracing`
 * package, imported only when tracing is asked for (like `@weir/recovery`
 * for `-r`), with a clear message when it is not installed.
 *
 * @since 0.2.0
 */
import type * as Layer from "effect/Layer"
import type { LogLevel } from "../args.js"
import { CliError } from "../io.js"
import { importOptionalPackage } from "../optionalPackage.js"

/** The parts of `@weir/tracing` the command line uses. */
export interface TracingPackage {
  readonly OtlpTracingConfig: new (options: { readonly serviceName?: string | undefined; readonly url?: string | undefined }) => unknown
  readonly Tracing: { readonly layer: (config: unknown, logLevel?: LogLevel) => Layer.Layer<unknown> }
}

/** Import `@weir/tracing`, failing with install instructions when it is absent. */
export const importTracingPackage = (): Promise<TracingPackage> =>
  importOptionalPackage<TracingPackage>({
    name: "@weir/tracing",
    neededFor: "--otlp (tracing)",
    exports: "OtlpTracingConfig and Tracing.layer",
    provides: (m) =>
      typeof m.OtlpTracingConfig === "function" &&
      typeof m.Tracing === "object" && m.Tracing !== null && typeof (m.Tracing as { layer?: unknown }).layer === "function"
  })

/**
 * The layer sending the run's spans and metrics to `url`, as `serviceName`.
 * `OTEL_*` variables fill in the rest (sampling ratio), as `@weir/tracing` documents.
 */
export const tracingLayer = async (url: string, serviceName: string, logLevel: LogLevel): Promise<Layer.Layer<unknown>> => {
  const { OtlpTracingConfig, Tracing } = await importTracingPackage()
  let config: unknown
  try {
    config = new OtlpTracingConfig({ serviceName, url })
  } catch (e) {
    // A bad OTEL_TRACES_SAMPLER_ARG, say: the user's to fix, so no stack.
    throw new CliError(`--otlp: ${e instanceof Error ? e.message : String(e)}`, { cause: e })
  }
  return Tracing.layer(config, logLevel)
}
