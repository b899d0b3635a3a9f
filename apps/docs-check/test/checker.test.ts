/**
 * The checker itself: extraction of fences from Markdown and TSDoc, where
 * diagnostics land, and the module / fragment rules of `docs.test.ts`.
 */
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { checkBlocks, formatFailure, repositoryRoot } from "../src/check.js"
import { type DocBlock, markdownBlocks, tsdocBlocks } from "../src/extract.js"

describe("extraction", () => {
  it("takes ts fences of Markdown, indented ones too, with their first code line", () => {
    const text = [
      "# Title", //              1
      "```sh", //                2
      "npm install", //          3
      "```", //                  4
      "1. Step:", //             5
      "", //                     6
      "   ```ts", //             7
      "   const a = 1", //       8
      "     .toString()", //     9
      "   ```", //               10
      "```ts nocheck", //        11
      "const b: string = 1", //  12
      "```" //                   13
    ].join("\n")
    const blocks = markdownBlocks("README.md", "", text)
    expect(blocks.map((b) => [b.line, b.lines, b.meta])).toEqual([
      [8, ["const a = 1", "  .toString()"], ""],
      [12, ["const b: string = 1"], "nocheck"]
    ])
  })

  it("takes ts fences under @example of TSDoc, unescaping *\\/, and no others", () => {
    const text = [
      "/**", //                                      1
      " * Not an example:", //                       2
      " * ```ts", //                                 3
      " * notChecked()", //                          4
      " * ```", //                                   5
      " *", //                                       6
      " * @example", //                              7
      " * ```ts", //                                 8
      ' * glob("**\\/*.log")', //                    9
      " * ```", //                                   10
      " * @since 0.1.0", //                          11
      " */", //                                      12
      "export const f = 1", //                       13
      "  /**", //                                    14
      "   * @example", //                            15
      "   * ```ts", //                               16
      "   * f", //                                   17
      "   * ```", //                                 18
      "   */" //                                     19
    ].join("\n")
    const blocks = tsdocBlocks("packages/x/src/a.ts", "packages/x", text)
    expect(blocks.map((b) => [b.line, b.lines])).toEqual([
      [9, ['glob("**/*.log")']],
      [17, ["f"]]
    ])
  })
})

describe("checking", () => {
  const block = (line: number, lines: Array<string>, meta = ""): DocBlock => ({
    file: "packages/core/README.md",
    line,
    kind: "markdown",
    lines,
    meta,
    workspace: "packages/core"
  })
  const blocks: Array<DocBlock> = [
    // 0: a fragment using the prelude and auto-imports, with an error on its second line
    block(10, ["const doubled = op.map(\"double\", nums, (x: number) => x * 2)", "const s: Stream<string> = doubled"]),
    // 1: a module: no prelude, so `flow` is unknown
    block(20, ['import { op } from "@weir/core"', "", 'op.inspect("show", op.input("inp", flow, new TestingSource([1])))']),
    // 2: a module that declares what it uses compiles
    block(30, [
      'import { type Dataflow, op } from "@weir/core"',
      'import { TestingSource } from "@weir/testing"',
      "declare const flow: Dataflow",
      'op.inspect("show", op.input("inp", flow, new TestingSource([1])))'
    ]),
    // 3: a fragment declaring a prelude name and an auto-imported name itself
    block(40, ['const flow = new Dataflow("mine")', "const op = 1", "await runMain(flow)", "export const n: number = op"]),
    // 4: opted out, though wrong
    block(50, ["const wrong: string = 1"], "nocheck"),
    // 5: a TSDoc fragment sees its own source file's exports (`repr` is not exported by `@weir/core`)
    {
      file: "packages/core/src/operators/kernel.ts",
      line: 60,
      kind: "tsdoc",
      lines: ["const shown: string = repr([1, 2])"],
      meta: "",
      workspace: "packages/core"
    },
    // 6: the same line in a README: `repr` is unknown there
    block(70, ["const shown: string = repr([1, 2])"])
  ]
  const report = checkBlocks(repositoryRoot, blocks, join(repositoryRoot, "apps", "docs-check", "blocks"))

  it("has no setup errors", () => {
    expect(report.setupErrors).toEqual([])
  })

  it("places a fragment's error on its line in the documentation file", () => {
    const [result] = report.results
    expect(result.mode).toBe("fragment")
    expect(result.diagnostics.map((d) => [d.line, d.code])).toEqual([[11, 2322]])
    expect(result.diagnostics[0].message).toContain("Stream<number>")
  })

  it("checks a block with imports as a module, without the prelude", () => {
    const result = report.results[1]
    expect(result.mode).toBe("module")
    expect(result.diagnostics.map((d) => [d.line, d.code, d.message])).toEqual([
      [22, 2304, "Cannot find name 'flow'."],
      [22, 2304, "Cannot find name 'TestingSource'."]
    ])
    expect(report.results[2].diagnostics).toEqual([])
  })

  it("leaves out of a fragment's prelude the names it declares", () => {
    expect(report.results[3].mode).toBe("fragment")
    expect(report.results[3].diagnostics).toEqual([])
  })

  it("reports a failing block as file:line with each diagnostic's line, code and message", () => {
    const lines = formatFailure(report.results[0]).split("\n")
    expect(lines[0]).toBe("packages/core/README.md:10 (markdown fragment):")
    expect(lines[1]).toMatch(/^  packages\/core\/README\.md:11:\d+ TS2322: Type 'Stream<number>' is not assignable to type 'Stream<string>'/)
  })

  it("gives a TSDoc fragment the exports of its own source file, and a README fragment not", () => {
    expect(report.results[5].mode).toBe("fragment")
    expect(report.results[5].diagnostics).toEqual([])
    expect(report.results[6].diagnostics.map((d) => [d.line, d.code, d.message])).toEqual([
      [70, 2304, "Cannot find name 'repr'."]
    ])
  })

  it("does not check a nocheck block", () => {
    expect(report.results[4].mode).toBe("nocheck")
    expect(report.results[4].diagnostics).toEqual([])
  })
})
