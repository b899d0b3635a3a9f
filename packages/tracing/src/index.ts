/**
 * Tracing and metrics export for Weir flows, on Effect's own observability
 * modules (`effect/observability`): spans come from Effect's tracer and
 * metrics from its `Metric` registry, exported over OTLP/HTTP (JSON) to
 * Jaeger or any OpenTelemetry collector.
 *
 * @since 0.1.0
 */
export { JaegerConfig, type JaegerOptions, OtlpTracingConfig, type OtlpTracingOptions, type TracingConfig } from "./config.js"
export { type LogLevel, setupTracing, threadLayer, Tracing, type TracingHandle } from "./tracing.js"
