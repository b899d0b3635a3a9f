/**
 * Real dataflows resumed from the real recovery stores — the embedded SQLite
 * directory and PostgreSQL (a real server, see test/global-setup.ts) — instead
 * of `InMemoryRecovery`: aborts and continuations (reference §7.4 "Abort/
 * continuation facts"), delayed backups (§7.4 garbage collection), per-key
 * state and discards across a resume, the state `onEof` leaves (§3.2), and a
 * PostgreSQL connection that drops while a flow runs. The last section
 * guards a bug both stores had (snapshots of a part-committed epoch loaded by
 * a later resume).
 *
 * Catalogue rows ported: test_testing_source_abort_run, test_testing_source_eof_run,
 * test_stateful_snapshots_logic_per_key, test_stateful_snapshots_discard_per_key,
 * test_stateful_on_eof_discard, test_stateful_on_eof_retain.
 */
import {
  clusterMain,
  Dataflow,
  EOF,
  FixedPartitionedSink,
  FixedPartitionedSource,
  type KeyedStream,
  op,
  type RecoveryConfigLike,
  runMain,
  type RunOptions,
  type StatefulSinkPartition,
  type StatefulSourcePartition,
  stableHash,
  type Stream,
  WeirRuntimeError
} from "@weir/core"
import { TestingSink, TestingSource, type TestingSourceItem, VirtualClock } from "@weir/testing"
import Database from "better-sqlite3"
import type { Duration } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as v8 from "node:v8"
import pg from "pg"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
// The Bytewax test shape and logics of the core operator tests, run here against the real stores.
import { flowOf, keepLast, testLogic, testLogicStep } from "../../core/test/operators/helpers.js"
import { initDbDir, initPostgres, PostgresRecoveryConfig, RecoveryConfig, RecoveryStoreError } from "../src/index.js"
import { postgresEntries, sqliteEntries } from "./stored.js"

// ---------------------------------------------------------------------------
// The two stores

const pgUrl = (): string => {
  const url = process.env.WEIR_PG_URL
  if (!url) throw new Error("WEIR_PG_URL is not set: the global setup should have started PostgreSQL")
  return url
}

const withClient = async <A>(f: (c: pg.Client) => Promise<A>, url = pgUrl()): Promise<A> => {
  const c = new pg.Client({ connectionString: url })
  await c.connect()
  try {
    return await f(c)
  } finally {
    await c.end()
  }
}

/** One stored snapshot row; `state` is undefined for a discard tombstone. */
interface Row {
  readonly stepId: string
  readonly key: string
  readonly epoch: number
  readonly discarded: boolean
  readonly state: unknown
}

/** An initialised store location. */
interface Location {
  readonly config: RecoveryConfigLike
  /** Every snapshot row the store holds, read straight from the database. */
  rows(): Promise<Array<Row>>
}

interface Kind {
  readonly name: string
  fresh(options?: { readonly backupInterval?: Duration.Input }): Promise<Location>
}

const PARTITIONS = 3


const sortRows = (rows: Array<Row>): Array<Row> =>
  rows.sort((a, b) => a.stepId.localeCompare(b.stepId) || a.key.localeCompare(b.key) || a.epoch - b.epoch)

const dirs: Array<string> = []
const freshDir = (): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "weir-flows-"))
  dirs.push(dir)
  return dir
}
afterAll(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true })
})

const sqlite: Kind = {
  name: "embedded (SQLite)",
  async fresh(options = {}) {
    const dir = freshDir()
    await initDbDir(dir, PARTITIONS)
    return {
      config: new RecoveryConfig(dir, options),
      async rows() {
        return sortRows(sqliteEntries(dir))
      }
    }
  }
}

const schemas: Array<string> = []
const freshSchema = (): string => {
  const s = `t_${process.pid}_${Math.random().toString(36).slice(2, 10)}`
  schemas.push(s)
  return s
}

const postgres: Kind = {
  name: "PostgreSQL",
  async fresh(options = {}) {
    const schema = freshSchema()
    await initPostgres(pgUrl(), PARTITIONS, { schema })
    return {
      config: new PostgresRecoveryConfig(pgUrl(), { ...options, schema }),
      rows: async () => sortRows(await postgresEntries(pgUrl(), schema))
    }
  }
}

afterAll(async () => {
  if (schemas.length === 0 || !process.env.WEIR_PG_URL) return
  await withClient(async (c) => {
    for (const s of schemas) await c.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`)
  })
})

/** What a resume would load for `stepId`: each key's newest row, tombstoned keys left out. */
const newestStates = (rows: ReadonlyArray<Row>, stepId: string): Map<string, unknown> => {
  const newest = new Map<string, Row>()
  for (const r of rows) {
    if (r.stepId !== stepId) continue
    const seen = newest.get(r.key)
    if (seen === undefined || r.epoch > seen.epoch) newest.set(r.key, r)
  }
  const out = new Map<string, unknown>()
  for (const [key, r] of newest) if (!r.discarded) out.set(key, r.state)
  return out
}

/** `key@epoch` for each row of `stepId`, to check which snapshots are kept. */
const rowNames = (rows: ReadonlyArray<Row>, stepId: string): Array<string> =>
  rows.filter((r) => r.stepId === stepId).map((r) => `${r.key}@${r.epoch}`)

// ---------------------------------------------------------------------------
// Flows (Bytewax's test shape: flow "test_df", TestingSource, TestingSink)

type Pair = readonly [string, string]

const runOnce = async <X, Y>(
  loc: Location,
  items: ReadonlyArray<TestingSourceItem<X>>,
  body: (s: Stream<X>) => Stream<Y>,
  options: RunOptions & { readonly batchSize?: number } = {}
): Promise<Array<Y>> => {
  const { batchSize, ...run } = options
  const { flow, out } = flowOf(items, body, batchSize)
  await runMain(flow, { epochInterval: 0, ...run, recovery: loc.config })
  return out
}

const identity = <X>(s: Stream<X>): Stream<X> => s

/** A running sum per key: emits the new sum of the key for every value. */
const runningSum = (s: Stream<readonly [string, number]>): KeyedStream<number> =>
  op.statefulMap("sum", s, (acc: number | undefined, x: number) => [(acc ?? 0) + x, (acc ?? 0) + x] as const)
const SUM = "test_df.sum.statefulBatch"
const INP = "test_df.inp"
const KEEP_LAST = "test_df.keep_last.statefulBatch"

const ABORT = () => new TestingSource.ABORT()
const EOF_ = () => new TestingSource.EOF()

// ---------------------------------------------------------------------------

describe.each([sqlite, postgres])("flows resumed from the $name store", (kind) => {
  describe("abort and continuation (reference §7.4)", () => {
    it("an abort before any epoch completes replays everything on the next run", async () => {
      const loc = await kind.fresh()
      const items: Array<TestingSourceItem<readonly [string, number]>> = [
        ["a", 1],
        ["b", 10],
        ["a", 2],
        ABORT(),
        ["b", 20],
        ["a", 3]
      ]
      // A virtual clock stands still while items flow, so no 10-second epoch can close before the abort.
      const opts = { epochInterval: "10 seconds", clock: new VirtualClock() } as const
      expect(await runOnce(loc, items, runningSum, opts)).toEqual([["a", 1], ["b", 10], ["a", 3]])
      // Nothing was committed: no snapshot at all.
      expect(await loc.rows()).toEqual([])

      // Full replay: the same items again from the start, state built from nothing.
      const second = await runOnce(loc, items, runningSum, { ...opts, clock: new VirtualClock() })
      expect(second).toEqual([["a", 1], ["b", 10], ["a", 3], ["b", 30], ["a", 6]])
      const rows = await loc.rows()
      expect(newestStates(rows, SUM)).toEqual(new Map([["a", 6], ["b", 30]]))
      // All 6 elements consumed (the spent ABORT counts).
      expect(newestStates(rows, INP)).toEqual(new Map([["iterable", 6]]))
    })

    it("with a zero epoch interval, the resume continues right after the last completed batch", async () => {
      // test_testing_source_abort_run
      const loc = await kind.fresh()
      const items = [0, 1, 2, ABORT(), 3, 4]
      expect(await runOnce(loc, items, identity, { batchSize: 2 })).toEqual([0, 1, 2])
      // Batches [0, 1] and [2] were each an epoch; the source's position points at the ABORT.
      expect(newestStates(await loc.rows(), INP)).toEqual(new Map([["iterable", 3]]))
      expect(await runOnce(loc, items, identity, { batchSize: 2 })).toEqual([3, 4])
      // And nothing more after that.
      expect(await runOnce(loc, items, identity, { batchSize: 2 })).toEqual([])
    })

    it("an abort in the middle resumes state and position together: nothing lost, nothing doubled", async () => {
      const loc = await kind.fresh()
      const items: Array<TestingSourceItem<readonly [string, number]>> = [
        ["a", 1],
        ["b", 10],
        ["a", 2],
        ABORT(),
        ["b", 20],
        ["a", 3],
        ABORT(),
        ["a", 4]
      ]
      const outs: Array<Array<readonly [string, number]>> = []
      for (let i = 0; i < 3; i++) outs.push(await runOnce(loc, items, runningSum))
      expect(outs).toEqual([
        [["a", 1], ["b", 10], ["a", 3]],
        [["b", 30], ["a", 6]],
        [["a", 10]]
      ])
      expect(newestStates(await loc.rows(), SUM)).toEqual(new Map([["a", 10], ["b", 30]]))
    })

    it("EOF: a rerun continues after it; a rerun with no new data emits nothing", async () => {
      // test_testing_source_eof_run
      const loc = await kind.fresh()
      const items = [0, 1, 2, EOF_(), 3, 4]
      expect(await runOnce(loc, items, identity, { batchSize: 2 })).toEqual([0, 1, 2])
      expect(await runOnce(loc, items, identity, { batchSize: 2 })).toEqual([3, 4])
      expect(await runOnce(loc, items, identity, { batchSize: 2 })).toEqual([])
      expect(await runOnce(loc, items, identity, { batchSize: 2 })).toEqual([])
    })

    it("EOF snapshots let a rerun continue with new data, state included", async () => {
      const loc = await kind.fresh()
      // The same array across runs: data appended to it is "new data" for the next run.
      const items: Array<TestingSourceItem<readonly [string, number]>> = [["a", 1], ["b", 10], ["a", 2]]
      expect(await runOnce(loc, items, runningSum)).toEqual([["a", 1], ["b", 10], ["a", 3]])
      expect(await runOnce(loc, items, runningSum)).toEqual([])
      items.push(["b", 20], ["a", 3])
      expect(await runOnce(loc, items, runningSum)).toEqual([["b", 30], ["a", 6]])
      expect(await runOnce(loc, items, runningSum)).toEqual([])
      items.push(["c", 100])
      expect(await runOnce(loc, items, runningSum)).toEqual([["c", 100]])
      expect(newestStates(await loc.rows(), SUM)).toEqual(new Map([["a", 6], ["b", 30], ["c", 100]]))
    })
  })

  describe("delayed backup (backupInterval > 0)", () => {
    /** 8 items keyed by parity, an ABORT, 4 more: one epoch per item with a zero epoch interval. */
    const parityItems = (): Array<TestingSourceItem<readonly [string, number]>> => {
      const items: Array<TestingSourceItem<readonly [string, number]>> = []
      for (let i = 1; i <= 8; i++) items.push([i % 2 === 0 ? "even" : "odd", i])
      items.push(ABORT())
      for (let i = 9; i <= 12; i++) items.push([i % 2 === 0 ? "even" : "odd", i])
      return items
    }
    const sums = (upTo: number) => {
      const out: Array<readonly [string, number]> = []
      let even = 0
      let odd = 0
      for (let i = 1; i <= upTo; i++) {
        if (i % 2 === 0) out.push(["even", (even += i)])
        else out.push(["odd", (odd += i)])
      }
      return out
    }

    it("keeps superseded snapshots for the commit lag, and an aborted run still resumes exactly", async () => {
      // Epoch interval 0 counts as 1 ms: a 4 ms backup interval is a lag of 4 epochs.
      const loc = await kind.fresh({ backupInterval: "4 millis" })
      const items = parityItems()
      expect(await runOnce(loc, items, runningSum)).toEqual(sums(8))
      const rows = await loc.rows()
      // Epochs 1..8 closed (one per item). The source is snapshotted in full at every epoch; the sum
      // writes what changed, and in full whenever the stored log would reach twice its 2 keys: at
      // epochs 4, 6 and 8. Collected up to epoch 8 - 4 = 4: each step keeps its newest full snapshot
      // at or before epoch 4 and everything after it.
      expect(rowNames(rows, INP)).toEqual(["iterable@4", "iterable@5", "iterable@6", "iterable@7", "iterable@8"])
      expect(rowNames(rows, SUM)).toEqual(["even@4", "even@6", "even@8", "odd@4", "odd@5", "odd@6", "odd@7", "odd@8"])
      // The older snapshots are the states of their epochs.
      expect(rows.filter((r) => r.stepId === SUM && r.key === "odd").map((r) => r.state)).toEqual([4, 9, 9, 16, 16])
      expect(rows.filter((r) => r.stepId === INP).map((r) => r.state)).toEqual([4, 5, 6, 7, 8])

      // The resume takes the newest state, not an older kept one: 9..12 continue the sums.
      expect(await runOnce(loc, items, runningSum)).toEqual(sums(12).slice(8))
      expect(newestStates(await loc.rows(), SUM)).toEqual(new Map([["even", 2 + 4 + 6 + 8 + 10 + 12], ["odd", 1 + 3 + 5 + 7 + 9 + 11]]))
      expect(await runOnce(loc, items, runningSum)).toEqual([])
    })

    it("without a backup interval only each step's newest full snapshot and what changed after it are kept", async () => {
      const loc = await kind.fresh()
      const items = parityItems()
      expect(await runOnce(loc, items, runningSum)).toEqual(sums(8))
      const rows = await loc.rows()
      expect(rowNames(rows, INP)).toEqual(["iterable@8"])
      // The sum was last written in full at epoch 8 (see above).
      expect(rowNames(rows, SUM)).toEqual(["even@8", "odd@8"])
      // Epoch 9 changes one key (a delta beside the full snapshot); at 10 the log reaches twice the keys: full again.
      expect(await runOnce(loc, items, runningSum)).toEqual(sums(12).slice(8))
      // Epochs 9..12 as 1..8 did (full at 10 and 12); the end of input touches both keys: full at 13.
      expect(rowNames(await loc.rows(), SUM)).toEqual(["even@13", "odd@13"])
    })

    it("a long backup interval collects nothing, and resumes still load the newest state", async () => {
      const loc = await kind.fresh({ backupInterval: "1 hour" })
      const items = parityItems()
      expect(await runOnce(loc, items, runningSum)).toEqual(sums(8))
      expect(rowNames(await loc.rows(), INP)).toHaveLength(8)
      expect(await runOnce(loc, items, runningSum)).toEqual(sums(12).slice(8))
      expect(await runOnce(loc, items, runningSum)).toEqual([])
    })
  })

  describe("per-key state across a resume", () => {
    it("each key's logic is snapshotted and restored", async () => {
      // test_stateful_snapshots_logic_per_key
      const loc = await kind.fresh()
      const items: Array<TestingSourceItem<Pair>> = [["a", "a1"], ["b", "b1"], ABORT(), ["a", "a2"], ["b", "b2"]]
      expect(await runOnce(loc, items, keepLast)).toEqual([["a", [undefined, "a1"]], ["b", [undefined, "b1"]]])
      expect(newestStates(await loc.rows(), KEEP_LAST)).toEqual(new Map([["a", "a1"], ["b", "b1"]]))
      expect(await runOnce(loc, items, keepLast)).toEqual([["a", ["a1", "a2"]], ["b", ["b1", "b2"]]])
    })

    it("a key discarded before the abort starts fresh after the resume", async () => {
      // test_stateful_snapshots_discard_per_key
      const loc = await kind.fresh()
      const items: Array<TestingSourceItem<Pair>> = [
        ["a", "a1"],
        ["b", "b1"],
        ["a", "DISCARD"],
        ["b", "b2"],
        ABORT(),
        ["a", "a3"],
        ["b", "b3"]
      ]
      expect(await runOnce(loc, items, keepLast)).toEqual([
        ["a", [undefined, "a1"]],
        ["b", [undefined, "b1"]],
        ["a", ["a1", "DISCARD"]],
        ["b", ["b1", "b2"]]
      ])
      // The discard is persisted: no live state for "a" (a tombstone, or nothing at all once collected).
      expect(newestStates(await loc.rows(), KEEP_LAST)).toEqual(new Map([["b", "b2"]]))
      expect(await runOnce(loc, items, keepLast)).toEqual([["a", [undefined, "a3"]], ["b", ["b2", "b3"]]])
    })

    it("a key discarded and rebuilt in the same run resumes with its new state", async () => {
      const loc = await kind.fresh()
      const items: Array<TestingSourceItem<Pair>> = [
        ["a", "a1"],
        ["a", "DISCARD"],
        ["a", "a2"],
        ABORT(),
        ["a", "a3"]
      ]
      expect(await runOnce(loc, items, keepLast)).toEqual([
        ["a", [undefined, "a1"]],
        ["a", ["a1", "DISCARD"]],
        ["a", [undefined, "a2"]]
      ])
      expect(await runOnce(loc, items, keepLast)).toEqual([["a", ["a2", "a3"]]])
    })
  })

  describe("the state onEof leaves", () => {
    it("discard at EOF: the resumed run starts the key fresh", async () => {
      // test_stateful_on_eof_discard
      const loc = await kind.fresh()
      const items = [1, EOF_(), 2, ABORT()]
      const body = testLogicStep(testLogic({ discardAfterEof: true }))
      expect(await runOnce(loc, items, body)).toEqual([["ALL", ["NEW", "ITEM"]], ["ALL", ["ITEM", "EOF"]]])
      expect(newestStates(await loc.rows(), "test_df.stateful.statefulBatch")).toEqual(new Map())
      expect(await runOnce(loc, items, body)).toEqual([["ALL", ["NEW", "ITEM"]]])
      // Past the (spent) ABORT the input ends, and onEof runs for the state restored from before it.
      expect(await runOnce(loc, items, body)).toEqual([["ALL", ["ITEM", "EOF"]]])
    })

    it("retain at EOF: the state onEof leaves is snapshotted and restored", async () => {
      // test_stateful_on_eof_retain
      const loc = await kind.fresh()
      const items = [1, EOF_(), 2, ABORT()]
      const body = testLogicStep(testLogic({}))
      expect(await runOnce(loc, items, body)).toEqual([["ALL", ["NEW", "ITEM"]], ["ALL", ["ITEM", "EOF"]]])
      expect(newestStates(await loc.rows(), "test_df.stateful.statefulBatch")).toEqual(new Map([["ALL", "EOF"]]))
      expect(await runOnce(loc, items, body)).toEqual([["ALL", ["EOF", "ITEM"]]])
    })
  })
})

// ---------------------------------------------------------------------------
// PostgreSQL: the connection drops while a flow runs

/**
 * Reads `0 .. count-1`, one item per batch, each batch a Promise that settles
 * a few milliseconds later. `beforeItem` runs (and is awaited) before item `i`
 * is handed over. The position moves only when the runtime takes a batch
 * (the iterable is drained then), so a snapshot never covers an item still in
 * flight.
 */
class SlowSource extends FixedPartitionedSource<number, number> {
  constructor(private readonly count: number, private readonly beforeItem: (i: number) => Promise<void>) {
    super()
  }
  listParts() {
    return ["slow"]
  }
  buildPart(_stepId: string, _part: string, resume: number | undefined): StatefulSourcePartition<number, number> {
    let next = resume ?? 0
    return {
      nextBatch: () => {
        if (next >= this.count) return EOF
        const i = next
        return (async () => {
          await new Promise((resolve) => setTimeout(resolve, 2))
          await this.beforeItem(i)
          return {
            [Symbol.iterator]: () => {
              next = i + 1
              return [i][Symbol.iterator]()
            }
          }
        })()
      },
      snapshot: () => next
    }
  }
}

/**
 * An "external system" of lines per partition that survives runs: a
 * partition is truncated to its snapshot when rebuilt (to nothing without
 * one), so what a failed run wrote after its last commit is overwritten:
 * exactly-once output.
 */
class LinesSink extends FixedPartitionedSink<string, number> {
  readonly files = new Map<string, Array<string>>()
  listParts() {
    return ["p0", "p1"]
  }
  buildPart(_stepId: string, part: string, resume: number | undefined): StatefulSinkPartition<string, number> {
    const lines = (this.files.get(part) ?? []).slice(0, resume ?? 0)
    this.files.set(part, lines)
    return {
      writeBatch: (values) => void lines.push(...values),
      snapshot: () => lines.length
    }
  }
}

/**
 * A PostgreSQL database of its own for the enclosing describe block, so that
 * terminating "every other connection to it" can't touch another test's.
 * Returns the URL of that database.
 */
const useDedicatedDatabase = (prefix: string): () => string => {
  const dbName = `${prefix}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`
  beforeAll(async () => {
    await withClient((c) => c.query(`CREATE DATABASE "${dbName}"`))
  })
  afterAll(async () => {
    await withClient((c) => c.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`))
  })
  return () => {
    const u = new URL(pgUrl())
    u.pathname = `/${dbName}`
    return u.toString()
  }
}

const databaseOf = (url: string): string => new URL(url).pathname.slice(1)

describe("PostgreSQL store: the connection drops mid-run", () => {
  const dbUrl = useDedicatedDatabase("weir_drop")

  /** Terminate every backend connected to the dedicated database (but the one asking); how many there were. */
  const dropConnections = (): Promise<number> =>
    withClient(async (c) => {
      const r = await c.query(
        `SELECT pid, pg_terminate_backend(pid, 5000) AS done FROM pg_stat_activity
         WHERE datname = $1 AND usename = current_user AND pid <> pg_backend_pid()`,
        [databaseOf(dbUrl())]
      )
      expect(r.rows.every((row) => row.done === true)).toBe(true)
      return r.rowCount ?? 0
    })

  const COUNT = 40
  const KILL_BEFORE = 15
  const keyOf = (i: number) => `k${i % 3}`

  /**
   * slow input → a TestingSink of the raw items (at-least-once), and → running
   * sum per key → a TestingSink of the sums and a LinesSink of them (exactly-once).
   */
  const slowFlow = (beforeItem: (i: number) => Promise<void>, lines: LinesSink) => {
    const flow = new Dataflow("test_df")
    const seen: Array<number> = []
    const sums: Array<readonly [string, number]> = []
    const inp = op.input("inp", flow, new SlowSource(COUNT, beforeItem))
    inp.then(op.output, "seen", new TestingSink(seen))
    const summed = runningSum(inp.then(op.map, "key", (i: number) => [keyOf(i), i] as const))
    summed.then(op.output, "sums", new TestingSink(sums))
    summed.then(op.map, "line", ([k, sum]: readonly [string, number]) => [k, `${k}=${sum}`] as const)
      .then(op.output, "lines", lines)
    return { flow, seen, sums }
  }

  it("the run fails with a RecoveryStoreError; the next run resumes with nothing lost", async () => {
    // What an undisturbed run produces.
    const expectedLines = new LinesSink()
    const expected = slowFlow(async () => {}, expectedLines)
    await runMain(expected.flow, { epochInterval: 0 })
    expect(expected.seen).toEqual(Array.from({ length: COUNT }, (_, i) => i))

    const schema = "flow"
    await initPostgres(dbUrl(), 1, { schema })
    const config = new PostgresRecoveryConfig(dbUrl(), { schema })
    const lines = new LinesSink()
    let dropped = -1
    const first = slowFlow(async (i) => {
      if (i === KILL_BEFORE && dropped === -1) dropped = await dropConnections()
    }, lines)
    const err = await runMain(first.flow, { epochInterval: 0, recovery: config }).then(() => undefined, (e: unknown) => e)
    // The store's connection (the only one to that database) was there to drop.
    expect(dropped).toBe(1)
    expect(err).toBeInstanceOf(RecoveryStoreError)
    expect((err as Error).message).toMatch(
      new RegExp(`^recovery store PostgreSQL at 127\\.0\\.0\\.1:\\d+/${databaseOf(dbUrl())} schema '${schema}': committing epoch \\d+ failed: `)
    )
    // Items 0..14 were committed, one epoch each; item 15 was processed, but its epoch's commit failed.
    // Commits to PostgreSQL overlap the next epoch, so item 16 may have been processed before the failure showed.
    const processed = first.seen.length
    expect([KILL_BEFORE + 1, KILL_BEFORE + 2]).toContain(processed)
    expect(first.seen).toEqual(expected.seen.slice(0, processed))
    expect(first.sums).toEqual(expected.sums.slice(0, processed))

    const second = slowFlow(async () => {}, lines)
    await runMain(second.flow, { epochInterval: 0, recovery: config })
    // Only the resume epoch (item 15's) is replayed; together the runs saw every item.
    expect(second.seen).toEqual(expected.seen.slice(KILL_BEFORE))
    expect(new Set([...first.seen, ...second.seen])).toEqual(new Set(expected.seen))
    // The sums continue from the committed state: the final state is the undisturbed one...
    expect(second.sums).toEqual(expected.sums.slice(KILL_BEFORE))
    // ...and the partitioned sink, rewound to its snapshot, holds exactly the undisturbed lines.
    expect(lines.files).toEqual(expectedLines.files)
    expect([...lines.files.values()].flat()).toHaveLength(COUNT)
  })})

// ---------------------------------------------------------------------------
// A fixed bug: snapshots of an epoch whose commit failed part-way survived, and
// a *later* resume past that epoch loaded them.
//
// A commit is not atomic as a whole: the SQLite store writes each partition in
// its own transaction (snapshots first, the frontier last — src/sqlite.ts:194
// "a crash in between leaves snapshots that resume ignores"), and with several
// workers each worker's commit is its own store call (core
// src/runtime/execution.ts:487), on either store. When it fails part-way, rows
// at epoch E stay although the resume epoch is E. The next execution replays
// E, but its epoch E need not touch the same keys (batches, hence epochs,
// differ between runs), so those rows are not overwritten; once a later
// execution resumes past E, `loadNewest` (src/store.ts:86, newest row before
// the resume epoch) picks them up — a state that already counts items the
// source will read again. `InMemoryRecovery` drops such rows when the next
// execution opens (packages/testing/src/recovery.ts:65); the real stores now
// do the same: recording an execution deletes every snapshot at or after its
// resume epoch.
//
// Each scenario: run 1 fails while committing epoch 2, after the rows of key
// `k0` (the running sum 1 + 20) were written; run 2 reads with smaller batches,
// so its epoch 2 holds only `k1`'s item, and it crashes (user code) before
// committing `k0`'s item 20 again; run 3 resumes at epoch 3, loads `k0`'s stale
// row and reads item 20 once more. The first test of each pair checks the
// scenario is what it says; the second states the correct outcome.

/** The per-key running sums of `items` from the start: what an undisturbed run emits. */
const undisturbedSums = (items: ReadonlyArray<readonly [string, number]>): Array<readonly [string, number]> => {
  const acc = new Map<string, number>()
  return items.map(([k, x]) => {
    acc.set(k, (acc.get(k) ?? 0) + x)
    return [k, acc.get(k)!] as const
  })
}

/** The first key among a few candidates that satisfies `ok`. */
const pickKey = (ok: (key: string) => boolean, not?: string): string => {
  const key = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"].find((k) => k !== not && ok(k))
  if (key === undefined) throw new Error("no candidate key fits")
  return key
}

interface StaleScenario {
  readonly k0: string
  readonly k1: string
  readonly runs: Array<{ readonly out: Array<readonly [string, number]>; readonly err: unknown }>
}

/**
 * Runs 1–3 of the scenario over `config`. `failRun1` arranges for run 1's
 * commit of epoch 2 to fail after `k0`'s rows are written (it may return a
 * hook called with each item run 1 processes), and returns a cleanup to call
 * once run 1 has failed.
 */
const runStaleScenario = async (
  config: RecoveryConfigLike,
  k0: string,
  k1: string,
  workers: number,
  failRun1: () => Promise<{ readonly cleanup: () => Promise<void>; readonly onItem?: (item: string) => void }>
): Promise<StaleScenario> => {
  const items = [[k0, 1], [k1, 10], [k1, 2], [k0, 20], [k1, 4], [k0, 40]] as const
  let crashOn: string | undefined
  let onItem: ((item: string) => void) | undefined
  const runs: StaleScenario["runs"] = []
  const run = async (batchSize: number) => {
    const out: Array<readonly [string, number]> = []
    const flow = new Dataflow("test_df")
    const inp = op.input("inp", flow, new TestingSource(items, batchSize)).then(op.map, "crash", (x: readonly [string, number]) => {
      onItem?.(`${x[0]}${x[1]}`)
      if (crashOn === `${x[0]}${x[1]}`) throw new Error(`crash on ${crashOn}`)
      return x
    })
    runningSum(inp).then(op.output, "out", new TestingSink(out))
    const err = await clusterMain(flow, { workersPerProcess: workers, epochInterval: 0, recovery: config })
      .then(() => undefined, (e: unknown) => e)
    runs.push({ out, err })
  }
  const failing = await failRun1()
  onItem = failing.onItem
  await run(2) // epochs: [k0 1, k1 10], [k1 2, k0 20] ← this commit fails part-way
  onItem = undefined
  await failing.cleanup()
  crashOn = `${k0}20`
  await run(1) // resumes at epoch 2: [k1 2] committed as epoch 2, then the crash on k0's 20
  crashOn = undefined
  await run(1) // resumes at epoch 3
  return { k0, k1, runs }
}

const checkStaleScenario = (sc: StaleScenario, run1Error: RegExp) => {
  const [run1, run2, run3] = sc.runs
  expect(run1!.err).toBeInstanceOf(RecoveryStoreError)
  expect((run1!.err as Error).message).toMatch(run1Error)
  expect(run2!.err).toBeInstanceOf(WeirRuntimeError)
  expect(String((run2!.err as WeirRuntimeError).cause)).toContain(`crash on ${sc.k0}20`)
  // Run 2 resumed from epoch 1's state: k1 = 10, plus 2.
  expect(run2!.out).toEqual([[sc.k1, 12]])
  expect(run3!.err).toBeUndefined()
}

describe("an epoch whose commit failed part-way leaves no snapshot a later resume loads", () => {
  describe("embedded (SQLite), one worker: a partition locked by another process", () => {
    let scenario: StaleScenario | undefined
    const SUM_STEP = SUM

    it("scenario: run 1 fails committing epoch 2 after other partitions took their rows", async () => {
      const dir = freshDir()
      await initDbDir(dir, PARTITIONS)
      // Execution 0's frontier lives in partition hash("0/0"); a worker's segments of a step in
      // partition hash(step, worker). The source's go elsewhere, so they are written first.
      const frontPart = stableHash("0/0") % PARTITIONS
      expect(stableHash(`${INP}\u00000`) % PARTITIONS).not.toBe(frontPart)
      expect(stableHash(`${SUM_STEP}\u00000`) % PARTITIONS).toBe(frontPart)
      const k0 = pickKey(() => true)
      const k1 = pickKey(() => true, k0)
      let lock: Database.Database | undefined
      scenario = await runStaleScenario(new RecoveryConfig(dir), k0, k1, 1, async () => {
        // Once epoch 1 is committed (the first batch has gone through), another process takes the
        // frontier's partition: the store's write there times out (busy_timeout, 5 s) and fails.
        return {
          onItem: (item) => {
            if (item !== `${k1}2` || lock !== undefined) return
            lock = new Database(path.join(dir, `part-${frontPart}.sqlite3`))
            lock.exec("BEGIN EXCLUSIVE")
          },
          cleanup: async () => {
            expect(lock).toBeDefined()
            lock?.exec("ROLLBACK")
            lock?.close()
          }
        }
      })
      checkStaleScenario(scenario, /^recovery store directory '.*': committing epoch 2 failed: database is locked/)
    })

    it("the run after the next one counts k0's item 20 once", () => {
      expect(scenario).toBeDefined()
      const { k0, k1, runs } = scenario!
      const items = [[k0, 1], [k1, 10], [k1, 2], [k0, 20], [k1, 4], [k0, 40]] as const
      // Resumed at epoch 3 (after k0 1, k1 10, k1 2): k0 = 1 + 20, k1 = 12 + 4, k0 = 21 + 40.
      expect(runs[2]!.out).toEqual(undisturbedSums(items).slice(3))
    })
  })

  describe("PostgreSQL, two workers: worker 1's commit of the epoch fails", () => {
    const dbUrl = useDedicatedDatabase("weir_stale")
    let scenario: StaleScenario | undefined

    it("scenario: run 1 fails committing epoch 2 after worker 0's commit of it", async () => {
      const url = dbUrl()
      const schema = "flow"
      await initPostgres(url, 1, { schema })
      // Worker w owns the keys with hash % 2 = w; the source's one partition is read by worker 0.
      const k0 = pickKey((k) => stableHash(k) % 2 === 0)
      const k1 = pickKey((k) => stableHash(k) % 2 === 1)
      scenario = await runStaleScenario(new PostgresRecoveryConfig(url, { schema }), k0, k1, 2, async () => {
        // Another session holds, uncommitted, the row worker 1 will write for k1 at epoch 2, so worker 1's
        // commit of epoch 2 waits (worker 0's goes through). Once it waits, its connection is dropped.
        const holder = new pg.Client({ connectionString: url })
        await holder.connect()
        await holder.query("BEGIN")
        await holder.query(
          `INSERT INTO "${schema}".segs (step_id, snap_epoch, worker_index, seq, "full", entries, data)
           VALUES ($1, 2, 1, 0, false, 0, '\\x01')`,
          [SUM]
        )
        let stop = false
        const watcher = withClient(async (c) => {
          while (!stop) {
            const r = await c.query(
              `SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity
               WHERE datname = $1 AND usename = current_user AND wait_event_type = 'Lock' AND pid <> $2`,
              [databaseOf(url), (holder as unknown as { processID: number }).processID]
            )
            if ((r.rowCount ?? 0) > 0) return r.rowCount ?? 0
            await new Promise((resolve) => setTimeout(resolve, 5))
          }
          return 0
        })
        return {
          cleanup: async () => {
            stop = true
            expect(await watcher).toBe(1)
            await holder.query("ROLLBACK")
            await holder.end()
          }
        }
      })
      checkStaleScenario(
        scenario,
        /^recovery store PostgreSQL at .* schema 'flow': committing epoch 2 failed: terminating connection due to administrator command/
      )
    })

    it("the run after the next one counts k0's item 20 once", () => {
      expect(scenario).toBeDefined()
      const { k0, k1, runs } = scenario!
      const items = [[k0, 1], [k1, 10], [k1, 2], [k0, 20], [k1, 4], [k0, 40]] as const
      // Workers take turns, so compare the final sums rather than the order: k0 = 61, k1 = 16.
      const final = new Map(runs[2]!.out)
      expect(final).toEqual(new Map(undisturbedSums(items)))
    })
  })
})
