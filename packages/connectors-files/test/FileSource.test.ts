/** FileSource: the catalogue's file cases (test_files.py), line rules, big inputs and continuation. */
import { EOF } from "@weir/core"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { FileSource } from "../src/index.js"
import { openLinePartition } from "../src/internal/LineReader.js"
import { collect, drain, fixture, nextItems, onlyPart, tmpDir, tmpFile } from "./helpers.js"

describe("FileSource (test_files.py)", () => {
  it("emits the lines without their newline", async () => {
    expect(await collect(new FileSource(fixture("dir_input/partition-1.txt")))).toEqual(["one1", "one2", "one3", "one4", "one5", "one6"])
  })

  it("keeps blank lines", async () => {
    expect(await collect(new FileSource(fixture("blank-lines.txt")))).toEqual(["one", "", "two", "", "", "three", "four", "", "five"])
  })

  it("resumes from its snapshot: the offset after the last line emitted", async () => {
    const file = fixture("dir_input/partition-1.txt")
    const source = new FileSource(file, { batchSize: 1, getFsId: () => "SHARED" })
    expect(source.listParts()).toEqual([`SHARED::${file}`])
    const p = await onlyPart(source)
    expect(await nextItems(p)).toEqual(["one1"])
    expect(await nextItems(p)).toEqual(["one2"])
    const snap = p.snapshot()
    expect(snap).toBe(10)
    expect(await nextItems(p)).toEqual(["one3"])
    expect(await nextItems(p)).toEqual(["one4"])
    await p.close?.()
    const resumed = await onlyPart(source, snap)
    expect(resumed.snapshot()).toBe(snap)
    expect(await drain(resumed)).toEqual([["one3"], ["one4"], ["one5"], ["one6"]])
    expect(resumed.snapshot()).toBe(fs.statSync(file).size)
    await resumed.close?.()
  })
})

describe("FileSource partitions", () => {
  it("are keyed by the hex device id of the file's directory by default", () => {
    const file = fixture("blank-lines.txt")
    const dev = fs.statSync(path.dirname(file)).dev.toString(16)
    expect(new FileSource(file).listParts()).toEqual([`0x${dev}::${file}`])
  })

  it("refuses a filesystem id containing '::'", () => {
    expect(() => new FileSource(fixture("blank-lines.txt"), { getFsId: () => "a::b" }).listParts()).toThrow(`can't contain "::"`)
  })

  it("refuses to resume a partition of another path", async () => {
    const source = new FileSource(fixture("blank-lines.txt"))
    await expect(source.buildPart("test_df.inp", "SHARED::/elsewhere.txt", 3)).rejects.toThrow("belongs to another file")
  })

  it("refuses a batch size that is not a positive integer", () => {
    expect(() => new FileSource("x", { batchSize: 0 })).toThrow("batchSize must be a positive integer")
    expect(() => new FileSource("x", { batchSize: 1.5 })).toThrow("batchSize must be a positive integer")
  })

  it("hand batches over synchronously; when a read is needed, a Promise of no items settles once it is done", async () => {
    const file = tmpFile("sync.txt", "a\nb\nc\nd\ne\n")
    const p = await onlyPart(new FileSource(file, { batchSize: 2 }))
    const first = p.nextBatch()
    expect(first).toBeInstanceOf(Promise)
    expect(p.snapshot()).toBe(0)
    expect(await first).toEqual([])
    expect(p.nextAwake?.()?.getTime()).toBeLessThanOrEqual(Date.now()) // poll again right away
    expect(p.snapshot()).toBe(0) // the offset moves only when items are handed over
    expect(p.nextBatch()).toEqual(["a", "b"])
    expect(p.snapshot()).toBe(4)
    expect(p.nextBatch()).toEqual(["c", "d"])
    expect(await p.nextBatch()).toEqual([]) // the read ahead has not seen the end of the file yet
    expect(p.nextBatch()).toEqual(["e"]) // the last, short batch
    expect(p.nextBatch()).toBe(EOF)
    expect(p.snapshot()).toBe(10)
    await p.close?.()
  })
})

describe("line rules", () => {
  it("strips the \\r of \\r\\n, keeps a lone \\r inside a line, and keeps a last line without a newline", async () => {
    const file = tmpFile("crlf.txt", "one\r\ntwo\r\n\r\nthree\rstill three\nlast")
    expect(await collect(new FileSource(file))).toEqual(["one", "two", "", "three\rstill three", "last"])
  })

  it("an empty file has no lines; a file of one newline has one blank line", async () => {
    expect(await collect(new FileSource(tmpFile("empty.txt", "")))).toEqual([])
    expect(await collect(new FileSource(tmpFile("nl.txt", "\n")))).toEqual([""])
  })

  it("decodes UTF-8 correctly wherever the chunk boundaries fall, with exact offsets", async () => {
    const lines = ["héllo wörld", "😀 emoji 😀", "", "日本語のテキスト", "plain ascii", "ﬁn\r", "x"]
    const content = lines.map((l) => `${l}\n`).join("")
    const file = tmpFile("utf8.txt", content)
    const expected = ["héllo wörld", "😀 emoji 😀", "", "日本語のテキスト", "plain ascii", "ﬁn", "x"]
    const offsets: Array<number> = []
    let at = 0
    for (const l of lines) offsets.push((at += Buffer.byteLength(`${l}\n`)))
    for (let chunk = 1; chunk <= 24; chunk++) {
      const p = await openLinePartition(file, 0, 1, chunk)
      const got: Array<string> = []
      const snaps: Array<number> = []
      for (const [line] of await drainWithSnapshots(p, snaps)) got.push(line!)
      expect(got, `chunk size ${chunk}`).toEqual(expected)
      expect(snaps, `chunk size ${chunk}`).toEqual(offsets)
      await p.close()
    }
  })

  it("a 4-byte character and a \\r\\n across the 1 MiB chunk boundary", async () => {
    const filler = "x".repeat((1 << 20) - 2)
    const file = tmpFile("boundary.txt", `${filler}😀\r\nsecond é\r\nlast without newline`)
    expect(await collect(new FileSource(file))).toEqual([`${filler}😀`, "second é", "last without newline"])
  })

  it("resuming at each line's offset gives the rest of the file, for multi-byte text too", async () => {
    const lines = ["α", "ββ", "", "γγγ😀", "d"]
    const file = tmpFile("resume-utf8.txt", lines.join("\n") + "\n")
    let offset = 0
    for (let i = 0; i <= lines.length; i++) {
      const p = await openLinePartition(file, offset, 100, 3)
      expect((await drain(p)).flat()).toEqual(lines.slice(i))
      await p.close()
      if (i < lines.length) offset += Buffer.byteLength(`${lines[i]}\n`)
    }
  })
})

describe("big inputs", () => {
  it("1 MB lines, and lines longer than a chunk", async () => {
    const big = "b".repeat(1_000_000)
    const huge = "h".repeat(3 * (1 << 20) + 17)
    const file = tmpFile("big-lines.txt", `${big}\nshort\n${huge}\n${big}é`)
    const out = await collect(new FileSource(file, { batchSize: 2 }))
    expect(out.map((l) => l.length)).toEqual([1_000_000, 5, huge.length, 1_000_001])
    expect(out[2]).toBe(huge)
    expect(out[3]).toBe(`${big}é`)
  })

  it("very long lines make smaller batches rather than huge ones", async () => {
    const line = "L".repeat(3 << 20)
    const file = tmpFile("long.txt", `${line}\n${line}\n${line}\n${line}\n`)
    const p = await onlyPart(new FileSource(file, { batchSize: 1000 }))
    const sizes = (await drain(p)).map((b) => b.length)
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(4)
    expect(Math.max(...sizes)).toBeLessThan(4)
    await p.close?.()
  })

  it("a 40 MB file of 400,000 lines", async () => {
    const file = path.join(tmpDir(), "large.txt")
    const fd = fs.openSync(file, "w")
    const line = (i: number) => `line ${i} ${"z".repeat(88 - String(i).length)}`
    for (let start = 0; start < 400_000; start += 10_000) {
      let chunk = ""
      for (let i = start; i < start + 10_000; i++) chunk += `${line(i)}\n`
      fs.writeSync(fd, chunk)
    }
    fs.closeSync(fd)
    const out = await collect(new FileSource(file))
    expect(out.length).toBe(400_000)
    for (const i of [0, 1, 9_999, 10_000, 123_456, 399_999]) expect(out[i]).toBe(line(i))
    expect(out.every((l) => l.length === 94)).toBe(true)
  }, 60_000)
})

describe("continuation", () => {
  it("a partition resumed from its end-of-file snapshot reads only what was appended since", async () => {
    const file = tmpFile("grow.txt", "a\nb\n")
    const source = new FileSource(file)
    const p = await onlyPart(source)
    expect((await drain(p)).flat()).toEqual(["a", "b"])
    const end = p.snapshot()
    await p.close?.()
    const again = await onlyPart(source, end)
    expect(await drain(again)).toEqual([])
    await again.close?.()
    fs.appendFileSync(file, "c\nd\n")
    const more = await onlyPart(source, end)
    expect((await drain(more)).flat()).toEqual(["c", "d"])
    await more.close?.()
  })
})

/** Drains a batch-size-1 partition, recording the snapshot after each batch. */
const drainWithSnapshots = async (
  p: { nextBatch(): unknown; snapshot(): number },
  snaps: Array<number>
): Promise<Array<Array<string>>> => {
  const out: Array<Array<string>> = []
  for (;;) {
    const b = (await p.nextBatch()) as Array<string> | typeof EOF
    if (b === EOF) return out
    if (b.length === 0) continue
    out.push(b)
    snaps.push(p.snapshot())
  }
}
