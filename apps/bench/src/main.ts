/**
 * `npm run bench [-- --only=ID[,ID] --items=N --repeats=N --with-bytewax --list]`: run the
 * benchmark cases in one process and print ns/item and ratios to each case's
 * baseline. Results also go to apps/bench/results/latest.json.
 *
 * Cases are found, not listed: every `BenchCase` exported from a file in
 * `src/cases/` runs (files in name order; within a file, in the order of its
 * exported `cases` array if it has one, else by export name), so adding a case
 * is a one-file change.
 * `--only` takes case ids (`stateless`) or file names (`core` = every case in
 * cases/core.ts).
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import { type BenchCase, type CaseResult, printCase, runCase } from "./harness.js"

const args = process.argv.slice(2)
const arg = (name: string): string | undefined => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3)
const positiveInt = (name: string, fallback: number): number => {
  const raw = arg(name)
  const n = raw === undefined ? fallback : Number(raw.replaceAll("_", ""))
  if (!Number.isSafeInteger(n) || n <= 0) {
    console.error(`--${name} must be a positive integer; got '${raw}'`)
    process.exit(2)
  }
  return n
}

const isBenchCase = (x: unknown): x is BenchCase =>
  typeof x === "object" && x !== null && typeof (x as BenchCase).variants === "function" &&
  typeof (x as BenchCase).name === "string" && typeof (x as BenchCase).unit === "string"

interface Found {
  readonly id: string
  readonly file: string
  readonly benchCase: BenchCase
}

/** Every exported case of every file in cases/. A file that fails to load is reported and skipped. */
const findCases = async (): Promise<Array<Found>> => {
  const dir = path.join(import.meta.dirname, "cases")
  const files = fs.readdirSync(dir).filter((f) => /\.[cm]?[jt]s$/.test(f) && !f.endsWith(".d.ts")).sort()
  const found: Array<Found> = []
  for (const f of files) {
    const file = f.replace(/\.[cm]?[jt]s$/, "")
    let mod: Record<string, unknown>
    try {
      mod = await import(pathToFileURL(path.join(dir, f)).href)
    } catch (e) {
      console.error(`skipping cases/${f}: it failed to load: ${e instanceof Error ? e.message : String(e)}`)
      continue
    }
    // A file's `cases` array, when it has one, gives the order; otherwise its exports run in name order.
    const listed = Array.isArray(mod.cases) ? mod.cases.filter(isBenchCase) : undefined
    const entries = listed?.map((c): [string, BenchCase] => [c.id ?? c.name, c]) ??
      Object.entries(mod).filter((e): e is [string, BenchCase] => isBenchCase(e[1]))
    for (const [exportName, value] of entries) {
      const id = value.id ?? exportName
      const clash = found.find((c) => c.id === id)
      if (clash) throw new Error(`two bench cases are named '${id}' (cases/${clash.file} and cases/${file}); give one an \`id\``)
      found.push({ id, file, benchCase: value })
    }
  }
  return found
}

const all = await findCases()
if (args.includes("--list")) {
  for (const c of all) console.log(`${c.id.padEnd(12)} ${`cases/${c.file}.ts`.padEnd(22)} ${c.benchCase.name}`)
  process.exit(0)
}

const items = positiveInt("items", 10_000_000)
const repeats = positiveInt("repeats", 3)
const withBytewax = args.includes("--with-bytewax")
const only = arg("only")?.split(",").filter((s) => s !== "")
for (const name of only ?? []) {
  if (!all.some((c) => c.id === name || c.file === name)) {
    console.error(`unknown case '${name}'; cases: ${all.map((c) => c.id).join(", ")} (or a file: ${[...new Set(all.map((c) => c.file))].join(", ")})`)
    process.exit(2)
  }
}
const selected = only === undefined ? all : all.filter((c) => only.includes(c.id) || only.includes(c.file))

console.log(`# Weir benchmarks — Node ${process.version}, ${items.toLocaleString("en-US")} items, warm-up + median of ${repeats}`)
console.log("# Ratios compare variants measured in this same run; absolute ns depend on this machine's load.")
const results: Array<CaseResult> = []
// A case that fails (a result check, a service) is reported and the others still run; the bench then exits 1.
const failures: Array<{ readonly id: string; readonly error: string }> = []
for (const c of selected) {
  let result: CaseResult
  try {
    result = await runCase(c.id, c.benchCase, { items, repeats, withBytewax })
  } catch (e) {
    const error = e instanceof Error ? e.message : String(e)
    console.error(`\n## ${c.benchCase.name}   [--only=${c.id}]\nFAILED: ${error}`)
    failures.push({ id: c.id, error })
    continue
  }
  printCase(result)
  results.push(result)
}

const dir = path.join(import.meta.dirname, "..", "results")
fs.mkdirSync(dir, { recursive: true })
const file = path.join(dir, "latest.json")
fs.writeFileSync(
  file,
  JSON.stringify({ date: new Date().toISOString(), node: process.version, items, repeats, results, failures }, null, 2) + "\n"
)
console.log(`\nresults: ${path.relative(process.cwd(), file)}`)
if (failures.length > 0) {
  console.error(`${failures.length} case(s) failed: ${failures.map((f) => f.id).join(", ")}`)
  process.exitCode = 1
}
