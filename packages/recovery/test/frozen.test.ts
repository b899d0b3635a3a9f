/**
 * A PostgreSQL server that stops answering (frozen with SIGSTOP: the kernel
 * keeps its sockets open, so nothing on the wire says it is gone) must fail
 * the run within the configured timeouts, not hang it, and lose nothing
 * committed. The server is a throwaway of this file's own
 * (test/throwaway-postgres.ts), so freezing it cannot stall other tests.
 */
import { Dataflow, type KeyedStream, op, type RecoveryStore, runMain, type Stream } from "@weir/core"
import { TestingSink, TestingSource } from "@weir/testing"
import { Duration, Effect, Exit, Scope } from "effect"
import pg from "pg"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { initPostgres, PostgresRecoveryConfig, RecoveryStoreError } from "../src/index.js"
import { postgresEntries } from "./stored.js"
import { startThrowawayPostgres, type ThrowawayPostgres } from "./throwaway-postgres.js"

const TIMEOUT_MS = 2_000
/** Slack for scheduling and the run's own teardown: a hang shows up as well past it. */
const MARGIN_MS = 2_500

let server: ThrowawayPostgres | undefined
const db = (): ThrowawayPostgres => {
  if (server === undefined) throw new Error("the throwaway PostgreSQL server did not start")
  return server
}

beforeAll(async () => {
  server = await startThrowawayPostgres()
})
afterEach(() => server?.thaw())
afterAll(() => server?.stop())

const configOf = (schema: string) =>
  new PostgresRecoveryConfig(db().url, { schema, connectTimeout: TIMEOUT_MS, statementTimeout: TIMEOUT_MS })

type Outcome<A> =
  | { readonly kind: "resolved"; readonly value: A; readonly ms: number }
  | { readonly kind: "rejected"; readonly error: unknown; readonly ms: number }
  | { readonly kind: "hung"; readonly ms: number }

/** How `promise` settles, and how long after `since` (a `performance.now()`) it did; "hung" past `limitMs`. */
const settle = async <A>(promise: Promise<A>, since: number, limitMs: number): Promise<Outcome<A>> => {
  let timer: ReturnType<typeof setTimeout> | undefined
  const hung = new Promise<"hung">((resolve) => {
    timer = setTimeout(() => resolve("hung"), Math.max(0, since + limitMs - performance.now()))
  })
  try {
    const result = await Promise.race([
      promise.then((value) => ({ kind: "resolved" as const, value }), (error: unknown) => ({ kind: "rejected" as const, error })),
      hung
    ])
    const ms = performance.now() - since
    return result === "hung" ? { kind: "hung", ms } : { ...result, ms }
  } finally {
    clearTimeout(timer)
  }
}

/** The newest stored state of each key of `stepId`, read straight from the (thawed) server. */
const storedStates = async (schema: string, stepId: string): Promise<Map<string, unknown>> => {
  const out = new Map<string, unknown>()
  // Sorted by key and epoch: the last entry of a key is its newest.
  for (const e of await postgresEntries(db().url, schema)) {
    if (e.stepId !== stepId) continue
    if (e.discarded) out.delete(e.key)
    else out.set(e.key, e.state)
  }
  return out
}

/** Sessions holding an advisory lock (a store's lease) on the throwaway server. */
const leasesHeld = async (): Promise<number> => {
  const c = new pg.Client({ connectionString: db().url })
  await c.connect()
  try {
    const r = await c.query("SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND granted")
    return Number(r.rows[0].n)
  } finally {
    await c.end()
  }
}

const COUNT = 12
const FREEZE_AT = 5
const items: ReadonlyArray<readonly [string, number]> = Array.from({ length: COUNT }, (_, i) => [`k${i % 3}`, i] as const)
/** The per-key running sums of `items`: what an undisturbed run emits. */
const expected: ReadonlyArray<readonly [string, number]> = (() => {
  const acc = new Map<string, number>()
  return items.map(([k, x]) => {
    acc.set(k, (acc.get(k) ?? 0) + x)
    return [k, acc.get(k)!] as const
  })
})()
const INP = "test_df.inp"
const SUM = "test_df.sum.statefulBatch"

/** input (one item per batch, so one epoch per item) → `onItem` → running sum per key → output. */
const sumFlow = (onItem: (i: number) => void) => {
  const flow = new Dataflow("test_df")
  const out: Array<readonly [string, number]> = []
  const inp: Stream<readonly [string, number]> = op.input("inp", flow, new TestingSource(items))
  const watched = inp.then(op.map, "watch", (x: readonly [string, number]) => {
    onItem(x[1])
    return x
  })
  const sums: KeyedStream<number> = op.statefulMap(
    "sum",
    watched,
    (acc: number | undefined, x: number) => [(acc ?? 0) + x, (acc ?? 0) + x] as const
  )
  sums.then(op.output, "out", new TestingSink(out))
  return { flow, out }
}

describe("PostgreSQL store: the server freezes", () => {
  it("a commit to a frozen server fails the run with a RecoveryStoreError within statementTimeout; the next run loses nothing committed", async () => {
    const schema = "frozen_run"
    await initPostgres(db().url, 1, { schema })
    const config = configOf(schema)

    let frozenAt: number | undefined
    const first = sumFlow((i) => {
      if (i !== FREEZE_AT || frozenAt !== undefined) return
      db().freeze()
      frozenAt = performance.now()
    })
    const running = runMain(first.flow, { epochInterval: 0, recovery: config })
    // Wait for the freeze, then give the run the timeout plus a margin to fail.
    while (frozenAt === undefined) {
      const early = await settle(running, performance.now(), 10)
      if (early.kind === "rejected") throw new Error("the run failed before the server froze", { cause: early.error })
      if (early.kind === "resolved") throw new Error("the run ended before the server froze")
    }
    const outcome = await settle(running, frozenAt, TIMEOUT_MS + MARGIN_MS)
    db().thaw()

    expect(outcome.kind, `the run ${outcome.kind} ${Math.round(outcome.ms)} ms after the freeze`).toBe("rejected")
    const err = (outcome as { readonly error: unknown }).error
    expect(err).toBeInstanceOf(RecoveryStoreError)
    expect((err as Error).message).toMatch(
      new RegExp(
        `^recovery store PostgreSQL at 127\\.0\\.0\\.1:${db().port}/postgres schema '${schema}': committing epoch \\d+ failed: ` +
          `timed out after 2 seconds .*statementTimeout.*; check `
      )
    )
    // It was the timeout that ended the run: not sooner, and not much later.
    expect(outcome.ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 50)
    expect(outcome.ms).toBeLessThan(TIMEOUT_MS + MARGIN_MS)
    // Items up to the frozen one went through; the epoch holding it never committed (as far as the run knows).
    expect(first.out).toEqual(expected.slice(0, FREEZE_AT + 1))

    // Every epoch before the freeze is committed, but for the one whose commit was in flight when the server
    // froze (PostgreSQL commits are pipelined: one runs while the next epoch does). A statement already in
    // the server's socket buffer when the client gave up may still run on thawing: then it is committed too.
    const position = (await storedStates(schema, INP)).get("iterable") as number
    expect(position).toBeGreaterThanOrEqual(FREEZE_AT - 1)
    expect(position).toBeLessThanOrEqual(FREEZE_AT + 1)

    // The first run's session holds the store's lease until the thawed server notices its client is gone.
    await expect.poll(() => leasesHeld(), { timeout: 10_000 }).toBe(0)
    const second = sumFlow(() => {})
    await runMain(second.flow, { epochInterval: 0, recovery: config })
    // The resumed run continues from the committed state: the sums pick up exactly where it left off...
    expect(second.out).toEqual(expected.slice(position))
    // ...and the final state is the undisturbed run's.
    expect(await storedStates(schema, SUM)).toEqual(new Map(expected.slice(-3)))
  })

  it("closing a store whose server froze while it was idle returns within connectTimeout", async () => {
    const schema = "frozen_close"
    await initPostgres(db().url, 1, { schema })
    const scope = Effect.runSync(Scope.make())
    const store: RecoveryStore = await Effect.runPromise(
      Scope.provide(scope)(configOf(schema).open({ flowId: "test_df", workerCount: 1, epochInterval: Duration.seconds(1) }))
    )
    expect(store.resume.execution).toBe(0)
    db().freeze()
    const frozenAt = performance.now()
    // Saying goodbye to a frozen server waits for an answer that never comes: the store gives up on it.
    const outcome = await settle(Effect.runPromise(Scope.close(scope, Exit.void)), frozenAt, TIMEOUT_MS + MARGIN_MS)
    expect(outcome.kind, `closing ${outcome.kind} after ${Math.round(outcome.ms)} ms`).toBe("resolved")
  })

  it("opening a store on a frozen server fails within connectTimeout", async () => {
    db().freeze()
    const frozenAt = performance.now()
    const scope = Effect.runSync(Scope.make())
    const opening = Effect.runPromise(
      Scope.provide(scope)(configOf("frozen_open").open({ flowId: "test_df", workerCount: 1, epochInterval: Duration.seconds(1) }))
    )
    const outcome = await settle(opening, frozenAt, TIMEOUT_MS + MARGIN_MS)
    await Effect.runPromise(Scope.close(scope, Exit.void))
    expect(outcome.kind, `opening ${outcome.kind} after ${Math.round(outcome.ms)} ms`).toBe("rejected")
    const err = (outcome as { readonly error: unknown }).error
    expect(err).toBeInstanceOf(RecoveryStoreError)
    expect((err as Error).message).toMatch(
      new RegExp(`^can't connect to PostgreSQL at 127\\.0\\.0\\.1:${db().port}/postgres: timed out after 2 seconds .*connectTimeout.*\\?$`)
    )
  })
})
