/**
 * Run documentation: every README block that is a complete module runs with
 * tsx, exits with 0, and prints exactly what its `Prints:` block says; a
 * block that cannot run here says why with ```ts norun <reason>. The rules
 * are in the header of `docs.test.ts` ("Running"). One test per block, named
 * by `file:line`.
 */
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { repositoryRoot, where } from "../src/check.js"
import { collectBlocks, PRINTS_LINE } from "../src/extract.js"
import { createRunDir, planRuns, removeRunDir, runBlocks, runFailure } from "../src/run.js"

const TIMEOUT_MS = 60_000
const blocks = collectBlocks(repositoryRoot)
const plan = planRuns(blocks)
const dir = createRunDir()
const started = Date.now()
const runs = runBlocks(plan.run, { dir, concurrency: 2, timeoutMs: TIMEOUT_MS })

afterAll(async () => {
  await Promise.allSettled(runs)
  removeRunDir(dir)
  console.log(
    `docs-check: ran ${plan.run.length} README blocks (${plan.run.filter((b) => b.prints !== undefined).length} with checked output) ` +
      `in ${((Date.now() - started) / 1000).toFixed(1)} s; ${plan.norun.length} norun`
  )
})

describe("README blocks that are complete modules", () => {
  it("are found: the quick starts run and check their output", () => {
    const ran = plan.run.map(where)
    expect(ran).toContain("README.md:10")
    expect(ran).toContain("packages/core/README.md:14")
    expect(plan.run.find((b) => b.file === "README.md" && b.line === 10)?.prints).toBeDefined()
  })

  it("each norun block gives its reason", () => {
    for (const { block, reason } of plan.norun) {
      expect(reason, `${where(block)}: \`\`\`ts norun needs a reason`).not.toBe("")
      expect(reason, `${where(block)}: a fence's info string cannot hold backticks`).not.toContain("`")
    }
  })

  it("every `Prints:` line introduces the checked output of a block that runs", () => {
    const files = [...new Set(blocks.filter((b) => b.kind === "markdown").map((b) => b.file))]
    for (const file of files) {
      const text = readFileSync(join(repositoryRoot, file), "utf8").split(/\r?\n/)
      const printsLines = text.flatMap((line, i) => (PRINTS_LINE.test(line) ? [i + 1] : []))
      const checked = plan.run.flatMap((b) => (b.file === file && b.prints !== undefined ? [b.prints.printsLine] : []))
      const unchecked = blocks.filter((b) => b.file === file && b.prints !== undefined && !plan.run.includes(b))
      expect(unchecked.map(where), `${file}: output stated for blocks that do not run`).toEqual([])
      expect(
        printsLines.filter((line) => !checked.includes(line)),
        `${file}: \`Prints:\` lines that do not follow a \`\`\`ts block that runs, or are not followed by a \`\`\`text fence`
      ).toEqual([])
    }
  })

  plan.run.forEach((block, i) => {
    const what = block.prints === undefined ? "runs and exits with 0" : "runs and prints what its README says"
    it(`${where(block)} ${what}`, async () => {
      const failure = runFailure(await runs[i])
      if (failure !== undefined) expect.fail(`\n${failure}`)
    }, TIMEOUT_MS + 30_000)
  })
})
