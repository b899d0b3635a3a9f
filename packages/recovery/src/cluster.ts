/**
 * The shared store of a scale-out run (`runCluster`, `weir run --cluster`):
 * several processes on several hosts share one PostgreSQL schema — the flow's
 * own, beside the tables of its ordinary store — through a small pool of
 * connections each.
 *
 * Tables (all created on first open, under a transaction-level advisory lock
 * so that processes opening at once don't race):
 *
 * - `cluster_meta`: one row, the flow the store belongs to and P, its number
 *   of key groups.
 * - `cluster_kgs`: a row per key group: its incarnation (the fencing token,
 *   raised by every acquire), the last committed epoch and the incarnation
 *   that committed it, where to read its exchange partition from, and which
 *   upstream frames it has applied; plus the owner and since when, for
 *   operators.
 * - `cluster_rows`: a row per key of every step, under its key group, so that
 *   a process taking over a key group reads only that group's keys.
 *
 * @since 0.3.0
 */
import { type ClusterStore, DISCARDED, type KeyGroupCommit, type KeyGroupRow, WeirRecoveryError } from "@weir/core"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import pg from "pg"
import { KeyGroupsMismatchError, RecoveryStoreError, WrongFlowError } from "./errors.js"
import { byteaArray, type ConnectionLimits, describeTarget, ident, textArray } from "./postgres.js"
import { deserialize, serialize } from "./serde.js"

/** P when neither the run nor the store's partitions say otherwise. */
const DEFAULT_KEY_GROUPS = 16

/** Key groups are `integer` columns. */
const MAX_KEY_GROUPS = 2 ** 31 - 1

/** Connections per process: a commit, an acquire and a load can be in flight together. */
const POOL_SIZE = 4

/** The first key of the advisory lock taken while creating the tables ("WEIC"); the second is the schema's hash. */
const CREATE_LOCK_CLASS = 0x57454943

const tablesSql = (s: string) => `
CREATE SCHEMA IF NOT EXISTS ${s};
CREATE TABLE IF NOT EXISTS ${s}.cluster_meta (
  only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
  flow_id text NOT NULL,
  key_groups integer NOT NULL CHECK (key_groups > 0),
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS ${s}.cluster_kgs (
  key_group integer PRIMARY KEY CHECK (key_group >= 0),
  incarnation bigint NOT NULL DEFAULT 0,
  epoch bigint NOT NULL DEFAULT 0,
  epoch_incarnation bigint NOT NULL DEFAULT 0,
  exchange_offset bigint NOT NULL DEFAULT 0,
  applied jsonb NOT NULL DEFAULT '[]',
  owner text,
  owned_since timestamptz,
  committed_at timestamptz
);
CREATE TABLE IF NOT EXISTS ${s}.cluster_rows (
  step_id text NOT NULL,
  key_group integer NOT NULL,
  state_key text NOT NULL,
  state bytea NOT NULL,
  PRIMARY KEY (step_id, key_group, state_key)
);`

/** A query on one pooled connection, held to the store's statement timeout. */
type Query = (text: string, values?: ReadonlyArray<unknown>) => Promise<pg.QueryResult>

/** 0 is "none" to pg; Node's timers fire at once past 2^31 - 1 ms, so anything that long is none too. */
const millisOf = (d: Duration.Duration): number => {
  const ms = Duration.toMillis(d)
  return ms >= 2 ** 31 ? 0 : Math.ceil(ms)
}

const seconds = (ms: number): string => `${ms / 1000} second${ms === 1000 ? "" : "s"}`

const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e))

/** `{1,2,3}`: an array of integers as one parameter. */
const intArray = (items: ReadonlyArray<number>): string => `{${items.join(",")}}`

const countOf = (n: number, what: string): string => `${n} ${what}${n === 1 ? "" : "s"}`

/** A non-negative safe integer, or a {@link RecoveryStoreError} naming `what`. */
const checkCount = (what: string, n: unknown): number => {
  if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 0) {
    throw new RecoveryStoreError(`${what} must be a non-negative integer; got ${typeof n === "number" ? n : typeof n}`)
  }
  return n
}

type Applied = KeyGroupRow["applied"]

const decodeApplied = (keyGroup: number, value: unknown): Applied => {
  const ok = Array.isArray(value) &&
    value.every((t) => Array.isArray(t) && t.length === 3 && t.every((n) => typeof n === "number" && Number.isSafeInteger(n)))
  if (!ok) {
    throw new RecoveryStoreError(
      `the cluster store's row of key group ${keyGroup} has an unreadable \`applied\` column (${JSON.stringify(value)}): ` +
        "it should hold [from, incarnation, epoch] triples; was it edited by hand?"
    )
  }
  return (value as Array<[number, number, number]>).map(([from, incarnation, epoch]) => [from, incarnation, epoch] as const)
}

const encodeApplied = (keyGroup: number, applied: Applied): string => {
  if (!Array.isArray(applied)) throw new RecoveryStoreError(`the commit of key group ${keyGroup}: \`applied\` must be an array`)
  return JSON.stringify(
    applied.map((t, i) => {
      const what = `the commit of key group ${keyGroup}: applied[${i}]`
      if (!Array.isArray(t) || t.length !== 3) throw new RecoveryStoreError(`${what} must be [from, incarnation, epoch]`)
      return [checkCount(`${what}[0] (from)`, t[0]), checkCount(`${what}[1] (incarnation)`, t[1]), checkCount(`${what}[2] (epoch)`, t[2])]
    })
  )
}

const zeroRow = (keyGroup: number): KeyGroupRow => ({
  keyGroup,
  incarnation: 0,
  epoch: 0,
  epochIncarnation: 0,
  exchangeOffset: 0,
  applied: []
})

const ROW_COLUMNS = "key_group, incarnation, epoch, epoch_incarnation, exchange_offset, applied"

const rowOf = (r: Record<string, unknown>): KeyGroupRow => {
  const keyGroup = Number(r.key_group)
  return {
    keyGroup,
    incarnation: Number(r.incarnation),
    epoch: Number(r.epoch),
    epochIncarnation: Number(r.epoch_incarnation),
    exchangeOffset: Number(r.exchange_offset),
    applied: decodeApplied(keyGroup, r.applied)
  }
}

/**
 * A pool of a few connections held to the store's limits. The server cancels
 * a statement that runs too long and ends a session left idle inside a
 * transaction; but a frozen or unreachable server enforces nothing, so the
 * client also gives up on any answer that takes too long, dropping that
 * connection (as the ordinary store's connection does).
 */
class Connections {
  private readonly pool: pg.Pool
  private readonly statementMs: number
  private readonly connectMs: number

  constructor(connectionString: string, private readonly target: string, application: string, limits: ConnectionLimits) {
    this.statementMs = millisOf(limits.statementTimeout)
    this.connectMs = millisOf(limits.connectTimeout)
    this.pool = new pg.Pool({
      connectionString,
      max: POOL_SIZE,
      application_name: application,
      connectionTimeoutMillis: this.connectMs,
      statement_timeout: this.statementMs,
      idle_in_transaction_session_timeout: millisOf(limits.idleTimeout),
      keepAlive: limits.keepAlive !== false,
      keepAliveInitialDelayMillis: limits.keepAlive === false ? 0 : millisOf(limits.keepAlive)
    })
    // A pooled connection dropped while idle must not crash the process; the pool replaces it.
    this.pool.on("error", () => {})
  }

  /** Run `use` on one connection; a connection a query failed on is dropped, not reused. */
  async with<A>(use: (query: Query) => Promise<A>): Promise<A> {
    let client: pg.PoolClient
    const started = performance.now()
    try {
      client = await this.pool.connect()
    } catch (e) {
      const timedOut = this.connectMs > 0 && performance.now() - started >= this.connectMs
      throw new RecoveryStoreError(
        timedOut
          ? `can't connect to ${this.target}: timed out after ${seconds(this.connectMs)} (connectTimeout); ` +
            "is the server running and responsive, and reachable from this host?"
          : `can't connect to ${this.target}: ${messageOf(e)}; is the server running and the connection string right?`,
        { cause: e }
      )
    }
    let failed = false
    const query: Query = async (text, values) => {
      let gaveUp = false
      const timer = this.statementMs === 0 ? undefined : setTimeout(() => {
        gaveUp = true
        ;(client as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy()
      }, this.statementMs)
      try {
        return await client.query(text, values as Array<unknown> | undefined)
      } catch (e) {
        failed = true
        if (gaveUp) {
          throw new Error(
            `timed out after ${seconds(this.statementMs)} without an answer from the server (statementTimeout); ` +
              `check that ${this.target} is running, not overloaded, and reachable from this host`,
            { cause: e }
          )
        }
        if ((e as { code?: unknown }).code === "57014" && /statement timeout/.test(messageOf(e))) {
          throw new Error(
            `timed out after ${seconds(this.statementMs)}: the server canceled the statement (statementTimeout); ` +
              "check the server's load and the locks other sessions hold, or raise statementTimeout",
            { cause: e }
          )
        }
        throw e
      } finally {
        clearTimeout(timer)
      }
    }
    try {
      return await use(query)
    } finally {
      client.release(failed)
    }
  }

  /** `use` inside one transaction: committed if it returns `commit: true`, rolled back otherwise or if it throws. */
  transaction<A>(use: (query: Query) => Promise<{ readonly commit: boolean; readonly value: A }>): Promise<A> {
    return this.with(async (query) => {
      await query("BEGIN")
      let result: { readonly commit: boolean; readonly value: A }
      try {
        result = await use(query)
      } catch (e) {
        await query("ROLLBACK").catch(() => {})
        throw e
      }
      await query(result.commit ? "COMMIT" : "ROLLBACK")
      return result.value
    })
  }

  /** Close every connection; a server that doesn't answer the goodbye within connectTimeout is left to notice by itself. */
  async close(): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined
    await Promise.race([
      this.pool.end().catch(() => {}),
      new Promise<void>((resolve) => {
        if (this.connectMs > 0) timer = setTimeout(resolve, this.connectMs)
      })
    ])
    clearTimeout(timer)
  }
}

/** One step's rows in one key group as a commit leaves them. */
interface StepChange {
  full: boolean
  /** Per key its new state, or {@link DISCARDED}. */
  readonly states: Map<string, unknown>
}

/**
 * The {@link ClusterStore} of `PostgresRecoveryConfig.openCluster`: one per
 * process of a scale-out run, all on the same tables.
 *
 * @since 0.3.0
 */
export class PostgresClusterStore implements ClusterStore {
  private constructor(
    private readonly connections: Connections,
    private readonly s: string,
    /** For messages: `PostgreSQL at host:port/db schema 'name'`. */
    readonly where: string,
    readonly keyGroups: number
  ) {}

  /**
   * Connect, create the tables if they are missing, and settle P: the
   * store's own if it has one (refusing another `keyGroups` or another flow),
   * else `keyGroups`, else the partition count of the flow's ordinary store
   * if it was initialised, else 16.
   */
  static async open(
    connectionString: string,
    schema: string,
    limits: ConnectionLimits,
    flowId: string,
    keyGroups: number | undefined
  ): Promise<PostgresClusterStore> {
    if (keyGroups !== undefined && (!Number.isInteger(keyGroups) || keyGroups < 1 || keyGroups > MAX_KEY_GROUPS)) {
      throw new RecoveryStoreError(
        `the number of key groups must be a positive integer (at most ${MAX_KEY_GROUPS}); got ${String(keyGroups)}`
      )
    }
    const s = ident(schema)
    const target = describeTarget(connectionString)
    const where = `${target} schema '${schema}'`
    const connections = new Connections(connectionString, target, `weir cluster ${flowId}`.slice(0, 63), limits)
    try {
      const count = await connections.transaction(async (query) => {
        await query("SELECT pg_advisory_xact_lock($1::integer, hashtext($2))", [CREATE_LOCK_CLASS, schema])
        await query(tablesSql(s))
        const meta = (await query(`SELECT flow_id, key_groups FROM ${s}.cluster_meta`)).rows[0] as
          | { flow_id: string; key_groups: number }
          | undefined
        // The flow's ordinary store, if a run bound it to a flow already.
        const hasStoreMeta = (await query("SELECT to_regclass($1) AS t", [`${s}.meta`])).rows[0].t !== null
        const storeFlow = hasStoreMeta
          ? (await query(`SELECT value FROM ${s}.meta WHERE name = 'flow_id'`)).rows[0]?.value as string | undefined
          : undefined
        const bound = meta?.flow_id ?? storeFlow
        if (bound !== undefined && bound !== flowId) {
          throw new WrongFlowError(
            `the recovery store in ${where} belongs to flow '${bound}', not to flow '${flowId}': ` +
              "a store keeps the state of one dataflow. Give this flow a schema of its own (`schema`), " +
              `or run flow '${bound}' with this one`
          )
        }
        if (meta !== undefined) {
          const has = Number(meta.key_groups)
          if (keyGroups !== undefined && keyGroups !== has) {
            throw new KeyGroupsMismatchError(
              `the scale-out store in ${where} has ${countOf(has, "key group")}, not ${keyGroups}: a store's key groups are ` +
                "fixed when it is created (every key's state is kept under its key group). Run with " +
                `${has} key groups, or leave the number out to use the store's; to start over with ${keyGroups}, drop ` +
                `the scale-out tables (\`DROP TABLE ${s}.cluster_rows, ${s}.cluster_kgs, ${s}.cluster_meta\`) — this ` +
                "discards every state and position the scale-out runs saved"
            )
          }
          return { commit: false, value: has }
        }
        let count = keyGroups
        if (count === undefined) {
          const hasParts = (await query("SELECT to_regclass($1) AS t", [`${s}.parts`])).rows[0].t !== null
          const parts = hasParts ? (await query(`SELECT MAX(part_count) AS n FROM ${s}.parts`)).rows[0].n : null
          count = parts === null ? DEFAULT_KEY_GROUPS : Number(parts)
        }
        await query(`INSERT INTO ${s}.cluster_meta (flow_id, key_groups) VALUES ($1, $2)`, [flowId, count])
        return { commit: true, value: count }
      })
      return new PostgresClusterStore(connections, s, where, count)
    } catch (e) {
      await connections.close()
      throw e instanceof WeirRecoveryError
        ? e
        : new RecoveryStoreError(`can't open the scale-out store in ${where}: ${messageOf(e)}`, { cause: e })
    }
  }

  /** Let go of every connection. */
  close(): Promise<void> {
    return this.connections.close()
  }

  acquire(keyGroups: ReadonlyArray<number>, owner: string): Effect.Effect<ReadonlyArray<KeyGroupRow>, WeirRecoveryError> {
    return this.attempt(`take over key groups ${keyGroups.join(", ")} for ${owner}`, async () => {
      const groups = this.checkGroups(keyGroups)
      if (groups.length === 0) return []
      // In ascending order, so that two processes taking over overlapping groups can't deadlock.
      const r = await this.connections.with((query) =>
        query(
          `INSERT INTO ${this.s}.cluster_kgs (key_group, incarnation, owner, owned_since)
           SELECT g, 1, $2, now() FROM unnest($1::integer[]) WITH ORDINALITY AS t(g, n) ORDER BY n
           ON CONFLICT (key_group) DO UPDATE
             SET incarnation = cluster_kgs.incarnation + 1, owner = excluded.owner, owned_since = excluded.owned_since
           RETURNING ${ROW_COLUMNS}`,
          [intArray([...groups].sort((a, b) => a - b)), owner]
        )
      )
      const byGroup = new Map(r.rows.map((row) => [Number(row.key_group), rowOf(row)] as const))
      return groups.map((g) => byGroup.get(g)!)
    })
  }

  renew(
    keyGroups: ReadonlyArray<number>,
    incarnations: ReadonlyArray<number>
  ): Effect.Effect<ReadonlyArray<KeyGroupRow>, WeirRecoveryError> {
    return this.attempt(`start a new incarnation of key groups ${keyGroups.join(", ")}`, async () => {
      const groups = this.checkGroups(keyGroups)
      if (groups.length === 0) return []
      if (incarnations.length !== groups.length) throw new TypeError("renew: one incarnation per key group")
      const order = groups.map((g, i) => [g, incarnations[i]!] as const).sort((a, b) => a[0] - b[0])
      // Only where the incarnation is still the one held: a key group taken over stays its new holder's.
      const r = await this.connections.with((query) =>
        query(
          `UPDATE ${this.s}.cluster_kgs AS k SET incarnation = k.incarnation + 1
           FROM unnest($1::integer[], $2::bigint[]) AS t(g, i)
           WHERE k.key_group = t.g AND k.incarnation = t.i
           RETURNING ${ROW_COLUMNS.split(",").map((c) => `k.${c.trim()}`).join(", ")}`,
          [intArray(order.map((o) => o[0])), order.map((o) => String(o[1]))]
        )
      )
      const byGroup = new Map(r.rows.map((row) => [Number(row.key_group), rowOf(row)] as const))
      return groups.flatMap((g) => (byGroup.has(g) ? [byGroup.get(g)!] : []))
    })
  }

  rows(keyGroups: ReadonlyArray<number>): Effect.Effect<ReadonlyArray<KeyGroupRow>, WeirRecoveryError> {
    return this.attempt(`read key groups ${keyGroups.join(", ")}`, async () => {
      const groups = this.checkGroups(keyGroups)
      if (groups.length === 0) return []
      const r = await this.connections.with((query) =>
        query(`SELECT ${ROW_COLUMNS} FROM ${this.s}.cluster_kgs WHERE key_group = ANY($1::integer[])`, [intArray(groups)])
      )
      const byGroup = new Map(r.rows.map((row) => [Number(row.key_group), rowOf(row)] as const))
      return groups.map((g) => byGroup.get(g) ?? zeroRow(g))
    })
  }

  loadStates(
    stepId: string,
    keyGroups: ReadonlyArray<number>
  ): Effect.Effect<ReadonlyArray<readonly [key: string, state: unknown]>, WeirRecoveryError> {
    return this.attempt(`load the states of step '${stepId}' in key groups ${keyGroups.join(", ")}`, async () => {
      const groups = this.checkGroups(keyGroups)
      if (groups.length === 0) return []
      const r = await this.connections.with((query) =>
        query(
          `SELECT state_key, state FROM ${this.s}.cluster_rows WHERE step_id = $1 AND key_group = ANY($2::integer[])`,
          [stepId, intArray(groups)]
        )
      )
      const rows = r.rows as Array<{ state_key: string; state: Buffer }>
      const out = new Array<readonly [string, unknown]>(rows.length)
      for (let i = 0; i < rows.length; i++) {
        const { state, state_key } = rows[i]!
        out[i] = [state_key, deserialize(stepId, state_key, state)]
      }
      return out
    })
  }

  commit(commits: ReadonlyArray<KeyGroupCommit>): Effect.Effect<ReadonlyArray<number>, WeirRecoveryError> {
    const what = `commit key groups ${commits.map((c) => `${c.keyGroup} (epoch ${c.epoch})`).join(", ")}`
    return this.attempt(what, async () => {
      if (commits.length === 0) return []
      // Everything is checked and serialized before the transaction begins.
      const groups = this.checkGroups(commits.map((c) => c.keyGroup))
      if (groups.length !== commits.length) {
        const seen = new Set<number>()
        const twice = commits.find((c) => seen.size === seen.add(c.keyGroup).size)!
        throw new RecoveryStoreError(`key group ${twice.keyGroup} appears twice in one commit: give each key group one commit`)
      }
      const kgIncarnations: Array<number> = []
      const kgEpochs: Array<number> = []
      const kgOffsets: Array<number> = []
      const kgApplied: Array<string> = []
      const fullSteps: Array<string> = []
      const fullGroups: Array<number> = []
      const upGroups: Array<number> = []
      const upSteps: Array<string> = []
      const upKeys: Array<string> = []
      const upStates: Array<Buffer> = []
      const delGroups: Array<number> = []
      const delSteps: Array<string> = []
      const delKeys: Array<string> = []
      for (const c of commits) {
        const g = c.keyGroup
        kgIncarnations.push(checkCount(`the commit of key group ${g}: incarnation`, c.incarnation))
        kgEpochs.push(checkCount(`the commit of key group ${g}: epoch`, c.epoch))
        kgOffsets.push(checkCount(`the commit of key group ${g}: exchangeOffset`, c.exchangeOffset))
        kgApplied.push(encodeApplied(g, c.applied))
        const steps = new Map<string, StepChange>()
        for (const snap of c.steps) {
          if (snap.keys.length !== snap.states.length) {
            throw new RecoveryStoreError(
              `the commit of key group ${g}: step '${snap.stepId}' has ${snap.keys.length} keys but ` +
                `${snap.states.length} states; they must be parallel arrays`
            )
          }
          let change = steps.get(snap.stepId)
          if (change === undefined || snap.full) {
            change = { full: snap.full || change?.full === true, states: new Map() }
            steps.set(snap.stepId, change)
          }
          for (let i = 0; i < snap.keys.length; i++) {
            const key = snap.keys[i]!
            const state = snap.states[i]
            // In a full snapshot a key without state is one not written.
            if (state === DISCARDED && change.full) change.states.delete(key)
            else change.states.set(key, state)
          }
        }
        for (const [stepId, change] of steps) {
          if (change.full) {
            fullSteps.push(stepId)
            fullGroups.push(g)
          }
          for (const [key, state] of change.states) {
            if (state === DISCARDED) {
              delGroups.push(g)
              delSteps.push(stepId)
              delKeys.push(key)
            } else {
              upGroups.push(g)
              upSteps.push(stepId)
              upKeys.push(key)
              upStates.push(serialize(stepId, key, state))
            }
          }
        }
      }
      const s = this.s
      return this.connections.transaction(async (query) => {
        const held = await query(
          `SELECT key_group, incarnation FROM ${s}.cluster_kgs WHERE key_group = ANY($1::integer[]) ORDER BY key_group FOR UPDATE`,
          [intArray(groups)]
        )
        const incarnations = new Map(held.rows.map((r) => [Number(r.key_group), Number(r.incarnation)] as const))
        const fenced = commits.filter((c) => incarnations.get(c.keyGroup) !== c.incarnation).map((c) => c.keyGroup)
        if (fenced.length > 0) return { commit: false, value: fenced.sort((a, b) => a - b) }
        if (fullSteps.length > 0) {
          await query(
            `DELETE FROM ${s}.cluster_rows r USING unnest($1::text[], $2::integer[]) AS f(step_id, key_group)
             WHERE r.step_id = f.step_id AND r.key_group = f.key_group`,
            [textArray(fullSteps), intArray(fullGroups)]
          )
        }
        if (upKeys.length > 0) {
          await query(
            `INSERT INTO ${s}.cluster_rows (key_group, step_id, state_key, state)
             SELECT * FROM unnest($1::integer[], $2::text[], $3::text[], $4::bytea[])
             ON CONFLICT (step_id, key_group, state_key) DO UPDATE SET state = excluded.state`,
            [intArray(upGroups), textArray(upSteps), textArray(upKeys), byteaArray(upStates)]
          )
        }
        if (delKeys.length > 0) {
          await query(
            `DELETE FROM ${s}.cluster_rows r USING unnest($1::integer[], $2::text[], $3::text[]) AS d(key_group, step_id, state_key)
             WHERE r.step_id = d.step_id AND r.key_group = d.key_group AND r.state_key = d.state_key`,
            [intArray(delGroups), textArray(delSteps), textArray(delKeys)]
          )
        }
        await query(
          `UPDATE ${s}.cluster_kgs k
           SET epoch = u.epoch, epoch_incarnation = u.incarnation, exchange_offset = u.exchange_offset,
               applied = u.applied::jsonb, committed_at = now()
           FROM unnest($1::integer[], $2::bigint[], $3::bigint[], $4::bigint[], $5::text[])
             AS u(key_group, incarnation, epoch, exchange_offset, applied)
           WHERE k.key_group = u.key_group`,
          [intArray(groups), intArray(kgIncarnations), intArray(kgEpochs), intArray(kgOffsets), textArray(kgApplied)]
        )
        return { commit: true, value: [] }
      })
    })
  }

  /** `keyGroups` without repeats, each checked to be one of the store's. */
  private checkGroups(keyGroups: ReadonlyArray<number>): Array<number> {
    for (const g of keyGroups) {
      if (!Number.isInteger(g) || g < 0 || g >= this.keyGroups) {
        throw new RecoveryStoreError(
          `there is no key group ${String(g)} in the scale-out store in ${this.where}: it has ` +
            `${countOf(this.keyGroups, "key group")}, 0 to ${this.keyGroups - 1}`
        )
      }
    }
    return [...new Set(keyGroups)]
  }

  private attempt<A>(what: string, run: () => Promise<A>): Effect.Effect<A, WeirRecoveryError> {
    return Effect.tryPromise({
      try: run,
      catch: (e) =>
        e instanceof WeirRecoveryError
          ? e
          : new RecoveryStoreError(`can't ${what} in the scale-out store in ${this.where}: ${messageOf(e)}`, { cause: e })
    })
  }
}
