/**
 * Against a real Jaeger (scripts/jaeger.sh, started by the test command):
 * a traced run's epoch, commit and step spans are found through Jaeger's
 * query API, a user function's error is on its span, worker threads' spans
 * arrive too, OTLP metrics reach the collector, and an untraced run sends
 * nothing.
 */
import { clusterMain, runMain } from "@weir/core"
import { InMemoryRecovery } from "@weir/testing"
import { existsSync, readFileSync, statSync } from "node:fs"
import { describe, expect, it } from "vitest"
import { JaegerConfig, OtlpTracingConfig, setupTracing } from "../src/index.js"
import { failing, sums } from "./fixtures/flows.js"

const OTLP = process.env.WEIR_JAEGER_OTLP
const QUERY = process.env.WEIR_JAEGER_QUERY
const METRICS_FILE = process.env.WEIR_JAEGER_METRICS_FILE
if (OTLP === undefined || QUERY === undefined || METRICS_FILE === undefined) {
  throw new Error("WEIR_JAEGER_OTLP, WEIR_JAEGER_QUERY and WEIR_JAEGER_METRICS_FILE must be set: run the tests with `npm test` (scripts/test.sh starts Jaeger)")
}

interface JaegerSpan {
  readonly operationName: string
  readonly tags: ReadonlyArray<{ readonly key: string; readonly value: unknown }>
  readonly logs: ReadonlyArray<{ readonly fields: ReadonlyArray<{ readonly key: string; readonly value: unknown }> }>
}

const unique = (what: string) => `weir-test-${what}-${process.pid}-${Math.floor(Math.random() * 1e9)}`
const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Every span Jaeger holds for `service`, once at least `atLeast` spans named `operation` are there (polls up to 15 s). */
const spansOf = async (service: string, operation: string, atLeast = 1): Promise<Array<JaegerSpan>> => {
  let spans: Array<JaegerSpan> = []
  for (let i = 0; i < 60; i++) {
    const res = await fetch(`${QUERY}/api/traces?service=${encodeURIComponent(service)}&limit=1000&lookback=1h`)
    if (res.ok) {
      const body = (await res.json()) as { data: ReadonlyArray<{ spans: Array<JaegerSpan> }> | null }
      spans = (body.data ?? []).flatMap((t) => t.spans)
      if (spans.filter((s) => s.operationName === operation).length >= atLeast) return spans
    }
    await delay(250)
  }
  return spans
}

const tag = (span: JaegerSpan, key: string): unknown => span.tags.find((t) => t.key === key)?.value

const sizeOf = (file: string): number => (existsSync(file) ? statSync(file).size : 0)

const services = async (): Promise<Array<string>> => {
  const body = (await (await fetch(`${QUERY}/api/services`)).json()) as { data: Array<string> | null }
  return [...(body.data ?? [])].sort()
}

describe("tracing to a real Jaeger", () => {
  it("a run without tracing sends nothing", async () => {
    // Whatever earlier runs sent has arrived once the collector's output stops growing.
    let size = -1
    for (let i = 0; i < 40 && size !== sizeOf(METRICS_FILE); i++) {
      size = sizeOf(METRICS_FILE)
      await delay(250)
    }
    const before = await services()
    // Even with the standard variable pointing at the collector, nothing is sent unless tracing is set up.
    const saved = process.env.OTEL_EXPORTER_OTLP_ENDPOINT
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = OTLP
    try {
      await runMain(sums("untraced"), { epochInterval: 20 })
    } finally {
      if (saved === undefined) delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT
      else process.env.OTEL_EXPORTER_OTLP_ENDPOINT = saved
    }
    await delay(1500)
    expect(await services()).toEqual(before)
    expect(sizeOf(METRICS_FILE)).toBe(size)
  }, 30_000)

  it("a traced run's epochs, commits and step batches are spans in Jaeger", async () => {
    const service = unique("spans")
    const tracing = setupTracing(new JaegerConfig({ serviceName: service, endpoint: OTLP, samplingRatio: 1 }))
    try {
      await runMain(sums("traced"), { epochInterval: 20, recovery: new InMemoryRecovery() })
    } finally {
      await tracing.shutdown()
    }
    const spans = await spansOf(service, "weir.step", 5)
    const epochs = spans.filter((s) => s.operationName === "weir.epoch")
    expect(epochs.length).toBeGreaterThan(3)
    expect(epochs.every((s) => typeof tag(s, "weir.epoch") === "number")).toBe(true)
    expect(spans.some((s) => s.operationName === "weir.commit")).toBe(true)
    const stepIds = new Set(spans.filter((s) => s.operationName === "weir.step").map((s) => tag(s, "weir.step_id")))
    expect(stepIds.has("traced.sum.statefulBatch")).toBe(true)
  }, 60_000)

  it("a user function's error is recorded on its span", async () => {
    const service = unique("error")
    const tracing = setupTracing(new OtlpTracingConfig({ serviceName: service, url: OTLP, samplingRatio: 1 }))
    try {
      await expect(runMain(failing("failing"), { epochInterval: 20 })).rejects.toThrow("boom at 100")
    } finally {
      await tracing.shutdown()
    }
    const spans = await spansOf(service, "weir.epoch")
    const failed = spans.filter((s) => tag(s, "error") === true || tag(s, "otel.status_code") === "ERROR")
    expect(failed.length).toBeGreaterThan(0)
    const text = JSON.stringify(failed)
    expect(text).toContain("boom at 100")
  }, 60_000)

  it("worker threads send their spans too", async () => {
    const service = unique("threads")
    const tracing = setupTracing(new JaegerConfig({ serviceName: service, endpoint: OTLP, samplingRatio: 1 }))
    try {
      await clusterMain(
        { module: new URL("./fixtures/flows.ts", import.meta.url), export: "sums", args: ["threaded", 2, 400] },
        { workersPerProcess: 2, epochInterval: 20 }
      )
    } finally {
      await tracing.shutdown()
    }
    const spans = await spansOf(service, "weir.step", 5)
    expect(spans.filter((s) => s.operationName === "weir.epoch").length).toBeGreaterThan(3)
    expect(spans.some((s) => tag(s, "weir.step_id") === "threaded.sum.statefulBatch")).toBe(true)
  }, 60_000)

  it("metrics arrive at the collector over OTLP", async () => {
    const service = unique("metrics")
    const tracing = setupTracing(new OtlpTracingConfig({ serviceName: service, url: OTLP, samplingRatio: 0 }))
    try {
      await runMain(sums("measured"), { epochInterval: 20 })
    } finally {
      await tracing.shutdown()
    }
    let text = ""
    for (let i = 0; i < 60 && !(text.includes(service) && text.includes("weir_items_in_total")); i++) {
      await delay(250)
      text = readFileSync(METRICS_FILE, "utf8")
    }
    const ours = text.slice(text.indexOf(`service.name: Str(${service})`))
    expect(ours).toContain("weir_items_in_total")
    expect(ours).toContain("Str(measured.sum.statefulBatch)")
    expect(ours).toContain("weir_epoch")
  }, 60_000)

})
