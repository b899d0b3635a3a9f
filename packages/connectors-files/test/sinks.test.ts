/** FileSink and DirSink: the catalogue's output cases (test_files.py), truncation, natural order. */
import { Dataflow, op, runMain, type StatefulSinkPartition, StdOutSink } from "@weir/core"
import { TestingSource } from "@weir/testing"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it, vi } from "vitest"
import { DirSink, FileSink } from "../src/index.js"
import { tmpDir } from "./helpers.js"

type Keyed = readonly [string, string]

const runInto = async (items: Array<Keyed>, sink: FileSink | DirSink): Promise<void> => {
  const flow = new Dataflow("test_df")
  op.input("inp", flow, new TestingSource(items)).then(op.output, "out", sink)
  await runMain(flow)
}

const part = async (sink: FileSink | DirSink, name: string, resume?: number) =>
  (await sink.buildPart("test_df.out", name, resume)) as StatefulSinkPartition<string, number>

describe("FileSink and DirSink (test_files.py)", () => {
  it("FileSink writes the values of keyed items, one per line", async () => {
    const file = path.join(tmpDir(), "out.txt")
    await runInto([["1", "1"], ["2", "2"], ["3", "3"]], new FileSink(file))
    expect(fs.readFileSync(file, "utf8")).toBe("1\n2\n3\n")
  })

  it("DirSink routes each key to the file assignFile picks", async () => {
    const dir = tmpDir()
    await runInto([["0", "0"], ["1", "1"], ["2", "2"]], new DirSink(dir, 3, { assignFile: Number }))
    for (const i of [0, 1, 2]) expect(fs.readFileSync(path.join(dir, `part_${i}`), "utf8")).toBe(`${i}\n`)
  })

  it("a FileSink partition resumed from a snapshot cuts off what was written after it", async () => {
    const file = path.join(tmpDir(), "out.txt")
    const sink = new FileSink(file)
    const p = await part(sink, file)
    await p.writeBatch(["one1", "one2", "one3"])
    const snap = p.snapshot()
    await p.writeBatch(["one4"])
    await p.close?.()
    const resumed = await part(sink, file, snap)
    expect(resumed.snapshot()).toBe(snap)
    await resumed.writeBatch(["two4", "two5"])
    await resumed.close?.()
    expect(fs.readFileSync(file, "utf8")).toBe("one1\none2\none3\ntwo4\ntwo5\n")
  })
})

describe("file sinks", () => {
  it("a fresh run empties an existing file at its first write", async () => {
    const file = path.join(tmpDir(), "out.txt")
    fs.writeFileSync(file, "old contents\n")
    await runInto([["k", "new"]], new FileSink(file))
    expect(fs.readFileSync(file, "utf8")).toBe("new\n")
  })

  it("a run that writes nothing leaves the file alone (partitions are built on first write)", async () => {
    const file = path.join(tmpDir(), "out.txt")
    fs.writeFileSync(file, "old contents\n")
    await runInto([], new FileSink(file))
    expect(fs.readFileSync(file, "utf8")).toBe("old contents\n")
  })

  it("end is written after every value; the snapshot counts bytes, not characters", async () => {
    const file = path.join(tmpDir(), "out.txt")
    const sink = new FileSink(file, { end: "\r\n" })
    const p = await part(sink, file)
    await p.writeBatch(["é", "😀", ""])
    expect(p.snapshot()).toBe(2 + 2 + 4 + 2 + 2)
    await p.writeBatch([])
    expect(p.snapshot()).toBe(12)
    await p.close?.()
    expect(fs.readFileSync(file, "utf8")).toBe("é\r\n😀\r\n\r\n")
  })

  it("fsync can be turned off", async () => {
    const file = path.join(tmpDir(), "out.txt")
    await runInto([["k", "a"], ["k", "b"]], new FileSink(file, { fsync: false }))
    expect(fs.readFileSync(file, "utf8")).toBe("a\nb\n")
  })

  it("DirSink sorts file names naturally: assignFile 10 is part_10, not part_2", async () => {
    const dir = tmpDir()
    const items = Array.from({ length: 12 }, (_, i): Keyed => [String(i), `v${i}`])
    await runInto(items, new DirSink(dir, 12, { assignFile: Number }))
    for (let i = 0; i < 12; i++) expect(fs.readFileSync(path.join(dir, `part_${i}`), "utf8")).toBe(`v${i}\n`)
  })

  it("DirSink routes by a stable hash of the key by default: a key's values stay together, in order", async () => {
    const dir = tmpDir()
    const items: Array<Keyed> = []
    for (let i = 0; i < 200; i++) items.push([`key${i % 7}`, `key${i % 7}:${i}`])
    await runInto(items, new DirSink(dir, 4, { fileNamer: (i, n) => `out-${i}-of-${n}.txt` }))
    const files = fs.readdirSync(dir).sort()
    expect(files.every((f) => /^out-\d-of-4\.txt$/.test(f))).toBe(true)
    const seen = new Map<string, string>()
    let total = 0
    for (const f of files) {
      const lines = fs.readFileSync(path.join(dir, f), "utf8").split("\n").slice(0, -1)
      total += lines.length
      for (const l of lines) {
        const key = l.split(":")[0]!
        expect(seen.get(key) ?? f).toBe(f)
        seen.set(key, f)
      }
    }
    expect(total).toBe(200)
    expect(seen.size).toBe(7)
  })

  it("DirSink refuses duplicate file names and a bad file count", () => {
    expect(() => new DirSink(tmpDir(), 2, { fileNamer: () => "same" })).toThrow("gives the name `same` to two files")
    expect(() => new DirSink(tmpDir(), 0)).toThrow("fileCount must be a positive integer")
  })
})

describe("StdOutSink (test_stdio.py)", () => {
  it("writes each item and a newline", async () => {
    let captured = ""
    const spy = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
      captured += String(chunk)
      return true
    })
    try {
      const flow = new Dataflow("test_df")
      op.input("inp", flow, new TestingSource(["a", "b"])).then(op.output, "out", new StdOutSink())
      await runMain(flow)
    } finally {
      spy.mockRestore()
    }
    expect(captured).toBe("a\nb\n")
  })
})
