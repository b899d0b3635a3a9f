/**
 * The shared store of a scale-out run, against the real PostgreSQL server of
 * test/global-setup.ts: how it settles its number of key groups, that it
 * refuses another count or another flow, that an acquire fences out the
 * previous holder's commits (all or nothing), and that states, positions and
 * applied frames come back as they were committed.
 */
import { type ClusterStore, Dataflow, DISCARDED, type KeyGroupCommit, op, runMain, type StepSnapshots } from "@weir/core"
import { TestingSink, TestingSource } from "@weir/testing"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import pg from "pg"
import { afterAll, describe, expect, it } from "vitest"
import { initPostgres, KeyGroupsMismatchError, PostgresRecoveryConfig, RecoveryStoreError, WrongFlowError } from "../src/index.js"

const pgUrl = (): string => {
  const url = process.env.WEIR_PG_URL
  if (!url) throw new Error("WEIR_PG_URL is not set: the global setup should have started PostgreSQL")
  return url
}

const schemas: Array<string> = []
const scopes: Array<Scope.Closeable> = []

const sql = async <R extends pg.QueryResultRow>(text: string, values?: Array<unknown>): Promise<Array<R>> => {
  const c = new pg.Client({ connectionString: pgUrl() })
  await c.connect()
  try {
    return (await c.query<R>(text, values)).rows
  } finally {
    await c.end()
  }
}

afterAll(async () => {
  for (const scope of scopes) await Effect.runPromise(Scope.close(scope, Exit.void))
  for (const s of schemas) await sql(`DROP SCHEMA IF EXISTS "${s}" CASCADE`)
})

const freshSchema = (): string => {
  const schema = `cluster_${process.pid}_${Math.random().toString(36).slice(2, 10)}`
  schemas.push(schema)
  return schema
}

const configOf = (schema: string) => new PostgresRecoveryConfig(pgUrl(), { schema })

interface Opened {
  readonly store: ClusterStore
  close(): Promise<void>
}

/** Open the store in a scope of its own; closed by `close()` or after all tests. */
const open = async (schema: string, context: { flowId: string; keyGroups?: number }): Promise<Opened> => {
  const scope = Effect.runSync(Scope.make())
  scopes.push(scope)
  try {
    const store = await Effect.runPromise(Scope.provide(scope)(configOf(schema).openCluster(context)))
    return { store, close: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
  } catch (e) {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    throw e
  }
}

const errorOf = (p: Promise<unknown>): Promise<unknown> => p.then(() => undefined, (e: unknown) => e)

const run = <A, E>(effect: Effect.Effect<A, E>): Promise<A> => Effect.runPromise(effect)

const snap = (stepId: string, full: boolean, entries: ReadonlyArray<readonly [string, unknown]>): StepSnapshots => ({
  stepId,
  full,
  keys: entries.map(([k]) => k),
  states: entries.map(([, v]) => v)
})

const commitOf = (
  keyGroup: number,
  incarnation: number,
  epoch: number,
  steps: ReadonlyArray<StepSnapshots>,
  rest: Partial<KeyGroupCommit> = {}
): KeyGroupCommit => ({ keyGroup, incarnation, epoch, exchangeOffset: 0, applied: [], steps, ...rest })

const sorted = (rows: ReadonlyArray<readonly [string, unknown]>) => [...rows].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))

describe("the number of key groups", () => {
  it("is the run's on a new store, and stays the store's", async () => {
    const schema = freshSchema()
    const a = await open(schema, { flowId: "kg_flow", keyGroups: 8 })
    expect(a.store.keyGroups).toBe(8)
    await a.close()
    expect((await open(schema, { flowId: "kg_flow" })).store.keyGroups).toBe(8)
    expect((await open(schema, { flowId: "kg_flow", keyGroups: 8 })).store.keyGroups).toBe(8)
    const rows = await sql(`SELECT flow_id, key_groups FROM "${schema}".cluster_meta`)
    expect(rows).toEqual([{ flow_id: "kg_flow", key_groups: 8 }])
  })

  it("is the ordinary store's partition count when that was initialised", async () => {
    const schema = freshSchema()
    await initPostgres(pgUrl(), 5, { schema })
    expect((await open(schema, { flowId: "parts_flow" })).store.keyGroups).toBe(5)
    // Fixed from then on, whatever the partitions.
    expect((await open(schema, { flowId: "parts_flow" })).store.keyGroups).toBe(5)
  })

  it("is the run's over the partition count when the run gives one", async () => {
    const schema = freshSchema()
    await initPostgres(pgUrl(), 5, { schema })
    expect((await open(schema, { flowId: "parts_flow", keyGroups: 3 })).store.keyGroups).toBe(3)
  })

  it("weir recovery init refuses a store a scale-out run has used, or other key groups", async () => {
    const schema = freshSchema()
    await initPostgres(pgUrl(), 4, { schema })
    const { store } = await open(schema, { flowId: "reinit_flow" })
    // Not used yet: init again is harmless.
    await initPostgres(pgUrl(), 4, { schema })
    const [row] = await run(store.acquire([2], "a"))
    await run(store.commit([commitOf(2, row!.incarnation, 1, [snap("sum", true, [["k", 1]])])]))
    await expect(initPostgres(pgUrl(), 4, { schema })).rejects.toThrow(
      /already holds the data of a scale-out run \(1 key group\(s\) committed\).*DROP SCHEMA/
    )
    await expect(initPostgres(pgUrl(), 8, { schema })).rejects.toThrow(/has 4 key groups for scale-out runs, not 8/)
  })

  it("is 16 when nothing says otherwise", async () => {
    const schema = freshSchema()
    expect((await open(schema, { flowId: "default_flow" })).store.keyGroups).toBe(16)
  })

  it("another count is refused, saying what the store has and what to do", async () => {
    const schema = freshSchema()
    await open(schema, { flowId: "mm_flow", keyGroups: 8 })
    const e = await errorOf(open(schema, { flowId: "mm_flow", keyGroups: 4 }))
    expect(e).toBeInstanceOf(KeyGroupsMismatchError)
    expect((e as KeyGroupsMismatchError)._tag).toBe("KeyGroupsMismatchError")
    const message = (e as Error).message
    expect(message).toContain(`schema '${schema}' has 8 key groups, not 4`)
    expect(message).toContain("Run with 8 key groups, or leave the number out")
    expect(message).toContain(`DROP TABLE "${schema}".cluster_rows`)
    // The store is as it was.
    expect((await open(schema, { flowId: "mm_flow" })).store.keyGroups).toBe(8)
  })

  it("is refused unless a positive integer", async () => {
    const schema = freshSchema()
    for (const bad of [0, -1, 2.5]) {
      const e = await errorOf(open(schema, { flowId: "bad_flow", keyGroups: bad }))
      expect(e).toBeInstanceOf(RecoveryStoreError)
      expect((e as Error).message).toContain(`must be a positive integer (at most 2147483647); got ${bad}`)
    }
    expect(await sql("SELECT to_regclass($1) AS t", [`"${schema}".cluster_meta`])).toEqual([{ t: null }])
  })

  it("three processes opening a new store at once all agree on it", async () => {
    for (const keyGroups of [12, undefined]) {
      const schema = freshSchema()
      const opened = await Promise.all(
        [0, 1, 2].map(() => open(schema, keyGroups === undefined ? { flowId: "race_flow" } : { flowId: "race_flow", keyGroups }))
      )
      expect(opened.map((o) => o.store.keyGroups)).toEqual(Array(3).fill(keyGroups ?? 16))
      expect(await sql(`SELECT key_groups FROM "${schema}".cluster_meta`)).toEqual([{ key_groups: keyGroups ?? 16 }])
      for (const o of opened) await o.close()
    }
  })
})

describe("the flow", () => {
  it("a store opened for one flow refuses another, naming both", async () => {
    const schema = freshSchema()
    await open(schema, { flowId: "flow_a", keyGroups: 2 })
    const e = await errorOf(open(schema, { flowId: "flow_b", keyGroups: 2 }))
    expect(e).toBeInstanceOf(WrongFlowError)
    expect((e as Error).message).toContain("belongs to flow 'flow_a', not to flow 'flow_b'")
  })

  it("a schema whose ordinary store a run bound to another flow is refused", async () => {
    const schema = freshSchema()
    await initPostgres(pgUrl(), 1, { schema })
    const flow = new Dataflow("ordinary_flow")
    const sink = new TestingSink<readonly [string, number]>()
    op.output(
      "out",
      op.statefulMap("sum", op.input("inp", flow, new TestingSource([["k", 1]] as const)), (s: number | undefined, x: number) => {
        const sum = (s ?? 0) + x
        return [sum, sum] as const
      }),
      sink
    )
    await runMain(flow, { epochInterval: 0, recovery: configOf(schema) })
    const e = await errorOf(open(schema, { flowId: "other_flow" }))
    expect(e).toBeInstanceOf(WrongFlowError)
    expect((e as Error).message).toContain("belongs to flow 'ordinary_flow', not to flow 'other_flow'")
    expect((await open(schema, { flowId: "ordinary_flow" })).store.keyGroups).toBe(1)
  })
})

describe("acquire and fencing", () => {
  it("a new key group's row is zeros; acquire raises the incarnation and records the owner", async () => {
    const schema = freshSchema()
    const { store } = await open(schema, { flowId: "acq_flow", keyGroups: 4 })
    expect(await run(store.rows([0, 3]))).toEqual([
      { keyGroup: 0, incarnation: 0, epoch: 0, epochIncarnation: 0, exchangeOffset: 0, applied: [] },
      { keyGroup: 3, incarnation: 0, epoch: 0, epochIncarnation: 0, exchangeOffset: 0, applied: [] }
    ])
    const first = await run(store.acquire([3, 0], "host-a pid 1"))
    expect(first.map((r) => [r.keyGroup, r.incarnation])).toEqual([[3, 1], [0, 1]])
    const second = await run(store.acquire([0], "host-b pid 2"))
    expect(second).toEqual([{ keyGroup: 0, incarnation: 2, epoch: 0, epochIncarnation: 0, exchangeOffset: 0, applied: [] }])
    expect((await run(store.rows([0, 3]))).map((r) => r.incarnation)).toEqual([2, 1])
    const owners = await sql<{ key_group: number; owner: string; has_since: boolean }>(
      `SELECT key_group, owner, owned_since IS NOT NULL AS has_since FROM "${schema}".cluster_kgs ORDER BY key_group`
    )
    expect(owners).toEqual([
      { key_group: 0, owner: "host-b pid 2", has_since: true },
      { key_group: 3, owner: "host-a pid 1", has_since: true }
    ])
  })

  it("a commit under an old incarnation writes nothing, not even its other key groups, and names the fenced ones", async () => {
    const schema = freshSchema()
    const a = (await open(schema, { flowId: "fence_flow", keyGroups: 4 })).store
    const b = (await open(schema, { flowId: "fence_flow" })).store
    const held = await run(a.acquire([1, 2], "a"))
    const [inc1, inc2] = held.map((r) => r.incarnation)
    await run(a.commit([commitOf(1, inc1!, 1, [snap("sum", true, [["x", 1]])]), commitOf(2, inc2!, 1, [snap("sum", true, [["y", 1]])])]))

    // b takes key group 2 over; a's next commit of 1 and 2 together is refused whole.
    const taken = await run(b.acquire([2], "b"))
    expect(taken[0]!.incarnation).toBe(inc2! + 1)
    const fenced = await run(
      a.commit([
        commitOf(1, inc1!, 2, [snap("sum", false, [["x", 10], ["x2", 20]])], { exchangeOffset: 7, applied: [[0, 1, 2]] }),
        commitOf(2, inc2!, 2, [snap("sum", false, [["y", DISCARDED], ["y2", 5]])], { exchangeOffset: 9 })
      ])
    )
    expect(fenced).toEqual([2])
    expect(sorted(await run(b.loadStates("sum", [1])))).toEqual([["x", 1]])
    expect(sorted(await run(b.loadStates("sum", [2])))).toEqual([["y", 1]])
    expect((await run(b.rows([1, 2]))).map((r) => [r.keyGroup, r.epoch, r.exchangeOffset, r.applied])).toEqual([
      [1, 1, 0, []],
      [2, 1, 0, []]
    ])

    // The new holder commits; the old one, for the group it still holds, too.
    expect(await run(b.commit([commitOf(2, taken[0]!.incarnation, 2, [snap("sum", false, [["y", 2]])])]))).toEqual([])
    expect(await run(a.commit([commitOf(1, inc1!, 2, [snap("sum", false, [["x", 10]])])]))).toEqual([])
    expect(sorted(await run(a.loadStates("sum", [1, 2])))).toEqual([["x", 10], ["y", 2]])
    expect((await run(a.rows([2])))[0]!.epochIncarnation).toBe(taken[0]!.incarnation)
  })

  it("renew raises only the incarnations still held, and a commit under the old one is fenced after it", async () => {
    const schema = freshSchema()
    const a = (await open(schema, { flowId: "renew_flow", keyGroups: 4 })).store
    const b = (await open(schema, { flowId: "renew_flow" })).store
    const held = await run(a.acquire([0, 1, 2], "a"))
    await run(a.commit([commitOf(0, held[0]!.incarnation, 3, [snap("sum", true, [["x", 1]])], { exchangeOffset: 4 })]))
    await run(b.acquire([2], "b"))
    const renewed = await run(a.renew([0, 1, 2], held.map((r) => r.incarnation)))
    // Key group 2 is b's now: not renewed; 0 and 1 move on one incarnation, their progress kept.
    expect(renewed.map((r) => [r.keyGroup, r.incarnation, r.epoch, r.exchangeOffset])).toEqual([
      [0, held[0]!.incarnation + 1, 3, 4],
      [1, held[1]!.incarnation + 1, 0, 0]
    ])
    expect(await run(a.commit([commitOf(0, held[0]!.incarnation, 4, [])]))).toEqual([0])
    expect(await run(a.commit([commitOf(0, renewed[0]!.incarnation, 4, [])]))).toEqual([])
    expect((await run(b.rows([2])))[0]!.incarnation).toBe(held[2]!.incarnation + 1)
  })

  it("a commit of a key group nobody acquired is fenced", async () => {
    const schema = freshSchema()
    const { store } = await open(schema, { flowId: "unacq_flow", keyGroups: 2 })
    expect(await run(store.commit([commitOf(1, 1, 1, [snap("sum", true, [["k", 1]])])]))).toEqual([1])
    expect(await run(store.loadStates("sum", [0, 1]))).toEqual([])
  })

  it("key groups the store doesn't have, or one key group twice in a commit, are refused", async () => {
    const schema = freshSchema()
    const { store } = await open(schema, { flowId: "range_flow", keyGroups: 4 })
    const e = await errorOf(run(store.acquire([1, 4], "a")))
    expect(e).toBeInstanceOf(RecoveryStoreError)
    expect((e as Error).message).toContain("there is no key group 4 in the scale-out store")
    expect((e as Error).message).toContain("it has 4 key groups, 0 to 3")
    // Nothing was acquired.
    expect((await run(store.rows([1])))[0]!.incarnation).toBe(0)
    await expect(run(store.loadStates("sum", [-1]))).rejects.toThrow(/no key group -1/)
    const [row] = await run(store.acquire([1], "a"))
    const twice = await errorOf(run(store.commit([commitOf(1, row!.incarnation, 1, []), commitOf(1, row!.incarnation, 2, [])])))
    expect((twice as Error).message).toContain("key group 1 appears twice in one commit")
  })
})

describe("commits", () => {
  it("full and incremental snapshots and discarded keys round-trip, per step and key group", async () => {
    const schema = freshSchema()
    const { store } = await open(schema, { flowId: "rt_flow", keyGroups: 4 })
    const rows = await run(store.acquire([0, 1], "me"))
    const inc = new Map(rows.map((r) => [r.keyGroup, r.incarnation]))
    const rich = { when: new Date(0), tags: new Set(["a"]), counts: new Map([["x", 1n]]), bytes: new Uint8Array([1, 2]) }
    expect(
      await run(store.commit([
        commitOf(0, inc.get(0)!, 1, [
          snap("sum", true, [["a", 1], ["b", rich], ["c", "three"]]),
          snap("src", true, [["part-0", { offset: 5 }]])
        ]),
        commitOf(1, inc.get(1)!, 1, [snap("sum", true, [["z", -0.5]])])
      ]))
    ).toEqual([])
    expect(sorted(await run(store.loadStates("sum", [0])))).toEqual([["a", 1], ["b", rich], ["c", "three"]])
    expect(sorted(await run(store.loadStates("sum", [0, 1])))).toEqual([["a", 1], ["b", rich], ["c", "three"], ["z", -0.5]])
    expect(await run(store.loadStates("src", [0, 1]))).toEqual([["part-0", { offset: 5 }]])
    expect(await run(store.loadStates("sum", [2, 3]))).toEqual([])

    // Incremental: a changes, b is discarded, d is new; c and the other step are untouched.
    await run(store.commit([commitOf(0, inc.get(0)!, 2, [snap("sum", false, [["a", 2], ["b", DISCARDED], ["d", null]])])]))
    expect(sorted(await run(store.loadStates("sum", [0])))).toEqual([["a", 2], ["c", "three"], ["d", null]])
    expect(await run(store.loadStates("src", [0]))).toEqual([["part-0", { offset: 5 }]])

    // Full: exactly these keys remain in this key group (a DISCARDED in a full snapshot is no row); key group 1 untouched.
    await run(store.commit([commitOf(0, inc.get(0)!, 3, [snap("sum", true, [["e", 5], ["a", DISCARDED]])])]))
    expect(sorted(await run(store.loadStates("sum", [0, 1])))).toEqual([["e", 5], ["z", -0.5]])

    // A full snapshot with no keys empties the step in that key group.
    await run(store.commit([commitOf(1, inc.get(1)!, 2, [snap("sum", true, [])])]))
    expect(sorted(await run(store.loadStates("sum", [0, 1])))).toEqual([["e", 5]])

    // Several snapshots of one step in one commit apply in order.
    await run(store.commit([commitOf(0, inc.get(0)!, 4, [
      snap("sum", false, [["f", 6]]),
      snap("sum", true, [["g", 7], ["h", 8]]),
      snap("sum", false, [["h", DISCARDED], ["i", 9]])
    ])]))
    expect(sorted(await run(store.loadStates("sum", [0])))).toEqual([["g", 7], ["i", 9]])

    const stored = await sql<{ key_group: number; n: string }>(
      `SELECT key_group, COUNT(*) AS n FROM "${schema}".cluster_rows WHERE step_id = 'sum' GROUP BY key_group ORDER BY key_group`
    )
    expect(stored).toEqual([{ key_group: 0, n: "2" }])
  })

  it("epoch, incarnation, exchange offset and applied frames round-trip, and survive a reopen", async () => {
    const schema = freshSchema()
    const first = await open(schema, { flowId: "pos_flow", keyGroups: 3 })
    const [row] = await run(first.store.acquire([2], "me"))
    const applied = [[0, 1, 41], [1, 3, 40], [2, 1, 41]] as const
    await run(first.store.commit([commitOf(2, row!.incarnation, 41, [], { exchangeOffset: 123_456_789_012, applied })]))
    const expected = { keyGroup: 2, incarnation: row!.incarnation, epoch: 41, epochIncarnation: row!.incarnation, exchangeOffset: 123_456_789_012, applied }
    expect(await run(first.store.rows([2]))).toEqual([expected])
    await first.close()

    const again = await open(schema, { flowId: "pos_flow" })
    expect(await run(again.store.rows([2]))).toEqual([expected])
    expect(await run(again.store.acquire([2], "me again"))).toEqual([{ ...expected, incarnation: row!.incarnation + 1 }])
  })

  it("a state that can't be serialized fails the commit naming the step and key, and nothing is written", async () => {
    const schema = freshSchema()
    const { store } = await open(schema, { flowId: "ser_flow", keyGroups: 2 })
    const [row] = await run(store.acquire([0], "me"))
    const e = await errorOf(run(store.commit([commitOf(0, row!.incarnation, 1, [snap("sum", true, [["ok", 1], ["bad", () => 1]])])])))
    expect((e as Error).message).toContain("can't serialize the state of key 'bad' in step 'sum'")
    expect(await run(store.loadStates("sum", [0]))).toEqual([])
    expect((await run(store.rows([0])))[0]!.epoch).toBe(0)
  })

  it("a commit of 50,000 keys goes through, and loads back", async () => {
    const schema = freshSchema()
    const { store } = await open(schema, { flowId: "big_flow", keyGroups: 2 })
    const [row] = await run(store.acquire([1], "me"))
    const n = 50_000
    const entries = Array.from({ length: n }, (_, i) => [`key-${i}`, i % 3 === 0 ? { n: i, s: `v${i}` } : i] as const)
    expect(await run(store.commit([commitOf(1, row!.incarnation, 1, [snap("sum", true, entries)])]))).toEqual([])
    // Then half of them discarded and the rest changed, incrementally.
    const next = entries.map(([k, v], i) => [k, i % 2 === 0 ? DISCARDED : typeof v === "number" ? v + 1 : v] as const)
    expect(await run(store.commit([commitOf(1, row!.incarnation, 2, [snap("sum", false, next)])]))).toEqual([])
    const loaded = new Map(await run(store.loadStates("sum", [1])))
    expect(loaded.size).toBe(n / 2)
    expect(loaded.get("key-1")).toBe(2)
    expect(loaded.get("key-3")).toEqual({ n: 3, s: "v3" })
    expect(loaded.has("key-4")).toBe(false)
    expect(loaded.get(`key-${n - 1}`)).toBe(n)
  })
})

describe("closing", () => {
  it("closing the scope lets go of every connection", async () => {
    const schema = freshSchema()
    const flowId = `close_${process.pid}_${Math.random().toString(36).slice(2, 8)}`
    const opened = await open(schema, { flowId, keyGroups: 2 })
    await run(opened.store.acquire([0, 1], "me"))
    const sessions = () =>
      sql<{ n: string }>("SELECT COUNT(*) AS n FROM pg_stat_activity WHERE application_name = $1", [`weir cluster ${flowId}`])
        .then((r) => Number(r[0]!.n))
    expect(await sessions()).toBeGreaterThan(0)
    await opened.close()
    await expect.poll(sessions, { timeout: 10_000 }).toBe(0)
    expect(await errorOf(run(opened.store.rows([0])))).toBeInstanceOf(RecoveryStoreError)
  })
})
