// src/recover.ts, the README's crash-and-resume walkthrough: `weir recovery init`, a run killed
// with SIGKILL partway, the same command again, and the output equals an uncrashed run's.
import { existsSync, mkdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { delay, RUN_TIMEOUT_MS, start, tempDir, weir, withoutEpochLines } from "./weir.js"

/** One line per order of data/orders.csv, with the user's running total. */
const EXPECTED = `2024-06-01T09:01:12Z ada +12.50 → 12.50 (1 order)
2024-06-01T09:02:40Z bob +8.00 → 8.00 (1 order)
2024-06-01T09:04:05Z ada +30.00 → 42.50 (2 orders)
2024-06-01T09:07:30Z cy  +5.25 → 5.25 (1 order)
2024-06-01T09:09:59Z bob +14.75 → 22.75 (2 orders)
2024-06-01T09:12:00Z ada +7.00 → 49.50 (3 orders)
2024-06-01T09:14:59Z cy  +20.00 → 25.25 (2 orders)
2024-06-01T09:15:00Z ada +3.50 → 53.00 (4 orders)
2024-06-01T09:16:45Z bob +22.00 → 44.75 (3 orders)
2024-06-01T09:13:30Z bob +6.00 → 50.75 (4 orders)
2024-06-01T09:21:10Z ada +18.25 → 71.25 (5 orders)
2024-06-01T09:24:00Z cy  +9.99 → 35.24 (3 orders)
2024-06-01T09:28:30Z bob +11.00 → 61.75 (5 orders)
2024-06-01T09:33:00Z ada +40.00 → 111.25 (6 orders)
2024-06-01T09:35:20Z cy  +2.50 → 37.74 (4 orders)
2024-06-01T09:38:00Z bob +16.40 → 78.15 (6 orders)
2024-06-01T09:22:00Z bob +4.60 → 82.75 (7 orders)
2024-06-01T09:41:05Z ada +6.75 → 118.00 (7 orders)
2024-06-01T09:44:44Z cy  +13.00 → 50.74 (5 orders)
2024-06-01T09:47:10Z ada +21.00 → 139.00 (8 orders)
2024-06-01T09:52:30Z bob +9.00 → 91.75 (8 orders)
2024-06-01T09:55:00Z cy  +4.00 → 54.74 (6 orders)
2024-06-01T09:58:59Z ada +15.50 → 154.50 (9 orders)
`
const ROWS = 23

const linesIn = (file: string): number => (existsSync(file) ? readFileSync(file, "utf8").split("\n").length - 1 : 0)

/** The items the inputs read, summed over the `epoch N: X items in` lines of a run's stderr. */
const itemsRead = (stderr: string): number =>
  Array.from(stderr.matchAll(/^epoch \d+: ([\d,]+) items in/gm), (m) => Number(m[1]!.replace(/,/g, ""))).reduce((a, b) => a + b, 0)

describe("crash and resume", () => {
  it("ends with the output of an uncrashed run after a SIGKILL partway and a resume", async () => {
    const dir = tempDir("recover")

    // An uncrashed run, without recovery.
    const clean = join(dir, "clean.txt")
    const uncrashed = await weir(["run", "src/recover.ts"], { OUT: clean })
    expect(withoutEpochLines(uncrashed.stderr)).toBe("")
    expect(uncrashed.code).toBe(0)
    expect(readFileSync(clean, "utf8")).toBe(EXPECTED)

    // 1. Create the recovery store.
    const recovery = join(dir, "recovery")
    mkdirSync(recovery)
    const init = await weir(["recovery", "init", recovery, "1"])
    expect(init.stderr).toBe(`created 1 recovery partition(s) in ${recovery}\n`)
    expect(init.code).toBe(0)

    // 2. A slow run with recovery, killed with SIGKILL once it has written 8 of its 23 lines.
    const out = join(dir, "totals.txt")
    const args = ["run", "src/recover.ts", "-r", recovery, "-s", "0.5", "-b", "0"]
    const slow = start(args, { OUT: out, SLOW_MS: "200" })
    let ended = false
    void slow.finished.then(() => (ended = true))
    while (!ended && linesIn(out) < 8) await delay(5)
    slow.child.kill("SIGKILL")
    const killed = await slow.finished
    expect(killed.signal).toBe("SIGKILL")
    const linesAtCrash = linesIn(out)
    expect(linesAtCrash).toBeGreaterThanOrEqual(8)
    expect(linesAtCrash).toBeLessThan(ROWS)
    expect(readFileSync(out, "utf8")).toBe(EXPECTED.split("\n").slice(0, linesAtCrash).join("\n") + "\n")

    // 3. The same command again: it resumes from the last committed epoch and finishes.
    const resumed = await weir(args, { OUT: out })
    expect(withoutEpochLines(resumed.stderr)).toBe("")
    expect(resumed.code).toBe(0)
    // It read only the rows after the last snapshot, not the whole file again...
    const reread = itemsRead(resumed.stderr)
    expect(reread).toBeGreaterThan(0)
    expect(reread).toBeLessThan(ROWS)
    // ...and the output is exactly the uncrashed run's: no line lost, none twice.
    expect(readFileSync(out, "utf8")).toBe(readFileSync(clean, "utf8"))
  }, 3 * RUN_TIMEOUT_MS)
})
