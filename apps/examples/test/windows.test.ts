// src/windows.ts: CSVSource → keyOn user → 15-minute tumbling windows (event time) → FileSink,
// late orders to stdout.
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { RUN_TIMEOUT_MS, tempDir, weir, withoutEpochLines } from "./weir.js"

// Windows are written as they close: a user's window closes once that user's orders are 5
// minutes past its end (all in the one batch the small file is read in, user by user in the
// order they first appear), the last ones at the end of the input, sorted by user.
const EXPECTED_WINDOWS = `2024-06-01 09:00 – 09:15  ada   3 orders  $49.50
2024-06-01 09:15 – 09:30  ada   2 orders  $21.75
2024-06-01 09:30 – 09:45  ada   2 orders  $46.75
2024-06-01 09:00 – 09:15  bob   3 orders  $28.75
2024-06-01 09:15 – 09:30  bob   2 orders  $33.00
2024-06-01 09:30 – 09:45  bob   1 order   $16.40
2024-06-01 09:00 – 09:15  cy    2 orders  $25.25
2024-06-01 09:15 – 09:30  cy    1 order   $9.99
2024-06-01 09:30 – 09:45  cy    2 orders  $15.50
2024-06-01 09:45 – 10:00  ada   2 orders  $36.50
2024-06-01 09:45 – 10:00  bob   1 order   $9.00
2024-06-01 09:45 – 10:00  cy    1 order   $4.00
`

describe("windows", () => {
  it("sums data/orders.csv per user in 15-minute windows into the file in OUT, and prints the late order", async () => {
    const out = join(tempDir("windows"), "windows.txt")
    const result = await weir(["run", "src/windows.ts"], { OUT: out })
    expect(withoutEpochLines(result.stderr)).toBe("")
    expect(result.code).toBe(0)
    expect(readFileSync(out, "utf8")).toBe(EXPECTED_WINDOWS)
    // bob's 09:22 order comes after his 09:38 one: more than 5 minutes late, its window already closed.
    expect(result.stdout).toBe("late: bob $4.60 at 2024-06-01 09:22, window 2024-06-01 09:15 – 09:30 already closed\n")
  }, RUN_TIMEOUT_MS)
})
