/** InMemoryRecovery: the resume calculation (reference §7.4), state loading, and isolation by cloning. */
import { DISCARDED, type RecoveryStore, type StepSnapshots, WeirRecoveryError } from "@weir/core"
import { Cause, Duration, Effect, Exit } from "effect"
import { describe, expect, it } from "vitest"
import { InMemoryRecovery } from "../src/index.js"

const open = (recovery: InMemoryRecovery, workerCount = 1): Promise<RecoveryStore> =>
  Effect.runPromise(Effect.scoped(recovery.open({ flowId: "test_df", workerCount, epochInterval: Duration.zero })))

/** One key's snapshot, for writing commits tersely. */
interface Entry {
  readonly stepId: string
  readonly key: string
  readonly state: unknown
}

/** The entries, grouped by step into changed-keys snapshots (`full` for the steps named). */
const stepsOf = (entries: ReadonlyArray<Entry>, full: ReadonlyArray<string> = []): Array<StepSnapshots> => {
  const by = new Map<string, { stepId: string; full: boolean; keys: Array<string>; states: Array<unknown> }>()
  for (const stepId of full) by.set(stepId, { stepId, full: true, keys: [], states: [] })
  for (const e of entries) {
    let s = by.get(e.stepId)
    if (s === undefined) by.set(e.stepId, (s = { stepId: e.stepId, full: false, keys: [], states: [] }))
    s.keys.push(e.key)
    s.states.push(e.state)
  }
  return [...by.values()]
}

const commit = (
  store: RecoveryStore,
  c: { worker: number; epoch: number; frontier?: number; entries: ReadonlyArray<Entry>; full?: ReadonlyArray<string> }
) => Effect.runPromise(store.commit({ worker: c.worker, epoch: c.epoch, frontier: c.frontier ?? c.epoch + 1, steps: stepsOf(c.entries, c.full) }))

const load = async (store: RecoveryStore, stepId: string) => new Map(await Effect.runPromise(store.loadStates(stepId)))

const state = (key: string, value: unknown, stepId = "test_df.s"): Entry => ({ stepId, key, state: value })
const tombstone = (key: string, stepId = "test_df.s"): Entry => ({ stepId, key, state: DISCARDED })

describe("InMemoryRecovery resume point", () => {
  it("a fresh store starts execution 0 at epoch 1", async () => {
    const recovery = new InMemoryRecovery()
    expect(recovery.resumePoint()).toEqual({ execution: 0, epoch: 1 })
    expect((await open(recovery)).resume).toEqual({ execution: 0, epoch: 1 })
  })

  it("resumes at the latest execution's oldest worker frontier", async () => {
    const recovery = new InMemoryRecovery()
    const store = await open(recovery, 2)
    await commit(store, { worker: 0, epoch: 1, entries: [] })
    await commit(store, { worker: 0, epoch: 2, entries: [] })
    await commit(store, { worker: 0, epoch: 3, entries: [] })
    await commit(store, { worker: 1, epoch: 1, entries: [] })
    expect((await open(recovery, 2)).resume).toEqual({ execution: 1, epoch: 2 })
  })

  it("a worker that wrote nothing counts as at its execution's resume epoch", async () => {
    const recovery = new InMemoryRecovery()
    const first = await open(recovery, 1)
    for (let e = 1; e <= 4; e++) await commit(first, { worker: 0, epoch: e, entries: [] })
    const second = await open(recovery, 3)
    expect(second.resume).toEqual({ execution: 1, epoch: 5 })
    await commit(second, { worker: 0, epoch: 5, entries: [] })
    await commit(second, { worker: 2, epoch: 5, entries: [] })
    // worker 1 of execution 1 never committed: it is still at epoch 5
    expect((await open(recovery, 1)).resume).toEqual({ execution: 2, epoch: 5 })
  })

  it("an execution that committed nothing keeps the resume epoch", async () => {
    const recovery = new InMemoryRecovery()
    const first = await open(recovery)
    await commit(first, { worker: 0, epoch: 1, entries: [] })
    await open(recovery)
    expect((await open(recovery)).resume).toEqual({ execution: 2, epoch: 2 })
  })
})

describe("InMemoryRecovery states", () => {
  it("a full snapshot of a step supersedes everything older of it: keys it leaves out are gone", async () => {
    const recovery = new InMemoryRecovery()
    const store = await open(recovery, 2)
    await commit(store, { worker: 0, epoch: 1, entries: [state("a", 1), state("b", 1)] })
    await commit(store, { worker: 1, epoch: 1, entries: [state("c", 1)] })
    // Epoch 2: both workers write the step in full; worker 1 holds no key of it any more.
    await commit(store, { worker: 0, epoch: 2, entries: [state("a", 2)], full: ["test_df.s"] })
    await commit(store, { worker: 1, epoch: 2, entries: [], full: ["test_df.s"] })
    await commit(store, { worker: 0, epoch: 3, entries: [state("d", 3)] })
    await commit(store, { worker: 1, epoch: 3, entries: [] })
    expect(await recovery.statesOf("test_df.s")).toEqual(new Map([["a", 2], ["d", 3]]))
  })

  it("loads each key's newest state from before the resume epoch; a tombstone removes the key", async () => {
    const recovery = new InMemoryRecovery()
    const store = await open(recovery)
    await commit(store, { worker: 0, epoch: 1, entries: [state("a", 1), state("b", 1)] })
    await commit(store, { worker: 0, epoch: 2, entries: [state("a", 2), tombstone("b"), state("c", 2)] })
    await commit(store, { worker: 0, epoch: 3, entries: [state("x", 3, "test_df.other")] })
    const next = await open(recovery)
    expect(next.resume.epoch).toBe(4)
    expect(await load(next, "test_df.s")).toEqual(new Map([["a", 2], ["c", 2]]))
    expect(await load(next, "test_df.other")).toEqual(new Map([["x", 3]]))
    expect(await load(next, "test_df.none")).toEqual(new Map())
    expect(await recovery.statesOf("test_df.s")).toEqual(new Map([["a", 2], ["c", 2]]))
  })

  it("ignores what an aborted execution wrote at or after the resume epoch", async () => {
    const recovery = new InMemoryRecovery()
    const store = await open(recovery, 2)
    await commit(store, { worker: 0, epoch: 1, entries: [state("a", "e1")] })
    await commit(store, { worker: 1, epoch: 1, entries: [] })
    await commit(store, { worker: 0, epoch: 2, entries: [state("a", "e2 of a lost future")] })
    const second = await open(recovery, 2)
    expect(second.resume.epoch).toBe(2)
    expect(await load(second, "test_df.s")).toEqual(new Map([["a", "e1"]]))
    for (const w of [0, 1]) {
      await commit(second, { worker: w, epoch: 2, entries: [] })
      await commit(second, { worker: w, epoch: 3, entries: [] })
    }
    const third = await open(recovery, 2)
    expect(third.resume.epoch).toBe(4)
    expect(await load(third, "test_df.s")).toEqual(new Map([["a", "e1"]]))
  })

  it("deep-copies states on commit and on load", async () => {
    const recovery = new InMemoryRecovery()
    const store = await open(recovery)
    const mine = { seen: [1] }
    await commit(store, { worker: 0, epoch: 1, entries: [state("a", mine)] })
    mine.seen.push(2)
    const next = await open(recovery)
    const loaded = (await load(next, "test_df.s")).get("a") as { seen: Array<number> }
    expect(loaded).toEqual({ seen: [1] })
    loaded.seen.push(3)
    expect((await load(next, "test_df.s")).get("a")).toEqual({ seen: [1] })
  })

  it("a state that can't be cloned fails the commit with a WeirRecoveryError, and nothing of it is written", async () => {
    const recovery = new InMemoryRecovery()
    const store = await open(recovery)
    const exit = await Effect.runPromiseExit(store.commit({
      worker: 0,
      epoch: 1,
      frontier: 2,
      steps: stepsOf([state("ok", 1), state("a", () => 1)])
    }))
    expect(exit._tag).toBe("Failure")
    const error = Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined
    expect(error).toBeInstanceOf(WeirRecoveryError)
    expect((error as Error).message).toMatch(/key 'a' in step 'test_df.s'/)
    expect(recovery.resumePoint().epoch).toBe(1)
    expect(await recovery.statesOf("test_df.s")).toEqual(new Map())
  })
})
