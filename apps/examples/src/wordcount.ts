/**
 * Word count: read a text file line by line with `FileSource`, split lines
 * into lowercase words, count each word, and print `word: count` (sorted by
 * word) when the file ends.
 *
 *   weir run apps/examples/src/wordcount.ts
 *   WORDCOUNT_FILE=README.md weir run apps/examples/src/wordcount.ts
 *
 * `FileSource` is resumable (its state is a byte offset), so with recovery
 * (`-r`) a crashed run continues mid-file; see `src/recover.ts`.
 */
import { resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { FileSource } from "@weir/connectors-files"
import { Dataflow, op, StdOutSink } from "@weir/core"

const defaultFile = fileURLToPath(new URL("../data/sample.txt", import.meta.url))
const file = process.env.WORDCOUNT_FILE ? resolve(process.env.WORDCOUNT_FILE) : defaultFile

/** Letters, digits inside words and apostrophes: "don't" is one word, "drop," is "drop". */
const WORD = /[\p{L}\p{N}]+(?:['’][\p{L}]+)*/gu

export const flow = new Dataflow("wordcount")
op.input("lines", flow, new FileSource(file)).pipe(
  op.map("lowercase", (line) => line.toLowerCase()),
  op.flatMap("tokenize", (line) => line.match(WORD) ?? []),
  op.countFinal("count", (word) => word),
  op.map("format", ([word, count]) => `${word}: ${count}`),
  op.output("out", new StdOutSink())
)
