/**
 * State time-to-live against the real stores — the embedded SQLite directory
 * and PostgreSQL (test/global-setup.ts) — read straight from their tables: an
 * expired key is first a tombstone (a resume loads nothing for it), and once
 * its step is next written in full its rows are gone altogether; a crash and
 * resume still expires keys at the moment an uninterrupted run would, and
 * never brings an expired key back; stores written with and without `ttl`
 * resume under the other setting.
 */
import { Dataflow, op, type RecoveryConfigLike, runMain } from "@weir/core"
import { TestingSink, TestingSource, type TestingSourceItem, VirtualClock } from "@weir/testing"
import type * as Duration from "effect/Duration"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import pg from "pg"
import { afterAll, describe, expect, it } from "vitest"
import { initDbDir, initPostgres, PostgresRecoveryConfig, RecoveryConfig } from "../src/index.js"
import { postgresEntries, sqliteEntries, type StoredEntry } from "./stored.js"

const pgUrl = (): string => {
  const url = process.env.WEIR_PG_URL
  if (!url) throw new Error("WEIR_PG_URL is not set: the global setup should have started PostgreSQL")
  return url
}

interface Location {
  readonly config: RecoveryConfigLike
  /** Every entry the store holds, read from its tables. */
  entries(): Promise<Array<StoredEntry>>
}
interface Kind {
  readonly name: string
  fresh(): Promise<Location>
}

const dirs: Array<string> = []
const schemas: Array<string> = []
afterAll(async () => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true })
  if (schemas.length === 0 || !process.env.WEIR_PG_URL) return
  const c = new pg.Client({ connectionString: pgUrl() })
  await c.connect()
  try {
    for (const s of schemas) await c.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`)
  } finally {
    await c.end()
  }
})

const sqlite: Kind = {
  name: "embedded (SQLite)",
  async fresh() {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "weir-ttl-"))
    dirs.push(dir)
    await initDbDir(dir, 1)
    return { config: new RecoveryConfig(dir), entries: async () => sqliteEntries(dir) }
  }
}

const postgres: Kind = {
  name: "PostgreSQL",
  async fresh() {
    const schema = `t_ttl_${process.pid}_${Math.random().toString(36).slice(2, 10)}`
    schemas.push(schema)
    await initPostgres(pgUrl(), 1, { schema })
    return { config: new PostgresRecoveryConfig(pgUrl(), { schema }), entries: () => postgresEntries(pgUrl(), schema) }
  }
}

const START = new Date("2024-01-01T00:00:00Z")
const MINUTE = 60_000
const PAUSE = (d: Duration.Input) => new TestingSource.PAUSE(d)
const SUM = "test_df.sum.statefulBatch"

type Pair = readonly [string, number]

/** A running sum per key, with `ttl` if given. */
const flowOf = (items: ReadonlyArray<TestingSourceItem<Pair>>, ttl: Duration.Input | undefined) => {
  const flow = new Dataflow("test_df")
  const out: Array<Pair> = []
  op.input("inp", flow, new TestingSource(items))
    .then(op.statefulMap, "sum", (acc: number | undefined, x: number) => [(acc ?? 0) + x, (acc ?? 0) + x] as const, { ttl })
    .then(op.output, "out", new TestingSink(out))
  return { flow, out }
}

const runOn = async (
  loc: Location,
  clock: VirtualClock,
  items: ReadonlyArray<TestingSourceItem<Pair>>,
  ttl: Duration.Input | undefined
): Promise<Array<Pair>> => {
  const { flow, out } = flowOf(items, ttl)
  await runMain(flow, { clock, epochInterval: "1 minute", recovery: loc.config })
  return out
}

/** The entries of `key` in the sum step, oldest first, as `state` or "tombstone". */
const historyOf = (entries: ReadonlyArray<StoredEntry>, key: string): Array<unknown> =>
  entries
    .filter((e) => e.stepId === SUM && e.key === key)
    .sort((a, b) => a.epoch - b.epoch)
    .map((e) => (e.discarded ? "tombstone" : e.state))

/** What a resume would load for the sum step: each key's newest entry, tombstoned keys left out. */
const loadable = (entries: ReadonlyArray<StoredEntry>): Map<string, unknown> => {
  const newest = new Map<string, StoredEntry>()
  for (const e of entries) {
    if (e.stepId !== SUM) continue
    const seen = newest.get(e.key)
    if (seen === undefined || e.epoch > seen.epoch) newest.set(e.key, e)
  }
  const out = new Map<string, unknown>()
  for (const [key, e] of [...newest].sort(([a], [b]) => a.localeCompare(b))) if (!e.discarded) out.set(key, e.state)
  return out
}

const touched = (state: number, minutes: number) => ({ "weir:state": state, "weir:touchedAt": START.getTime() + minutes * MINUTE })
const K = Array.from({ length: 10 }, (_, i) => `k${i}`)

describe.each([sqlite, postgres])("ttl with the $name store", (kind) => {
  it("an expired key is a tombstone, then gone; a crash and resume expire on time and never bring a key back", async () => {
    const loc = await kind.fresh()
    const clock = new VirtualClock(START)
    // ttl 1 hour. "a" is touched at minute 0, k0..k9 at minute 30; "a" expires at minute 60, the
    // crash comes at 70, the k's expire at 90 (in the resumed run), and both come back at 100.
    const items: Array<TestingSourceItem<Pair>> = [
      ["a", 1],
      PAUSE("30 minutes"),
      ...K.map((k): Pair => [k, 1]),
      PAUSE("40 minutes"),
      new TestingSource.ABORT(),
      PAUSE("30 minutes"),
      ["a", 5],
      ["k0", 5]
    ]
    const first = await runOn(loc, clock, items, "1 hour")
    expect(first).toEqual([["a", 1], ...K.map((k): Pair => [k, 1])])
    const atCrash = await loc.entries()
    // Ten live keys against a few changes: the step is written incrementally, so the expiry is a tombstone.
    expect(historyOf(atCrash, "a")).toEqual([touched(1, 0), "tombstone"])
    expect(loadable(atCrash)).toEqual(new Map(K.map((k) => [k, touched(1, 30)])))

    const second = await runOn(loc, clock, items, "1 hour")
    // Both start from fresh state: "a" expired before the crash, "k0" at minute 90 — 60 after its
    // last item, not 60 after the resume.
    expect(second).toEqual([["a", 5], ["k0", 5]])
    const after = await loc.entries()
    // The k's expiring left no live key, so the step was written in full: every older entry is gone.
    // ("a" may be there twice: written when its epoch closed and again by the final commit.)
    const aNow = historyOf(after, "a")
    expect(aNow.length).toBeGreaterThan(0)
    for (const state of aNow) expect(state).toEqual(touched(5, 100))
    for (const k of K.slice(1)) expect(historyOf(after, k)).toEqual([])
    expect(loadable(after)).toEqual(new Map([["a", touched(5, 100)], ["k0", touched(5, 100)]]))
    expect(after.filter((e) => e.discarded)).toEqual([])
  })

  it("a key that expires while its step is written in full leaves no row at all", async () => {
    const loc = await kind.fresh()
    const items: Array<TestingSourceItem<Pair>> = [["a", 1], ["b", 1], PAUSE("40 minutes"), ["b", 1], PAUSE("40 minutes"), ["b", 1]]
    const out = await runOn(loc, new VirtualClock(START), items, "1 hour")
    expect(out).toEqual([["a", 1], ["b", 1], ["b", 2], ["b", 3]])
    const entries = await loc.entries()
    expect(historyOf(entries, "a")).toEqual([])
    expect(loadable(entries)).toEqual(new Map([["b", touched(3, 80)]]))

    // Without the ttl, the same flow keeps "a".
    const control = await kind.fresh()
    await runOn(control, new VirtualClock(START), items, undefined)
    expect(loadable(await control.entries())).toEqual(new Map([["a", 1], ["b", 3]]))
  })

  it("a store written without ttl resumes with one (restored keys count as touched then), and back", async () => {
    const loc = await kind.fresh()
    const clock = new VirtualClock(START)
    const items: Array<TestingSourceItem<Pair>> = [
      ["a", 1],
      PAUSE("5 minutes"),
      new TestingSource.ABORT(),
      PAUSE("50 minutes"),
      ["a", 10],
      PAUSE("5 minutes"),
      new TestingSource.ABORT(),
      PAUSE("2 hours"),
      ["a", 100]
    ]
    expect(await runOn(loc, clock, items, undefined)).toEqual([["a", 1]])
    expect(loadable(await loc.entries())).toEqual(new Map([["a", 1]]))
    clock.advance("1 day")
    const resumedAt = (clock.now() - START.getTime()) / MINUTE
    // With ttl: "a" (written without a touched time) counts as touched at the resume, so it is
    // still there 50 minutes later.
    expect(await runOn(loc, clock, items, "1 hour")).toEqual([["a", 11]])
    expect(loadable(await loc.entries())).toEqual(new Map([["a", touched(11, resumedAt + 50)]]))
    // Without ttl again: the stored states are unwrapped and live on, however long the pause.
    expect(await runOn(loc, clock, items, undefined)).toEqual([["a", 111]])
    expect(loadable(await loc.entries())).toEqual(new Map([["a", 111]]))
  })
})
