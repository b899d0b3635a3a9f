/**
 * Timing: warm up, run each variant a few times, take the median, and print
 * ratios against the baseline measured in the same run (the machine is shared
 * and noisy: only ratios within one run mean anything).
 */
export interface Variant {
  readonly name: string
  /** Items this variant processes per run (may be fewer than the case's for slow variants). */
  readonly items: number
  /** Unit printed per item (`item`, `event`, `MB`, `msg`). */
  readonly run: () => Promise<unknown> | unknown
}

export interface CaseResult {
  readonly caseName: string
  readonly unit: string
  readonly rows: ReadonlyArray<{ readonly name: string; readonly nsPerItem: number; readonly ratio: number; readonly items: number }>
  readonly notes: ReadonlyArray<string>
}

export interface BenchCase {
  readonly name: string
  readonly unit: string
  /** Variants; the first is the baseline the others are compared with. */
  variants(options: BenchOptions): Promise<ReadonlyArray<Variant>> | ReadonlyArray<Variant>
  /** Extra lines to print after the table (e.g. median epoch-commit time). */
  notes?(): ReadonlyArray<string>
}

export interface BenchOptions {
  readonly items: number
  readonly repeats: number
}

const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

export const timeVariant = async (v: Variant, repeats: number): Promise<number> => {
  await v.run() // warm-up
  const times: Array<number> = []
  for (let i = 0; i < repeats; i++) {
    global.gc?.()
    const t = performance.now()
    await v.run()
    times.push(performance.now() - t)
  }
  return (median(times) * 1e6) / v.items
}

export const runCase = async (c: BenchCase, options: BenchOptions): Promise<CaseResult> => {
  const variants = await c.variants(options)
  const rows: Array<{ name: string; nsPerItem: number; ratio: number; items: number }> = []
  for (const v of variants) {
    const ns = await timeVariant(v, options.repeats)
    rows.push({ name: v.name, nsPerItem: ns, ratio: rows.length === 0 ? 1 : ns / rows[0]!.nsPerItem, items: v.items })
  }
  return { caseName: c.name, unit: c.unit, rows, notes: c.notes?.() ?? [] }
}

export const printCase = (r: CaseResult): void => {
  console.log(`\n## ${r.caseName}`)
  console.log(`${"variant".padEnd(44)} ${`ns/${r.unit}`.padStart(12)} ${"× baseline".padStart(11)} ${"items".padStart(12)}`)
  for (const row of r.rows) {
    console.log(
      `${row.name.padEnd(44)} ${row.nsPerItem.toFixed(1).padStart(12)} ${row.ratio.toFixed(2).padStart(11)} ${row.items.toLocaleString("en-US").padStart(12)}`
    )
  }
  for (const note of r.notes) console.log(note)
}
