// Every recovery error is a tagged error: `Effect.catchTag` tells them apart.
import { Dataflow, op, run } from "@weir/core"
import { TestingSink, TestingSource } from "@weir/testing"
import { Effect } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { NoPartitionsError, RecoveryConfig, StoreInUseError, WrongFlowError } from "../src/index.js"

describe("tagged recovery errors", () => {
  it("carry their class name as _tag, so Effect.catchTag picks them out", async () => {
    expect(new NoPartitionsError("x")._tag).toBe("NoPartitionsError")
    expect(new StoreInUseError("x")._tag).toBe("StoreInUseError")
    expect(new WrongFlowError("x")._tag).toBe("WrongFlowError")
    const flow = new Dataflow("tags")
    op.input("inp", flow, new TestingSource([1])).then(op.output, "out", new TestingSink<number>())
    const dir = mkdtempSync(join(tmpdir(), "weir-tags-"))
    const caught = await Effect.runPromise(
      run(flow, { recovery: new RecoveryConfig(dir) }).pipe(
        Effect.as("ran"),
        Effect.catchTag("NoPartitionsError", (e) => Effect.succeed(`caught ${e._tag}`))
      )
    )
    expect(caught).toBe("caught NoPartitionsError")
  })
})
