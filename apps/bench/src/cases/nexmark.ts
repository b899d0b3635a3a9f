/**
 * The Nexmark queries (`QUERIES`, see src/nexmark/): each query as a Weir flow
 * against a hand-written loop over the same generated events, in batches of
 * 1,024. The first run of each variant (the warm-up) has its results put in
 * canonical form (JSON per result, sorted); Weir's must equal the loop's or the
 * case fails.
 *
 * With `--with-bytewax`, a third row runs the same query on Bytewax 0.21.1
 * (`nexmark-bytewax/nexmark.py`, one worker) over the same events written to a
 * temporary CSV file; its row counts the `run_main` time the script reports (not
 * the Python start-up), and its result lines must equal Weir's in the script's
 * comma-joined canonical form, or the case fails naming the first differing line.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { runMain } from "@weir/core"
import { batchesOf } from "../data.js"
import { type BenchCase, type Measured, median, type Variant } from "../harness.js"
import { generateEvents, type NexmarkEvent, writeEventsCsv } from "../nexmark/generator.js"
import { loops } from "../nexmark/loop.js"
import { canonical, CollectSink, firstDifference, type Query, type QueryOut } from "../nexmark/queries.js"
import { flows } from "../nexmark/weir.js"

/** Events per run: 1,000,000 at the default `--items` (10 million), scaled by it. */
export const nexmarkEvents = (items: number): number => Math.max(1000, Math.round(items / 10))

/** The generator's seed every case uses (`generateEvents`' default). */
const SEED = 42

let cached: { readonly n: number; readonly events: Array<NexmarkEvent>; readonly batches: Array<Array<NexmarkEvent>> } | undefined
/** The events, generated once per count and shared by the queries' cases. */
const eventsOf = (n: number): { readonly events: Array<NexmarkEvent>; readonly batches: Array<Array<NexmarkEvent>> } => {
  if (cached?.n !== n) {
    const events = generateEvents(n, SEED)
    cached = { n, events, batches: batchesOf(n, (i) => events[i]!) }
  }
  return cached
}

// ---- Bytewax (`--with-bytewax`) ----

const BYTEWAX_ROW = "Bytewax 0.21.1 (1 worker)"
const BYTEWAX_DIR = path.join(import.meta.dirname, "..", "..", "nexmark-bytewax")

let tmpDir: string | undefined
/** This process's scratch directory for the events CSV and Bytewax's outputs, removed when the process exits. */
const scratch = (): string => {
  if (tmpDir === undefined) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "weir-bench-nexmark-"))
    tmpDir = dir
    process.on("exit", () => fs.rmSync(dir, { recursive: true, force: true }))
  }
  return tmpDir
}

const csvPaths = new Map<string, string>()
/** The events of `(n, seed)` as a CSV file (`writeEventsCsv`), written once per process. */
const eventsCsv = (n: number, seed: number, events: ReadonlyArray<NexmarkEvent>): string => {
  const key = `${n}:${seed}`
  let file = csvPaths.get(key)
  if (file === undefined) {
    file = path.join(scratch(), `events-${n}-${seed}.csv`)
    writeEventsCsv(file, events)
    csvPaths.set(key, file)
  }
  return file
}

let bytewaxPython: string | undefined
/** The venv python with bytewax 0.21.1: `nexmark-bytewax/setup.sh`, run once per process. */
const bytewaxPythonPath = (): string => {
  if (bytewaxPython === undefined) {
    const setup = path.join(BYTEWAX_DIR, "setup.sh")
    const r = spawnSync("bash", [setup], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] })
    const py = r.stdout?.trim() ?? ""
    if (r.error !== undefined || r.status !== 0 || py === "") {
      throw new Error(
        `nexmark --with-bytewax: setting up Bytewax with ${setup} failed (${r.error?.message ?? `exit status ${r.status}, signal ${r.signal}`}); ` +
          `see its stderr above, or run it by hand, or drop --with-bytewax`
      )
    }
    bytewaxPython = py
  }
  return bytewaxPython
}

/** What `nexmark.py` prints on stdout. */
interface BytewaxReport {
  readonly query: string
  readonly events: number
  readonly seconds: number
  readonly results: number
}

const isBytewaxReport = (x: unknown): x is BytewaxReport =>
  typeof x === "object" && x !== null && typeof (x as BytewaxReport).query === "string" &&
  typeof (x as BytewaxReport).events === "number" && typeof (x as BytewaxReport).seconds === "number" &&
  typeof (x as BytewaxReport).results === "number"

/** One run of `nexmark.py CSV q OUT`: its report and its result lines (canonical: sorted, comma-joined; q0: the count). */
const runBytewax = (q: Query, csv: string, n: number): { readonly report: BytewaxReport; readonly lines: Array<string> } => {
  const script = path.join(BYTEWAX_DIR, "nexmark.py")
  const out = path.join(scratch(), `bytewax-${q}.txt`)
  const r = spawnSync(bytewaxPythonPath(), [script, csv, q, out], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], maxBuffer: 1 << 20 })
  if (r.error !== undefined || r.status !== 0) {
    throw new Error(
      `nexmark ${q}: Bytewax run (${script} ${q}) failed (${r.error?.message ?? `exit status ${r.status}, signal ${r.signal}`}); see its stderr above`
    )
  }
  const last = r.stdout.trim().split("\n").at(-1) ?? ""
  let report: unknown
  try {
    report = JSON.parse(last)
  } catch {
    report = undefined
  }
  if (!isBytewaxReport(report)) {
    throw new Error(`nexmark ${q}: Bytewax's report must be a JSON line {query, events, seconds, results}; got '${last}' (a string) from ${script}`)
  }
  if (report.events !== n) throw new Error(`nexmark ${q}: Bytewax read ${report.events} events from ${csv}, the case has ${n}; delete the file and rerun`)
  const text = fs.readFileSync(out, "utf8")
  const lines = text === "" ? [] : text.replace(/\n$/, "").split("\n")
  return { report, lines }
}

/**
 * `x` as Python's `str(float)` writes it. For 1e-4 ≤ |x| < 1e16 both it and `String(x)` write
 * the shortest digits that read back as `x`, without an exponent; they differ only on integers
 * (`5.0` vs `5`).
 */
const pythonFloat = (x: number): string => {
  const m = Math.abs(x)
  if (!(m >= 1e-4 && m < 1e16)) {
    throw new RangeError(`nexmark: pythonFloat covers 1e-4 ≤ |x| < 1e16 (no exponent in either language); got ${x} (a number): extend it to Python's exponent form`)
  }
  return Number.isInteger(x) ? `${x}.0` : String(x)
}

/** A result of `q` as a line of `nexmark.py`'s output (fields in nexmark-bytewax/README.md's order). */
const BYTEWAX_LINE: { readonly [Q in Exclude<Query, "q0">]: (x: QueryOut[Q]) => string } = {
  q1: (b) => `${b.auction},${b.bidder},${b.price},${b.channel},${b.url},${b.dateTime}`,
  q2: (x) => x.join(","),
  q3: (x) => x.join(","),
  q4: (x) => `${x[0]},${x[1]},${x[2]},${pythonFloat(x[3])}`,
  q5: (x) => x.join(","),
  q6: (x) => `${x[0]},${x[1]},${x[2]},${pythonFloat(x[3])}`,
  q7: (x) => x.join(","),
  q8: (x) => x.join(","),
  q11: (x) => x.join(",")
}

/** Weir's results in `nexmark.py`'s canonical form: comma-joined lines, sorted (q0: the count alone). */
const bytewaxLines = <Q extends Query>(q: Q, out: ReadonlyArray<QueryOut[Q]>): Array<string> => {
  if (q === "q0") return [String(out.length)]
  const line = BYTEWAX_LINE[q as Exclude<Query, "q0">] as (x: QueryOut[Q]) => string
  return out.map(line).sort()
}

const DESCRIPTIONS: { readonly [Q in Query]: string } = {
  q0: "pass-through (every event out)",
  q1: "bids, price × 0.908 (dollars → euros)",
  q2: "bids on auctions with id % 123 == 0 → [auction, price]",
  q3: "local sellers (OR/ID/CA) of category-10 auctions: incremental join → [name, city, state, auction]",
  q4: "closing price of each auction (its highest bid of its creation window: windowed join), averaged per category per 10 s window → [windowStart, category, auctions, averagePrice]",
  q5: "hot items: bids per auction in 10 s sliding event-time windows every 2 s, the most bid-on auction per window → [windowStart, auction, bids]",
  q6: "q4's closing prices averaged per seller per 10 s window → [windowStart, seller, auctions, averagePrice]",
  q7: "highest bid per 10 s tumbling event-time window → [windowStart, auction, price, bidder]",
  q8: "new users: persons who created an auction in the 10 s tumbling window they registered in (windowed join) → [personId, name, windowStart]",
  q11: "user sessions: bids per bidder in event-time sessions with a 10 s gap → [bidder, sessionStart, sessionEnd, bids]"
}

const nexmarkCase = <Q extends Query>(q: Q): BenchCase => {
  const runsMs: Array<Array<number>> = [[], []]
  let outputs = 0
  let checked = false
  let n = 0
  let withBytewax = false
  /** Bytewax's reported run_main seconds of each run (the first is the warm-up). */
  let bytewaxSeconds: Array<number> = []
  return {
    id: `nexmark-${q}`,
    name: `nexmark ${q}: ${DESCRIPTIONS[q]}`,
    unit: "event",
    variants(options) {
      n = nexmarkEvents(options.items)
      const { events, batches } = eventsOf(n)
      runsMs[0] = []
      runsMs[1] = []
      checked = false
      withBytewax = options.withBytewax === true
      bytewaxSeconds = []
      let expected: Array<string> | undefined
      /** Weir's results from its first (checked) run, for the Bytewax row's check. */
      let weirOut: ReadonlyArray<QueryOut[Q]> | undefined
      const timed = async (i: 0 | 1, f: () => Promise<ReadonlyArray<QueryOut[Q]>> | ReadonlyArray<QueryOut[Q]>) => {
        const t = performance.now()
        const out = await f()
        runsMs[i]!.push(performance.now() - t)
        return out
      }
      const rows: Array<Variant> = [
        {
          name: "hand-written loop",
          items: n,
          run: async () => {
            const out = await timed(0, () => {
              const sink = new CollectSink<QueryOut[Q]>()
              loops[q](batches, sink)
              return sink.items
            })
            if (expected === undefined) {
              expected = canonical(out)
              outputs = out.length
            } else if (out.length !== outputs) throw new Error(`nexmark ${q}: the hand loop emitted ${out.length} results, before ${outputs}`)
          }
        },
        {
          name: "Weir (runMain)",
          items: n,
          run: async () => {
            const out = await timed(1, async () => {
              const sink = new CollectSink<QueryOut[Q]>()
              await runMain(flows[q](batches, sink))
              return sink.items
            })
            if (expected === undefined) throw new Error(`nexmark ${q}: the hand loop must run before Weir (it is the baseline)`)
            if (!checked) {
              const diff = firstDifference(canonical(out), expected)
              if (diff !== undefined) throw new Error(`nexmark ${q}: Weir's results differ from the hand loop's, ${diff}`)
              checked = true
              weirOut = out
            } else if (out.length !== outputs) throw new Error(`nexmark ${q}: Weir emitted ${out.length} results, the hand loop ${outputs}`)
          }
        }
      ]
      if (withBytewax) {
        // Set up (venv, CSV) before timing; both are cached for the process.
        bytewaxPythonPath()
        const csv = eventsCsv(n, SEED, events)
        let bytewaxChecked = false
        let bytewaxResults = 0
        rows.push({
          name: BYTEWAX_ROW,
          items: n,
          run: (): Measured => {
            const { report, lines } = runBytewax(q, csv, n)
            bytewaxSeconds.push(report.seconds)
            if (!bytewaxChecked) {
              if (weirOut === undefined) throw new Error(`nexmark ${q}: Weir must run before Bytewax (its results are what Bytewax's are checked against)`)
              const diff = firstDifference(lines, bytewaxLines(q, weirOut))
              if (diff !== undefined) {
                throw new Error(
                  `nexmark ${q}: Bytewax's results differ from Weir's (Bytewax vs Weir, nexmark.py's line form${q === "q0" ? ": the count" : ""}), ${diff}`
                )
              }
              bytewaxChecked = true
              bytewaxResults = report.results
            } else if (report.results !== bytewaxResults) {
              throw new Error(`nexmark ${q}: Bytewax emitted ${report.results} results, on its first run ${bytewaxResults}`)
            }
            return { measuredMs: report.seconds * 1000 }
          }
        })
      }
      return rows
    },
    notes() {
      // The first run of each variant is the warm-up.
      const perS = (ms: ReadonlyArray<number>) => (ms.length < 2 ? undefined : n / (median(ms.slice(1)) / 1000))
      const fmt = (x: number | undefined) => (x === undefined ? "n/a" : Math.round(x).toLocaleString("en-US"))
      const notes = [
        `events/s: hand loop ${fmt(perS(runsMs[0]!))}, Weir ${fmt(perS(runsMs[1]!))}; ${outputs.toLocaleString("en-US")} results of ${n.toLocaleString("en-US")} events, ` +
          `Weir's equal to the hand loop's (canonical form, checked on the warm-up run)`
      ]
      if (withBytewax) {
        const weir = perS(runsMs[1]!)
        const bytewax = perS(bytewaxSeconds.map((s) => s * 1000))
        const times = weir === undefined || bytewax === undefined ? "n/a" : (weir / bytewax).toFixed(2)
        notes.push(
          `Bytewax 0.21.1, 1 worker: ${fmt(bytewax)} events/s (run_main time it reports, median of the timed runs; Python start-up and CSV parsing not counted); ` +
            `Weir ${times} × Bytewax per core; Bytewax's result lines equal Weir's (nexmark.py's canonical form, checked on the warm-up run)`
        )
      }
      return notes
    }
  }
}

export const nexmarkQ0 = nexmarkCase("q0")
export const nexmarkQ1 = nexmarkCase("q1")
export const nexmarkQ2 = nexmarkCase("q2")
export const nexmarkQ3 = nexmarkCase("q3")
export const nexmarkQ4 = nexmarkCase("q4")
export const nexmarkQ5 = nexmarkCase("q5")
export const nexmarkQ6 = nexmarkCase("q6")
export const nexmarkQ7 = nexmarkCase("q7")
export const nexmarkQ8 = nexmarkCase("q8")
export const nexmarkQ11 = nexmarkCase("q11")

/** Run order: by query number. */
export const cases = [nexmarkQ0, nexmarkQ1, nexmarkQ2, nexmarkQ3, nexmarkQ4, nexmarkQ5, nexmarkQ6, nexmarkQ7, nexmarkQ8, nexmarkQ11]
