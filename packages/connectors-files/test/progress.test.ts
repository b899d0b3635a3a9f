// File sources report how far they have read, as gauges in Effect's metric registry.
import { Dataflow, op, runMain } from "@weir/core"
import { TestingSink } from "@weir/testing"
import { Context, Metric } from "effect"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { FileSource } from "../src/index.js"

const gauge = (id: string, stepId: string): number | undefined => {
  for (const m of Metric.snapshotUnsafe(Context.empty())) {
    if (m.id === id && (m.attributes as Record<string, string> | undefined)?.step_id === stepId) {
      return Number((m.state as { value: number }).value)
    }
  }
  return undefined
}

describe("read progress", () => {
  it("a FileSource reports the bytes it has read of the file's size", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "weir-progress-")), "in.txt")
    const text = Array.from({ length: 5000 }, (_, i) => `line ${i}`).join("\n") + "\n"
    writeFileSync(file, text)
    const flow = new Dataflow("progress")
    const out: Array<string> = []
    op.input("inp", flow, new FileSource(file, { batchSize: 100 })).then(op.output, "out", new TestingSink(out))
    await runMain(flow)
    expect(out).toHaveLength(5000)
    const size = Buffer.byteLength(text)
    expect(gauge("weir_source_bytes_total", "progress.inp")).toBe(size)
    expect(gauge("weir_source_bytes_read", "progress.inp")).toBe(size)
  })
})
