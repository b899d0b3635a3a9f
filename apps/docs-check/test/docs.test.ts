/**
 * Type-checked documentation: every TypeScript block of the docs compiles
 * against the packages, imported as a user imports them (`@weir/core`,
 * `@weir/windowing`, …, `weir` for the command line).
 *
 * What is checked
 * - ```ts (also ```typescript, ```mts) fences of `README.md`,
 *   `packages/*\/README.md` and `apps/*\/README.md`;
 * - ```ts fences under an `@example` tag in the TSDoc comments of
 *   `packages/*\/src/**\/*.ts` (comment stars removed; `*\/` reads as the
 *   end-of-comment characters it escapes).
 * Other fences (```sh, ```json, plain ```) are not TypeScript and are not
 * checked. A TypeScript block that is wrong on purpose opts out with
 * ```ts nocheck; nothing else does.
 *
 * Modules and fragments
 * - A block with `import` lines of its own is a complete module: it is
 *   checked exactly as written, with no prelude. It declares everything it
 *   uses; for "your dataflow", write `declare const flow: Dataflow` (with
 *   `type Dataflow` imported).
 * - A block without imports is a fragment. It gets, as imports, the exports
 *   of (first match of a name wins, and names the block declares itself are
 *   left out):
 *   1. for a TSDoc example, its own source file (so examples of internal
 *      helpers see them);
 *   2. the package the documentation belongs to (`@weir/windowing` for
 *      `packages/windowing/…`; `weir` for `packages/cli/…`);
 *   3. `@weir/core`, then `@weir/testing`;
 *   4. `Effect` from `effect`.
 *   and the ambient prelude of `src/prelude.ts`, the placeholders the docs
 *   use throughout:
 *     declare const flow: Dataflow
 *     declare const nums: Stream<number>
 *     declare const words: Stream<string>
 *     declare const lines: Stream<string>
 *     declare const keyed: KeyedStream<number>
 *     import { expect } from "vitest"     (for the testing helpers' examples)
 *   Anything else a fragment needs it declares itself, e.g.
 *   `declare const clicks: KeyedStream<Click>`. The prelude stays this
 *   small: fix the docs rather than growing it to hide an error.
 *
 * How
 * All blocks are checked in ONE `ts.Program` (one virtual file per block,
 * under `apps/docs-check/blocks/`, never written to disk), with the compiler
 * options of `tsconfig.base.json` — strict, `exactOptionalPropertyTypes`,
 * NodeNext, ESM, the `@weir/source` condition so packages resolve to their
 * sources without a build. Each failing block is reported with `file:line`
 * (of the documentation file) and the compiler's diagnostics.
 *
 * Failures
 * There is no allow-list: every checked block must compile, and each one
 * that does not fails this test (one test per block, named by `file:line`).
 * Fix the example — declare what it uses, correct its types — or, for a
 * block that is wrong on purpose, mark it ```ts nocheck.
 *
 * Running (test/run.test.ts)
 * Every README block that is a complete module (it has `import` lines) is
 * also run, as its own module: written to a temporary file under
 * `apps/docs-check/.run/` (git-ignored, removed afterwards) and run with
 * `node --conditions=@weir/source --import tsx`, in that file's directory, at
 * most two at a time. It must exit with 0 within 60 s. TSDoc examples and
 * fragments are type-checked only.
 * - Output: when the README says what a block prints, it says it as a
 *   ```text fence introduced by a line `Prints:` (or `Prints (a note):`)
 *   right after the block, blank lines around it allowed:
 *       ```ts
 *       …
 *       ```
 *       Prints:
 *       ```text
 *       to: 2
 *       ```
 *   The block's standard output must be exactly those lines (each ended by a
 *   newline). Without a `Prints:` block the output is not compared; leave it
 *   out for output whose order is not deterministic (several workers). A
 *   `Prints:` line that introduces no checked output fails the test.
 * - Opting out: a module block that cannot run here (it needs a broker, a
 *   database, files, or "your dataflow"; or it runs forever) is marked
 *   ```ts norun <reason>; the reason is required, and has no backticks (a
 *   fence's info string cannot hold any; GitHub shows only the language).
 *   `nocheck` blocks are not run either.
 * A failing run is reported at the block's `file:line` with its standard
 * error, whose stack lines are the README's line numbers.
 *
 * Run: `cd apps/docs-check && npx vitest run` (part of `npm test` through nx);
 * `npm run report -w @weir/docs-check` prints every failing block with its
 * diagnostics, runs the README blocks and prints those that fail, and lists
 * the `nocheck` and `norun` blocks.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { checkRepository, formatFailure, repositoryRoot, where } from "../src/check.js"

const report = checkRepository()

describe("documentation blocks", () => {
  it("the compiler setup has no errors", () => {
    expect(report.setupErrors).toEqual([])
  })

  it("every ```ts fence of the READMEs is extracted", () => {
    const readmes = ["README.md"]
    for (const group of ["packages", "apps"]) {
      for (const name of readdirSync(join(repositoryRoot, group))) {
        if (existsSync(join(repositoryRoot, group, name, "README.md"))) readmes.push(`${group}/${name}/README.md`)
      }
    }
    expect(readmes).toContain("packages/core/README.md")
    for (const file of readmes) {
      const fences = readFileSync(join(repositoryRoot, file), "utf8")
        .split("\n")
        .filter((line) => /^\s*```(ts|typescript|mts)\b/.test(line)).length
      expect(report.blocks.filter((b) => b.file === file).length, file).toBe(fences)
    }
  })

  for (const result of report.results) {
    if (result.mode === "nocheck") continue
    it(`${where(result.block)} (${result.block.kind} ${result.mode}) type-checks`, () => {
      if (result.diagnostics.length > 0) expect.fail(`\n${formatFailure(result)}`)
    })
  }
})
