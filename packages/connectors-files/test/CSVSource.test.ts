/** CSVSource: the catalogue's CSV case (test_files.py), RFC 4180 quoting, options and resuming. */
import * as fs from "node:fs"
import { describe, expect, it } from "vitest"
import { CSVSource, type CSVRow } from "../src/index.js"
import { collect, drain, fixture, nextItems, onlyPart, tmpFile } from "./helpers.js"

describe("CSVSource (test_files.py)", () => {
  it("emits rows as records of strings keyed by the header", async () => {
    const rows = await collect(new CSVSource(fixture("metrics.csv")))
    expect(rows.length).toBe(8)
    expect(rows[0]).toEqual({ index: "0", timestamp: "2022-02-24 11:42:08", value: "0.132", instance: "24ae8d" })
    expect(rows.map((r) => [r.value, r.instance])).toEqual([
      ["0.132", "24ae8d"],
      ["0.066", "c6585a"],
      ["42.652", "ac20cd"],
      ["51.846", "5f5533"],
      ["2.296", "fe7f93"],
      ["1.732", "53ea38"],
      ["91.958", "825cc2"],
      ["0.068", "77c1ca"]
    ])
    for (const r of rows) {
      expect(r.index).toBe("0")
      expect(r.timestamp).toBe("2022-02-24 11:42:08")
    }
  })
})

const QUOTED = 'name,note\r\nada,"hello, world"\r\nbob,"said ""hi"""\r\ncy,"two\r\nlines, ""quoted"""\r\n\r\ndee,plain é\r\n"e,e","last, without newline"'
const QUOTED_ROWS: Array<CSVRow> = [
  { name: "ada", note: "hello, world" },
  { name: "bob", note: 'said "hi"' },
  { name: "cy", note: 'two\r\nlines, "quoted"' },
  { name: "dee", note: "plain é" },
  { name: "e,e", note: "last, without newline" }
]

describe("CSV parsing", () => {
  it("quoted fields hold commas, doubled quotes and newlines; \\r\\n rows; empty lines skipped; a last row without newline", async () => {
    expect(await collect(new CSVSource(tmpFile("quoted.csv", QUOTED)))).toEqual(QUOTED_ROWS)
  })

  it("resumes at every row boundary: the header is read again, then the rest follows", async () => {
    const file = tmpFile("quoted.csv", QUOTED)
    const source = new CSVSource(file, { batchSize: 1 })
    const p = await onlyPart(source)
    const snaps: Array<number> = [p.snapshot()]
    for (let i = 0; i < QUOTED_ROWS.length; i++) {
      expect(await nextItems(p)).toEqual([QUOTED_ROWS[i]])
      snaps.push(p.snapshot())
    }
    expect(await drain(p)).toEqual([])
    await p.close?.()
    expect(snaps[0]).toBe(Buffer.byteLength("name,note\r\n"))
    expect(snaps.at(-1)).toBe(fs.statSync(file).size)
    for (let i = 0; i < snaps.length; i++) {
      const resumed = await onlyPart(source, snaps[i])
      expect(resumed.snapshot()).toBe(snaps[i])
      expect((await drain(resumed)).flat(), `resumed at row ${i}`).toEqual(QUOTED_ROWS.slice(i))
      await resumed.close?.()
    }
  })

  it("takes csv-parse options: delimiter, quote, trim, comment", async () => {
    const file = tmpFile("semi.csv", "# a comment\na; b\n 1 ;'x;y'\n# another\n2;3\n")
    const rows = await collect(new CSVSource(file, { delimiter: ";", quote: "'", trim: true, comment: "#" }))
    expect(rows).toEqual([{ a: "1", b: "x;y" }, { a: "2", b: "3" }])
  })

  it("ignores a byte order mark", async () => {
    expect(await collect(new CSVSource(tmpFile("bom.csv", "\uFEFFa,b\n1,2\n")))).toEqual([{ a: "1", b: "2" }])
  })

  it("a file with only a header, or an empty file, has no rows", async () => {
    expect(await collect(new CSVSource(tmpFile("header.csv", "a,b\n")))).toEqual([])
    expect(await collect(new CSVSource(tmpFile("empty.csv", "")))).toEqual([])
  })

  it("rows bigger than a read chunk", async () => {
    const big = "q".repeat(3 << 20)
    const file = tmpFile("big.csv", `k,v\n1,"${big}\n${big}"\n2,small\n`)
    const rows = await collect(new CSVSource(file))
    expect(rows.map((r) => [r.k, r.v!.length])).toEqual([["1", big.length * 2 + 1], ["2", 5]])
  })

  it("many rows over many chunks keep their order and resume exactly", async () => {
    const rows = Array.from({ length: 50_000 }, (_, i) => ({ id: String(i), text: `row "${i}", with comma\nand newline` }))
    const csv = "id,text\n" + rows.map((r) => `${r.id},"${r.text.replaceAll('"', '""')}"`).join("\n") + "\n"
    const file = tmpFile("many.csv", csv)
    const source = new CSVSource(file, { batchSize: 777 })
    const p = await onlyPart(source)
    const first = [...(await nextItems(p)), ...(await nextItems(p))]
    const snap = p.snapshot()
    await p.close?.()
    const resumed = await onlyPart(source, snap)
    expect([...first, ...(await drain(resumed)).flat()]).toEqual(rows)
    await resumed.close?.()
  })
})
