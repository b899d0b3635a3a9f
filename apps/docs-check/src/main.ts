/**
 * `npm run report -w @weir/docs-check`: prints every documentation block
 * that does not type-check, with `file:line` and the compiler's message, then
 * runs the README blocks that are complete modules and prints those that fail
 * or print something else than their `Prints:` block; then counts, and lists
 * the `nocheck` and `norun` blocks. Exits with 1 when any block fails.
 *
 * @since 0.1.0
 */
import { checkRepository, formatFailure, where } from "./check.js"
import { createRunDir, planRuns, removeRunDir, runBlocks, runFailure } from "./run.js"

const report = checkRepository()
const failing = report.results.filter((r) => r.diagnostics.length > 0)
for (const error of report.setupErrors) console.log(`setup: ${error}`)
for (const r of failing) console.log(`${formatFailure(r)}\n`)
const nocheck = report.results.filter((r) => r.mode === "nocheck")
console.log(
  `${report.results.length} blocks: ${report.results.length - failing.length - nocheck.length} compile, ` +
    `${failing.length} fail, ${nocheck.length} opted out (nocheck)`
)
for (const r of nocheck) console.log(`  nocheck: ${where(r.block)}`)

const plan = planRuns(report.blocks)
const dir = createRunDir()
const started = Date.now()
let runFailures = 0
try {
  const results = await Promise.all(runBlocks(plan.run, { dir, concurrency: 2 }))
  for (const result of results) {
    const failure = runFailure(result)
    if (failure !== undefined) {
      runFailures++
      console.log(`\n${failure}`)
    }
  }
} finally {
  removeRunDir(dir)
}
const checked = plan.run.filter((b) => b.prints !== undefined).length
console.log(
  `\n${plan.run.length} README blocks run in ${((Date.now() - started) / 1000).toFixed(1)} s: ` +
    `${plan.run.length - runFailures} pass (${checked} with checked output), ${runFailures} fail, ${plan.norun.length} opted out (norun)`
)
for (const { block, reason } of plan.norun) console.log(`  norun: ${where(block)} — ${reason}`)
process.exitCode = failing.length > 0 || report.setupErrors.length > 0 || runFailures > 0 ? 1 : 0
