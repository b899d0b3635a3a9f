/**
 * Exactly-once across crashes: a flow stopped after any epoch (or failing
 * mid-epoch) and resumed from the recovery store ends with the same output
 * files as an uninterrupted run.
 */
import { Dataflow, FixedPartitionedSink, FixedPartitionedSource, op, runMain } from "@weir/core"
import { initDbDir, RecoveryConfig } from "@weir/recovery"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { CSVSource, type CSVRow, DirSink, DirSource, FileSink, FileSource } from "../src/index.js"
import { AbortingSource, CrashingSink, tmpDir, TrackingSink } from "./helpers.js"

/** The sources as the flows read them: as they are, or aborting the run after `stopAt` items. */
const reading = <X>(source: FixedPartitionedSource<X, number>, stopAt?: number): FixedPartitionedSource<X, number> =>
  stopAt === undefined ? source : new AbortingSource(source, stopAt)

const freshDb = async (): Promise<string> => {
  const db = tmpDir()
  await initDbDir(db, 1)
  return db
}

/** input → "<key>|<UPPER>" keyed by the item's first character → sink, one epoch per batch. */
const run = async <X>(
  source: FixedPartitionedSource<X, number>,
  sink: FixedPartitionedSink<string, number>,
  db: string | undefined,
  show: (x: X) => string = String
): Promise<void> => {
  const flow = new Dataflow("test_df")
  const tracked = new TrackingSink(sink)
  op.input("inp", flow, source)
    .then(op.map, "upper", (x: X) => {
      const s = show(x)
      return [s.slice(0, 1), s.toUpperCase()] as const
    })
    .then(op.output, "out", tracked)
  try {
    await runMain(flow, db === undefined ? { epochInterval: 0 } : { epochInterval: 0, recovery: new RecoveryConfig(db) })
  } finally {
    // An aborted run returns with writes possibly under way: let them land, as a crash after the write would.
    await tracked.settled()
  }
}

const lines = Array.from({ length: 20 }, (_, i) => `line ${i} ${"é".repeat(i % 3)}`)
const inputFile = (): string => {
  const file = path.join(tmpDir(), "in.txt")
  fs.writeFileSync(file, lines.join("\n") + "\n")
  return file
}
const expectedText = lines.map((l) => `${l.toUpperCase()}\n`).join("")

describe("FileSource → FileSink", () => {
  it("stopped after each epoch (every batch boundary) and resumed: the same file as an uninterrupted run", async () => {
    const input = inputFile()
    const batches = Math.ceil(lines.length / 3)
    for (let stopAt = 0; stopAt <= batches + 1; stopAt++) {
      const db = await freshDb()
      const output = path.join(tmpDir(), "out.txt")
      await run(reading(new FileSource(input, { batchSize: 3 }), stopAt), new FileSink(output), db)
      // The crash came after `stopAt` batches, each its own epoch.
      const before = fs.existsSync(output) ? fs.readFileSync(output, "utf8") : ""
      expect(before, `stopped at ${stopAt}`).toBe(expectedText.split("\n").slice(0, Math.min(stopAt * 3, lines.length)).map((l) => `${l}\n`).join(""))
      await run(reading(new FileSource(input, { batchSize: 3 })), new FileSink(output), db)
      expect(fs.readFileSync(output, "utf8"), `stopped at ${stopAt}`).toBe(expectedText)
    }
  })

  it("failing mid-epoch after a write reached the file: the resume cuts it off, nothing is doubled", async () => {
    const input = inputFile()
    for (let crashAt = 0; crashAt < 7; crashAt++) {
      const db = await freshDb()
      const output = path.join(tmpDir(), "out.txt")
      await expect(
        run(reading(new FileSource(input, { batchSize: 3 })), new CrashingSink(new FileSink(output), crashAt), db)
      ).rejects.toThrow("simulated crash")
      // The failed batch is in the file but was never snapshotted.
      expect(fs.readFileSync(output, "utf8").split("\n").length - 1).toBe(Math.min((crashAt + 1) * 3, lines.length))
      await run(reading(new FileSource(input, { batchSize: 3 })), new FileSink(output), db)
      expect(fs.readFileSync(output, "utf8"), `crashed at ${crashAt}`).toBe(expectedText)
    }
  })

  it("stopped again and again, two batches per run", async () => {
    const input = inputFile()
    const db = await freshDb()
    const output = path.join(tmpDir(), "out.txt")
    for (let i = 0; i < 5; i++) await run(reading(new FileSource(input, { batchSize: 3 }), 2), new FileSink(output), db)
    expect(fs.readFileSync(output, "utf8")).toBe(expectedText)
  })

  it("continuation: lines appended after a finished run are read by the next run and appended to the output", async () => {
    const input = inputFile()
    const db = await freshDb()
    const output = path.join(tmpDir(), "out.txt")
    await run(reading(new FileSource(input, { batchSize: 3 })), new FileSink(output), db)
    await run(reading(new FileSource(input, { batchSize: 3 })), new FileSink(output), db)
    expect(fs.readFileSync(output, "utf8")).toBe(expectedText)
    fs.appendFileSync(input, "more\nand more\n")
    await run(reading(new FileSource(input, { batchSize: 3 })), new FileSink(output), db)
    expect(fs.readFileSync(output, "utf8")).toBe(`${expectedText}MORE\nAND MORE\n`)
  })
})

describe("DirSource → DirSink", () => {
  it("stopped after each epoch and resumed: the same files as an uninterrupted run", async () => {
    const inputs = tmpDir()
    for (const name of ["a", "b", "c"]) {
      fs.writeFileSync(path.join(inputs, `${name}.txt`), Array.from({ length: 7 }, (_, i) => `${name}${i}`).join("\n") + "\n")
    }
    const files = (dir: string) => Object.fromEntries(fs.readdirSync(dir).sort().map((f) => [f, fs.readFileSync(path.join(dir, f), "utf8")]))
    const sink = (dir: string) => new DirSink(dir, 3, { assignFile: (key) => key.charCodeAt(0) - 97 })
    const reference = tmpDir()
    await run(reading(new DirSource(inputs, { batchSize: 2 })), sink(reference), undefined)
    const expected = files(reference)
    expect(expected).toEqual({ part_0: "A0\nA1\nA2\nA3\nA4\nA5\nA6\n", part_1: "B0\nB1\nB2\nB3\nB4\nB5\nB6\n", part_2: "C0\nC1\nC2\nC3\nC4\nC5\nC6\n" })
    // Each partition (file) has 4 batches plus its end; stopping at call n of every partition covers every boundary.
    for (let stopAt = 0; stopAt <= 5; stopAt++) {
      const db = await freshDb()
      const out = tmpDir()
      await run(reading(new DirSource(inputs, { batchSize: 2 }), stopAt), sink(out), db)
      await run(reading(new DirSource(inputs, { batchSize: 2 })), sink(out), db)
      expect(files(out), `stopped at ${stopAt}`).toEqual(expected)
    }
  })
})

describe("CSVSource → FileSink", () => {
  it("stopped after each epoch and resumed: the same file as an uninterrupted run", async () => {
    const input = path.join(tmpDir(), "in.csv")
    const rows = Array.from({ length: 9 }, (_, i) => `${i},"text ${i}, with ""quotes""\nand a newline"`)
    fs.writeFileSync(input, "id,text\r\n" + rows.join("\r\n") + "\r\n")
    const show = (r: CSVRow) => `${r.id}: ${JSON.stringify(r.text)}`
    const reference = path.join(tmpDir(), "out.txt")
    await run(reading(new CSVSource(input, { batchSize: 2 })), new FileSink(reference), undefined, show)
    const expected = fs.readFileSync(reference, "utf8")
    expect(expected.split("\n").length - 1).toBe(9)
    for (let stopAt = 0; stopAt <= 6; stopAt++) {
      const db = await freshDb()
      const output = path.join(tmpDir(), "out.txt")
      await run(reading(new CSVSource(input, { batchSize: 2 }), stopAt), new FileSink(output), db, show)
      await run(reading(new CSVSource(input, { batchSize: 2 })), new FileSink(output), db, show)
      expect(fs.readFileSync(output, "utf8"), `stopped at ${stopAt}`).toBe(expected)
    }
  })
})
