/**
 * Timing: warm up, run each variant a few times, take the median, and print
 * ratios against the baseline measured in the same run (the machine is shared
 * and noisy: only ratios within one run mean anything).
 */

/** One way of doing a case's work: Weir, the hand-written loop, RxJS, … */
export interface Variant {
  readonly name: string
  /** Items this variant processes per run (fewer than the case's for slow variants; ns/item is scaled by this). */
  readonly items: number
  /** One run; it may resolve to a {@link Measured} to have that time counted instead of the whole call's. */
  readonly run: () => Promise<unknown> | unknown
}

/**
 * What a variant's `run` may resolve to when only part of the call is the
 * work being measured (the rest is set-up it can't do beforehand, such as
 * starting child processes): the milliseconds to count for the run.
 */
export interface Measured {
  readonly measuredMs: number
}

const isMeasured = (x: unknown): x is Measured =>
  typeof x === "object" && x !== null && typeof (x as Measured).measuredMs === "number"

/**
 * A benchmark case. Every `BenchCase` exported from a file in `src/cases/` is
 * picked up by `main.ts`: adding a case is adding (or extending) one file.
 */
export interface BenchCase {
  /** The name `--only` takes (defaults to the export's name). */
  readonly id?: string
  /** The heading printed above the case's table. */
  readonly name: string
  /** What one item is (`item`, `event`, `MB`, `msg`): the table prints ns per this. */
  readonly unit: string
  /** Variants; the first is the baseline the others are compared with. */
  variants(options: BenchOptions): Promise<ReadonlyArray<Variant>> | ReadonlyArray<Variant>
  /** Extra lines to print after the table (e.g. median epoch-commit time). */
  notes?(): ReadonlyArray<string>
  /** `false`: no warm-up run (for cases whose every run starts fresh processes, so there is nothing to warm). Default true. */
  readonly warmUp?: boolean
  /** Runs after the last timed round, untimed: drop databases, delete files. */
  cleanup?(): Promise<void> | void
}

export interface BenchOptions {
  /** Items the case should process per run (`--items`, default 10 million). */
  readonly items: number
  /** Timed runs per variant, after one warm-up run (`--repeats`, default 3). */
  readonly repeats: number
  /** `--with-bytewax`: also run the Nexmark queries on Bytewax 0.21.1 (`nexmark-bytewax/`), as a third row. Default false. */
  readonly withBytewax?: boolean
}

export interface VariantResult {
  readonly name: string
  readonly items: number
  /** Median wall time of the timed runs, divided by `items`. */
  readonly nsPerItem: number
  /** `nsPerItem` over the baseline's (the case's first variant), from the same run. */
  readonly ratio: number
  /** Every timed run's wall time, in milliseconds. */
  readonly runsMs: ReadonlyArray<number>
}

export interface CaseResult {
  readonly id: string
  readonly caseName: string
  readonly unit: string
  readonly rows: ReadonlyArray<VariantResult>
  readonly notes: ReadonlyArray<string>
}

export const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

const gc = (globalThis as { gc?: () => void }).gc

const timeOnce = async (v: Variant): Promise<number> => {
  gc?.()
  const t = performance.now()
  const out = await v.run()
  const ms = performance.now() - t
  return isMeasured(out) ? out.measuredMs : ms
}

/**
 * Every variant gets one warm-up run, then `repeats` timed rounds, each round
 * running every variant once (with a GC before each run when `--expose-gc` is
 * on). Interleaving rounds means a burst of load from the machine's other
 * tenants hits every variant of a round, not just one: the ratios stay honest.
 */
export const runCase = async (id: string, c: BenchCase, options: BenchOptions): Promise<CaseResult> => {
  const variants = await c.variants(options)
  const runsMs: Array<Array<number>> = variants.map(() => [])
  try {
    if (c.warmUp !== false) for (const v of variants) await v.run()
    for (let r = 0; r < options.repeats; r++) {
      for (let i = 0; i < variants.length; i++) runsMs[i]!.push(await timeOnce(variants[i]!))
    }
  } finally {
    await c.cleanup?.()
  }
  const rows: Array<VariantResult> = []
  variants.forEach((v, i) => {
    const nsPerItem = (median(runsMs[i]!) * 1e6) / v.items
    rows.push({ name: v.name, items: v.items, nsPerItem, ratio: rows.length === 0 ? 1 : nsPerItem / rows[0]!.nsPerItem, runsMs: runsMs[i]! })
  })
  return { id, caseName: c.name, unit: c.unit, rows, notes: c.notes?.() ?? [] }
}

export const printCase = (r: CaseResult): void => {
  const width = Math.max(8, ...r.rows.map((row) => row.name.length))
  const baseline = r.rows[0]?.name ?? "the first row"
  console.log(`\n## ${r.caseName}   [--only=${r.id}]`)
  console.log(`${"variant".padEnd(width)}  ${`ns/${r.unit}`.padStart(10)}  ${"× baseline".padStart(10)}  ${"items".padStart(12)}`)
  for (const row of r.rows) {
    console.log(
      `${row.name.padEnd(width)}  ${row.nsPerItem.toFixed(1).padStart(10)}  ${row.ratio.toFixed(2).padStart(10)}  ${row.items.toLocaleString("en-US").padStart(12)}`
    )
  }
  console.log(`(× baseline: against "${baseline}", same run. Rows with fewer items ran on the start of the same data.)`)
  for (const note of r.notes) console.log(note)
}
