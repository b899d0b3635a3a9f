/**
 * Where telemetry goes. The standard OpenTelemetry variables fill in what a
 * config leaves out: `OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_SERVICE_NAME`,
 * `OTEL_TRACES_SAMPLER_ARG`.
 *
 * @since 0.1.0
 */

/** The OTLP/HTTP endpoint a collector listens on by default. */
const DEFAULT_ENDPOINT = "http://127.0.0.1:4318"

/**
 * Options of {@link OtlpTracingConfig}.
 *
 * @since 0.1.0
 */
export interface OtlpTracingOptions {
  /** The service the spans and metrics belong to. Default `OTEL_SERVICE_NAME`, else `"weir"`. */
  readonly serviceName?: string | undefined
  /** The collector's OTLP/HTTP base URL (`/v1/traces` and `/v1/metrics` below it). Default `OTEL_EXPORTER_OTLP_ENDPOINT`, else `http://127.0.0.1:4318`. */
  readonly url?: string | undefined
  /**
   * The share of step batches that get a `weir.step` span, 0 to 1 (epochs
   * and commits always get theirs). Default `OTEL_TRACES_SAMPLER_ARG`, else 1.
   */
  readonly samplingRatio?: number | undefined
  /** Extra HTTP headers for the collector (e.g. an API key). */
  readonly headers?: Readonly<Record<string, string>> | undefined
  /** How often spans and metrics are sent. Default 1 second. */
  readonly exportIntervalMs?: number | undefined
}

/** The resolved settings every config comes down to (plain data: they cross to worker threads). */
export interface ResolvedTracing {
  readonly serviceName: string
  readonly url: string
  readonly samplingRatio: number
  readonly headers: Readonly<Record<string, string>>
  readonly exportIntervalMs: number
}

const env = (name: string): string | undefined => {
  const v = typeof process === "undefined" ? undefined : process.env[name]
  return v === undefined || v.trim() === "" ? undefined : v.trim()
}

const ratioOf = (given: number | undefined): number => {
  const raw = given ?? (env("OTEL_TRACES_SAMPLER_ARG") === undefined ? 1 : Number(env("OTEL_TRACES_SAMPLER_ARG")))
  if (!Number.isFinite(raw) || raw < 0 || raw > 1) {
    throw new RangeError(`samplingRatio must be a number from 0 to 1; got ${String(raw)}`)
  }
  return raw
}

const urlOf = (given: string | undefined): string => {
  const url = (given ?? env("OTEL_EXPORTER_OTLP_ENDPOINT") ?? DEFAULT_ENDPOINT).replace(/\/+$/, "")
  try {
    new URL(url)
  } catch {
    throw new TypeError(`the OTLP endpoint must be an http(s) URL such as ${DEFAULT_ENDPOINT}; got '${url}'`)
  }
  return url
}

/**
 * Send spans and metrics to an OpenTelemetry collector over OTLP/HTTP.
 *
 * @example
 * ```ts
 * import { setupTracing, OtlpTracingConfig } from "@weir/tracing"
 *
 * setupTracing(new OtlpTracingConfig({ serviceName: "orders", url: "http://127.0.0.1:4318", samplingRatio: 0.01 }))
 * ```
 * @since 0.1.0
 */
export class OtlpTracingConfig {
  readonly _tag = "OtlpTracingConfig"
  readonly resolved: ResolvedTracing
  constructor(options: OtlpTracingOptions = {}) {
    this.resolved = {
      serviceName: options.serviceName ?? env("OTEL_SERVICE_NAME") ?? "weir",
      url: urlOf(options.url),
      samplingRatio: ratioOf(options.samplingRatio),
      headers: options.headers ?? {},
      exportIntervalMs: options.exportIntervalMs ?? 1000
    }
  }
}

/**
 * Options of {@link JaegerConfig}.
 *
 * @since 0.1.0
 */
export interface JaegerOptions {
  readonly serviceName?: string | undefined
  /** Jaeger's OTLP/HTTP receiver. Default `OTEL_EXPORTER_OTLP_ENDPOINT`, else `http://127.0.0.1:4318`. */
  readonly endpoint?: string | undefined
  readonly samplingRatio?: number | undefined
  readonly exportIntervalMs?: number | undefined
}

/**
 * Send spans to Jaeger, through its OTLP receiver (Jaeger 1.35+ and 2.x
 * accept OTLP/HTTP on port 4318).
 *
 * @example
 * ```ts
 * import { setupTracing, JaegerConfig } from "@weir/tracing"
 *
 * setupTracing(new JaegerConfig({ serviceName: "orders" }))   // then open http://127.0.0.1:16686
 * ```
 * @since 0.1.0
 */
export class JaegerConfig {
  readonly _tag = "JaegerConfig"
  readonly resolved: ResolvedTracing
  constructor(options: JaegerOptions = {}) {
    this.resolved = new OtlpTracingConfig({
      serviceName: options.serviceName,
      url: options.endpoint,
      samplingRatio: options.samplingRatio,
      exportIntervalMs: options.exportIntervalMs
    }).resolved
  }
}

/**
 * Any tracing config.
 *
 * @since 0.1.0
 */
export type TracingConfig = OtlpTracingConfig | JaegerConfig
