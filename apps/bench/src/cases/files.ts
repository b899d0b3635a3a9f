/**
 * File throughput: a text file of 100-byte lines copied line by line with
 * `FileSource` → `FileSink` (@weir/connectors-files), against Node's own
 * `readline` → write stream loop on the same file. 1 GB by default; a
 * smaller file with `--files-mb=N`. The file is generated once into a
 * temporary directory (removed at exit); every run writes a fresh output
 * file next to it.
 *
 * The plain-Node loop never fsyncs; `FileSink` fsyncs every batch by default
 * (that is what makes its output exactly-once across machine crashes), so the
 * rows show the default, a larger batch (fewer fsyncs), and `fsync: false`.
 */
import { FileSink, FileSource } from "@weir/connectors-files"
import { Dataflow, op, runMain } from "@weir/core"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as readline from "node:readline"
import { once } from "node:events"
import type { BenchCase, Variant } from "../harness.js"
import { median } from "../harness.js"

const LINE_BYTES = 100

const filesMb = (): number => {
  const raw = process.argv.find((a) => a.startsWith("--files-mb="))?.slice("--files-mb=".length)
  const n = raw === undefined ? 1000 : Number(raw.replaceAll("_", ""))
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`--files-mb must be a positive integer; got '${raw}'`)
  return n
}

/** Writes `mb` megabytes (10^6 bytes) of 100-byte lines (99 characters and `\n`). */
const generate = (file: string, mb: number): void => {
  const lines = (mb * 1_000_000) / LINE_BYTES
  const fd = fs.openSync(file, "w")
  try {
    const per = 10_000
    for (let start = 0; start < lines; start += per) {
      let chunk = ""
      for (let i = start; i < Math.min(lines, start + per); i++) {
        const head = `line ${i} `
        chunk += head + "x".repeat(LINE_BYTES - 1 - head.length) + "\n"
      }
      fs.writeSync(fd, chunk)
    }
  } finally {
    fs.closeSync(fd)
  }
}

/** Node's idiomatic loop: readline over a read stream, one `write` per line, waiting for `drain`. */
const plainNode = async (input: string, output: string): Promise<void> => {
  const rl = readline.createInterface({ input: fs.createReadStream(input), crlfDelay: Infinity })
  const out = fs.createWriteStream(output)
  for await (const line of rl) {
    if (!out.write(`${line}\n`)) await once(out, "drain")
  }
  out.end()
  await once(out, "finish")
}

const weir = async (input: string, output: string, batchSize: number, fsync: boolean): Promise<void> => {
  const flow = new Dataflow("copy")
  op.input("lines", flow, new FileSource(input, { batchSize }))
    .then(op.map, "keyed", (line: string) => ["", line] as const)
    .then(op.output, "out", new FileSink(output, { fsync }))
  await runMain(flow)
}

const timesMs = new Map<string, Array<number>>()
let sizeMb = 0

export const files: BenchCase = {
  id: "files",
  name: "files: copy a text file of 100-byte lines, FileSource → FileSink vs readline → write stream",
  unit: "MB",
  variants() {
    const mb = filesMb()
    sizeMb = mb
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "weir-bench-files-"))
    process.once("exit", () => fs.rmSync(dir, { recursive: true, force: true }))
    const input = path.join(dir, "in.txt")
    generate(input, mb)
    const output = path.join(dir, "out.txt")
    const variant = (name: string, copy: () => Promise<void>): Variant => ({
      name,
      items: mb,
      run: async () => {
        const t = performance.now()
        await copy()
        const ms = performance.now() - t
        const size = fs.statSync(output).size
        if (size !== mb * 1_000_000) throw new Error(`${name} wrote ${size} bytes, not ${mb * 1_000_000}`)
        const list = timesMs.get(name) ?? []
        list.push(ms)
        timesMs.set(name, list)
      }
    })
    return [
      variant("node readline → write stream", () => plainNode(input, output)),
      variant("weir FileSource → FileSink", () => weir(input, output, 1000, true)),
      variant("weir, batchSize 10000", () => weir(input, output, 10_000, true)),
      variant("weir, fsync: false", () => weir(input, output, 1000, false))
    ]
  },
  notes() {
    // The first time of each variant is its warm-up run.
    const rates = [...timesMs].map(([name, ms]) => [name, sizeMb / (median(ms.slice(1)) / 1000)] as const)
    const base = rates[0]?.[1] ?? 1
    return [
      `file: ${sizeMb.toLocaleString("en-US")} MB of ${LINE_BYTES}-byte lines (--files-mb=N to change)`,
      ...rates.map(([name, rate]) => `  ${name.padEnd(30)} ${rate.toFixed(0).padStart(6)} MB/s  ${(rate / base * 100).toFixed(0).padStart(4)}% of plain Node`)
    ]
  }
}
