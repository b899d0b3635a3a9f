// src/wordcount.ts: FileSource → lowercase → words → countFinal → StdOutSink.
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { RUN_TIMEOUT_MS, tempDir, weir, withoutEpochLines } from "./weir.js"

/** Every word of data/sample.txt and its count, sorted by word (countFinal emits at the end, by key). */
const SAMPLE_COUNTS = `a: 2
above: 1
after: 1
and: 2
as: 1
back: 1
be: 1
bridge: 2
could: 1
counted: 2
day: 2
down: 1
drop: 2
every: 2
fast: 1
flood: 1
held: 1
his: 1
if: 1
in: 1
is: 1
kept: 1
ledger: 1
mill: 1
miller: 2
never: 1
old: 1
over: 1
ran: 1
river: 2
same: 1
stone: 1
stream: 2
tally: 1
the: 11
twice: 1
under: 2
was: 1
water: 2
weir: 2
written: 1
yet: 1
`

describe("wordcount", () => {
  it("counts the words of data/sample.txt", async () => {
    const result = await weir(["run", "src/wordcount.ts"])
    expect(withoutEpochLines(result.stderr)).toBe("")
    expect(result.code).toBe(0)
    expect(result.stdout).toBe(SAMPLE_COUNTS)
  }, RUN_TIMEOUT_MS)

  it("counts the words of the file in WORDCOUNT_FILE", async () => {
    const file = join(tempDir("wordcount"), "words.txt")
    writeFileSync(file, "Don't stop, don't\r\n\nstop the WEIR weir")
    const result = await weir(["run", "src/wordcount.ts"], { WORDCOUNT_FILE: file })
    expect(result.code).toBe(0)
    expect(result.stdout).toBe("don't: 2\nstop: 2\nthe: 1\nweir: 2\n")
  }, RUN_TIMEOUT_MS)
})
