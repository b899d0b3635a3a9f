/**
 * The PostgreSQL store: the same logical tables as the embedded store, in one
 * schema of a shared database (by default `weir_<flow id>`), so workers on
 * several hosts can share it. Every epoch commit is one statement, hence one
 * transaction; the store's lease is a session advisory lock on the schema.
 *
 * @since 0.1.0
 */
import {
  type ClusterStore,
  type ClusterStoreConfigLike,
  type RecoveryConfigLike,
  type RecoveryContext,
  WeirRecoveryError
} from "@weir/core"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { randomUUID } from "node:crypto"
import * as os from "node:os"
import pg from "pg"
import { PostgresClusterStore } from "./cluster.js"
import { RecoveryStoreError, StoreAlreadyInitializedError, StoreInUseError } from "./errors.js"
import { describeHolder, type LeaseHolder } from "./lease.js"
import type { RecoveryMeta } from "./resume.js"
import { backupIntervalOf, type RecoveryOptions } from "./sqlite.js"
import { encodeRaw, type StoredSegment } from "./segments.js"
import { type BackendCommit, openStore, type RecoveryBackend, type StoreObserver } from "./store.js"

/** PostgreSQL truncates longer identifiers (NAMEDATALEN - 1), so two long names could meet in one schema. */
const MAX_IDENTIFIER_BYTES = 63

/** `schema` quoted, after checking it is a plain name PostgreSQL won't truncate. */
export const ident = (schema: string): string => {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(schema)) {
    throw new RecoveryStoreError(`invalid PostgreSQL schema name '${schema}': use letters, digits and underscores`)
  }
  if (Buffer.byteLength(schema) > MAX_IDENTIFIER_BYTES) {
    throw new RecoveryStoreError(
      `the PostgreSQL schema name '${schema}' is ${Buffer.byteLength(schema)} bytes long, and PostgreSQL would truncate it ` +
        `to ${MAX_IDENTIFIER_BYTES}: choose a shorter one`
    )
  }
  return `"${schema}"`
}

/**
 * The schema a flow's store lives in unless a `schema` is given:
 * `weir_<flow id>`, with every character other than a letter, a digit or `_`
 * replaced by `_` (a store is bound to its flow, so two flows whose ids map
 * to the same name are told apart when the second one runs).
 *
 * @example
 * ```ts
 * defaultSchemaFor("orders-by-user") // "weir_orders_by_user"
 * ```
 * @since 0.2.0
 */
export const defaultSchemaFor = (flowId: string): string => {
  const schema = `weir_${flowId.replace(/[^A-Za-z0-9_]/g, "_")}`
  if (Buffer.byteLength(schema) > MAX_IDENTIFIER_BYTES) {
    throw new RecoveryStoreError(
      `the default PostgreSQL schema of flow '${flowId}', '${schema}', is longer than PostgreSQL's ${MAX_IDENTIFIER_BYTES}-byte ` +
        "limit on names: give the store a schema of your own (`{ schema }`, or `--schema` for `weir recovery init`)"
    )
  }
  return schema
}

/** The first key of every lease's advisory lock ("WEIR"); the second is the schema's hash. */
const LEASE_LOCK_CLASS = 0x57454952

/** The segments table (see segments.ts): what one worker snapshotted of a step at an epoch, in a few large rows. */
const segsSql = (s: string) => `
CREATE TABLE IF NOT EXISTS ${s}.segs (
  step_id text NOT NULL,
  snap_epoch bigint NOT NULL,
  worker_index integer NOT NULL,
  seq integer NOT NULL,
  "full" boolean NOT NULL,
  entries integer NOT NULL,
  data bytea NOT NULL,
  PRIMARY KEY (step_id, snap_epoch, worker_index, seq)
);
CREATE INDEX IF NOT EXISTS segs_by_epoch ON ${s}.segs (snap_epoch);`

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
${segsSql(s)}
CREATE TABLE IF NOT EXISTS ${s}.meta (
  name text PRIMARY KEY,
  value text NOT NULL
);
CREATE TABLE IF NOT EXISTS ${s}.lease (
  only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
  flow_id text NOT NULL,
  pid integer NOT NULL,
  host text NOT NULL,
  since timestamptz NOT NULL DEFAULT now()
);
`

export const describeTarget = (connectionString: string): string => {
  try {
    const u = new URL(connectionString)
    return `PostgreSQL at ${u.hostname}:${u.port || "5432"}${u.pathname}`
  } catch {
    return "PostgreSQL"
  }
}

/** The connection settings of {@link PostgresRecoveryOptions}, checked, with their defaults. */
export interface ConnectionLimits {
  readonly connectTimeout: Duration.Duration
  readonly statementTimeout: Duration.Duration
  readonly idleTimeout: Duration.Duration
  /** The silence before the first keepalive probe, or `false` for no keepalive. */
  readonly keepAlive: Duration.Duration | false
}

const positiveDuration = (name: string, input: Duration.Input | undefined, fallback: Duration.Duration): Duration.Duration => {
  if (input === undefined) return fallback
  const d = Duration.fromInput(input)
  if (d._tag === "None" || !(Duration.toMillis(d.value) > 0)) {
    throw new TypeError(`${name} must be a positive duration (Duration.infinity for none); got ${String(input)}`)
  }
  return d.value
}

const connectionLimitsOf = (options: PostgresRecoveryOptions): ConnectionLimits => ({
  connectTimeout: positiveDuration("connectTimeout", options.connectTimeout, Duration.seconds(10)),
  statementTimeout: positiveDuration("statementTimeout", options.statementTimeout, Duration.seconds(30)),
  idleTimeout: positiveDuration("idleTimeout", options.idleTimeout, Duration.seconds(10)),
  keepAlive: options.keepAlive === false
    ? false
    : positiveDuration("keepAlive", options.keepAlive === true ? undefined : options.keepAlive, Duration.seconds(10))
})

/**
 * A client held to `limits`. The server cancels a statement that runs too
 * long and ends a session left idle inside a transaction; but a frozen or
 * unreachable server enforces nothing, so the client also gives up on any
 * answer, and on the goodbye when closing, that takes too long.
 */
const connect = async (connectionString: string, limits: ConnectionLimits = connectionLimitsOf({})): Promise<pg.Client> => {
  const target = describeTarget(connectionString)
  // 0 is "none" to pg; Node's timers fire at once past 2^31 - 1 ms, so anything that long is none too.
  const millisOf = (d: Duration.Duration): number => {
    const ms = Duration.toMillis(d)
    return ms >= 2 ** 31 ? 0 : Math.ceil(ms)
  }
  const seconds = (ms: number): string => `${ms / 1000} second${ms === 1000 ? "" : "s"}`
  const connectMs = millisOf(limits.connectTimeout)
  const statementMs = millisOf(limits.statementTimeout)
  const client = new pg.Client({
    connectionString,
    connectionTimeoutMillis: connectMs,
    statement_timeout: statementMs,
    idle_in_transaction_session_timeout: millisOf(limits.idleTimeout),
    keepAlive: limits.keepAlive !== false,
    keepAliveInitialDelayMillis: limits.keepAlive === false ? 0 : millisOf(limits.keepAlive)
  })
  // A connection dropped while idle must not crash the process; the next query reports it.
  client.on("error", () => {})
  const started = performance.now()
  try {
    await client.connect()
  } catch (e) {
    await client.end().catch(() => {})
    // pg's connection timer destroys the socket, so a connect that failed that late failed on it.
    const timedOut = connectMs > 0 && performance.now() - started >= connectMs
    throw new RecoveryStoreError(
      timedOut
        ? `can't connect to ${target}: timed out after ${seconds(connectMs)} (connectTimeout); ` +
          "is the server running and responsive, and reachable from this host?"
        : `can't connect to ${target}: ${e instanceof Error ? e.message : String(e)}; ` +
          "is the server running and the connection string right?",
      { cause: e }
    )
  }

  // The client's side of statementTimeout. Not pg's query_timeout: that rejects the query but leaves it
  // on the connection, so every query queued behind it waits out its own timeout and `end()` finds the
  // connection busy. Dropping the connection fails them all at once; the server rolls back whatever the
  // statement had begun when it notices.
  let gaveUp: string | undefined
  const explain = (e: unknown): unknown => {
    if (gaveUp !== undefined) return new Error(gaveUp, { cause: e })
    const canceled = (e as { code?: unknown }).code === "57014" && /statement timeout/.test(String((e as Error).message))
    return canceled
      ? new Error(
        `timed out after ${seconds(statementMs)}: the server canceled the statement (statementTimeout); ` +
          "check the server's load and the locks other sessions hold, or raise statementTimeout",
        { cause: e }
      )
      : e
  }
  const query = client.query.bind(client) as (...args: Array<unknown>) => Promise<pg.QueryResult>
  client.query = ((...args: Array<unknown>) => {
    const pending = query(...args)
    const timer = statementMs === 0 ? undefined : setTimeout(() => {
      gaveUp ??= `timed out after ${seconds(statementMs)} without an answer from the server (statementTimeout); ` +
        `check that ${target} is running, not overloaded, and reachable from this host`
      client.connection.stream.destroy()
    }, statementMs)
    return pending.then(
      (result) => {
        clearTimeout(timer)
        return result
      },
      (e: unknown) => {
        clearTimeout(timer)
        throw explain(e)
      }
    )
  }) as typeof client.query
  // A frozen server never answers the goodbye, and pg's end() waits for that answer.
  const end = client.end.bind(client) as () => Promise<void>
  client.end = (() => {
    const timer = connectMs === 0 ? undefined : setTimeout(() => client.connection.stream.destroy(), connectMs)
    return end().finally(() => clearTimeout(timer))
  }) as typeof client.end
  return client
}

/**
 * Take the lease of the store in `schema` on this connection: a session-level
 * advisory lock, which the server lets go of when the session ends (the
 * holder exits, is killed, or its connection drops). Fails at once with a
 * {@link StoreInUseError} naming the holder when another session has it.
 */
const takeLease = async (client: pg.Client, schema: string, where: string, flowId: string, what: string): Promise<void> => {
  const s = ident(schema)
  const got = await client.query("SELECT pg_try_advisory_lock($1::integer, hashtext($2)) AS ok", [LEASE_LOCK_CLASS, schema])
  const hasTable = (await client.query("SELECT to_regclass($1) AS t", [`${s}.lease`])).rows[0].t !== null
  if (got.rows[0].ok !== true) {
    let holder: Partial<LeaseHolder> | undefined
    if (hasTable) {
      const r = await client.query(`SELECT flow_id, pid, host, since FROM ${s}.lease`)
      const row = r.rows[0]
      if (row !== undefined) {
        holder = { flowId: row.flow_id, pid: row.pid, host: row.host, since: new Date(row.since).toISOString() }
      }
    }
    throw new StoreInUseError(
      `can't ${what} with the recovery store in ${where}: it is in use by ${describeHolder(holder)}. ` +
        "A store is held by one run at a time: wait for that run to end or stop it; to run this flow alongside it, " +
        "give it a schema of its own"
    )
  }
  if (hasTable) {
    await client.query(
      `INSERT INTO ${s}.lease (only_row, flow_id, pid, host, since) VALUES (true, $1, $2, $3, now())
       ON CONFLICT (only_row) DO UPDATE SET flow_id = excluded.flow_id, pid = excluded.pid, host = excluded.host, since = excluded.since`,
      [flowId, process.pid, os.hostname()]
    )
  }
}

/**
 * Create the recovery tables with `count` logical partitions in `schema`, or
 * in the default schema of the flow `flowId` ({@link defaultSchemaFor}),
 * which is where a {@link PostgresRecoveryConfig} without a `schema` looks.
 *
 * Initialising again with the same count is harmless while the store holds
 * no data. It refuses, with a {@link StoreAlreadyInitializedError} that says
 * how to start over, a store initialised with another count or one a run has
 * used, and a store a run holds ({@link StoreInUseError}).
 *
 * @example
 * ```ts
 * await initPostgres("postgres://weir@127.0.0.1:5432/weir", 4, { flowId: "orders_flow" })
 * // or a schema of your choosing:
 * await initPostgres("postgres://weir@127.0.0.1:5432/weir", 4, { schema: "orders" })
 * ```
 * @since 0.1.0
 */
export const initPostgres = async (
  connectionString: string,
  count: number,
  options: { readonly schema?: string | undefined; readonly flowId?: string | undefined } = {}
): Promise<void> => {
  if (!Number.isInteger(count) || count < 1) {
    throw new RecoveryStoreError(`the partition count must be a positive integer; got ${String(count)}`)
  }
  let schema = options.schema
  if (schema === undefined) {
    if (options.flowId === undefined) {
      throw new RecoveryStoreError(
        "initPostgres needs the flow the store is for (`flowId`, for its default schema) or the schema (`schema`)"
      )
    }
    schema = defaultSchemaFor(options.flowId)
  }
  const s = ident(schema)
  const where = `${describeTarget(connectionString)} schema '${schema}'`
  const client = await connect(connectionString)
  try {
    await takeLease(client, schema, where, "(weir recovery init)", "initialise")
    await client.query("BEGIN")
    const clustered = (await client.query("SELECT to_regclass($1) AS t", [`${s}.cluster_kgs`])).rows[0].t !== null
    if (clustered) {
      // A scale-out run's store (see cluster.ts): its key groups are fixed, and its data must not be lost either.
      const groups = Number((await client.query(`SELECT key_groups FROM ${s}.cluster_meta`)).rows[0]?.key_groups ?? count)
      const used = Number((await client.query(`SELECT COUNT(*) AS n FROM ${s}.cluster_kgs WHERE epoch > 0`)).rows[0].n)
      const startOver = `To start over, drop the schema (\`DROP SCHEMA ${s} CASCADE\`) — this discards every saved state ` +
        `and position — and initialise it again`
      if (groups !== count) {
        throw new StoreAlreadyInitializedError(
          `the recovery store in ${where} has ${groups} key groups for scale-out runs, not ${count}: a store's key groups ` +
            `are fixed for its life. ${startOver}`
        )
      }
      if (used > 0) {
        throw new StoreAlreadyInitializedError(
          `the recovery store in ${where} already holds the data of a scale-out run (${used} key group(s) committed); ` +
            `initialising it again would lose that data. Run the flow with it as it is. ${startOver}`
        )
      }
    }
    const initialised = (await client.query("SELECT to_regclass($1) AS t", [`${s}.parts`])).rows[0].t !== null
    if (initialised) {
      const counts = (await client.query(`SELECT DISTINCT part_count FROM ${s}.parts`)).rows.map((r) => Number(r.part_count))
      const startOver = `To start over, drop the schema (\`DROP SCHEMA ${s} CASCADE\`) — this discards every saved state ` +
        `and position — and initialise it again`
      const other = counts.filter((c) => c !== count)
      if (other.length > 0) {
        throw new StoreAlreadyInitializedError(
          `the recovery store in ${where} is already initialised with ${other.join(" and ")} partition(s), not ${count}: ` +
            `a store's partition count is fixed for its life (re-partitioning it would make saved state go backwards). ${startOver}`
        )
      }
      const executions = Number((await client.query(`SELECT COUNT(*) AS n FROM ${s}.exs`)).rows[0].n)
      if (executions > 0) {
        const hasMeta = (await client.query("SELECT to_regclass($1) AS t", [`${s}.meta`])).rows[0].t !== null
        const flow = hasMeta
          ? (await client.query(`SELECT value FROM ${s}.meta WHERE name = 'flow_id'`)).rows[0]?.value as string | undefined
          : undefined
        throw new StoreAlreadyInitializedError(
          `the recovery store in ${where} already holds the data of ${executions} execution(s)` +
            `${flow === undefined ? "" : ` of flow '${flow}'`}; it is initialised, and initialising it again would lose that data. ` +
            `Run the flow with it as it is. ${startOver}`
        )
      }
    }
    await client.query(schemaSql(s))
    for (let i = 0; i < count; i++) {
      await client.query(`INSERT INTO ${s}.parts (part_index, part_count) VALUES ($1, $2) ON CONFLICT (part_index) DO NOTHING`, [
        i,
        count
      ])
    }
    await client.query(`INSERT INTO ${s}.meta (name, value) VALUES ('store_id', $1) ON CONFLICT (name) DO NOTHING`, [randomUUID()])
    await client.query("COMMIT")
  } catch (e) {
    await client.query("ROLLBACK").catch(() => {})
    throw e
  } finally {
    // As when a store closes: the lease goes at once, not when the server gets round to ending the session.
    await client.query("SELECT pg_advisory_unlock_all()").catch(() => {})
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

export const byteaArray = (items: ReadonlyArray<Buffer | null>): Buffer => {
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

export const textArray = (items: ReadonlyArray<string>): Buffer => {
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
  /** A commit is mostly a round trip to the server: the next epoch runs meanwhile. */
  readonly pipelined = true
  /** The session holds the store's lease. */
  private leased = false

  private constructor(private readonly client: pg.Client, private readonly s: string, target: string, schema: string) {
    this.where = `${target} schema '${schema}'`
  }

  /** Connect, and take the store's lease for `flowId` (see {@link takeLease}). */
  static async open(connectionString: string, schema: string, limits: ConnectionLimits, flowId: string): Promise<PostgresBackend> {
    const s = ident(schema)
    const client = await connect(connectionString, limits)
    const backend = new PostgresBackend(client, s, describeTarget(connectionString), schema)
    try {
      await takeLease(client, schema, backend.where, flowId, "run")
      backend.leased = true
    } catch (e) {
      await backend.close()
      throw e
    }
    return backend
  }

  async readMeta(): Promise<RecoveryMeta> {
    const exists = await this.client.query("SELECT to_regclass($1) AS t", [`${this.s}.parts`])
    if (exists.rows[0].t === null) return { parts: [], executions: [], frontiers: [], commits: [], flowIds: [] }
    const num = (v: unknown) => Number(v)
    const parts = await this.client.query(`SELECT part_index, part_count FROM ${this.s}.parts`)
    const exs = await this.client.query(`SELECT ex_num, worker_count, resume_epoch FROM ${this.s}.exs`)
    const fronts = await this.client.query(`SELECT ex_num, worker_index, worker_frontier FROM ${this.s}.fronts`)
    const commits = await this.client.query(`SELECT part_index, commit_epoch FROM ${this.s}.commits`)
    const hasMeta = (await this.client.query("SELECT to_regclass($1) AS t", [`${this.s}.meta`])).rows[0].t !== null
    const meta = new Map<string, string>(
      hasMeta ? (await this.client.query(`SELECT name, value FROM ${this.s}.meta`)).rows.map((r) => [r.name, r.value]) : []
    )
    const storeId = meta.get("store_id")
    const flowId = meta.get("flow_id")
    return {
      flowIds: flowId === undefined ? [] : [flowId],
      parts: parts.rows.map((r) => ({ index: num(r.part_index), count: num(r.part_count), storeId })),
      executions: exs.rows.map((r) => ({ ex: num(r.ex_num), workerCount: num(r.worker_count), resumeEpoch: num(r.resume_epoch) })),
      frontiers: fronts.rows.map((r) => ({ ex: num(r.ex_num), worker: num(r.worker_index), frontier: num(r.worker_frontier) })),
      commits: commits.rows.map((r) => ({ part: num(r.part_index), epoch: num(r.commit_epoch) }))
    }
  }

  async writeExecution(ex: number, workerCount: number, resumeEpoch: number, flowId: string): Promise<void> {
    // As in the embedded store: snapshots at or after the resume epoch come from a commit
    // that failed part-way; this execution redoes those epochs, so they must never be loaded.
    await this.client.query("BEGIN")
    try {
      await this.migrateRows()
      await this.client.query(`DELETE FROM ${this.s}.segs WHERE snap_epoch >= $1`, [resumeEpoch])
      await this.client.query(
        `INSERT INTO ${this.s}.exs (ex_num, worker_count, resume_epoch) VALUES ($1, $2, $3)
         ON CONFLICT (ex_num) DO UPDATE SET worker_count = excluded.worker_count, resume_epoch = excluded.resume_epoch`,
        [ex, workerCount, resumeEpoch]
      )
      // The first execution binds the store to its flow (stores made before `meta` get the table now).
      const hasMeta = (await this.client.query("SELECT to_regclass($1) AS t", [`${this.s}.meta`])).rows[0].t !== null
      if (!hasMeta) await this.client.query(`CREATE TABLE ${this.s}.meta (name text PRIMARY KEY, value text NOT NULL)`)
      await this.client.query(`INSERT INTO ${this.s}.meta (name, value) VALUES ('flow_id', $1) ON CONFLICT (name) DO NOTHING`, [
        flowId
      ])
      await this.client.query("COMMIT")
    } catch (e) {
      await this.client.query("ROLLBACK").catch(() => {})
      throw e
    }
  }

  /** Stores written before segments kept a row per key in `snaps`: each epoch's rows become one segment. */
  private async migrateRows(): Promise<void> {
    const legacy = await this.client.query("SELECT to_regclass($1) AS t", [`${this.s}.snaps`])
    if (legacy.rows[0].t === null) return
    await this.client.query(segsSql(this.s))
    const r = await this.client.query(
      `SELECT step_id, snap_epoch, state_key, ser_change FROM ${this.s}.snaps ORDER BY step_id, snap_epoch`
    )
    const rows = r.rows as Array<{ step_id: string; snap_epoch: string; state_key: string; ser_change: Buffer | null }>
    for (let i = 0; i < rows.length;) {
      const { step_id, snap_epoch } = rows[i]!
      const group: Array<readonly [string, Buffer | null]> = []
      for (; i < rows.length && rows[i]!.step_id === step_id && rows[i]!.snap_epoch === snap_epoch; i++) {
        group.push([rows[i]!.state_key, rows[i]!.ser_change])
      }
      await this.client.query(
        `INSERT INTO ${this.s}.segs (step_id, snap_epoch, worker_index, seq, "full", entries, data) VALUES ($1, $2, 0, 0, false, $3, $4)`,
        [step_id, snap_epoch, group.length, encodeRaw(group)]
      )
    }
    await this.client.query(`DROP TABLE ${this.s}.snaps`)
  }

  async loadSegments(stepId: string, beforeEpoch: number): Promise<ReadonlyArray<StoredSegment>> {
    const r = await this.client.query(
      `SELECT snap_epoch, "full", data FROM ${this.s}.segs
       WHERE step_id = $1 AND snap_epoch < $2 AND snap_epoch >= COALESCE(
         (SELECT MAX(snap_epoch) FROM ${this.s}.segs WHERE step_id = $1 AND "full" AND snap_epoch < $2), 0)
       ORDER BY snap_epoch`,
      [stepId, beforeEpoch]
    )
    return r.rows.map((row) => ({ epoch: Number(row.snap_epoch), full: row.full as boolean, data: row.data as Buffer }))
  }

  /**
   * The whole commit in one statement, hence one transaction and one round
   * trip: the segments, the worker's frontier, and every worker's frontier as
   * it was before (the statement's own writes are not visible to it).
   */
  private commitSql(): string {
    return `WITH written AS (
        INSERT INTO ${this.s}.segs (step_id, snap_epoch, worker_index, seq, "full", entries, data)
        SELECT s, $2::bigint, $3::integer, q, f, n, d
        FROM unnest($1::text[], $4::integer[], $5::boolean[], $6::integer[], $7::bytea[]) AS t(s, q, f, n, d)
      ), advanced AS (
        INSERT INTO ${this.s}.fronts (ex_num, worker_index, worker_frontier) VALUES ($8, $3, $9)
        ON CONFLICT (ex_num, worker_index) DO UPDATE SET worker_frontier = excluded.worker_frontier
      )
      SELECT worker_index, worker_frontier FROM ${this.s}.fronts WHERE ex_num = $8`
  }

  async commit(c: BackendCommit): Promise<number> {
    const segs = c.segments
    const params = [
      textArray(segs.map((x) => x.stepId)),
      c.epoch,
      c.worker,
      `{${segs.map((x) => x.seq).join(",")}}`,
      `{${segs.map((x) => (x.full ? "t" : "f")).join(",")}}`,
      `{${segs.map((x) => x.count).join(",")}}`,
      byteaArray(segs.map((x) => x.data)),
      c.ex,
      c.frontier
    ]
    let result: pg.QueryResult
    try {
      result = await this.client.query(this.commitSql(), params)
    } catch (e) {
      // Segments at this epoch exist only if an execution that crashed before its frontier wrote them: replace them.
      if ((e as { code?: unknown }).code !== UNIQUE_VIOLATION) throw e
      await this.client.query("BEGIN")
      try {
        await this.client.query(`DELETE FROM ${this.s}.segs WHERE snap_epoch = $1 AND worker_index = $2`, [c.epoch, c.worker])
        result = await this.client.query(this.commitSql(), params)
        await this.client.query("COMMIT")
      } catch (e2) {
        await this.client.query("ROLLBACK").catch(() => {})
        throw e2
      }
    }
    const fronts = new Map<number, number>(result.rows.map((row) => [Number(row.worker_index), Number(row.worker_frontier)]))
    fronts.set(c.worker, c.frontier)
    let min = Infinity
    for (let w = 0; w < c.workerCount; w++) min = Math.min(min, Math.max(fronts.get(w) ?? c.resumeEpoch, c.resumeEpoch))
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
         -- Per step, every segment older than its newest full snapshot in the collected range.
         DELETE FROM ${s}.segs o USING (
           SELECT step_id, MAX(snap_epoch) AS since FROM ${s}.segs WHERE "full" AND snap_epoch <= $1 GROUP BY step_id
         ) n
         WHERE o.step_id = n.step_id AND o.snap_epoch < n.since
       )
       INSERT INTO ${s}.commits (part_index, commit_epoch) SELECT part_index, $1 FROM ${s}.parts
       ON CONFLICT (part_index) DO UPDATE SET commit_epoch = excluded.commit_epoch`,
      [upTo]
    )
  }

  async close(): Promise<void> {
    // Let go of the lease before saying goodbye: the server ends the session (and drops its
    // locks) only some time after the socket closes, and a run started right after this one
    // must find the store free.
    if (this.leased) {
      await this.client.query("SELECT pg_advisory_unlock_all()").catch(() => {})
    }
    await this.client.end().catch(() => {})
  }
}

/** Options of {@link PostgresRecoveryConfig}. */
export interface PostgresRecoveryOptions extends RecoveryOptions {
  /**
   * The schema holding the tables; one per dataflow. Default: the flow's own,
   * `weir_<flow id>` ({@link defaultSchemaFor}).
   */
  readonly schema?: string | undefined
  /**
   * How long to wait for the server to accept a connection (TCP, TLS and
   * authentication), and, when the store closes, for it to acknowledge the
   * goodbye before the socket is dropped. Default 10 seconds;
   * `Duration.infinity` waits forever.
   */
  readonly connectTimeout?: Duration.Input | undefined
  /**
   * How long one request to the store (an epoch commit, a garbage
   * collection, a read at start) may wait for its answer. The server cancels
   * a statement that runs longer (`statement_timeout`), and the client gives
   * up on a server that doesn't answer at all (a frozen or unreachable server
   * can't enforce its own timeout) and drops the connection. Either way the
   * run fails with a {@link RecoveryStoreError}; nothing committed is lost,
   * and the next run resumes from the last committed epoch. Default 30
   * seconds; `Duration.infinity` for none.
   */
  readonly statementTimeout?: Duration.Input | undefined
  /**
   * How long the server lets the store's session sit idle inside an open
   * transaction before it ends the session
   * (`idle_in_transaction_session_timeout`), so that a worker stalled
   * mid-transaction doesn't hold locks other workers wait on. The store never
   * idles in a transaction on purpose. Default 10 seconds;
   * `Duration.infinity` for none.
   */
  readonly idleTimeout?: Duration.Input | undefined
  /**
   * TCP keepalive on the store's connection, so that a connection to a host
   * that went away (or that a firewall or NAT dropped) is noticed while
   * idle: `true` (the default) probes after 10 seconds of silence, a
   * duration after that long (in whole seconds), `false` turns it off. A
   * frozen server on a live host still answers probes; `statementTimeout`
   * catches that.
   */
  readonly keepAlive?: boolean | Duration.Input | undefined
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
export class PostgresRecoveryConfig implements RecoveryConfigLike, ClusterStoreConfigLike {
  readonly backupInterval: Duration.Duration
  /** The schema given, or `undefined` for the flow's default ({@link defaultSchemaFor}). */
  readonly schema: string | undefined
  readonly connectTimeout: Duration.Duration
  readonly statementTimeout: Duration.Duration
  readonly idleTimeout: Duration.Duration
  /** The silence before the first keepalive probe, or `false` for no keepalive. */
  readonly keepAlive: Duration.Duration | false
  private readonly observe: StoreObserver | undefined
  constructor(readonly connectionString: string, options: PostgresRecoveryOptions = {}) {
    this.backupInterval = backupIntervalOf(options)
    this.observe = options.observe
    this.schema = options.schema
    if (this.schema !== undefined) ident(this.schema)
    const limits = connectionLimitsOf(options)
    this.connectTimeout = limits.connectTimeout
    this.statementTimeout = limits.statementTimeout
    this.idleTimeout = limits.idleTimeout
    this.keepAlive = limits.keepAlive
  }

  open(context: RecoveryContext) {
    return Effect.acquireRelease(
      Effect.tryPromise({
        try: () =>
          PostgresBackend.open(this.connectionString, this.schema ?? defaultSchemaFor(context.flowId), this, context.flowId),
        catch: (e) =>
          e instanceof WeirRecoveryError
            ? e
            : new RecoveryStoreError(`can't open the PostgreSQL recovery store: ${String(e)}`, { cause: e })
      }),
      (backend) => Effect.promise(() => backend.close())
    ).pipe(Effect.flatMap((backend) => openStore(backend, context, this.backupInterval, this.observe)))
  }

  /**
   * Open the store shared by every process of a scale-out run of flow
   * `flowId` (`runCluster` with `cluster`, `weir run --cluster`): tables
   * `cluster_meta`, `cluster_kgs` and `cluster_rows` in the flow's schema
   * (this config's `schema`, or {@link defaultSchemaFor}), created on first
   * open, beside the tables of the flow's ordinary store. Each process holds
   * a pool of a few connections under this config's timeouts, closed when
   * the scope closes.
   *
   * The number of key groups, P, is fixed when the store is created:
   * `keyGroups`, or else the partition count of the flow's ordinary store if
   * it was initialised (`weir recovery init --postgres URL N`), or else 16.
   * Opening a store that has another P with `keyGroups` given fails with a
   * `KeyGroupsMismatchError`; a store of another flow with a
   * `WrongFlowError`; a server that can't be reached with a
   * {@link RecoveryStoreError}.
   *
   * @example
   * ```ts
   * import { Effect } from "effect"
   * import { PostgresRecoveryConfig } from "@weir/recovery"
   *
   * const config = new PostgresRecoveryConfig("postgres://weir@127.0.0.1:5432/weir")
   * const program = Effect.scoped(
   *   Effect.gen(function*() {
   *     const store = yield* config.openCluster({ flowId: "orders", keyGroups: 32 })
   *     const [row] = yield* store.acquire([0], "host-a pid 4242")
   *     return row
   *   })
   * )
   * ```
   * @since 0.3.0
   */
  openCluster(context: {
    readonly flowId: string
    readonly keyGroups?: number | undefined
  }): Effect.Effect<ClusterStore, WeirRecoveryError, Scope.Scope> {
    return Effect.acquireRelease(
      Effect.tryPromise({
        try: async () =>
          PostgresClusterStore.open(
            this.connectionString,
            this.schema ?? defaultSchemaFor(context.flowId),
            this,
            context.flowId,
            context.keyGroups
          ),
        catch: (e) =>
          e instanceof WeirRecoveryError
            ? e
            : new RecoveryStoreError(`can't open the PostgreSQL scale-out store: ${String(e)}`, { cause: e })
      }),
      (store) => Effect.promise(() => store.close())
    )
  }
}
