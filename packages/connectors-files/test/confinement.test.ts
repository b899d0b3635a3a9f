/** DirSink writes only inside its directory: names that lead out of it and symbolic links planted as part files are refused. */
import { Dataflow, op, runMain } from "@weir/core"
import { TestingSource } from "@weir/testing"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { DirSink, FileConnectorError } from "../src/index.js"
import { failingOutput, tmpDir } from "./helpers.js"

const PRECIOUS = Buffer.from("precious data, not the sink's\n")

/** `base/out`, an empty output directory, and `base/outside.txt`, a file next to it the sink must never touch. */
const sandbox = () => {
  const base = tmpDir()
  const dir = path.join(base, "out")
  fs.mkdirSync(dir)
  const outside = path.join(base, "outside.txt")
  fs.writeFileSync(outside, PRECIOUS)
  return { base, dir, outside }
}

const runInto = async (items: Array<readonly [string, string]>, sink: DirSink): Promise<void> => {
  const flow = new Dataflow("test_df")
  op.input("inp", flow, new TestingSource(items)).then(op.output, "out", sink)
  await runMain(flow)
}

const expectUntouched = (file: string) => expect(fs.readFileSync(file)).toEqual(PRECIOUS)

describe("symbolic links planted as part files", () => {
  it("fail the run with an error naming the step and the link, and the file they point to is unchanged", async () => {
    const { dir, outside } = sandbox()
    const link = path.join(dir, "part_0")
    fs.symlinkSync(outside, link)
    const err = await failingOutput(new DirSink(dir, 1))
    expect(err.message).toContain("'test_df.out'")
    expect(err.message).toContain(`found a symbolic link at \`${link}\`, where its part file should be`)
    expect(err.cause).toBeInstanceOf(FileConnectorError)
    expect((err.cause as FileConnectorError).path).toBe(link)
    expectUntouched(outside)
    expect(fs.lstatSync(link).isSymbolicLink()).toBe(true)
  })

  it("are not followed on resume either: the truncation to the snapshot leaves the target alone", async () => {
    const { dir, outside } = sandbox()
    fs.symlinkSync(outside, path.join(dir, "part_0"))
    await expect(new DirSink(dir, 1).buildPart("test_df.out", "part_0", 3)).rejects.toThrow(
      "step 'test_df.out' found a symbolic link"
    )
    expectUntouched(outside)
  })

  it("that dangle do not create their target", async () => {
    const { base, dir } = sandbox()
    const target = path.join(base, "created-by-the-sink.txt")
    fs.symlinkSync(target, path.join(dir, "part_0"))
    expect((await failingOutput(new DirSink(dir, 1))).message).toContain("found a symbolic link")
    expect(fs.existsSync(target)).toBe(false)
  })
})

describe("file names that leave the directory", () => {
  it("fileNamer returning `../x` is refused before anything is opened", async () => {
    const { base, dir } = sandbox()
    const escaped = path.join(base, "x")
    fs.writeFileSync(escaped, PRECIOUS)
    const err = await failingOutput(new DirSink(dir, 1, { fileNamer: () => "../x" }))
    expect(err.message).toContain("'test_df.out'")
    expect(err.message).toContain("refuses the file name `../x` of partition '../x' (from fileNamer(0, 1))")
    expect(err.message).toContain(`it resolves to \`${escaped}\`, outside the output directory`)
    expect(err.message).toContain("change fileNamer")
    expect(err.cause).toBeInstanceOf(FileConnectorError)
    expectUntouched(escaped)
    expect(fs.readdirSync(dir)).toEqual([])
  })

  it("fileNamer returning an absolute path is refused", async () => {
    const { dir, outside } = sandbox()
    const err = await failingOutput(new DirSink(dir, 1, { fileNamer: () => outside }))
    expect(err.message).toContain(`refuses the file name \`${outside}\``)
    expect(err.message).toContain("it is an absolute path")
    expectUntouched(outside)
  })

  it("fileNamer returning a name in a subdirectory that is a symbolic link to elsewhere is refused", async () => {
    const { base, dir } = sandbox()
    const elsewhere = path.join(base, "elsewhere")
    fs.mkdirSync(elsewhere)
    fs.writeFileSync(path.join(elsewhere, "part_0"), PRECIOUS)
    fs.symlinkSync(elsewhere, path.join(dir, "sub"))
    const err = await failingOutput(new DirSink(dir, 1, { fileNamer: () => "sub/part_0" }))
    expect(err.message).toContain("refuses the file name `sub/part_0`")
    expect(err.message).toContain(`leads through a symbolic link to \`${fs.realpathSync(elsewhere)}\`, outside the output directory`)
    expectUntouched(path.join(elsewhere, "part_0"))
    expect(fs.readdirSync(elsewhere)).toEqual(["part_0"])
  })

  it("empty names, names with a NUL character and names of the directory itself are refused", async () => {
    const { dir } = sandbox()
    await expect(new DirSink(dir, 1).buildPart("test_df.out", "", undefined)).rejects.toThrow(
      "DirSink of step 'test_df.out' refuses the file name `` of partition '' (not one of the sink's file names): it is empty"
    )
    expect((await failingOutput(new DirSink(dir, 1, { fileNamer: () => "a\0b" }))).message).toContain("it contains a NUL character")
    for (const name of [".", "sub/.."]) {
      expect((await failingOutput(new DirSink(dir, 1, { fileNamer: () => name }))).message).toContain(
        "it names the output directory itself"
      )
    }
    expect(fs.readdirSync(dir)).toEqual([])
  })

  it("names in a subdirectory, also through a symbolic link that stays inside, and a directory given through a link, are written", async () => {
    const { base, dir } = sandbox()
    fs.mkdirSync(path.join(dir, "real"))
    fs.mkdirSync(path.join(dir, "target"))
    fs.symlinkSync(path.join(dir, "target"), path.join(dir, "alias"))
    const names = ["alias/b", "real/a"] // naturally sorted: assignFile 0 is alias/b
    await runInto([["0", "zero"], ["1", "one"]], new DirSink(dir, 2, { fileNamer: (i) => names[i]!, assignFile: Number }))
    expect(fs.readFileSync(path.join(dir, "target", "b"), "utf8")).toBe("zero\n")
    expect(fs.readFileSync(path.join(dir, "real", "a"), "utf8")).toBe("one\n")

    const linkedDir = path.join(base, "linked-out")
    fs.symlinkSync(dir, linkedDir)
    await runInto([["k", "v"]], new DirSink(linkedDir, 1))
    expect(fs.readFileSync(path.join(dir, "part_0"), "utf8")).toBe("v\n")
  })
})
