/**
 * Worker threads: errors from a thread, items that can't cross, stopping
 * every thread on interruption, back-pressure from a slow thread. (Per-key
 * results against the interleaved mode: packages/windowing/test/threads.test.ts;
 * crashes and rescaling: packages/cli/test/crash.test.ts.)
 */
import { Effect, Fiber } from "effect"
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { threadId } from "node:worker_threads"
import { describe, expect, it } from "vitest"
import { clusterMain, runCluster, WeirRuntimeError } from "../src/index.js"

const MODULE = new URL("./fixtures/threads-flow.ts", import.meta.url)
const fresh = (): string => mkdtempSync(join(tmpdir(), "weir-threads-"))
const threads = (exportName: string, args: ReadonlyArray<unknown>) => ({ module: MODULE, export: exportName, args })

describe("worker threads", () => {
  it("a failing step in a thread fails the run with the step id and the cause", async () => {
    const err = await clusterMain(threads("failing", [fresh()]), { workersPerProcess: 2, epochInterval: 10 }).then(
      () => undefined,
      (e: unknown) => e
    )
    expect(err).toBeInstanceOf(WeirRuntimeError)
    const e = err as WeirRuntimeError
    expect(e.stepId).toBe("failing.explode.flatMapBatch")
    expect(e.message).toContain("failing.explode")
    expect((e.cause as Error).message).toBe("boom at 150")
  }, 30_000)

  it("an item that can't cross threads fails clearly, naming the step and the type", async () => {
    const err = await clusterMain(threads("unsendable", [fresh()]), { workersPerProcess: 2, epochInterval: 10 }).then(
      () => undefined,
      (e: unknown) => e
    )
    expect(err).toBeInstanceOf(WeirRuntimeError)
    const e = err as WeirRuntimeError
    expect(e.message).toContain("unsendable.count")
    expect(e.message).toContain("`Point`")
    expect(e.message).toContain("item[1]")
  }, 30_000)

  it("a missing export names the exports there are", async () => {
    const err = await clusterMain({ module: MODULE, export: "nope" }, { workersPerProcess: 2 }).then(() => undefined, (e: unknown) => e)
    expect(String((err as Error).message)).toContain("has no export named 'nope'")
    expect(String((err as Error).message)).toContain("runningSum")
  }, 30_000)

  it("runs a flow with a source that can't run in a worker thread interleaved on this thread, on every worker", async () => {
    const out = fresh()
    await clusterMain(threads("mainThreadOnly", [out]), { workersPerProcess: 2, epochInterval: 10 })
    const lines = readdirSync(out).flatMap((f) =>
      readFileSync(join(out, f), "utf8").trim().split("\n").map((l) => ({ file: f, ...(JSON.parse(l) as { item: [string, number]; thread: number }) }))
    )
    expect(lines).toHaveLength(1000)
    // Both workers wrote, and all on this thread (the main one).
    expect(new Set(lines.map((l) => l.file))).toEqual(new Set(["worker-0.jsonl", "worker-1.jsonl"]))
    expect(new Set(lines.map((l) => l.thread))).toEqual(new Set([threadId]))
  })

  it("refuses a custom clock with threads, saying how to run interleaved", async () => {
    const err = await clusterMain(threads("failing", [fresh()]), {
      workersPerProcess: 2,
      clock: { now: () => 0, sleep: () => Effect.void }
    }).then(() => undefined, (e: unknown) => e)
    expect((err as Error).message).toContain("can't be used with worker threads")
  })

  it("interrupting the run stops every thread, closing each partition and sink", async () => {
    const marks = fresh()
    const fiber = Effect.runFork(runCluster(threads("endless", [marks]), { workersPerProcess: 2, epochInterval: 10 }))
    // Both threads have built their partitions and sinks (start-up takes a while on a loaded machine).
    for (let i = 0; i < 400 && readdirSync(marks).filter((f) => f.startsWith("opened-")).length < 6; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    await new Promise((resolve) => setTimeout(resolve, 200))
    const started = Date.now()
    await Effect.runPromise(Fiber.interrupt(fiber))
    expect(Date.now() - started).toBeLessThan(3000)
    const closed = readdirSync(marks).filter((f) => f.startsWith("closed-")).sort()
    expect(closed).toEqual(["closed-a", "closed-b", "closed-c", "closed-d", "closed-sink-0", "closed-sink-1"])
    for (const f of closed) expect(readFileSync(join(marks, f), "utf8")).toBe("closed\n")
  }, 30_000)

  it("a slow thread holds back the others: they read no faster than it takes in, and memory stays bounded", async () => {
    const out = fresh()
    await clusterMain(threads("slowWorker", [out, 50_000, 30]), { workersPerProcess: 2, epochInterval: 100 })
    const slow = JSON.parse(readFileSync(join(out, "worker-1.done"), "utf8")) as { n: number; at: number }
    const fast = JSON.parse(readFileSync(join(out, "worker-0.done"), "utf8")) as { n: number; at: number }
    expect(slow.n + fast.n).toBe(200_000)
    // Worker 0 reads partitions p0 and p2; half their keys are worker 1's, which takes 30 µs per item.
    for (const name of ["part-0", "part-2"]) {
      const file = join(out, `progress-${name}.json`)
      expect(existsSync(file)).toBe(true)
      const p = JSON.parse(readFileSync(file, "utf8")) as { read: number; endedAfterMs: number; maxArrayBuffers: number }
      expect(p.read).toBe(50_000)
      // Unchecked, worker 0 would read its 100,000 items in a fraction of a second and queue
      // worker 1's half; held back, it ends near worker 1 (~100,000 × 30 µs ≈ 3 s).
      expect(p.endedAfterMs).toBeGreaterThan(1000)
      expect(p.maxArrayBuffers).toBeLessThan(64 * 1024 * 1024)
    }
  }, 60_000)
})
