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
    await this.client.query(
      `INSERT INTO ${this.s}.exs (ex_num, worker_count, resume_epoch) VALUES ($1, $2, $3)
       ON CONFLICT (ex_num) DO UPDATE SET worker_count = excluded.worker_count, resume_epoch = excluded.resume_epoch`,
      [ex, workerCount, resumeEpoch]
    )
  }

  async loadNewest(stepId: string, beforeEpoch: number): Promise<ReadonlyArray<readonly [string, Buffer | null]>> {
    const r = await this.client.query(
      `SELECT DISTINCT ON (state_key) state_key, ser_change FROM ${this.s}.snaps
       WHERE step_id = $1 AND snap_epoch < $2 ORDER BY state_key, snap_epoch DESC`,
      [stepId, beforeEpoch]
    )
    return r.rows.map((row) => [row.state_key as string, row.ser_change as Buffer | null] as const)
  }

  async commit(ex: number, worker: number, epoch: number, frontier: number, rows: ReadonlyArray<SnapshotRow>): Promise<void> {
    const c = this.client
    await c.query("BEGIN")
    try {
      const CHUNK = 5000
      for (let i = 0; i < rows.length; i += CHUNK) {
        const chunk = rows.slice(i, i + CHUNK)
        await c.query(
          `INSERT INTO ${this.s}.snaps (step_id, state_key, snap_epoch, ser_change)
           SELECT s, k, $3::bigint, v FROM unnest($1::text[], $2::text[], $4::bytea[]) AS t(s, k, v)
           ON CONFLICT (step_id, state_key, snap_epoch) DO UPDATE SET ser_change = excluded.ser_change`,
          [chunk.map((r) => r.stepId), chunk.map((r) => r.key), epoch, chunk.map((r) => r.bytes)]
        )
      }
      await c.query(
        `INSERT INTO ${this.s}.fronts (ex_num, worker_index, worker_frontier) VALUES ($1, $2, $3)
         ON CONFLICT (ex_num, worker_index) DO UPDATE SET worker_frontier = excluded.worker_frontier`,
        [ex, worker, frontier]
      )
      await c.query("COMMIT")
    } catch (e) {
      await c.query("ROLLBACK").catch(() => {})
      throw e
    }
  }

  async minFrontier(ex: number, workerCount: number, resumeEpoch: number): Promise<number> {
    const r = await this.client.query(
      `SELECT worker_index, worker_frontier FROM ${this.s}.fronts WHERE ex_num = $1`,
      [ex]
    )
    const fronts = new Map<number, number>(r.rows.map((row) => [Number(row.worker_index), Number(row.worker_frontier)]))
    let min = Infinity
    for (let w = 0; w < workerCount; w++) min = Math.min(min, Math.max(fronts.get(w) ?? resumeEpoch, resumeEpoch))
    return min
  }

  async collect(upTo: number): Promise<void> {
    const c = this.client
    await c.query("BEGIN")
    try {
      const last = await c.query(`SELECT COALESCE(MIN(commit_epoch), 0) AS e FROM ${this.s}.commits`)
      await c.query(
        `DELETE FROM ${this.s}.snaps s USING (
           SELECT step_id, state_key, MAX(snap_epoch) AS newest FROM ${this.s}.snaps
           WHERE snap_epoch > $1 AND snap_epoch <= $2 GROUP BY step_id, state_key
         ) n
         WHERE s.step_id = n.step_id AND s.state_key = n.state_key
           AND (s.snap_epoch < n.newest OR (s.snap_epoch = n.newest AND s.ser_change IS NULL))`,
        [Number(last.rows[0].e), upTo]
      )
      await c.query(
        `INSERT INTO ${this.s}.commits (part_index, commit_epoch) SELECT part_index, $1 FROM ${this.s}.parts
         ON CONFLICT (part_index) DO UPDATE SET commit_epoch = excluded.commit_epoch`,
        [upTo]
      )
      await c.query("COMMIT")
    } catch (e) {
      await c.query("ROLLBACK").catch(() => {})
      throw e
    }
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
