// src/join.ts: two keyed streams joined in "running" mode.
import { describe, expect, it } from "vitest"
import { RUN_TIMEOUT_MS, weir, withoutEpochLines } from "./weir.js"

describe("join", () => {
  it("prints each purchase of a known user with the user's name", async () => {
    const result = await weir(["run", "src/join.ts"])
    expect(withoutEpochLines(result.stderr)).toBe("")
    expect(result.code).toBe(0)
    expect(result.stdout).toBe(
      "Ada bought a notebook for $4.50\n" +
        "Grace bought a keyboard for $89.00\n" +
        "Ada bought a fountain pen for $32.00\n" +
        "Linus bought a penguin plush for $12.00\n"
    )
  }, RUN_TIMEOUT_MS)
})
