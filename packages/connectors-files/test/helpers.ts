/** Shared by the tests: temporary directories, running a source to a list, running a flow that must fail, polling a partition. */
import {
  AbortExecution,
  Dataflow,
  EOF,
  FixedPartitionedSink,
  FixedPartitionedSource,
  op,
  runMain,
  type StatefulSinkPartition,
  type StatefulSourcePartition,
  WeirRuntimeError
} from "@weir/core"
import { TestingSink, TestingSource } from "@weir/testing"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, expect } from "vitest"

/** A file of `test/fixtures`. */
export const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))

const made: Array<string> = []
afterAll(() => {
  for (const dir of made.splice(0)) fs.rmSync(dir, { recursive: true, force: true })
})

/** A fresh temporary directory, removed after the test file. */
export const tmpDir = (): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "weir-files-test-"))
  made.push(dir)
  return dir
}

/** Writes `content` to `name` in a fresh temporary directory; returns the path. */
export const tmpFile = (name: string, content: string | Buffer): string => {
  const file = path.join(tmpDir(), name)
  fs.writeFileSync(file, content)
  return file
}

/** Runs `input → TestingSink` and returns what arrived. */
export const collect = async <X>(source: FixedPartitionedSource<X, number>): Promise<Array<X>> => {
  const out: Array<X> = []
  const flow = new Dataflow("test_df")
  op.input("inp", flow, source).then(op.output, "out", new TestingSink(out))
  await runMain(flow)
  return out
}

/** Runs `flow`, expects it to fail with a `WeirRuntimeError`, and returns that error. */
export const expectRunError = async (flow: Dataflow): Promise<WeirRuntimeError> => {
  const err = await runMain(flow).then(() => undefined, (e: unknown) => e)
  expect(err).toBeInstanceOf(WeirRuntimeError)
  return err as WeirRuntimeError
}

/** Runs `[key, value] items → sink` (step `test_df.out`) and returns the error the run failed with. */
export const failingOutput = async (
  sink: FixedPartitionedSink<string, number>,
  items: Array<readonly [string, unknown]> = [["k", "v"]]
): Promise<WeirRuntimeError> => {
  const flow = new Dataflow("test_df")
  op.input("inp", flow, new TestingSource(items)).then(op.output, "out", sink as never)
  return expectRunError(flow)
}

/** Every batch of a partition until EOF (at most `max`). */
export const drain = async <X>(p: StatefulSourcePartition<X, number>, max = 100_000): Promise<Array<Array<X>>> => {
  const batches: Array<Array<X>> = []
  for (let i = 0; i < max; i++) {
    const b = await p.nextBatch()
    if (b === EOF) return batches
    const items = Array.from(b as Iterable<X>)
    if (items.length > 0) batches.push(items) // an empty batch: data is being read
  }
  throw new Error("the partition did not end")
}

/** The one partition of a single-partition source, built with `resume`. */
export const onlyPart = async <X>(
  source: FixedPartitionedSource<X, number>,
  resume?: number
): Promise<StatefulSourcePartition<X, number>> => {
  const parts = (await source.listParts()) as ReadonlyArray<string>
  return (await source.buildPart("test_df.inp", parts[0]!, resume)) as StatefulSourcePartition<X, number>
}

/**
 * A source whose partitions throw `AbortExecution` (a simulated crash) at
 * the first `nextBatch` call after `at` batches with items were handed over.
 */
export class AbortingSource<X> extends FixedPartitionedSource<X, number> {
  constructor(
    private readonly inner: FixedPartitionedSource<X, number>,
    private readonly at: number
  ) {
    super()
  }
  listParts() {
    return this.inner.listParts()
  }
  async buildPart(stepId: string, part: string, resume: number | undefined): Promise<StatefulSourcePartition<X, number>> {
    const p = (await this.inner.buildPart(stepId, part, resume)) as StatefulSourcePartition<X, number>
    let handedOver = 0
    const count = (b: Iterable<X> | typeof EOF) => {
      if (b !== EOF && Array.from(b).length > 0) handedOver++
      return b
    }
    return {
      nextBatch: () => {
        if (handedOver === this.at) throw new AbortExecution()
        const b = p.nextBatch() as Iterable<X> | typeof EOF | Promise<Iterable<X> | typeof EOF>
        return b instanceof Promise ? b.then(count) : count(b)
      },
      nextAwake: () => p.nextAwake?.(),
      snapshot: () => p.snapshot(),
      close: () => p.close?.()
    }
  }
}

/** A sink whose partitions fail right after their write number `at` (0-based) has reached the file: a crash mid-epoch. */
export class CrashingSink extends FixedPartitionedSink<string, number> {
  constructor(
    private readonly inner: FixedPartitionedSink<string, number>,
    private readonly at: number
  ) {
    super()
  }
  listParts() {
    return this.inner.listParts()
  }
  override partFn(key: string): number {
    return this.inner.partFn(key)
  }
  async buildPart(stepId: string, part: string, resume: number | undefined): Promise<StatefulSinkPartition<string, number>> {
    const p = (await this.inner.buildPart(stepId, part, resume)) as StatefulSinkPartition<string, number>
    let writes = 0
    return {
      writeBatch: async (values) => {
        await p.writeBatch(values)
        if (writes++ === this.at) throw new Error("simulated crash")
      },
      snapshot: () => p.snapshot(),
      close: () => p.close?.()
    }
  }
}

/** The next non-empty batch of a partition (empty batches mean "reading"); fails at EOF. */
export const nextItems = async <X>(p: StatefulSourcePartition<X, number>): Promise<Array<X>> => {
  for (;;) {
    const b = await p.nextBatch()
    if (b === EOF) throw new Error("unexpected EOF")
    const items = Array.from(b as Iterable<X>)
    if (items.length > 0) return items
  }
}

/**
 * Passes everything to `inner` and remembers every write, so a test can wait
 * for the writes still under way when a run was aborted (`AbortExecution`
 * returns at once) before the next run truncates the same files.
 */
export class TrackingSink extends FixedPartitionedSink<string, number> {
  private readonly writes = new Set<Promise<unknown>>()
  constructor(private readonly inner: FixedPartitionedSink<string, number>) {
    super()
  }
  listParts() {
    return this.inner.listParts()
  }
  override partFn(key: string): number {
    return this.inner.partFn(key)
  }
  async buildPart(stepId: string, part: string, resume: number | undefined): Promise<StatefulSinkPartition<string, number>> {
    const p = (await this.inner.buildPart(stepId, part, resume)) as StatefulSinkPartition<string, number>
    return {
      writeBatch: (values) => {
        const w = Promise.resolve(p.writeBatch(values) as void | Promise<void>)
        this.writes.add(w)
        return w
      },
      snapshot: () => p.snapshot(),
      close: () => p.close?.()
    }
  }
  /** Settles when every write so far has. */
  async settled(): Promise<void> {
    await Promise.allSettled(this.writes)
  }
}
