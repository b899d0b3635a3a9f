/**
 * The embedded store: a directory of SQLite partition files
 * (`part-0.sqlite3` … `part-N.sqlite3`), created once by {@link initDbDir} or
 * `weir recovery init <dir> <count>`. Snapshots are spread over partitions by
 * a stable hash of `(step, key)`; every write is a WAL transaction with full
 * fsync. The layout follows Bytewax's (`parts`, `exs`, `fronts`, `commits`,
 * `snaps`).
 *
 * @since 0.1.0
 */
import { type RecoveryConfigLike, type RecoveryContext, stableHash } from "@weir/core"
import Database from "better-sqlite3"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { RecoveryStoreError } from "./errors.js"
import type { RecoveryMeta } from "./resume.js"
import { openStore, type RecoveryBackend, type SnapshotRow } from "./store.js"

const SCHEMA_VERSION = 1

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
CREATE TABLE IF NOT EXISTS snaps (
  step_id TEXT NOT NULL,
  state_key TEXT NOT NULL,
  snap_epoch INTEGER NOT NULL,
  ser_change BLOB,
  created_at TEXT DEFAULT CURRENT_TIMESTAMP,
  PRIMARY KEY (step_id, state_key, snap_epoch)
) STRICT;
CREATE INDEX IF NOT EXISTS snaps_by_epoch ON snaps (snap_epoch);
`

const partFile = (dir: string, i: number) => path.join(dir, `part-${i}.sqlite3`)

const openDb = (file: string): Database.Database => {
  const db = new Database(file)
  db.pragma("journal_mode = WAL")
  db.pragma("synchronous = FULL")
  db.pragma("busy_timeout = 5000")
  db.pragma("foreign_keys = ON")
  if ((db.pragma("user_version", { simple: true }) as number) < SCHEMA_VERSION) {
    db.exec(SCHEMA)
    db.pragma(`user_version = ${SCHEMA_VERSION}`)
  }
  return db
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

/**
 * Create the partition files of an embedded recovery store. The directory
 * must exist. The partition count is fixed forever: choose at least the
 * largest number of workers you will ever run.
 *
 * @example
 * ```ts
 * import { mkdirSync } from "node:fs"
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
  for (let i = 0; i < count; i++) {
    const db = openDb(partFile(dbDir, i))
    try {
      db.prepare("INSERT INTO parts (part_index, part_count) VALUES (?, ?) ON CONFLICT (part_index) DO UPDATE SET part_count = excluded.part_count")
        .run(i, count)
    } finally {
      db.close()
    }
  }
}

class SqliteBackend implements RecoveryBackend {
  readonly where: string
  private readonly dbs: Array<Database.Database> = []
  private count = 0

  constructor(readonly dir: string) {
    this.where = `directory '${dir}'`
    checkDir(dir, "create it and initialise it with `weir recovery init <dir> <count>`")
    const files = fs.readdirSync(dir).filter((f) => f.endsWith(".sqlite3")).sort()
    try {
      for (const f of files) this.dbs.push(openDb(path.join(dir, f)))
    } catch (e) {
      for (const db of this.dbs) db.close()
      throw e
    }
  }

  /** Partition `i`'s database (valid once `readMeta` has run). */
  private part(i: number): Database.Database {
    return this.byIndex.get(i)!
  }
  private readonly byIndex = new Map<number, Database.Database>()

  async readMeta(): Promise<RecoveryMeta> {
    const meta = { parts: [], executions: [], frontiers: [], commits: [] } as {
      parts: Array<RecoveryMeta["parts"][number]>
      executions: Array<RecoveryMeta["executions"][number]>
      frontiers: Array<RecoveryMeta["frontiers"][number]>
      commits: Array<RecoveryMeta["commits"][number]>
    }
    for (const db of this.dbs) {
      for (const r of db.prepare("SELECT part_index AS i, part_count AS c FROM parts").all() as Array<{ i: number; c: number }>) {
        meta.parts.push({ index: r.i, count: r.c })
        this.byIndex.set(r.i, db)
        this.count = r.c
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
    return meta
  }

  async writeExecution(ex: number, workerCount: number, resumeEpoch: number): Promise<void> {
    this.part(ex % this.count).prepare("INSERT OR REPLACE INTO exs (ex_num, worker_count, resume_epoch) VALUES (?, ?, ?)")
      .run(ex, workerCount, resumeEpoch)
  }

  async loadNewest(stepId: string, beforeEpoch: number): Promise<ReadonlyArray<readonly [string, Buffer | null]>> {
    const out: Array<readonly [string, Buffer | null]> = []
    for (const db of new Set(this.byIndex.values())) {
      const rows = db.prepare(
        `SELECT s.state_key AS key, s.ser_change AS bytes FROM snaps s
         JOIN (SELECT state_key, MAX(snap_epoch) AS newest FROM snaps WHERE step_id = ? AND snap_epoch < ? GROUP BY state_key) n
           ON s.state_key = n.state_key AND s.snap_epoch = n.newest
         WHERE s.step_id = ?`
      ).all(stepId, beforeEpoch, stepId) as Array<{ key: string; bytes: Buffer | null }>
      for (const r of rows) out.push([r.key, r.bytes])
    }
    return out
  }

  private frontPart(ex: number, worker: number): number {
    return stableHash(`${ex}/${worker}`) % this.count
  }

  async commit(ex: number, worker: number, epoch: number, frontier: number, rows: ReadonlyArray<SnapshotRow>): Promise<void> {
    const byPart = new Map<number, Array<SnapshotRow>>()
    for (const row of rows) {
      const p = stableHash(`${row.stepId}\u0000${row.key}`) % this.count
      let list = byPart.get(p)
      if (list === undefined) byPart.set(p, (list = []))
      list.push(row)
    }
    const front = this.frontPart(ex, worker)
    // Snapshots first, the frontier last: a crash in between leaves snapshots that resume ignores.
    const order = [...byPart.keys()].filter((p) => p !== front)
    order.push(front)
    for (const p of order) {
      const db = this.part(p)
      const upsert = db.prepare(
        "INSERT INTO snaps (step_id, state_key, snap_epoch, ser_change) VALUES (?, ?, ?, ?) " +
          "ON CONFLICT (step_id, state_key, snap_epoch) DO UPDATE SET ser_change = excluded.ser_change"
      )
      const list = byPart.get(p) ?? []
      db.transaction(() => {
        for (const r of list) upsert.run(r.stepId, r.key, epoch, r.bytes)
        if (p === front) {
          db.prepare(
            "INSERT INTO fronts (ex_num, worker_index, worker_frontier) VALUES (?, ?, ?) " +
              "ON CONFLICT (ex_num, worker_index) DO UPDATE SET worker_frontier = excluded.worker_frontier"
          ).run(ex, worker, frontier)
        }
      })()
    }
  }

  async minFrontier(ex: number, workerCount: number, resumeEpoch: number): Promise<number> {
    let min = Infinity
    for (let w = 0; w < workerCount; w++) {
      const row = this.part(this.frontPart(ex, w)).prepare(
        "SELECT worker_frontier AS f FROM fronts WHERE ex_num = ? AND worker_index = ?"
      ).get(ex, w) as { f: number } | undefined
      min = Math.min(min, Math.max(row?.f ?? resumeEpoch, resumeEpoch))
    }
    return min
  }

  async collect(upTo: number): Promise<void> {
    for (const [index, db] of this.byIndex) {
      const last = (db.prepare("SELECT commit_epoch AS e FROM commits WHERE part_index = ?").get(index) as { e: number } | undefined)?.e ?? 0
      db.transaction(() => {
        // Only keys written since the last collection can have rows that became superseded.
        db.prepare(
          `DELETE FROM snaps WHERE rowid IN (
             SELECT s.rowid FROM (
               SELECT step_id, state_key, MAX(snap_epoch) AS newest FROM snaps
               WHERE snap_epoch > ? AND snap_epoch <= ? GROUP BY step_id, state_key
             ) n JOIN snaps s ON s.step_id = n.step_id AND s.state_key = n.state_key
             WHERE s.snap_epoch < n.newest OR (s.snap_epoch = n.newest AND s.ser_change IS NULL))`
        ).run(last, upTo)
        db.prepare(
          "INSERT INTO commits (part_index, commit_epoch) VALUES (?, ?) " +
            "ON CONFLICT (part_index) DO UPDATE SET commit_epoch = excluded.commit_epoch"
        ).run(index, upTo)
      })()
    }
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
 * import { runMain } from "@weir/core"
 * import { RecoveryConfig } from "@weir/recovery"
 *
 * await runMain(flow, { epochInterval: "5 seconds", recovery: new RecoveryConfig("recovery") })
 * ```
 * @since 0.1.0
 */
export class RecoveryConfig implements RecoveryConfigLike {
  readonly backupInterval: Duration.Duration
  constructor(readonly dbDir: string, options: RecoveryOptions = {}) {
    this.backupInterval = backupIntervalOf(options)
  }

  open(context: RecoveryContext) {
    return Effect.acquireRelease(
      Effect.try({
        try: () => new SqliteBackend(this.dbDir),
        catch: (e) =>
          e instanceof RecoveryStoreError
            ? e
            : new RecoveryStoreError(`can't open the recovery store in '${this.dbDir}': ${String(e)}`, { cause: e })
      }),
      (backend) => Effect.promise(() => backend.close())
    ).pipe(Effect.flatMap((backend) => openStore(backend, context, this.backupInterval)))
  }
}

export { backupIntervalOf }
