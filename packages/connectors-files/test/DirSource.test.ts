/** DirSource: the catalogue's directory cases (test_files.py) and glob matching. */
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { DirSource } from "../src/index.js"
import { compileGlob } from "../src/internal/glob.js"
import { collect, fixture, tmpDir } from "./helpers.js"

describe("DirSource (test_files.py)", () => {
  it("reads every file", async () => {
    const out = await collect(new DirSource(fixture("dir_input")))
    for (const line of ["one1", "two1", "three1", "four1", "five1"]) expect(out).toContain(line)
    expect(out.length).toBe(30)
  })

  it("refuses a missing directory at construction", () => {
    const missing = fixture("bluster")
    expect(() => new DirSource(missing)).toThrow(`input directory \`${missing}\` does not exist`)
  })

  it("refuses a file at construction", () => {
    const file = fixture("dir_input/partition-1.txt")
    expect(() => new DirSource(file)).toThrow(`input directory \`${file}\` is not a directory`)
  })
})

describe("DirSource partitions", () => {
  it("one per file, keyed '<fsId>::<relative path>', in path order", () => {
    const source = new DirSource(fixture("dir_input"), { getFsId: () => "SHARED" })
    expect(source.listParts()).toEqual([1, 2, 3, 4, 5].map((i) => `SHARED::partition-${i}.txt`))
  })

  it("each file keeps its own line order", async () => {
    const out = await collect(new DirSource(fixture("dir_input"), { batchSize: 2 }))
    for (const word of ["one", "two", "three", "four", "five"]) {
      expect(out.filter((l) => l.startsWith(word) && /\d$/.test(l))).toEqual([1, 2, 3, 4, 5, 6].map((i) => `${word}${i}`))
    }
  })

  it("hundreds of files at once share a few read buffers", async () => {
    const dir = tmpDir()
    const expected: Array<string> = []
    for (let f = 0; f < 300; f++) {
      const lines = Array.from({ length: 5 }, (_, i) => `f${f}-l${i}`)
      expected.push(...lines)
      fs.writeFileSync(path.join(dir, `file-${f}.txt`), lines.join("\n") + "\n")
    }
    const out = await collect(new DirSource(dir, { batchSize: 2 }))
    expect(out.slice().sort()).toEqual(expected.slice().sort())
    const ofFile7 = out.filter((l) => l.startsWith("f7-"))
    expect(ofFile7).toEqual(["f7-l0", "f7-l1", "f7-l2", "f7-l3", "f7-l4"])
  })

  it("an empty directory, or one with no matching file, has no partitions", async () => {
    const dir = tmpDir()
    expect(new DirSource(dir).listParts()).toEqual([])
    expect(await collect(new DirSource(dir))).toEqual([])
  })
})

describe("globs", () => {
  const tree = (): string => {
    const dir = tmpDir()
    fs.mkdirSync(path.join(dir, "a/b"), { recursive: true })
    for (const [file, text] of [
      ["top.log", "top\n"],
      [".hidden.log", "hidden\n"],
      ["notes.txt", "notes\n"],
      ["a/mid.log", "mid\n"],
      ["a/b/deep.log", "deep\n"],
      ["a/b/x1.csv", "x1\n"],
      ["a/b/x2.csv", "x2\n"],
      ["a/b/xa.csv", "xa\n"]
    ]) fs.writeFileSync(path.join(dir, file), text)
    fs.symlinkSync(path.join(dir, "notes.txt"), path.join(dir, "link.txt"))
    fs.symlinkSync(path.join(dir, "nowhere"), path.join(dir, "dangling.txt"))
    return dir
  }
  const read = async (dir: string, glob: string) => (await collect(new DirSource(dir, { glob }))).sort()

  it("'*' is every file directly in the directory, dot files and links to files included", async () => {
    expect(await read(tree(), "*")).toEqual(["hidden", "notes", "notes", "top"])
  })

  it("'*.log', '**/*.log', 'a/*', 'a/**', '?' and sets", async () => {
    const dir = tree()
    expect(await read(dir, "*.log")).toEqual(["hidden", "top"])
    expect(await read(dir, "**/*.log")).toEqual(["deep", "hidden", "mid", "top"])
    expect(await read(dir, "a/*")).toEqual(["mid"])
    expect(await read(dir, "a/**")).toEqual(["deep", "mid", "x1", "x2", "xa"])
    expect(await read(dir, "a/**/x?.csv")).toEqual(["x1", "x2", "xa"])
    expect(await read(dir, "**/x[0-9].csv")).toEqual(["x1", "x2"])
    expect(await read(dir, "**/x[!0-9].csv")).toEqual(["xa"])
  })

  it("compiles special characters literally", () => {
    const g = compileGlob("f(1)+.txt")
    expect(g.regexp.test("f(1)+.txt")).toBe(true)
    expect(g.regexp.test("f(1)+xtxt")).toBe(false)
    expect(compileGlob("[abc").regexp.test("[abc")).toBe(true)
    expect(compileGlob("[]]").regexp.test("]")).toBe(true)
    expect(compileGlob("*").maxDepth).toBe(1)
    expect(compileGlob("a/**/b").maxDepth).toBe(Infinity)
  })
})
