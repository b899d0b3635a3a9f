/**
 * What watching a run costs: the stateless and keyed pipelines of core.ts
 * with the runtime's metrics off (baseline), on (the default), and with
 * tracing to an OTLP collector at a step-span sampling ratio of 0.01. The
 * collector is a local HTTP server that takes and drops every request (what
 * a collector does with the data is not the run's cost). Tracing also has a
 * fixed cost per run (starting the exporter, the last flush: some tens of
 * milliseconds), so the stateless case runs 4× the items to be long enough
 * for a per-item comparison.
 */
import { type Dataflow, run, RuntimeMetrics } from "@weir/core"
import { OtlpTracingConfig, Tracing } from "@weir/tracing"
import { Effect } from "effect"
import * as http from "node:http"
import { batchesOf, CountSink } from "../data.js"
import type { BenchCase, Variant } from "../harness.js"
import { keyedFlow, statelessFlow } from "./core.js"

/** A sink for OTLP requests on a free loopback port; started on first use, and never keeps the process up. */
let collector: Promise<string> | undefined
const collectorUrl = (): Promise<string> =>
  (collector ??= new Promise((resolve) => {
    const server = http.createServer((req, res) => {
      req.resume()
      req.on("end", () => res.end("{}"))
    })
    server.listen(0, "127.0.0.1", () => {
      server.unref()
      resolve(`http://127.0.0.1:${(server.address() as { port: number }).port}`)
    })
  }))

type Mode = "off" | "on" | "traced"

const runWith = async (flow: Dataflow, mode: Mode): Promise<void> => {
  let program = run(flow)
  if (mode === "off") program = Effect.provideService(program, RuntimeMetrics, false)
  if (mode === "traced") {
    const url = await collectorUrl()
    program = Effect.provide(program, Tracing.layer(new OtlpTracingConfig({ serviceName: "bench", url, samplingRatio: 0.01 })))
  }
  await Effect.runPromise(program)
}

const MODES: ReadonlyArray<readonly [Mode, string]> = [
  ["off", "metrics off (baseline)"],
  ["on", "metrics on (the default)"],
  ["traced", "metrics on + tracing over OTLP, step spans sampled at 0.01"]
]

export const observabilityStateless: BenchCase = {
  id: "observability-stateless",
  name: "observability: map(x*2) → filter(x%3==0) → sum, metrics off / on / traced",
  unit: "item",
  variants(options) {
    const items = options.items * 4
    const batches = batchesOf(items, (i) => i)
    let check = 0
    for (const b of batches) for (const x of b) if ((x * 2) % 3 === 0) check += x * 2
    return MODES.map(([mode, name]): Variant => ({
      name,
      items,
      run: async () => {
        const sink = new CountSink<number>()
        await runWith(statelessFlow(batches, sink), mode)
        if (sink.sum !== check) throw new Error(`Weir computed ${sink.sum}, expected ${check}`)
      }
    }))
  }
}

export const observabilityKeyed: BenchCase = {
  id: "observability-keyed",
  name: "observability: keyOn over 10,000 keys → statefulMap running sum → sink, metrics off / on / traced",
  unit: "item",
  variants({ items }) {
    const batches = batchesOf(items, (i) => i)
    return MODES.map(([mode, name]): Variant => ({
      name,
      items,
      run: async () => {
        const sink = new CountSink<readonly [string, number]>()
        await runWith(keyedFlow(batches, sink), mode)
        if (sink.count !== items) throw new Error(`Weir emitted ${sink.count}, expected ${items}`)
      }
    }))
  }
}

export const cases = [observabilityStateless, observabilityKeyed]
