/**
 * `npm run bench [-- --only=NAME[,NAME] --items=N --repeats=N]`: run the
 * benchmark cases in one process and print ns/item and ratios to each case's
 * baseline. Results also go to apps/bench/results/latest.json.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { keyed, stateless } from "./cases/core.js"
import { recovery } from "./cases/recovery.js"
import { sessionWindows, tumblingWindows } from "./cases/windowing.js"
import { type BenchCase, type CaseResult, printCase, runCase } from "./harness.js"

/** Every case, by the name `--only` takes. Adding a case is one entry here and one file in cases/. */
const CASES: Record<string, BenchCase> = {
  stateless,
  keyed,
  tumbling: tumblingWindows,
  sessions: sessionWindows,
  recovery
}

const arg = (name: string): string | undefined =>
  process.argv.slice(2).find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3)

const items = Number(arg("items") ?? 10_000_000)
const repeats = Number(arg("repeats") ?? 3)
const only = arg("only")?.split(",")
const selected = only ?? Object.keys(CASES)
for (const name of selected) {
  if (!(name in CASES)) {
    console.error(`unknown case '${name}'; cases: ${Object.keys(CASES).join(", ")}`)
    process.exit(2)
  }
}

console.log(`# Weir benchmarks — Node ${process.version}, ${items.toLocaleString("en-US")} items, median of ${repeats}`)
const results: Array<CaseResult> = []
for (const name of selected) {
  const result = await runCase(CASES[name]!, { items, repeats })
  printCase(result)
  results.push(result)
}
const dir = path.join(import.meta.dirname, "..", "results")
fs.mkdirSync(dir, { recursive: true })
fs.writeFileSync(path.join(dir, "latest.json"), JSON.stringify({ node: process.version, items, repeats, results }, null, 2))
