/**
 * A store belongs to one flow and is held by one run at a time, and its
 * partitioning is fixed when it is initialised. Each case here once made
 * state go backwards or left a store unable to resume: re-initialising a
 * used store with another partition count, two runs sharing a store, and two
 * different flows writing to one.
 */
import { Dataflow, op, type RecoveryConfigLike, runMain } from "@weir/core"
import { TestingSink, TestingSource } from "@weir/testing"
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import pg from "pg"
import { afterAll, describe, expect, it } from "vitest"
import {
  defaultSchemaFor,
  InconsistentPartitionsError,
  initDbDir,
  initPostgres,
  NoPartitionsError,
  PostgresRecoveryConfig,
  RecoveryConfig,
  StoreAlreadyInitializedError,
  StoreInUseError,
  WrongFlowError
} from "../src/index.js"

const pgUrl = (): string => {
  const url = process.env.WEIR_PG_URL
  if (!url) throw new Error("WEIR_PG_URL is not set: the global setup should have started PostgreSQL")
  return url
}

const dirs: Array<string> = []
const schemas: Array<string> = []
afterAll(async () => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true })
  if (schemas.length === 0) return
  const c = new pg.Client({ connectionString: pgUrl() })
  await c.connect()
  for (const s of schemas) await c.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`)
  await c.end()
})

/** A store location of one kind: initialise it, and open it as a run would. */
interface Location {
  init(count: number): Promise<void>
  readonly config: RecoveryConfigLike
  /** Code for a child process that holds the store's lease (as a running flow would) and prints `held`. */
  readonly holderScript: string
}

interface Kind {
  readonly name: string
  fresh(): Location
}

const srcIndex = path.resolve(import.meta.dirname, "../src/index.js")

const sqlite: Kind = {
  name: "embedded (SQLite)",
  fresh() {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "weir-own-"))
    dirs.push(dir)
    return {
      init: (count) => initDbDir(dir, count),
      config: new RecoveryConfig(dir),
      holderScript: holder(`new RecoveryConfig(${JSON.stringify(dir)})`)
    }
  }
}

const postgres: Kind = {
  name: "PostgreSQL",
  fresh() {
    const schema = `own_${process.pid}_${Math.random().toString(36).slice(2, 10)}`
    schemas.push(schema)
    return {
      init: (count) => initPostgres(pgUrl(), count, { schema }),
      config: new PostgresRecoveryConfig(pgUrl(), { schema }),
      holderScript: holder(`new PostgresRecoveryConfig(${JSON.stringify(pgUrl())}, { schema: ${JSON.stringify(schema)} })`)
    }
  }
}

/** A child process that opens the store for flow `held_flow` and keeps it open. */
function holder(configExpr: string): string {
  return `
    import { Effect } from "effect"
    import { Duration } from "effect"
    import { RecoveryConfig, PostgresRecoveryConfig } from ${JSON.stringify(srcIndex.replace(/\.js$/, ".ts"))}
    const config = ${configExpr}
    await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      yield* config.open({ flowId: "held_flow", workerCount: 1, epochInterval: Duration.seconds(1) })
      console.log("held")
      yield* Effect.never
    })))
  `
}

/** Start the holder and wait until it holds the store. */
const startHolder = async (script: string): Promise<ChildProcess> => {
  const child = spawn(process.execPath, ["--conditions=@weir/source", "--import", "tsx", "--input-type=module", "-e", script], {
    cwd: path.resolve(import.meta.dirname, ".."),
    stdio: ["ignore", "pipe", "pipe"]
  })
  let err = ""
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()))
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on("data", (d: Buffer) => {
      if (d.toString().includes("held")) resolve()
    })
    child.on("exit", (code) => reject(new Error(`the holder exited (${code}) before holding the store:\n${err}`)))
  })
  return child
}

const killed = (child: ChildProcess): Promise<void> =>
  new Promise((resolve) => {
    child.on("exit", () => resolve())
    child.kill("SIGKILL")
  })

/** A keyed running sum over `items` as flow `flowId`; returns what it emitted. */
const runSum = async (
  flowId: string,
  config: RecoveryConfigLike,
  items: ReadonlyArray<readonly [string, number]>
): Promise<Array<readonly [string, number]>> => {
  const flow = new Dataflow(flowId)
  const sink = new TestingSink<readonly [string, number]>()
  const sums = op.statefulMap(
    "sum",
    op.input("inp", flow, new TestingSource(items)),
    (s: number | undefined, x: number) => [(s ?? 0) + x, (s ?? 0) + x] as const
  )
  op.output("out", sums, sink)
  await runMain(flow, { epochInterval: 0, recovery: config })
  return sink.getOutput()
}

const errorOf = (p: Promise<unknown>): Promise<unknown> => p.then(() => undefined, (e: unknown) => e)

describe.each([sqlite, postgres])("the $name store", (kind) => {
  describe("initialising", () => {
    it("again with the same count is harmless while the store holds no data", async () => {
      const loc = kind.fresh()
      await loc.init(2)
      await loc.init(2)
      expect(await runSum("flow_a", loc.config, [["k", 1]])).toEqual([["k", 1]])
    })

    it("with another count is refused, before and after a run, and says how to start over", async () => {
      const loc = kind.fresh()
      await loc.init(2)
      const before = await errorOf(loc.init(3))
      expect(before).toBeInstanceOf(StoreAlreadyInitializedError)
      expect((before as Error).message).toMatch(/already initialised with 2 partition\(s\), not 3/)
      expect((before as Error).message).toMatch(/To start over/)

      await runSum("flow_a", loc.config, [["k", 1], ["k", 10]])
      expect(await errorOf(loc.init(3))).toBeInstanceOf(StoreAlreadyInitializedError)
      // Nothing changed: the next run resumes with the state it had.
      expect(await runSum("flow_a", loc.config, [["k", 1], ["k", 10], ["k", 100]])).toEqual([["k", 111]])
    })

    it("a store a run has used is refused even with the same count", async () => {
      const loc = kind.fresh()
      await loc.init(2)
      await runSum("flow_a", loc.config, [["k", 1]])
      const e = await errorOf(loc.init(2))
      expect(e).toBeInstanceOf(StoreAlreadyInitializedError)
      expect((e as Error).message).toMatch(/already holds the data of 1 execution\(s\) of flow 'flow_a'/)
    })
  })

  describe("one flow per store", () => {
    it("another flow is refused, naming both, and the store's own flow still resumes", async () => {
      const loc = kind.fresh()
      await loc.init(1)
      await runSum("flow_a", loc.config, [["k", 1]])
      const e = await errorOf(runSum("flow_b", loc.config, [["k", 5]]))
      expect(e).toBeInstanceOf(WrongFlowError)
      expect((e as Error).message).toContain("belongs to flow 'flow_a', not to flow 'flow_b'")
      expect(await runSum("flow_a", loc.config, [["k", 1], ["k", 2]])).toEqual([["k", 3]])
    })
  })

  describe("one run at a time", () => {
    it("a second run fails at once naming the holder; once the holder is killed, a run goes ahead", async () => {
      const loc = kind.fresh()
      await loc.init(1)
      const child = await startHolder(loc.holderScript)
      try {
        const started = Date.now()
        const e = await errorOf(runSum("flow_a", loc.config, [["k", 1]]))
        expect(e).toBeInstanceOf(StoreInUseError)
        expect((e as Error).message).toContain("in use by flow 'held_flow'")
        expect((e as Error).message).toContain(`pid ${child.pid}`)
        expect((e as Error).message).toMatch(/since \d{4}-\d\d-\d\d/)
        expect(Date.now() - started).toBeLessThan(5_000)
      } finally {
        await killed(child)
      }
      // SIGKILL leaves no stale lock: the OS (or the server, for a dropped connection) let go of it.
      await expect.poll(() => errorOf(runSum("held_flow", loc.config, [["k", 1]])), { timeout: 10_000 }).toBeUndefined()
    }, 30_000)

    it("initialising is refused while a run holds the store", async () => {
      const loc = kind.fresh()
      await loc.init(1)
      const child = await startHolder(loc.holderScript)
      try {
        expect(await errorOf(loc.init(1))).toBeInstanceOf(StoreInUseError)
      } finally {
        await killed(child)
      }
    }, 30_000)
  })
})

describe("PostgreSQL schemas", () => {
  it("a flow's store defaults to a schema of its own, weir_<flow id>", async () => {
    expect(defaultSchemaFor("orders-by-user")).toBe("weir_orders_by_user")
    const flowId = `own_default_${process.pid}`
    schemas.push(`weir_${flowId}`)
    await initPostgres(pgUrl(), 1, { flowId })
    const config = new PostgresRecoveryConfig(pgUrl())
    expect(await runSum(flowId, config, [["k", 1]])).toEqual([["k", 1]])
    // Another flow, same connection string: its own schema, which nobody initialised.
    const e = await errorOf(runSum(`${flowId}_other`, config, [["k", 1]]))
    expect(e).toBeInstanceOf(NoPartitionsError)
    expect((e as Error).message).toContain(`schema 'weir_${flowId}_other'`)
  })

  it("names PostgreSQL would truncate (over 63 bytes) are refused, given or derived", async () => {
    expect(() => new PostgresRecoveryConfig(pgUrl(), { schema: "s".repeat(64) })).toThrow(/64 bytes long, and PostgreSQL would truncate it to 63/)
    await expect(initPostgres(pgUrl(), 1, { schema: "s".repeat(64) })).rejects.toThrow(/would truncate/)
    const e = await errorOf(runSum("f".repeat(60), new PostgresRecoveryConfig(pgUrl()), [["k", 1]]))
    expect((e as Error).message).toMatch(/longer than PostgreSQL's 63-byte limit on names: give the store a schema of your own/)
  })
})

describe("the embedded store's partitions", () => {
  it("a partition copied in from another store is refused", async () => {
    const a = sqlite.fresh()
    const b = sqlite.fresh()
    await a.init(2)
    await b.init(2)
    const dirA = (a.config as RecoveryConfig).dbDir
    const dirB = (b.config as RecoveryConfig).dbDir
    fs.copyFileSync(path.join(dirB, "part-1.sqlite3"), path.join(dirA, "part-1.sqlite3"))
    const e = await errorOf(runSum("flow_a", a.config, [["k", 1]]))
    expect(e).toBeInstanceOf(InconsistentPartitionsError)
    expect((e as Error).message).toMatch(/come from different stores/)
  })
})
