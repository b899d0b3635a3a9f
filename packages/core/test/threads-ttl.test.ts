/**
 * State time-to-live on worker threads, where the clock is the real one:
 * keys spread over two threads expire during a pause in the input much
 * longer than their ttl, so the items after it start from fresh state; the
 * same flow without a ttl keeps them.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { clusterMain } from "../src/index.js"

const MODULE = new URL("./fixtures/ttl-flow.ts", import.meta.url)
const dirs: Array<string> = []
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

/** Every item the flow wrote, over all workers, sorted; and how many workers wrote any. */
const run = async (ttlMs: number | undefined): Promise<{ items: Array<[string, number]>; writers: number }> => {
  const out = mkdtempSync(join(tmpdir(), "weir-threads-ttl-"))
  dirs.push(out)
  // A 150 ms ttl against a pause of 1.5 s: the keys' timers are due long before the second round.
  await clusterMain({ module: MODULE, export: "ttlSums", args: [out, ttlMs, 1500] }, { workersPerProcess: 2, epochInterval: 50 })
  const items: Array<[string, number]> = []
  const files = readdirSync(out).filter((f) => f.endsWith(".jsonl"))
  for (const f of files) {
    for (const line of readFileSync(join(out, f), "utf8").split("\n")) if (line !== "") items.push(JSON.parse(line))
  }
  return { items: items.sort((x, y) => x[0].localeCompare(y[0]) || x[1] - y[1]), writers: files.length }
}

describe("ttl on worker threads", () => {
  it("keys on both threads expire during the pause; their next items start from fresh state", async () => {
    const withTtl = await run(150)
    expect(withTtl.items).toEqual([["a", 1], ["a", 10], ["b", 1], ["b", 10], ["c", 1], ["c", 10], ["d", 1], ["d", 10]])
    // Each thread owned some of the keys (each writes what its keys emit).
    expect(withTtl.writers).toBe(2)
    const withoutTtl = await run(undefined)
    expect(withoutTtl.items).toEqual([["a", 1], ["a", 11], ["b", 1], ["b", 11], ["c", 1], ["c", 11], ["d", 1], ["d", 11]])
  }, 60_000)
})
