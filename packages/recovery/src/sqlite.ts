/**
 * The embedded store: a directory of SQLite partition files
 * (`part-0.sqlite3` … `part-N.sqlite3`), created once by {@link initDbDir} or
 * `weir recovery init <dir> <count>`. A worker's snapshot segments of a step
 * (segments.ts) go to the partition a stable hash of `(step, worker)` picks;
 * every write is a WAL transaction with full fsync. The tables follow
 * Bytewax's (`parts`, `exs`, `fronts`, `commits`), with `segs` for Bytewax's
 * row-per-key `snaps`, and `meta` (store id, bound flow). One run at a time
 * holds the directory (lease.ts).
 *
 * @since 0.1.0
 */
import { type RecoveryConfigLike, type RecoveryContext, stableHash, WeirRecoveryError } from "@weir/core"
import Database from "better-sqlite3"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { randomUUID } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { RecoveryStoreError, StoreAlreadyInitializedError } from "./errors.js"
import { acquireEmbeddedLease, LOCK_FILE } from "./lease.js"
import type { RecoveryMeta } from "./resume.js"
import { encodeRaw, type Segment, type StoredSegment } from "./segments.js"
import { type BackendCommit, openStore, type RecoveryBackend, type StoreObserver } from "./store.js"

/**
 * 2: the `meta` table (the store's id, the flow it is bound to).
 * 3: snapshots as segments (`segs`) instead of a row per key (`snaps`).
 */
const SCHEMA_VERSION = 3

const SCHEMA = `
CREATE TABLE IF NOT EXISTS parts (
  part_index INTEGER PRIMARY KEY CHECK (part_index >= 0),
  part_count INTEGER NOT NULL CHECK (part_count > 0),
  created_at TEXT DEFAULT CURRENT_TIMESTAMP,
  CHECK (part_index < part_count)
) STRICT;
CREATE TABLE IF NOT EXISTS exs (
  ex_num INTEGER PRIMARY KEY,
  worker_count INTEGER NOT NULL CHECK (worker_count > 0),
  resume_epoch INTEGER NOT NULL,
  created_at TEXT DEFAULT CURRENT_TIMESTAMP
) STRICT;
CREATE TABLE IF NOT EXISTS fronts (
  ex_num INTEGER NOT NULL,
  worker_index INTEGER NOT NULL CHECK (worker_index >= 0),
  worker_frontier INTEGER NOT NULL,
  created_at TEXT DEFAULT CURRENT_TIMESTAMP,
  PRIMARY KEY (ex_num, worker_index)
) STRICT;
CREATE TABLE IF NOT EXISTS commits (
  part_index INTEGER PRIMARY KEY,
  commit_epoch INTEGER NOT NULL,
  created_at TEXT DEFAULT CURRENT_TIMESTAMP
) STRICT;
CREATE TABLE IF NOT EXISTS segs (
  step_id TEXT NOT NULL,
  snap_epoch INTEGER NOT NULL,
  worker_index INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  full INTEGER NOT NULL,
  entries INTEGER NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY (step_id, snap_epoch, worker_index, seq)
) STRICT;
CREATE INDEX IF NOT EXISTS segs_by_epoch ON segs (snap_epoch);
CREATE TABLE IF NOT EXISTS meta (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;
`

const partFile = (dir: string, i: number) => path.join(dir, `part-${i}.sqlite3`)

const openDb = (file: string): Database.Database => {
  const db = new Database(file)
  db.pragma("journal_mode = WAL")
  db.pragma("synchronous = FULL")
  db.pragma("busy_timeout = 5000")
  db.pragma("foreign_keys = ON")
  if ((db.pragma("user_version", { simple: true }) as number) < SCHEMA_VERSION) {
    db.transaction(() => {
      db.exec(SCHEMA)
      migrateRows(db)
      db.pragma(`user_version = ${SCHEMA_VERSION}`)
    })()
  }
  return db
}

/** Stores written before segments kept a row per key in `snaps`: each epoch's rows become one segment. */
const migrateRows = (db: Database.Database): void => {
  const legacy = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'snaps'").get()
  if (legacy === undefined) return
  const rows = db.prepare("SELECT step_id, snap_epoch, state_key, ser_change FROM snaps ORDER BY step_id, snap_epoch").all() as Array<
    { step_id: string; snap_epoch: number; state_key: string; ser_change: Buffer | null }
  >
  const insert = db.prepare(
    "INSERT INTO segs (step_id, snap_epoch, worker_index, seq, full, entries, data) VALUES (?, ?, 0, 0, 0, ?, ?)"
  )
  for (let i = 0; i < rows.length;) {
    const { step_id, snap_epoch } = rows[i]!
    const group: Array<readonly [string, Buffer | null]> = []
    for (; i < rows.length && rows[i]!.step_id === step_id && rows[i]!.snap_epoch === snap_epoch; i++) {
      group.push([rows[i]!.state_key, rows[i]!.ser_change])
    }
    insert.run(step_id, snap_epoch, group.length, encodeRaw(group))
  }
  db.exec("DROP TABLE snaps")
}

const checkDir = (dir: string, hint: string): void => {
  let stat: fs.Stats
  try {
    stat = fs.statSync(dir)
  } catch {
    throw new RecoveryStoreError(`recovery directory '${dir}' does not exist; ${hint}`)
  }
  if (!stat.isDirectory()) throw new RecoveryStoreError(`recovery directory '${dir}' is not a directory`)
}

const partitionFiles = (dir: string): Array<string> =>
  fs.readdirSync(dir).filter((f) => f.endsWith(".sqlite3")).sort().map((f) => path.join(dir, f))

/** What one partition file says about the store, for `initDbDir`'s checks. */
interface FileFacts {
  readonly counts: ReadonlyArray<number>
  readonly executions: number
  readonly storeId: string | undefined
  readonly flowId: string | undefined
}

const readFacts = (file: string): FileFacts => {
  const db = openDb(file)
  try {
    const meta = new Map(
      (db.prepare("SELECT name, value FROM meta").all() as Array<{ name: string; value: string }>).map((r) => [r.name, r.value])
    )
    return {
      counts: (db.prepare("SELECT part_count AS c FROM parts").all() as Array<{ c: number }>).map((r) => r.c),
      executions: (db.prepare("SELECT COUNT(*) AS n FROM exs").get() as { n: number }).n,
      storeId: meta.get("store_id"),
      flowId: meta.get("flow_id")
    }
  } finally {
    db.close()
  }
}

const startOver = (dir: string, count: number) =>
  `To start over, delete the store's files (\`rm ${path.join(dir, "part-*.sqlite3")} ${path.join(dir, LOCK_FILE)}*\`) — ` +
  `this discards every saved state and position — and run \`weir recovery init ${dir} ${count}\` again`

/**
 * Create the partition files of an embedded recovery store. The directory
 * must exist. The partition count is fixed forever: choose at least the
 * largest number of workers you will ever run.
 *
 * Initialising again with the same count is harmless while the store holds
 * no data (it completes partitions a crash left missing). It refuses, with a
 * {@link StoreAlreadyInitializedError} that says how to start over, a store
 * initialised with another count or one a run has used: re-partitioning
 * would make saved state go backwards. It also refuses while a run holds
 * the store ({@link StoreInUseError}).
 *
 * @example
 * ```ts
 * import { mkdirSync } from "node:fs"
 * import { initDbDir } from "@weir/recovery"
 *
 * mkdirSync("recovery", { recursive: true })
 * await initDbDir("recovery", 4)
 * ```
 * @since 0.1.0
 */
export const initDbDir = async (dbDir: string, count: number): Promise<void> => {
  if (!Number.isInteger(count) || count < 1) {
    throw new RecoveryStoreError(`the partition count must be a positive integer; got ${String(count)}`)
  }
  checkDir(dbDir, "please create it first (`mkdir`)")
  const lease = acquireEmbeddedLease(dbDir, "(weir recovery init)", "initialise")
  try {
    const facts = partitionFiles(dbDir).map(readFacts)
    const counts = new Set(facts.flatMap((f) => f.counts))
    const other = [...counts].filter((c) => c !== count)
    if (other.length > 0) {
      throw new StoreAlreadyInitializedError(
        `recovery directory '${dbDir}' is already initialised with ${other.join(" and ")} partition(s), not ${count}: ` +
          `a store's partition count is fixed for its life (re-partitioning it would make saved state go backwards). ` +
          startOver(dbDir, count)
      )
    }
    const executions = facts.reduce((n, f) => n + f.executions, 0)
    if (executions > 0) {
      const flow = facts.find((f) => f.flowId !== undefined)?.flowId
      throw new StoreAlreadyInitializedError(
        `recovery directory '${dbDir}' already holds the data of ${executions} execution(s)` +
          `${flow === undefined ? "" : ` of flow '${flow}'`}; it is initialised, and initialising it again would lose that data. ` +
          `Run the flow with it as it is (\`weir run … -r ${dbDir}\`). ` + startOver(dbDir, count)
      )
    }
    const storeId = facts.find((f) => f.storeId !== undefined)?.storeId ?? randomUUID()
    for (let i = 0; i < count; i++) {
      const db = openDb(partFile(dbDir, i))
      try {
        db.transaction(() => {
          db.prepare("INSERT INTO parts (part_index, part_count) VALUES (?, ?) ON CONFLICT (part_index) DO NOTHING").run(i, count)
          db.prepare("INSERT INTO meta (name, value) VALUES ('store_id', ?) ON CONFLICT (name) DO NOTHING").run(storeId)
        })()
      } finally {
        db.close()
      }
    }
  } finally {
    lease.release()
  }
}

/** One partition file with its statements, prepared once. */
class Partition {
  private readonly clearEpoch: Database.Statement
  private readonly insertSegment: Database.Statement
  private readonly upsertFront: Database.Statement
  private readonly selectFront: Database.Statement
  private readonly deleteSuperseded: Database.Statement
  private readonly upsertCommit: Database.Statement

  constructor(readonly index: number, readonly db: Database.Database) {
    this.clearEpoch = db.prepare("DELETE FROM segs WHERE snap_epoch = ? AND worker_index = ?")
    this.insertSegment = db.prepare(
      "INSERT INTO segs (step_id, snap_epoch, worker_index, seq, full, entries, data) VALUES (?, ?, ?, ?, ?, ?, ?)"
    )
    this.upsertFront = db.prepare(
      "INSERT INTO fronts (ex_num, worker_index, worker_frontier) VALUES (?, ?, ?) " +
        "ON CONFLICT (ex_num, worker_index) DO UPDATE SET worker_frontier = excluded.worker_frontier"
    )
    this.selectFront = db.prepare("SELECT worker_frontier AS f FROM fronts WHERE ex_num = ? AND worker_index = ?")
    // Per step, everything older than its newest full snapshot in the collected range.
    this.deleteSuperseded = db.prepare(
      `DELETE FROM segs WHERE snap_epoch < (
         SELECT MAX(f.snap_epoch) FROM segs f WHERE f.step_id = segs.step_id AND f.full = 1 AND f.snap_epoch <= ?)`
    )
    this.upsertCommit = db.prepare(
      "INSERT INTO commits (part_index, commit_epoch) VALUES (?, ?) " +
        "ON CONFLICT (part_index) DO UPDATE SET commit_epoch = excluded.commit_epoch"
    )
  }

  /**
   * One transaction: the worker's segments at `epoch` (replacing what it
   * left at that epoch before), then (when given) its frontier.
   */
  write(
    epoch: number,
    worker: number,
    segments: ReadonlyArray<Segment>,
    front?: readonly [ex: number, worker: number, frontier: number]
  ): void {
    this.db.transaction(() => {
      this.clearEpoch.run(epoch, worker)
      for (const s of segments) this.insertSegment.run(s.stepId, epoch, worker, s.seq, s.full ? 1 : 0, s.count, s.data)
      if (front !== undefined) this.upsertFront.run(front[0], front[1], front[2])
    })()
  }

  frontier(ex: number, worker: number): number | undefined {
    return (this.selectFront.get(ex, worker) as { f: number } | undefined)?.f
  }

  collect(upTo: number): void {
    this.db.transaction(() => {
      this.deleteSuperseded.run(upTo)
      this.upsertCommit.run(this.index, upTo)
    })()
  }
}

class SqliteBackend implements RecoveryBackend {
  readonly where: string
  /** Its writes are synchronous work on this thread: nothing to overlap. */
  readonly pipelined = false
  private readonly dbs: Array<Database.Database> = []
  /** The partitions by index (filled by `readMeta`). */
  private readonly parts: Array<Partition> = []

  constructor(readonly dir: string) {
    this.where = `directory '${dir}'`
    checkDir(dir, "create it and initialise it with `weir recovery init <dir> <count>`")
    try {
      for (const f of partitionFiles(dir)) this.dbs.push(openDb(f))
    } catch (e) {
      for (const db of this.dbs) db.close()
      throw e
    }
  }

  private get count(): number {
    return this.parts.length
  }

  async readMeta(): Promise<RecoveryMeta> {
    const meta = { parts: [], executions: [], frontiers: [], commits: [], flowIds: [] } as {
      parts: Array<RecoveryMeta["parts"][number]>
      executions: Array<RecoveryMeta["executions"][number]>
      frontiers: Array<RecoveryMeta["frontiers"][number]>
      commits: Array<RecoveryMeta["commits"][number]>
      flowIds: Array<string>
    }
    const byIndex = new Map<number, Database.Database>()
    for (const db of this.dbs) {
      const stored = new Map(
        (db.prepare("SELECT name, value FROM meta").all() as Array<{ name: string; value: string }>).map((r) => [r.name, r.value])
      )
      const storeId = stored.get("store_id")
      const flowId = stored.get("flow_id")
      if (flowId !== undefined) meta.flowIds.push(flowId)
      for (const r of db.prepare("SELECT part_index AS i, part_count AS c FROM parts").all() as Array<{ i: number; c: number }>) {
        meta.parts.push({ index: r.i, count: r.c, storeId })
        byIndex.set(r.i, db)
      }
      for (const r of db.prepare("SELECT ex_num, worker_count, resume_epoch FROM exs").all() as Array<{ ex_num: number; worker_count: number; resume_epoch: number }>) {
        meta.executions.push({ ex: r.ex_num, workerCount: r.worker_count, resumeEpoch: r.resume_epoch })
      }
      for (const r of db.prepare("SELECT ex_num, worker_index, worker_frontier FROM fronts").all() as Array<{ ex_num: number; worker_index: number; worker_frontier: number }>) {
        meta.frontiers.push({ ex: r.ex_num, worker: r.worker_index, frontier: r.worker_frontier })
      }
      for (const r of db.prepare("SELECT part_index, commit_epoch FROM commits").all() as Array<{ part_index: number; commit_epoch: number }>) {
        meta.commits.push({ part: r.part_index, epoch: r.commit_epoch })
      }
    }
    // The resume calculation refuses incomplete or inconsistent partitions before any other call.
    const count = meta.parts[0]?.count ?? 0
    this.parts.length = 0
    for (let i = 0; i < count; i++) {
      const db = byIndex.get(i)
      if (db !== undefined) this.parts.push(new Partition(i, db))
    }
    return meta
  }

  async writeExecution(ex: number, workerCount: number, resumeEpoch: number, flowId: string): Promise<void> {
    // Segments at or after the resume epoch come from a commit that failed part-way (or
    // from a worker whose peers did not get as far): this execution redoes those epochs,
    // perhaps touching other keys, so a later resume must never load them. Each partition
    // drops them before the execution is recorded.
    for (const db of new Set(this.parts.map((p) => p.db))) {
      db.transaction(() => {
        db.prepare("DELETE FROM segs WHERE snap_epoch >= ?").run(resumeEpoch)
        // The first execution binds the store to its flow.
        db.prepare("INSERT INTO meta (name, value) VALUES ('flow_id', ?) ON CONFLICT (name) DO NOTHING").run(flowId)
      })()
    }
    this.parts[ex % this.count]!.db.prepare("INSERT OR REPLACE INTO exs (ex_num, worker_count, resume_epoch) VALUES (?, ?, ?)")
      .run(ex, workerCount, resumeEpoch)
  }

  async loadSegments(stepId: string, beforeEpoch: number): Promise<ReadonlyArray<StoredSegment>> {
    const out: Array<StoredSegment> = []
    for (const db of new Set(this.parts.map((p) => p.db))) {
      const rows = db.prepare(
        "SELECT snap_epoch AS epoch, full, data FROM segs WHERE step_id = ? AND snap_epoch < ? ORDER BY snap_epoch"
      ).all(stepId, beforeEpoch) as Array<{ epoch: number; full: number; data: Buffer }>
      for (const r of rows) out.push({ epoch: r.epoch, full: r.full === 1, data: r.data })
    }
    return out
  }

  /** The partition a worker's segments of a step go to. */
  private segmentPart(stepId: string, worker: number): number {
    return stableHash(`${stepId}\u0000${worker}`) % this.count
  }

  private frontPart(ex: number, worker: number): number {
    return stableHash(`${ex}/${worker}`) % this.count
  }

  async commit(c: BackendCommit): Promise<number> {
    const { ex, worker, epoch, frontier } = c
    const front = this.frontPart(ex, worker)
    if (this.count === 1) {
      this.parts[0]!.write(epoch, worker, c.segments, [ex, worker, frontier])
    } else {
      const byPart: Array<Array<Segment>> = this.parts.map(() => [])
      for (const s of c.segments) byPart[this.segmentPart(s.stepId, worker)]!.push(s)
      // Segments first, the frontier last: a crash in between leaves segments that resume ignores.
      // A partition with nothing of this commit is left alone: no empty transaction, no fsync.
      for (let p = 0; p < this.count; p++) {
        if (p !== front && byPart[p]!.length > 0) this.parts[p]!.write(epoch, worker, byPart[p]!)
      }
      this.parts[front]!.write(epoch, worker, byPart[front]!, [ex, worker, frontier])
    }
    let min = Infinity
    for (let w = 0; w < c.workerCount; w++) {
      const f = this.parts[this.frontPart(ex, w)]!.frontier(ex, w)
      min = Math.min(min, Math.max(f ?? c.resumeEpoch, c.resumeEpoch))
    }
    return min
  }

  async collect(upTo: number): Promise<void> {
    for (const part of this.parts) part.collect(upTo)
  }

  async close(): Promise<void> {
    for (const db of this.dbs) db.close()
    this.dbs.length = 0
  }
}

/** Options of {@link RecoveryConfig}. */
export interface RecoveryOptions {
  /**
   * How long superseded snapshots are kept, so that backups taken
   * independently (e.g. copies of the files) still share a consistent resume
   * point. Default 0: keep only the newest.
   */
  readonly backupInterval?: Duration.Input | undefined
  /**
   * Told of every epoch commit and garbage collection, with their sizes and
   * timings (see {@link StoreObserver}).
   *
   * @example
   * ```ts
   * new RecoveryConfig("recovery", {
   *   observe: { committed: (s) => console.error(`epoch ${s.epoch}: ${s.entries} keys in ${s.writeMs.toFixed(1)} ms`) }
   * })
   * ```
   */
  readonly observe?: StoreObserver | undefined
}

const backupIntervalOf = (options: RecoveryOptions): Duration.Duration => {
  if (options.backupInterval === undefined) return Duration.zero
  const d = Duration.fromInput(options.backupInterval)
  if (d._tag === "None" || Duration.toMillis(d.value) < 0) {
    throw new TypeError(`backupInterval must be a non-negative duration; got ${String(options.backupInterval)}`)
  }
  return d.value
}

/**
 * The embedded recovery store: a directory of SQLite partition files on
 * local disk. Pass it as the `recovery` run option (or `weir run -r DIR`).
 *
 * @example
 * ```ts
 * import { type Dataflow, runMain } from "@weir/core"
 * import { RecoveryConfig } from "@weir/recovery"
 *
 * declare const flow: Dataflow   // your dataflow
 * await runMain(flow, { epochInterval: "5 seconds", recovery: new RecoveryConfig("recovery") })
 * ```
 * @since 0.1.0
 */
export class RecoveryConfig implements RecoveryConfigLike {
  readonly backupInterval: Duration.Duration
  private readonly observe: StoreObserver | undefined
  constructor(readonly dbDir: string, options: RecoveryOptions = {}) {
    this.backupInterval = backupIntervalOf(options)
    this.observe = options.observe
  }

  open(context: RecoveryContext) {
    const dir = this.dbDir
    const lease = Effect.acquireRelease(
      Effect.try({
        try: () => {
          checkDir(dir, "create it and initialise it with `weir recovery init <dir> <count>`")
          return acquireEmbeddedLease(dir, context.flowId)
        },
        catch: (e) =>
          e instanceof WeirRecoveryError
            ? e
            : new RecoveryStoreError(`can't take the lease of the recovery store in '${dir}': ${String(e)}`, { cause: e })
      }),
      (held) => Effect.sync(() => held.release())
    )
    const backend = Effect.acquireRelease(
      Effect.try({
        try: () => new SqliteBackend(this.dbDir),
        catch: (e) =>
          e instanceof RecoveryStoreError
            ? e
            : new RecoveryStoreError(`can't open the recovery store in '${this.dbDir}': ${String(e)}`, { cause: e })
      }),
      (backend) => Effect.promise(() => backend.close())
    )
    // The lease is taken first and let go last, after the partitions are closed.
    return Effect.flatMap(lease, () => Effect.flatMap(backend, (b) => openStore(b, context, this.backupInterval, this.observe)))
  }
}

export { backupIntervalOf }
