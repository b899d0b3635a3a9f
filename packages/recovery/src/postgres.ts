/**
 * The PostgreSQL store: the same logical tables as the embedded store, in one
 * schema of a shared database, so workers on several hosts can share it.
 * Every epoch commit is one transaction.
 *
 * @since 0.1.0
 */
import type { RecoveryConfigLike, RecoveryContext } from "@weir/core"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import pg from "pg"
import { RecoveryStoreError } from "./errors.js"
import type { RecoveryMeta } from "./resume.js"
import { backupIntervalOf, type RecoveryOptions } from "./sqlite.js"
import { openStore, type RecoveryBackend, type SnapshotRow } from "./store.js"

const ident = (schema: string): string => {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(schema)) {
    throw new RecoveryStoreError(`invalid PostgreSQL schema name '${schema}': use letters, digits and underscores`)
  }
  return `"${schema}"`
}

const schemaSql = (s: string) => `
CREATE SCHEMA IF NOT EXISTS ${s};
CREATE TABLE IF NOT EXISTS ${s}.parts (
  part_index integer PRIMARY KEY CHECK (part_index >= 0),
  part_count integer NOT NULL CHECK (part_count > 0),
  created_at timestamptz DEFAULT now(),
  CHECK (part_index < part_count)
);
CREATE TABLE IF NOT EXISTS ${s}.exs (
  ex_num bigint PRIMARY KEY,
  worker_count integer NOT NULL CHECK (worker_count > 0),
  resume_epoch bigint NOT NULL,
  created_at timestamptz DEFAULT now()
);
CREATE TABLE IF NOT EXISTS ${s}.fronts (
  ex_num bigint NOT NULL,
  worker_index integer NOT NULL CHECK (worker_index >= 0),
  worker_frontier bigint NOT NULL,
  created_at timestamptz DEFAULT now(),
  PRIMARY KEY (ex_num, worker_index)
);
CREATE TABLE IF NOT EXISTS ${s}.commits (
  part_index integer PRIMARY KEY,
  commit_epoch bigint NOT NULL,
  created_at timestamptz DEFAULT now()
);
CREATE TABLE IF NOT EXISTS ${s}.snaps (
  step_id text NOT NULL,
  state_key text NOT NULL,
  snap_epoch bigint NOT NULL,
  ser_change bytea,
  created_at timestamptz DEFAULT now(),
  PRIMARY KEY (step_id, state_key, snap_epoch)
);
CREATE INDEX IF NOT EXISTS snaps_by_epoch ON ${s}.snaps (snap_epoch);
`

const describeTarget = (connectionString: string): string => {
  try {
    const u = new URL(connectionString)
    return `PostgreSQL at ${u.hostname}:${u.port || "5432"}${u.pathname}`
  } catch {
    return "PostgreSQL"
  }
}

const connect = async (connectionString: string): Promise<pg.Client> => {
  const client = new pg.Client({ connectionString, connectionTimeoutMillis: 10_000 })
  // A connection dropped while idle must not crash the process; the next query reports it.
  client.on("error", () => {})
  try {
    await client.connect()
  } catch (e) {
    await client.end().catch(() => {})
    throw new RecoveryStoreError(
      `can't connect to ${describeTarget(connectionString)}: ${e instanceof Error ? e.message : String(e)}; ` +
        "is the server running and the connection string right?",
      { cause: e }
    )
  }
  return client
}

/**
 * Create the recovery tables in `schema` (default `weir`) with `count`
 * logical partitions. Idempotent.
 *
 * @example
 * ```ts
 * await initPostgres("postgres://weir@127.0.0.1:5432/weir", 4, { schema: "orders_flow" })
 * ```
 * @since 0.1.0
 */
export const initPostgres = async (
  connectionString: string,
  count: number,
  options: { readonly schema?: string | undefined } = {}
): Promise<void> => {
  if (!Number.isInteger(count) || count < 1) {
    throw new RecoveryStoreError(`the partition count must be a positive integer; got ${String(count)}`)
  }
  const s = ident(options.schema ?? "weir")
  const client = await connect(connectionString)
  try {
    await client.query("BEGIN")
    await client.query(schemaSql(s))
    for (let i = 0; i < count; i++) {
      await client.query(
        `INSERT INTO ${s}.parts (part_index, part_count) VALUES ($1, $2)
         ON CONFLICT (part_index) DO UPDATE SET part_count = excluded.part_count`,
        [i, count]
      )
    }
    await client.query("COMMIT")
  } catch (e) {
    await client.query("ROLLBACK").catch(() => {})
    throw e
  } finally {
    await client.end()
  }
}

/** PostgreSQL's type OIDs of the arrays' elements. */
const TEXT_OID = 25
const BYTEA_OID = 17

/**
 * One-dimensional arrays in PostgreSQL's binary format. node-postgres sends a
 * `Buffer` parameter as binary, so a whole commit's keys or states go as one
 * parameter each, without the text form's quoting and hex-escaping of every
 * element. Layout: dimensions, has-nulls flag, element type, length, lower
 * bound, then each element as its byte length (-1 for NULL) and its bytes.
 */
const arrayHeader = (elementOid: number, length: number, hasNull: boolean, size: number): Buffer => {
  if (length === 0) {
    const empty = Buffer.alloc(12)
    empty.writeInt32BE(elementOid, 8)
    return empty
  }
  const b = Buffer.allocUnsafe(20 + size)
  b.writeInt32BE(1, 0)
  b.writeInt32BE(hasNull ? 1 : 0, 4)
  b.writeInt32BE(elementOid, 8)
  b.writeInt32BE(length, 12)
  b.writeInt32BE(1, 16)
  return b
}

const byteaArray = (items: ReadonlyArray<Buffer | null>): Buffer => {
  let size = 0
  let hasNull = false
  for (let i = 0; i < items.length; i++) {
    const item = items[i]!
    if (item === null) hasNull = true
    size += 4 + (item === null ? 0 : item.length)
  }
  const b = arrayHeader(BYTEA_OID, items.length, hasNull, size)
  let at = 20
  for (let i = 0; i < items.length; i++) {
    const item = items[i]!
    if (item === null) {
      at = b.writeInt32BE(-1, at)
    } else {
      at = b.writeInt32BE(item.length, at)
      at += item.copy(b, at)
    }
  }
  return b
}

const textArray = (items: ReadonlyArray<string>): Buffer => {
  let size = 0
  for (let i = 0; i < items.length; i++) size += 4 + Buffer.byteLength(items[i]!, "utf8")
  const b = arrayHeader(TEXT_OID, items.length, false, size)
  let at = 20
  for (let i = 0; i < items.length; i++) {
    const written = b.write(items[i]!, at + 4, "utf8")
    b.writeInt32BE(written, at)
    at += 4 + written
  }
  return b
}

/** SQLSTATE of a unique violation. */
const UNIQUE_VIOLATION = "23505"

class PostgresBackend implements RecoveryBackend {
  readonly where: string
  private constructor(private readonly client: pg.Client, private readonly s: string, target: string, schema: string) {
    this.where = `${target} schema '${schema}'`
  }

  static async open(connectionString: string, schema: string): Promise<PostgresBackend> {
    const s = ident(schema)
    const client = await connect(connectionString)
    return new PostgresBackend(client, s, describeTarget(connectionString), schema)
  }

  async readMeta(): Promise<RecoveryMeta> {
    const exists = await this.client.query("SELECT to_regclass($1) AS t", [`${this.s}.parts`])
    if (exists.rows[0].t === null) return { parts: [], executions: [], frontiers: [], commits: [] }
    const num = (v: unknown) => Number(v)
    const parts = await this.client.query(`SELECT part_index, part_count FROM ${this.s}.parts`)
    const exs = await this.client.query(`SELECT ex_num, worker_count, resume_epoch FROM ${this.s}.exs`)
    const fronts = await this.client.query(`SELECT ex_num, worker_index, worker_frontier FROM ${this.s}.fronts`)
    const commits = await this.client.query(`SELECT part_index, commit_epoch FROM ${this.s}.commits`)
    return {
      parts: parts.rows.map((r) => ({ index: num(r.part_index), count: num(r.part_count) })),
      executions: exs.rows.map((r) => ({ ex: num(r.ex_num), workerCount: num(r.worker_count), resumeEpoch: num(r.resume_epoch) })),
      frontiers: fronts.rows.map((r) => ({ ex: num(r.ex_num), worker: num(r.worker_index), frontier: num(r.worker_frontier) })),
      commits: commits.rows.map((r) => ({ part: num(r.part_index), epoch: num(r.commit_epoch) }))
    }
  }

  async writeExecution(ex: number, workerCount: number, resumeEpoch: number): Promise<void> {
    // As in the embedded store: snapshots at or after the resume epoch come from a commit
    // that failed part-way; this execution redoes those epochs, so they must never be loaded.
    await this.client.query("BEGIN")
    try {
      await this.client.query(`DELETE FROM ${this.s}.snaps WHERE snap_epoch >= $1`, [resumeEpoch])
      await this.client.query(
        `INSERT INTO ${this.s}.exs (ex_num, worker_count, resume_epoch) VALUES ($1, $2, $3)
         ON CONFLICT (ex_num) DO UPDATE SET worker_count = excluded.worker_count, resume_epoch = excluded.resume_epoch`,
        [ex, workerCount, resumeEpoch]
      )
      await this.client.query("COMMIT")
    } catch (e) {
      await this.client.query("ROLLBACK").catch(() => {})
      throw e
    }
  }

  async loadNewest(stepId: string, beforeEpoch: number): Promise<ReadonlyArray<readonly [string, Buffer | null]>> {
    const r = await this.client.query(
      `SELECT DISTINCT ON (state_key) state_key, ser_change FROM ${this.s}.snaps
       WHERE step_id = $1 AND snap_epoch < $2 ORDER BY state_key, snap_epoch DESC`,
      [stepId, beforeEpoch]
    )
    return r.rows.map((row) => [row.state_key as string, row.ser_change as Buffer | null] as const)
  }

  /**
   * The whole commit in one statement, hence one transaction and one round
   * trip: the rows, the worker's frontier, and every worker's frontier as it
   * was before (the statement's own writes are not visible to it).
   */
  private commitSql(upsert: boolean): string {
    return `WITH written AS (
        INSERT INTO ${this.s}.snaps (step_id, state_key, snap_epoch, ser_change)
        SELECT s, k, $3::bigint, v FROM unnest($1::text[], $2::text[], $4::bytea[]) AS t(s, k, v)
        ${upsert ? "ON CONFLICT (step_id, state_key, snap_epoch) DO UPDATE SET ser_change = excluded.ser_change" : ""}
      ), advanced AS (
        INSERT INTO ${this.s}.fronts (ex_num, worker_index, worker_frontier) VALUES ($5, $6, $7)
        ON CONFLICT (ex_num, worker_index) DO UPDATE SET worker_frontier = excluded.worker_frontier
      )
      SELECT worker_index, worker_frontier FROM ${this.s}.fronts WHERE ex_num = $5`
  }

  async commit(
    ex: number,
    worker: number,
    epoch: number,
    frontier: number,
    rows: ReadonlyArray<SnapshotRow>,
    workerCount: number,
    resumeEpoch: number
  ): Promise<number> {
    const stepIds: Array<string> = new Array(rows.length)
    const keys: Array<string> = new Array(rows.length)
    const states: Array<Buffer | null> = new Array(rows.length)
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!
      stepIds[i] = r.stepId
      keys[i] = r.key
      states[i] = r.bytes
    }
    const params = [textArray(stepIds), textArray(keys), epoch, byteaArray(states), ex, worker, frontier]
    let result: pg.QueryResult
    try {
      result = await this.client.query(this.commitSql(false), params)
    } catch (e) {
      // Rows at this epoch exist only if an execution that crashed before its frontier wrote them: overwrite them.
      if ((e as { code?: unknown }).code !== UNIQUE_VIOLATION) throw e
      result = await this.client.query(this.commitSql(true), params)
    }
    const fronts = new Map<number, number>(result.rows.map((row) => [Number(row.worker_index), Number(row.worker_frontier)]))
    fronts.set(worker, frontier)
    let min = Infinity
    for (let w = 0; w < workerCount; w++) min = Math.min(min, Math.max(fronts.get(w) ?? resumeEpoch, resumeEpoch))
    return min
  }

  /**
   * One statement, so one transaction on the store's only connection: a
   * commit issued meanwhile queues behind it instead of landing inside it.
   */
  async collect(upTo: number): Promise<void> {
    const s = this.s
    await this.client.query(
      `WITH superseded AS (
         -- Every row older than a row of the same key in the collected range.
         DELETE FROM ${s}.snaps o USING ${s}.snaps n
         WHERE n.snap_epoch > (SELECT COALESCE(MIN(commit_epoch), 0) FROM ${s}.commits) AND n.snap_epoch <= $1
           AND o.step_id = n.step_id AND o.state_key = n.state_key AND o.snap_epoch < n.snap_epoch
       ), tombstones AS (
         -- A tombstone that is its key's newest row in the range (disjoint from the rows above).
         DELETE FROM ${s}.snaps t
         WHERE t.snap_epoch > (SELECT COALESCE(MIN(commit_epoch), 0) FROM ${s}.commits) AND t.snap_epoch <= $1
           AND t.ser_change IS NULL
           AND NOT EXISTS (
             SELECT 1 FROM ${s}.snaps n WHERE n.step_id = t.step_id AND n.state_key = t.state_key
               AND n.snap_epoch > t.snap_epoch AND n.snap_epoch <= $1)
       )
       INSERT INTO ${s}.commits (part_index, commit_epoch) SELECT part_index, $1 FROM ${s}.parts
       ON CONFLICT (part_index) DO UPDATE SET commit_epoch = excluded.commit_epoch`,
      [upTo]
    )
  }

  async close(): Promise<void> {
    await this.client.end().catch(() => {})
  }
}

/** Options of {@link PostgresRecoveryConfig}. */
export interface PostgresRecoveryOptions extends RecoveryOptions {
  /** The schema holding the tables (default `weir`); one per dataflow. */
  readonly schema?: string | undefined
}

/**
 * A recovery store in PostgreSQL, for deployments whose workers run on
 * several hosts. Initialise it once with {@link initPostgres} or
 * `weir recovery init --postgres <url> <count>`.
 *
 * @example
 * ```ts
 * await runMain(flow, {
 *   epochInterval: "5 seconds",
 *   recovery: new PostgresRecoveryConfig("postgres://weir@127.0.0.1:5432/weir", { schema: "orders_flow" })
 * })
 * ```
 * @since 0.1.0
 */
export class PostgresRecoveryConfig implements RecoveryConfigLike {
  readonly backupInterval: Duration.Duration
  readonly schema: string
  constructor(readonly connectionString: string, options: PostgresRecoveryOptions = {}) {
    this.backupInterval = backupIntervalOf(options)
    this.schema = options.schema ?? "weir"
    ident(this.schema)
  }

  open(context: RecoveryContext) {
    return Effect.acquireRelease(
      Effect.tryPromise({
        try: () => PostgresBackend.open(this.connectionString, this.schema),
        catch: (e) =>
          e instanceof RecoveryStoreError
            ? e
            : new RecoveryStoreError(`can't open the PostgreSQL recovery store: ${String(e)}`, { cause: e })
      }),
      (backend) => Effect.promise(() => backend.close())
    ).pipe(Effect.flatMap((backend) => openStore(backend, context, this.backupInterval)))
  }
}
