import { describe, expect, it } from "vitest"
import { CliError } from "../src/io.js"
import { importOptionalPackage } from "../src/optionalPackage.js"
import { importTracingPackage } from "../src/observability/tracing.js"

describe("optional packages", () => {
  it("a missing package is a CliError saying what needs it and how to install it", async () => {
    const missing = importOptionalPackage({ name: "@weir/not-installed", neededFor: "--otlp (tracing)", exports: "X", provides: () => true })
    await expect(missing).rejects.toThrow(CliError)
    await expect(missing).rejects.toThrow(
      "--otlp (tracing) needs the @weir/not-installed package, which is not installed; install it next to weir with `npm install @weir/not-installed`"
    )
  })

  it("a package without the expected exports is a CliError naming them", async () => {
    const wrong = importOptionalPackage({ name: "effect", neededFor: "x", exports: "Tracing.layer", provides: () => false })
    await expect(wrong).rejects.toThrow("the installed effect does not export Tracing.layer; install a version that matches this weir command")
  })

  it("finds @weir/tracing in the workspace", async () => {
    const tracing = await importTracingPackage()
    expect(typeof tracing.Tracing.layer).toBe("function")
  })
})
