/**
 * Word count: read a text file line by line, split lines into lowercase words,
 * count each word, and print `word: count` when the file ends.
 *
 *   weir run apps/examples/src/wordcount.ts
 *   WORDCOUNT_FILE=README.md weir run apps/examples/src/wordcount.ts
 *
 * The file is read by {@link LinesSource}, a small resumable source: its state
 * is the index of the next line, so a run with recovery resumes mid-file.
 */
import { readFileSync } from "node:fs"
import { basename, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { Dataflow, EOF, FixedPartitionedSource, op, type StatefulSourcePartition, StdOutSink } from "@weir/core"

/** The lines of one text file, `batchSize` at a time; one partition named after the file. */
export class LinesSource extends FixedPartitionedSource<string, number> {
  constructor(readonly path: string, readonly batchSize = 1024) {
    super()
  }

  listParts(): ReadonlyArray<string> {
    return [basename(this.path)]
  }

  buildPart(_stepId: string, _forPart: string, resumeState: number | undefined): StatefulSourcePartition<string, number> {
    const lines = readFileSync(this.path, "utf8").split(/\r?\n/)
    if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop() // the newline ending the last line
    let next = resumeState ?? 0
    const batchSize = this.batchSize
    return {
      nextBatch: () => {
        if (next >= lines.length) return EOF
        const batch = lines.slice(next, next + batchSize)
        next += batch.length
        return batch
      },
      snapshot: () => next
    }
  }
}

const defaultFile = fileURLToPath(new URL("../data/sample.txt", import.meta.url))
const file = process.env.WORDCOUNT_FILE ? resolve(process.env.WORDCOUNT_FILE) : defaultFile

/** Letters, digits inside words and apostrophes: "don't" is one word, "drop," is "drop". */
const WORD = /[\p{L}\p{N}]+(?:['’][\p{L}]+)*/gu

export const flow = new Dataflow("wordcount")
op.input("lines", flow, new LinesSource(file))
  .then(op.map, "lowercase", (line: string) => line.toLowerCase())
  .then(op.flatMap, "tokenize", (line: string) => line.match(WORD) ?? [])
  .then(op.countFinal, "count", (word: string) => word)
  .then(op.map, "format", ([word, count]: readonly [string, number]) => `${word}: ${count}`)
  .then(op.output, "out", new StdOutSink())
