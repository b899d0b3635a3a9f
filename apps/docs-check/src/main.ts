/**
 * `npm run report -w @weir/docs-check`: prints every documentation block
 * that does not type-check, with `file:line` and the compiler's message, then
 * a count of the blocks; exits with 1 when any block fails.
 *
 * @since 0.1.0
 */
import { checkRepository, formatFailure } from "./check.js"

const report = checkRepository()
const failing = report.results.filter((r) => r.diagnostics.length > 0)
for (const error of report.setupErrors) console.log(`setup: ${error}`)
for (const r of failing) console.log(`${formatFailure(r)}\n`)
const nocheck = report.results.filter((r) => r.mode === "nocheck")
console.log(
  `${report.results.length} blocks: ${report.results.length - failing.length - nocheck.length} compile, ` +
    `${failing.length} fail, ${nocheck.length} opted out (nocheck)`
)
for (const r of nocheck) console.log(`  nocheck: ${r.block.file}:${r.block.line}`)
process.exitCode = failing.length > 0 || report.setupErrors.length > 0 ? 1 : 0
