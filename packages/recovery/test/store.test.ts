/**
 * One conformance suite for both stores: the embedded SQLite directory and
 * PostgreSQL (a real server started by test/global-setup.ts).
 */
import { DISCARDED, type RecoveryConfigLike, type RecoveryStore, stableHash, type StepSnapshots } from "@weir/core"
import Database from "better-sqlite3"
import { Duration, Effect, Exit, Scope } from "effect"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import * as v8 from "node:v8"
import pg from "pg"
import { afterAll, describe, expect, it } from "vitest"
import {
  InconsistentPartitionsError,
  initDbDir,
  initPostgres,
  MissingPartitionsError,
  NoPartitionsError,
  PostgresRecoveryConfig,
  RecoveryConfig,
  RecoveryStoreError,
  StateSerializationError
} from "../src/index.js"
import { deserialize, serialize } from "../src/serde.js"
import { postgresEntries, sqliteEntries } from "./stored.js"

const pgUrl = () => {
  const url = process.env.WEIR_PG_URL
  if (!url) throw new Error("WEIR_PG_URL is not set: the global setup should have started PostgreSQL")
  return url
}

/** A store location under test: how to make one, inspect it and break it. */
interface Kind {
  readonly name: string
  /** A fresh, initialised location with `count` partitions. */
  fresh(count?: number, options?: { backupInterval?: Duration.Input }): Promise<Location>
  /** A location that exists but was never initialised. */
  uninitialised(): Promise<RecoveryConfigLike>
}
interface Location {
  readonly config: RecoveryConfigLike
  /** Entries of the stored segments, as `step/key@epoch`. */
  snapRows(): Promise<Array<string>>
  /** Delete partition `i`. */
  dropPartition(i: number): Promise<void>
  /** Make partition `i` claim a different partition count. */
  miscount(i: number, count: number): Promise<void>
}

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "weir-recovery-"))

const sqlite: Kind = {
  name: "embedded (SQLite)",
  async fresh(count = 1, options = {}) {
    const dir = tmp()
    await initDbDir(dir, count)
    return {
      config: new RecoveryConfig(dir, options),
      async snapRows() {
        return sqliteEntries(dir).map((e) => `${e.stepId}/${e.key}@${e.epoch}`).sort()
      },
      async dropPartition(i) {
        for (const suffix of ["", "-wal", "-shm"]) fs.rmSync(path.join(dir, `part-${i}.sqlite3${suffix}`), { force: true })
      },
      async miscount(i, c) {
        const db = new Database(path.join(dir, `part-${i}.sqlite3`))
        db.pragma("ignore_check_constraints = ON")
        db.prepare("UPDATE parts SET part_count = ?").run(c)
        db.close()
      }
    }
  },
  async uninitialised() {
    return new RecoveryConfig(tmp())
  }
}

let schemaCounter = 0
const schemas: Array<string> = []
const freshSchema = () => {
  const s = `t_${process.pid}_${Date.now() % 1e6}_${schemaCounter++}`
  schemas.push(s)
  return s
}
const withClient = async <A>(f: (c: pg.Client) => Promise<A>): Promise<A> => {
  const c = new pg.Client({ connectionString: pgUrl() })
  await c.connect()
  try {
    return await f(c)
  } finally {
    await c.end()
  }
}

const postgres: Kind = {
  name: "PostgreSQL",
  async fresh(count = 1, options = {}) {
    const schema = freshSchema()
    await initPostgres(pgUrl(), count, { schema })
    return {
      config: new PostgresRecoveryConfig(pgUrl(), { ...options, schema }),
      snapRows: async () => (await postgresEntries(pgUrl(), schema)).map((e) => `${e.stepId}/${e.key}@${e.epoch}`).sort(),
      dropPartition: (i) => withClient(async (c) => void (await c.query(`DELETE FROM "${schema}".parts WHERE part_index = $1`, [i]))),
      miscount: (i, n) =>
        withClient(async (c) => {
          await c.query(`ALTER TABLE "${schema}".parts DROP CONSTRAINT IF EXISTS parts_check`)
          await c.query(`UPDATE "${schema}".parts SET part_count = $1 WHERE part_index = $2`, [n, i])
        })
    }
  },
  async uninitialised() {
    return new PostgresRecoveryConfig(pgUrl(), { schema: freshSchema() })
  }
}

afterAll(async () => {
  if (schemas.length === 0 || !process.env.WEIR_PG_URL) return
  await withClient(async (c) => {
    for (const s of schemas) await c.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`)
  })
})

/** Open a store for one execution; `use` runs with it; the store closes afterwards. */
const withStore = async <A>(
  config: RecoveryConfigLike,
  use: (store: RecoveryStore) => Promise<A>,
  workerCount = 1,
  epochInterval: Duration.Input = "1 second"
): Promise<A> => {
  const scope = Effect.runSync(Scope.make())
  try {
    const store = await Effect.runPromise(
      Scope.provide(scope)(config.open({ flowId: "test_df", workerCount, epochInterval: Duration.fromInputUnsafe(epochInterval) }))
    )
    return await use(store)
  } finally {
    await Effect.runPromise(Scope.close(scope, Exit.void))
  }
}

const openError = async (config: RecoveryConfigLike): Promise<unknown> =>
  withStore(config, async () => undefined).then(() => undefined, (e: unknown) => e)

/** One key's snapshot, for writing commits tersely. */
interface Entry {
  readonly stepId: string
  readonly key: string
  readonly state: unknown
}
const put = (stepId: string, key: string, state: unknown): Entry => ({ stepId, key, state })
const drop = (stepId: string, key: string): Entry => ({ stepId, key, state: DISCARDED })
/** The entries grouped by step: changed-keys snapshots, or full ones for the steps in `full`. */
const stepsOf = (entries: ReadonlyArray<Entry>, full: ReadonlyArray<string>): Array<StepSnapshots> => {
  const by = new Map<string, { stepId: string; full: boolean; keys: Array<string>; states: Array<unknown> }>()
  for (const stepId of full) by.set(stepId, { stepId, full: true, keys: [], states: [] })
  for (const e of entries) {
    let s = by.get(e.stepId)
    if (s === undefined) by.set(e.stepId, (s = { stepId: e.stepId, full: full.includes(e.stepId), keys: [], states: [] }))
    s.keys.push(e.key)
    s.states.push(e.state)
  }
  return [...by.values()]
}
const commit = (store: RecoveryStore, epoch: number, entries: Array<Entry>, worker = 0, full: ReadonlyArray<string> = []) =>
  Effect.runPromise(store.commit({ worker, epoch, frontier: epoch + 1, steps: stepsOf(entries, full) }))
const load = async (store: RecoveryStore, stepId: string) => new Map(await Effect.runPromise(store.loadStates(stepId)))

describe.each([sqlite, postgres])("$name store", (kind) => {
  it("a fresh store starts execution 0 at epoch 1; the next resumes after the last closed epoch", async () => {
    const loc = await kind.fresh()
    await withStore(loc.config, async (store) => {
      expect(store.resume).toEqual({ execution: 0, epoch: 1 })
      await commit(store, 1, [put("f.s", "a", 1)])
      await commit(store, 2, [put("f.s", "a", 2)])
    })
    await withStore(loc.config, async (store) => {
      expect(store.resume).toEqual({ execution: 1, epoch: 3 })
      expect(await load(store, "f.s")).toEqual(new Map([["a", 2]]))
    })
    // An execution that commits nothing resumes from the same place.
    await withStore(loc.config, async (store) => expect(store.resume).toEqual({ execution: 2, epoch: 3 }))
    await withStore(loc.config, async (store) => expect(store.resume).toEqual({ execution: 3, epoch: 3 }))
  })

  it("loads each key's newest state before the resume epoch; discarded keys are gone", async () => {
    const loc = await kind.fresh(3)
    await withStore(loc.config, async (store) => {
      await commit(store, 1, [put("f.s", "a", "a1"), put("f.s", "b", "b1"), put("f.other", "a", "x")])
      await commit(store, 2, [put("f.s", "a", "a2"), drop("f.s", "b")])
      await commit(store, 3, [put("f.s", "b", "b3")])
    })
    await withStore(loc.config, async (store) => {
      expect(await load(store, "f.s")).toEqual(new Map([["a", "a2"], ["b", "b3"]]))
      expect(await load(store, "f.other")).toEqual(new Map([["a", "x"]]))
      expect(await load(store, "f.none")).toEqual(new Map())
    })
  })

  it("structured-cloneable states round-trip exactly", async () => {
    const loc = await kind.fresh()
    const state = {
      map: new Map<string, unknown>([["k", [1, 2]], ["nested", new Set(["x"])]]),
      date: new Date("2024-02-29T12:00:00.123Z"),
      big: 12345678901234567890n,
      bytes: new Uint8Array([1, 2, 255]),
      floats: new Float64Array([0.5, -0]),
      nothing: undefined,
      nan: NaN
    }
    await withStore(loc.config, (store) => commit(store, 1, [put("f.s", "k", state)]))
    await withStore(loc.config, async (store) => {
      const back = (await load(store, "f.s")).get("k")
      expect(back).toEqual(state)
      expect((back as typeof state).map).toBeInstanceOf(Map)
      expect((back as typeof state).big).toBe(12345678901234567890n)
    })
  })

  it("numbers, strings, booleans and null round-trip exactly, edge cases included", async () => {
    const loc = await kind.fresh()
    const states: Array<readonly [string, unknown]> = [
      ["zero", 0],
      ["minus zero", -0],
      ["nan", NaN],
      ["infinity", Infinity],
      ["minus infinity", -Infinity],
      ["fraction", 0.1 + 0.2],
      ["max", Number.MAX_VALUE],
      ["min", Number.MIN_VALUE],
      ["beyond int32", 2 ** 53 - 1],
      ["empty string", ""],
      ["unicode", "grüße, 世界 🌊"],
      ["lone surrogate", "a\uD800b"],
      ["large string", "x".repeat(1_000_000) + "é"],
      ["true", true],
      ["false", false],
      ["null", null],
      ["undefined", undefined],
      ["bigint", -(2n ** 70n)],
      ["nested", { n: -0, s: "é", list: [NaN, null, true], big: 1n }]
    ]
    await withStore(loc.config, (store) => commit(store, 1, states.map(([k, v]) => put("f.s", k, v))))
    await withStore(loc.config, async (store) => {
      const back = await load(store, "f.s")
      expect([...back.keys()].sort()).toEqual(states.map(([k]) => k).sort())
      for (const [k, v] of states) {
        if (typeof v === "number") expect(Object.is(back.get(k), v), k).toBe(true)
        else expect(back.get(k), k).toEqual(v)
      }
      expect(Object.is((back.get("nested") as { n: number }).n, -0)).toBe(true)
    })
  })

  it("a commit of many keys, past one segment, stores every key", async () => {
    const loc = await kind.fresh(3)
    // About 13 MB of states: several segments.
    const big = "s".repeat(10_000)
    const entries = Array.from({ length: 1234 }, (_, i) => i % 7 === 0 ? drop("f.s", `k${i}`) : put("f.s", `k${i}`, i))
    await withStore(loc.config, async (store) => {
      await commit(store, 1, Array.from({ length: 1234 }, (_, i) => put("f.s", `k${i}`, `${big}${i}`)))
      await commit(store, 2, entries)
    })
    await withStore(loc.config, async (store) => {
      const expected = new Map<string, unknown>()
      for (let i = 0; i < 1234; i++) if (i % 7 !== 0) expected.set(`k${i}`, i)
      expect(await load(store, "f.s")).toEqual(expected)
    })
    // No full snapshot yet: both epochs are kept.
    expect((await loc.snapRows()).length).toBe(2 * 1234)
  })

  it("an epoch committed again after a crash overwrites what the crashed execution left of it", async () => {
    const loc = await kind.fresh(2)
    await withStore(loc.config, async (store) => {
      await commit(store, 1, [put("f.s", "a", 1)], 0)
      await commit(store, 1, [put("f.s", "b", 1)], 1)
      // Worker 0 gets through epoch 2; worker 1 crashes before committing it.
      await commit(store, 2, [put("f.s", "a", 2), put("f.s", "c", 2)], 0)
    }, 2)
    await withStore(loc.config, async (store) => {
      expect(store.resume.epoch).toBe(2)
      await commit(store, 2, [put("f.s", "a", 20), put("f.s", "c", 20)], 0)
      await commit(store, 2, [put("f.s", "b", 20)], 1)
    }, 2)
    await withStore(loc.config, async (store) => {
      expect(store.resume.epoch).toBe(3)
      expect(await load(store, "f.s")).toEqual(new Map([["a", 20], ["b", 20], ["c", 20]]))
    }, 2)
  })

  it("a state that can't be serialized fails with the step and the key", async () => {
    const loc = await kind.fresh()
    const err = await withStore(loc.config, (store) => commit(store, 1, [put("f.s", "bad key", { f: () => 1 })]))
      .then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(StateSerializationError)
    expect(String((err as Error).message)).toMatch(/key 'bad key' in step 'f.s'/)
  })

  it("garbage collection drops everything older than a step's newest full snapshot, and only that", async () => {
    const loc = await kind.fresh(2)
    await withStore(loc.config, async (store) => {
      await commit(store, 1, [put("f.s", "a", 1), put("f.s", "b", 1), put("f.t", "x", 1)])
      await commit(store, 2, [put("f.s", "a", 2), drop("f.s", "b")])
    })
    expect(await loc.snapRows()).toEqual(["f.s/a@1", "f.s/a@2", "f.s/b@1", "f.s/b@2", "f.t/x@1"])
    await withStore(loc.config, async (store) => {
      await commit(store, 3, [put("f.s", "a", 2), put("f.s", "c", 3)], 0, ["f.s"])
    })
    // `f.s` in full at epoch 3: its older segments are gone (tombstones too); `f.t` is untouched.
    expect(await loc.snapRows()).toEqual(["f.s/a@3", "f.s/c@3", "f.t/x@1"])
    await withStore(loc.config, async (store) => {
      expect(await load(store, "f.s")).toEqual(new Map([["a", 2], ["c", 3]]))
      expect(await load(store, "f.t")).toEqual(new Map([["x", 1]]))
      // An empty full snapshot: the step holds no key any more.
      await commit(store, 4, [], 0, ["f.s"])
    })
    expect(await loc.snapRows()).toEqual(["f.t/x@1"])
    await withStore(loc.config, async (store) => expect(await load(store, "f.s")).toEqual(new Map()))
  })

  it("a resume ignores segments older than the newest full snapshot before it, collected or not", async () => {
    const loc = await kind.fresh(1, { backupInterval: "10 seconds" })
    await withStore(loc.config, async (store) => {
      await commit(store, 1, [put("f.s", "gone", 1), put("f.s", "a", 1)])
      await commit(store, 2, [put("f.s", "a", 2)], 0, ["f.s"])
      await commit(store, 3, [put("f.s", "b", 3)])
    }, 1, "1 second")
    // The backup interval keeps epoch 1 stored, but the full snapshot at 2 says `gone` is gone.
    expect(await loc.snapRows()).toContain("f.s/gone@1")
    await withStore(loc.config, async (store) => {
      expect(await load(store, "f.s")).toEqual(new Map([["a", 2], ["b", 3]]))
    }, 1, "1 second")
  })

  it("a backup interval keeps superseded snapshots for that many epochs", async () => {
    const loc = await kind.fresh(1, { backupInterval: "2 seconds" })
    await withStore(loc.config, async (store) => {
      for (let e = 1; e <= 5; e++) await commit(store, e, [put("f.s", "a", e)], 0, ["f.s"])
    }, 1, "1 second")
    // Lag 2 epochs: at epoch 5 everything up to epoch 3 is collected, so 3, 4 and 5 remain.
    expect(await loc.snapRows()).toEqual(["f.s/a@3", "f.s/a@4", "f.s/a@5"])
  })

  it("with several workers, the resume epoch is the oldest frontier", async () => {
    const loc = await kind.fresh(2)
    await withStore(loc.config, async (store) => {
      await commit(store, 1, [put("f.s", "a", 1)], 0)
      await commit(store, 1, [put("f.s", "b", 1)], 1)
      await commit(store, 2, [put("f.s", "a", 2)], 0)
    }, 2)
    await withStore(loc.config, async (store) => {
      expect(store.resume.epoch).toBe(2)
      // Worker 0's epoch-2 snapshot is newer than the resume point: not loaded.
      expect(await load(store, "f.s")).toEqual(new Map([["a", 1], ["b", 1]]))
    }, 2)
  })

  it("an uninitialised location is refused with NoPartitionsError", async () => {
    const err = await openError(await kind.uninitialised())
    expect(err).toBeInstanceOf(NoPartitionsError)
    expect((err as Error).message).toMatch(/No recovery partitions found.*weir recovery init/)
  })

  it("a missing partition is refused with MissingPartitionsError", async () => {
    const loc = await kind.fresh(3)
    await loc.dropPartition(1)
    const err = await openError(loc.config)
    expect(err).toBeInstanceOf(MissingPartitionsError)
    expect((err as Error).message).toMatch(/Missing recovery partitions \{1\} of 3/)
  })

  it("partitions that disagree on the count are refused with InconsistentPartitionsError", async () => {
    const loc = await kind.fresh(2)
    await loc.miscount(1, 5)
    const err = await openError(loc.config)
    expect(err).toBeInstanceOf(InconsistentPartitionsError)
    expect((err as Error).message).toMatch(/Inconsistent partition counts \{2, 5\}/)
  })
})

describe("embedded store specifics", () => {
  it("a store written with a row per key (before segments), states by v8.serialize itself, is migrated and resumes", async () => {
    const dir = tmp()
    await initDbDir(dir, 1)
    const config = new RecoveryConfig(dir)
    await withStore(config, (store) => commit(store, 1, [put("f.s", "new", 1)]))
    // Turn the file back into the layout of schema version 2, with rows of epochs 1 and 2.
    const db = new Database(path.join(dir, "part-0.sqlite3"))
    db.exec(`DELETE FROM segs;
      CREATE TABLE snaps (step_id TEXT NOT NULL, state_key TEXT NOT NULL, snap_epoch INTEGER NOT NULL, ser_change BLOB,
        created_at TEXT DEFAULT CURRENT_TIMESTAMP, PRIMARY KEY (step_id, state_key, snap_epoch)) STRICT;
      PRAGMA user_version = 2;`)
    const insert = db.prepare("INSERT INTO snaps (step_id, state_key, snap_epoch, ser_change) VALUES ('f.s', ?, ?, ?)")
    insert.run("number", 1, v8.serialize(-0))
    insert.run("string", 1, v8.serialize("old"))
    insert.run("string", 2, v8.serialize("newer"))
    insert.run("gone", 1, v8.serialize(7))
    insert.run("gone", 2, null)
    insert.run("object", 1, v8.serialize({ m: new Map([["k", 1n]]) }))
    insert.run("new", 1, serialize("f.s", "new", 1))
    db.prepare("INSERT OR REPLACE INTO fronts (ex_num, worker_index, worker_frontier) VALUES (0, 0, 3)").run()
    db.close()
    await withStore(config, async (store) => {
      expect(store.resume.epoch).toBe(3)
      const back = await load(store, "f.s")
      expect(Object.is(back.get("number"), -0)).toBe(true)
      expect(back.get("string")).toBe("newer")
      expect(back.has("gone")).toBe(false)
      expect(back.get("object")).toEqual({ m: new Map([["k", 1n]]) })
      expect(back.get("new")).toBe(1)
    })
    const check = new Database(path.join(dir, "part-0.sqlite3"), { readonly: true })
    expect(check.prepare("SELECT name FROM sqlite_master WHERE name = 'snaps'").get()).toBeUndefined()
    check.close()
  })

  it("a partition restored from a backup too old for the others is refused", async () => {
    const dir = tmp()
    await initDbDir(dir, 2)
    const config = new RecoveryConfig(dir)
    const backup = tmp()
    await withStore(config, async (store) => {
      await commit(store, 1, [put("f.s", "a", 1)])
      await commit(store, 2, [put("f.s", "a", 2)])
      for (const f of fs.readdirSync(dir)) fs.copyFileSync(path.join(dir, f), path.join(backup, f))
      for (let e = 3; e <= 6; e++) await commit(store, e, [put("f.s", "a", e)])
    })
    // Restore the old copy of the partition holding worker 0's frontier; the other one was collected up to epoch 6.
    const front = stableHash("0/0") % 2
    for (const suffix of ["", "-wal", "-shm"]) {
      const name = `part-${front}.sqlite3${suffix}`
      fs.rmSync(path.join(dir, name), { force: true })
      if (fs.existsSync(path.join(backup, name))) fs.copyFileSync(path.join(backup, name), path.join(dir, name))
    }
    const err = await openError(config)
    expect(err).toBeInstanceOf(InconsistentPartitionsError)
    expect((err as Error).message).toMatch(/too old to resume from epoch 3 without data loss/)
  })

  it("a recovery directory that doesn't exist is a clear error", async () => {
    const err = await openError(new RecoveryConfig(path.join(tmp(), "nope")))
    expect(err).toBeInstanceOf(RecoveryStoreError)
    expect((err as Error).message).toMatch(/recovery directory '.*nope' does not exist/)
  })

  it("initDbDir refuses a missing directory and a bad count", async () => {
    await expect(initDbDir(path.join(tmp(), "nope"), 1)).rejects.toThrow(/does not exist; please create it first/)
    await expect(initDbDir(tmp(), 0)).rejects.toThrow(/positive integer/)
  })
})

describe("PostgreSQL store specifics", () => {
  it("a server that is down at start is a clear error", async () => {
    const port = await new Promise<number>((resolve) => {
      const srv = net.createServer()
      srv.listen(0, "127.0.0.1", () => {
        const p = (srv.address() as net.AddressInfo).port
        srv.close(() => resolve(p))
      })
    })
    const err = await openError(new PostgresRecoveryConfig(`postgres://weir@127.0.0.1:${port}/weir`))
    expect(err).toBeInstanceOf(RecoveryStoreError)
    expect((err as Error).message).toMatch(new RegExp(`can't connect to PostgreSQL at 127.0.0.1:${port}/weir.*ECONNREFUSED`))
  })
})

describe("state serialization", () => {
  it("numbers, strings, booleans and null are written in V8's format, which v8.deserialize reads back exactly", () => {
    const states: Array<unknown> = [
      0, -0, NaN, Infinity, -1, 2 ** 31 - 1, -(2 ** 31), 2 ** 31, 0.1, Number.MIN_VALUE,
      "", "abc", "é".repeat(200), "€", "€".repeat(64), "a\uD800b", "\uDC00", "x".repeat(20_000),
      true, false, null, undefined
    ]
    for (const state of states) {
      const bytes = serialize("f.s", "k", state)
      expect(Object.is(v8.deserialize(bytes), state), String(state)).toBe(true)
      expect(Object.is(deserialize("f.s", "k", v8.serialize(state)), state), String(state)).toBe(true)
    }
  })

  it("bytes that are not a serialized state fail with the step and the key", () => {
    expect(() => deserialize("f.s", "k", new Uint8Array([0x42]))).toThrow(StateSerializationError)
    expect(() => deserialize("f.s", "k", new Uint8Array([]))).toThrow(/key 'k' in step 'f.s'/)
  })
})
