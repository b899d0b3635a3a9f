/** Every error class of `@weir/core` is tagged with its class name, so `Effect.catchTag` tells them apart. */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { AbortExecution, Retry, WeirRecoveryError, WeirRuntimeError } from "../src/index.js"

describe("error classes", () => {
  it("carry _tag equal to their class name", () => {
    const errors = [
      new WeirRuntimeError({ message: "m", stepId: "flow.step", cause: new Error("c") }),
      new WeirRecoveryError("store gone"),
      new AbortExecution(),
      new Retry("1 second")
    ]
    for (const e of errors) expect(e._tag).toBe(e.constructor.name)
  })

  it("can be caught by tag", async () => {
    const caught = await Effect.runPromise(
      Effect.fail(new WeirRecoveryError("store gone")).pipe(
        Effect.catchTag("WeirRecoveryError", (e) => Effect.succeed(`caught: ${e.message}`))
      )
    )
    expect(caught).toBe("caught: store gone")
  })
})
