import { fileURLToPath } from "node:url"
import { isDataflow } from "@weir/core"
import { describe, expect, it } from "vitest"
import { FlowLoadError, loadFlow, type ModuleImporter, parseTarget } from "../src/load.js"

const fixtures = fileURLToPath(new URL("./fixtures/", import.meta.url))
// Under vitest, import() already handles TypeScript and resolves @weir/core to the same module as this test.
const importModule: ModuleImporter = (url) => import(url)
const load = (spec: string) => loadFlow(spec, { cwd: fixtures, importModule })

const loadError = async (spec: string): Promise<FlowLoadError> => {
  try {
    await load(spec)
  } catch (e) {
    if (e instanceof FlowLoadError) return e
    throw e
  }
  throw new Error(`expected ${spec} to fail`)
}

describe("parseTarget", () => {
  it("defaults the export to `flow`", () => {
    expect(parseTarget("examples/basic.ts")).toEqual({ file: "examples/basic.ts", exportName: "flow", args: undefined })
  })

  it("splits off a named export", () => {
    expect(parseTarget("examples/basic.ts:flow")).toEqual({ file: "examples/basic.ts", exportName: "flow", args: undefined })
    expect(parseTarget("./a.js:makeFlow")).toEqual({ file: "./a.js", exportName: "makeFlow", args: undefined })
  })

  it("parses a call with literal arguments, in single or double quotes", () => {
    expect(parseTarget("flows.ts:getFlow('out.txt')")).toEqual({ file: "flows.ts", exportName: "getFlow", args: ["out.txt"] })
    expect(parseTarget("flows.ts:getFlow(\"a:b\", 3, true, null, [1], {\"k\": 'v'})").args).toEqual([
      "a:b",
      3,
      true,
      null,
      [1],
      { k: "v" }
    ])
    expect(parseTarget("flows.ts:make()").args).toEqual([])
    expect(parseTarget("flows.ts:make('it\\'s')").args).toEqual(["it's"])
  })

  it("does not split at a drive letter or inside arguments", () => {
    expect(parseTarget("C:\\flows\\a.ts")).toEqual({ file: "C:\\flows\\a.ts", exportName: "flow", args: undefined })
    expect(parseTarget("C:\\flows\\a.ts:other")).toMatchObject({ file: "C:\\flows\\a.ts", exportName: "other" })
    expect(parseTarget("a.ts:get('http://x:1/')")).toEqual({ file: "a.ts", exportName: "get", args: ["http://x:1/"] })
  })

  it("rejects arguments that are not literals", () => {
    expect(() => parseTarget("a.ts:get(process.env.X)")).toThrow(FlowLoadError)
  })
})

describe("loadFlow", () => {
  it("loads the `flow` export", async () => {
    const flow = await load("flows.ts")
    expect(isDataflow(flow)).toBe(true)
    expect(flow.id).toBe("test_df")
  })

  it("calls a function export, with the given arguments, and awaits a promise", async () => {
    expect((await load("flows.ts:getFlow('out.txt', 2)")).id).toBe("squares")
    expect((await load("flows.ts:wordCount")).id).toBe("words")
    expect((await load("flows.ts:asyncFlow")).id).toBe("test_df")
  })

  it("resolves absolute paths as they are", async () => {
    expect((await loadFlow(`${fixtures}flows.ts`, { cwd: "/", importModule })).id).toBe("test_df")
  })

  it("reports a missing file with the path it looked for", async () => {
    const e = await loadError("nope/missing.ts")
    expect(e.message).toBe(`cannot find dataflow file 'nope/missing.ts' (looked for ${fixtures}nope/missing.ts)`)
  })

  it("reports a missing export and lists the exports there are", async () => {
    const e = await loadError("flows.ts:flw")
    expect(e.message).toBe(
      "'flows.ts' has no export named 'flw' (its exports are: asyncFlow, failing, flow, getFlow, notAFlow, throwing, wordCount)"
    )
  })

  it("hints at `<file>:<export>` when the default export name is missing", async () => {
    const e = await loadError("slow.ts:ticks")
    expect(e._tag).toBe("FlowLoadError")
    expect(e.message).toContain("has no export named 'ticks' (its exports are: flow)")
    const fallback = await loadError("broken.ts")
    expect(fallback.message).toContain("error loading 'broken.ts': broken on purpose")
  })

  it("reports an export that is not a Dataflow", async () => {
    const e = await loadError("flows.ts:notAFlow")
    expect(e.message).toBe("a valid Weir dataflow was not obtained from 'flows.ts:notAFlow': got a `number`")
  })

  it("reports a function that throws, keeping the error as the cause", async () => {
    const e = await loadError("flows.ts:throwing")
    expect(e.message).toBe("error calling throwing() from 'flows.ts': no flow today")
    expect((e.cause as Error).message).toBe("no flow today")
  })

  it("reports arguments given to an export that is not a function", async () => {
    const e = await loadError("flows.ts:notAFlow(1)")
    expect(e.message).toContain("is a `number`, not a function")
  })

  it("reports a directory", async () => {
    const e = await loadError(".")
    expect(e.message).toContain("is a directory")
  })
})
