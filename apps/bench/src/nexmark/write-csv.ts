/**
 * Write the bench's Nexmark events to a CSV file (the format of
 * `writeEventsCsv`), so another engine can run exactly the same events:
 *
 * ```sh
 * cd apps/bench && npx tsx src/nexmark/write-csv.ts /tmp/nexmark.csv [events=1000000] [seed=42]
 * ```
 */
import { generateEvents, writeEventsCsv } from "./generator.js"

const [path, countArg = "1000000", seedArg = "42"] = process.argv.slice(2)
const count = Number(countArg.replaceAll("_", ""))
const seed = Number(seedArg)
if (path === undefined || !Number.isSafeInteger(count) || count <= 0 || !Number.isSafeInteger(seed)) {
  console.error(`usage: tsx src/nexmark/write-csv.ts OUT.csv [events, a positive integer] [seed, an integer]; got ${process.argv.slice(2).join(" ")}`)
  process.exit(2)
}
writeEventsCsv(path, generateEvents(count, seed))
console.log(`wrote ${count.toLocaleString("en-US")} events (seed ${seed}) to ${path}`)
