/**
 * A store that says its commits wait on a server (`pipelined`) has each
 * epoch written while the next one runs: commits stay in order, the run ends
 * only after the last one, and a failed commit stops the run at the next
 * epoch close.
 */
import * as Effect from "effect/Effect"
import { describe, expect, it } from "vitest"
import {
  Dataflow,
  type EpochCommit,
  op,
  type RecoveryConfigLike,
  runMain,
  WeirRecoveryError
} from "../src/index.js"
import { TestingSink, TestingSource } from "@weir/testing"

/** Records commits; each takes `ms` to "reach the server"; `failAt` fails that epoch's. */
const slowStore = (ms: number, log: Array<string>, failAt?: number): RecoveryConfigLike => ({
  open: () =>
    Effect.succeed({
      resume: { execution: 0, epoch: 1 },
      pipelined: true,
      loadStates: () => Effect.succeed([]),
      commit: (c: EpochCommit) =>
        Effect.gen(function*() {
          log.push(`start ${c.epoch}`)
          yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, ms)))
          if (c.epoch === failAt) return yield* Effect.fail(new WeirRecoveryError(`commit ${c.epoch} failed`))
          log.push(`done ${c.epoch}`)
        })
    })
})

const flowOf = (log: Array<string>, items: ReadonlyArray<number>) => {
  const flow = new Dataflow("pipelined")
  const seen = op.map("seen", op.input("inp", flow, new TestingSource(items)), (x: number) => {
    log.push(`item ${x}`)
    return x
  })
  op.output("out", seen, new TestingSink<number>())
  return flow
}

describe("pipelined commits", () => {
  it("the next epoch runs while a commit is written; commits never overlap each other", async () => {
    const log: Array<string> = []
    await runMain(flowOf(log, [1, 2, 3]), { epochInterval: 0, recovery: slowStore(30, log) })
    // Item 2 ran while epoch 1 was being written; each commit starts only once the one before is done.
    expect(log.indexOf("item 2")).toBeLessThan(log.indexOf("done 1"))
    for (let e = 2; log.includes(`start ${e}`); e++) expect(log.indexOf(`done ${e - 1}`)).toBeLessThan(log.indexOf(`start ${e}`))
    expect(log[log.length - 1]).toMatch(/^done \d+$/)
  })

  it("a failed commit fails the run at the next epoch close", async () => {
    const log: Array<string> = []
    const error = await runMain(flowOf(log, [1, 2, 3, 4, 5]), { epochInterval: 0, recovery: slowStore(20, log, 2) })
      .then(() => undefined, (e: unknown) => e)
    expect(error).toBeInstanceOf(WeirRecoveryError)
    expect((error as Error).message).toBe("commit 2 failed")
    expect(log).not.toContain("start 3")
    expect(log).not.toContain("item 5")
  })
})
