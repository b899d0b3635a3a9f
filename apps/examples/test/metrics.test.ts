// src/metrics.ts with `--metrics-port 0`: /metrics is scraped while the run lasts, and the
// printed statistics (seeded with METRICS_SEED) are checked line by line.
import { describe, expect, it } from "vitest"
import { formatStats, METRICS, seededRandom, type Stats, updateStats } from "../src/metrics.js"
import { delay, RUN_TIMEOUT_MS, start, withoutEpochLines } from "./weir.js"

const COUNT = 30
const SEED = 42

interface Sample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

/** The `# TYPE` lines and the samples of a Prometheus text exposition. */
const parsePrometheus = (text: string): { readonly types: Map<string, string>; readonly samples: Array<Sample> } => {
  const types = new Map<string, string>()
  const samples: Array<Sample> = []
  for (const line of text.split("\n")) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line)
    if (type !== null) types.set(type[1]!, type[2]!)
    if (line === "" || line.startsWith("#")) continue
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (sample === null) throw new Error(`not a Prometheus sample line: ${line}`)
    const labels: Record<string, string> = {}
    for (const [, key, value] of (sample[2] ?? "").matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)) labels[key!] = value!
    samples.push({ name: sample[1]!, labels, value: Number(sample[3]) })
  }
  return { types, samples }
}

const value = (samples: ReadonlyArray<Sample>, name: string, stepId: string): number =>
  samples.filter((s) => s.name === name && s.labels.step_id === stepId).reduce((sum, s) => sum + s.value, 0)

/** What the flow must print for `metric`, in order: the running statistics after each seeded reading. */
const expectedLines = (metric: string, scale: number, seedOffset: number): Array<string> => {
  const random = seededRandom(SEED + seedOffset)
  const lines: Array<string> = []
  let stats: Stats | undefined
  for (let i = 0; i < COUNT; i++) {
    stats = updateStats(stats, Math.round(random() * scale))
    lines.push(formatStats(metric, stats))
  }
  return lines
}

describe("metrics", () => {
  it("serves Prometheus metrics while it runs and prints every metric's running statistics", async () => {
    // 30 readings per metric, 100 ms apart: the run lasts about 3 seconds.
    const run = start(["run", "src/metrics.ts", "--metrics-port", "0", "-s", "0.5"], {
      METRICS_COUNT: String(COUNT),
      METRICS_SEED: String(SEED)
    })
    let ended = false
    void run.finished.then(() => (ended = true))
    let port: string | undefined
    while (!ended && port === undefined) {
      port = /^metrics: http:\/\/127\.0\.0\.1:(\d+)\/metrics$/m.exec(run.output().stderr)?.[1]
      await delay(10)
    }
    expect(port, `no metrics address logged; stderr:\n${run.output().stderr}`).toBeDefined()

    // Scrape until the sink has seen items (counts are published every 250 ms).
    let scraped: ReturnType<typeof parsePrometheus> | undefined
    while (!ended) {
      const res = await fetch(`http://127.0.0.1:${port}/metrics`)
      expect(res.status).toBe(200)
      scraped = parsePrometheus(await res.text())
      if (value(scraped.samples, "weir_items_in_total", "metrics.out") > 0) break
      await delay(100)
    }
    expect(scraped, "the run ended before /metrics showed items reaching the sink").toBeDefined()
    const { types, samples } = scraped!
    expect(types.get("weir_items_in_total")).toBe("counter")
    expect(types.get("weir_items_out_total")).toBe("counter")
    expect(types.get("weir_epoch")).toBe("gauge")
    expect(types.get("weir_state_keys")).toBe("gauge")
    const sunk = value(samples, "weir_items_in_total", "metrics.out")
    expect(sunk).toBeGreaterThan(0)
    expect(sunk).toBeLessThanOrEqual(3 * COUNT)
    for (const [metric] of METRICS) {
      const read = value(samples, "weir_items_out_total", `metrics.${metric}`)
      expect(read, metric).toBeGreaterThan(0)
      expect(read, metric).toBeLessThanOrEqual(COUNT)
    }
    expect(samples.find((s) => s.name === "weir_items_in_total" && s.labels.step_id === "metrics.out")?.labels.worker).toBe("0")

    const result = await run.finished
    expect(withoutEpochLines(result.stderr)).toBe(`metrics: http://127.0.0.1:${port}/metrics\n`)
    expect(result.code).toBe(0)
    // The three metrics interleave by time; each one's lines come in order.
    const lines = result.stdout.split("\n").slice(0, -1)
    expect(lines).toHaveLength(3 * COUNT)
    for (const [metric, scale, seedOffset] of METRICS) {
      expect(lines.filter((l) => l.startsWith(`${metric} `))).toEqual(expectedLines(metric, scale, seedOffset))
    }
  }, RUN_TIMEOUT_MS)
})
