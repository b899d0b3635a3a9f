/** Every failure is an error that names the step and the path. */
import { Dataflow, type FixedPartitionedSource, op, type WeirRuntimeError } from "@weir/core"
import { TestingSink } from "@weir/testing"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { CSVSource, DirSink, DirSource, FileConnectorError, FileSink, FileSource } from "../src/index.js"
import { expectRunError, failingOutput, fixture, onlyPart, tmpDir, tmpFile } from "./helpers.js"

/** Runs `input → TestingSink` and returns the error the run failed with. */
const failingInput = async <X>(source: FixedPartitionedSource<X, number>): Promise<WeirRuntimeError> => {
  const flow = new Dataflow("test_df")
  op.input("inp", flow, source).then(op.output, "out", new TestingSink())
  return expectRunError(flow)
}

describe("input errors", () => {
  it("a missing file", async () => {
    const err = await failingInput(new FileSource("/nope/missing.txt"))
    expect(err.message).toContain("'test_df.inp'")
    expect(err.message).toContain("input file `/nope/missing.txt` does not exist")
    expect(err.cause).toBeInstanceOf(FileConnectorError)
    expect((err.cause as FileConnectorError).path).toBe("/nope/missing.txt")
  })

  it("a directory given as a file", async () => {
    const dir = fixture("dir_input")
    const err = await failingInput(new FileSource(dir))
    expect(err.message).toContain("'test_df.inp'")
    expect(err.message).toContain(`input file \`${dir}\` is a directory; use \`DirSource\``)
    const csvErr = await failingInput(new CSVSource(dir))
    expect(csvErr.message).toContain(`input file \`${dir}\` is a directory`)
  })

  it("a file that vanishes between listing and reading", async () => {
    const file = tmpFile("soon-gone.txt", "a\n")
    const source = new FileSource(file)
    const build = source.buildPart.bind(source)
    source.buildPart = (stepId, part, resume) => {
      fs.rmSync(file)
      return build(stepId, part, resume)
    }
    const err = await failingInput(source)
    expect(err.message).toContain("'test_df.inp'")
    expect(err.message).toContain(`input file \`${file}\` does not exist (any more)`)
  })

  it("a file of a DirSource that vanishes, and a directory removed after construction", async () => {
    const dir = tmpDir()
    fs.writeFileSync(path.join(dir, "a.txt"), "a\n")
    const source = new DirSource(dir)
    const build = source.buildPart.bind(source)
    source.buildPart = (stepId, part, resume) => {
      fs.rmSync(path.join(dir, "a.txt"))
      return build(stepId, part, resume)
    }
    expect((await failingInput(source)).message).toContain(`input file \`${path.join(dir, "a.txt")}\` does not exist`)
    fs.rmSync(dir, { recursive: true })
    const err = await failingInput(source)
    expect(err.message).toContain(`input directory \`${dir}\` does not exist`)
  })

  it.skipIf(process.getuid?.() === 0)("a file without read permission", async () => {
    const file = tmpFile("secret.txt", "a\n")
    fs.chmodSync(file, 0o000)
    const err = await failingInput(new FileSource(file))
    expect(err.message).toContain(`can't open input file \`${file}\`: permission denied`)
  })

  it("a file shorter than the offset being resumed from", async () => {
    const file = tmpFile("short.txt", "a\n")
    await expect(onlyPart(new FileSource(file), 100)).rejects.toThrow(
      `input file \`${file}\` has 2 bytes, fewer than the 100 read before the snapshot being resumed from`
    )
  })

  it("a snapshot that is not a byte offset", async () => {
    await expect(onlyPart(new FileSource(fixture("blank-lines.txt")), "x" as never)).rejects.toThrow("should be a byte offset")
  })

  it("a CSV row that does not fit the header names the file", async () => {
    const file = tmpFile("bad.csv", "a,b\n1,2\n3,4,5\n")
    const err = await failingInput(new CSVSource(file))
    expect(err.message).toContain("'test_df.inp'")
    expect(err.message).toContain(`can't parse CSV file \`${file}\` after byte 8`)
  })
})

describe("output errors", () => {
  it("a FileSink directory that does not exist", async () => {
    const err = await failingOutput(new FileSink("/no/such/dir/out.txt"))
    expect(err.message).toContain("'test_df.out'")
    expect(err.message).toContain("output directory `/no/such/dir` does not exist")
  })

  it("a DirSink directory that does not exist", async () => {
    const err = await failingOutput(new DirSink("/no/such/dir", 2))
    expect(err.message).toContain("'test_df.out'")
    expect(err.message).toContain("output directory `/no/such/dir` does not exist")
  })

  it("a DirSink 'directory' that is a file", async () => {
    const file = tmpFile("file", "")
    expect((await failingOutput(new DirSink(file, 2))).message).toContain(`output directory \`${file}\` is not a directory`)
  })

  it("a FileSink path that is a directory", async () => {
    const dir = tmpDir()
    const err = await failingOutput(new FileSink(dir))
    expect(err.message).toContain("'test_df.out'")
    expect(err.message).toContain(`output file \`${dir}\` is a directory`)
  })

  it("a value that is not a string", async () => {
    const file = path.join(tmpDir(), "out.txt")
    const err = await failingOutput(new FileSink(file), [["k", 42]])
    expect(err.message).toContain("'test_df.out'")
    expect(err.message).toContain(`file sinks write strings, and the value of item 0 of this batch for \`${file}\` is a \`number\``)
  })

  it("an output file shorter than its snapshot", async () => {
    const file = tmpFile("out.txt", "abc\n")
    await expect(new FileSink(file).buildPart("test_df.out", file, 100)).rejects.toThrow(
      `output file \`${file}\` has 4 bytes, fewer than the 100 its snapshot recorded`
    )
  })
})
