/**
 * The runner itself: `Prints:` blocks and `norun` reasons as extracted, which
 * blocks are run, and real runs of small blocks (output compared, a failing
 * block's stack on README lines, the `@weir/source` condition, the temporary
 * directory, a block that never ends).
 */
import { existsSync } from "node:fs"
import { afterAll, describe, expect, it } from "vitest"
import { type DocBlock, markdownBlocks, norunReason } from "../src/extract.js"
import { createRunDir, planRuns, removeRunDir, runBlock, runBlocks, runFailure } from "../src/run.js"

describe("extraction of stated output and norun", () => {
  const text = [
    "```ts", //                         1
    'import { op } from "@weir/core"', // 2
    "```", //                           3
    "", //                              4
    "Prints:", //                       5
    "", //                              6
    "```text", //                       7
    "a", //                             8
    "b", //                             9
    "```", //                           10
    "```ts norun needs a broker", //    11
    'import { op } from "@weir/core"', // 12
    "```", //                           13
    "Prints (in key order):", //        14
    "```text", //                       15
    "c", //                             16
    "```", //                           17
    "```ts", //                         18
    "const x = 1", //                   19
    "```", //                           20
    "Some prose.", //                   21
    "```text", //                       22
    "not output", //                    23
    "```", //                           24
    "```ts", //                         25
    "const y = 1", //                   26
    "```", //                           27
    "Prints:", //                       28
    "```sh", //                         29
    "echo", //                          30
    "```" //                            31
  ].join("\n")
  const blocks = markdownBlocks("README.md", "", text)

  it("takes the ```text fence after a `Prints:` line as the block's output, with its first line", () => {
    expect(blocks.map((b) => [b.line, b.prints])).toEqual([
      [2, { printsLine: 5, line: 8, lines: ["a", "b"] }],
      [12, { printsLine: 14, line: 16, lines: ["c"] }],
      [19, undefined],
      [26, undefined]
    ])
  })

  it("reads the reason after norun", () => {
    expect(blocks.map(norunReason)).toEqual([undefined, "needs a broker", undefined, undefined])
    expect(norunReason({ meta: "norun" })).toBe("")
    expect(norunReason({ meta: "nocheck norun reads in.txt" })).toBe("reads in.txt")
    expect(norunReason({ meta: "norunning" })).toBeUndefined()
  })
})

const block = (line: number, lines: Array<string>, options: { meta?: string; prints?: Array<string>; kind?: DocBlock["kind"] } = {}): DocBlock => ({
  file: "packages/core/README.md",
  line,
  kind: options.kind ?? "markdown",
  lines,
  meta: options.meta ?? "",
  workspace: "packages/core",
  ...(options.prints === undefined ? {} : { prints: { printsLine: line + lines.length + 2, line: line + lines.length + 4, lines: options.prints } })
})

describe("which blocks run", () => {
  it("runs README modules only; norun ones are listed with their reason", () => {
    const module = ['import { op } from "@weir/core"', "op"]
    const blocks = [
      block(1, module),
      block(10, ["const fragment = 1"]),
      block(20, module, { meta: "nocheck" }),
      block(30, module, { meta: "norun needs Kafka" }),
      block(40, module, { kind: "tsdoc" })
    ]
    const plan = planRuns(blocks)
    expect(plan.run).toEqual([blocks[0]])
    expect(plan.norun).toEqual([{ block: blocks[3], reason: "needs Kafka" }])
  })
})

describe("running blocks", () => {
  const printing = [
    'import { Dataflow } from "@weir/core"',
    'console.log(new Dataflow("x").name)',
    'console.log("second")'
  ]
  const blocks = [
    // 0: prints what it says
    block(10, printing, { prints: ["x", "second"] }),
    // 1: prints something else
    block(20, printing, { prints: ["second", "x"] }),
    // 2: throws at its third line, line 32 of the README
    block(30, ['import { op } from "@weir/core"', "void op", 'throw new Error("broken example")']),
    // 3: where it runs and what @weir/core resolves to
    block(40, [
      'import { writeFileSync } from "node:fs"',
      'writeFileSync("left-behind.txt", "x")',
      "console.log(process.cwd())",
      'console.log(import.meta.resolve("@weir/core"))'
    ])
  ]
  // never ends
  const endless = block(50, ['import { op } from "@weir/core"', "void op", "setInterval(() => {}, 1000)"])
  const dir = createRunDir()
  const runs = runBlocks(blocks, { dir, concurrency: 2, timeoutMs: 60_000 })
  const endlessRun = runBlock(endless, { dir, timeoutMs: 3_000 })
  afterAll(async () => {
    await Promise.allSettled([...runs, endlessRun])
    removeRunDir(dir)
  })

  it("passes a block that exits with 0 and prints exactly its stated output", async () => {
    const result = await runs[0]
    expect([result.exitCode, result.stdout]).toEqual([0, "x\nsecond\n"])
    expect(runFailure(result)).toBeUndefined()
  })

  it("fails a block whose output differs, at the line of its `Prints:` block, with both outputs", async () => {
    const failure = runFailure(await runs[1])
    expect(failure).toBeDefined()
    expect(failure!.split("\n").slice(0, 7)).toEqual([
      "packages/core/README.md:27: the block at line 20 does not print what this `Prints:` block says.",
      "expected:",
      "  | second",
      "  | x",
      "actual:",
      "  | x",
      "  | second"
    ])
  })

  it("fails a block that throws, with its stack on the README's lines", async () => {
    const result = await runs[2]
    expect(result.exitCode).toBe(1)
    expect(result.stderr).toContain("Error: broken example")
    expect(result.stderr).toContain("packages/core/README.md:32")
    expect(runFailure(result)).toMatch(/^packages\/core\/README\.md:30: exited with 1; it must exit with 0/)
  })

  it("runs in its own directory, removed afterwards, with @weir/* resolved to their sources", async () => {
    const result = await runs[3]
    expect(runFailure(result)).toBeUndefined()
    const [cwd, core] = result.stdout.trim().split("\n")
    expect(cwd.startsWith(dir)).toBe(true)
    expect(existsSync(cwd)).toBe(false)
    expect(core).toMatch(/\/packages\/core\/src\/index\.ts$/)
  })

  it("kills a block that does not end and says so", async () => {
    const result = await endlessRun
    expect([result.timedOut, result.signal]).toEqual([true, "SIGKILL"])
    expect(runFailure(result)).toMatch(/^packages\/core\/README\.md:50: still running after 3000 ms, so it was killed/)
  })
})
