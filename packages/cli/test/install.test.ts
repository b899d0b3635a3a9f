// "Use Weir in your own project", for real: pack every publishable package with
// scripts/pack.sh, install the tarballs into a fresh npm project outside the repository,
// and run flows there with `npx weir run` and plain `node` — in a package.json without a
// "type" field, with "type": "commonjs" (what `npm init -y` writes) and with "type": "module".
// One install serves the three: only the "type" field changes between them.
//
// What it costs: packing builds every package with tsc (~35–50 s here), the install
// takes a few seconds from npm's cache (with --ignore-scripts: see below), each run about
// a second; about 1.5–2 minutes in all.
import { execFile } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { tmpdir } from "node:os"
import { basename, dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

const repo = fileURLToPath(new URL("../../../", import.meta.url))
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc")

interface Finished {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

// Not the npm settings of an `npm test` this may run under (its prefix, its package).
const env: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => !/^(npm_(config_(local_)?prefix|package_|lifecycle_)|INIT_CWD$)/i.test(k))
)

const exec = (command: string, args: ReadonlyArray<string>, cwd: string): Promise<Finished> =>
  new Promise((resolve, reject) => {
    execFile(command, args, { cwd, env, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : undefined
      if (code === undefined) reject(error)
      else resolve({ code, stdout, stderr })
    })
  })

/** Run and expect success; the failure message carries the output. */
const succeed = async (command: string, args: ReadonlyArray<string>, cwd: string): Promise<string> => {
  const result = await exec(command, args, cwd)
  if (result.code !== 0) {
    throw new Error(`\`${command} ${args.join(" ")}\` exited with ${result.code}:\n${result.stderr}\n${result.stdout}`)
  }
  return result.stdout
}

let tmp: string
let project: string

const weir = (...args: ReadonlyArray<string>): Promise<Finished> => exec("npx", ["--no", "weir", ...args], project)
const node = (...args: ReadonlyArray<string>): Promise<Finished> => exec(process.execPath, args, project)

const setType = (type: "commonjs" | "module" | undefined): void => {
  const file = join(project, "package.json")
  const pkg = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>
  if (type === undefined) delete pkg.type
  else pkg.type = type
  writeFileSync(file, `${JSON.stringify(pkg, null, 2)}\n`)
}

const ORDERS_OUTPUT = "ada has spent 30 EUR\nbob has spent 5 EUR\nada has spent 42 EUR\n"

// The user's files. The TypeScript flow imports a sibling .ts module by its .js name and
// uses top-level await, which only an ES module can.
const files: Record<string, string> = {
  "lib/orders.ts": `import { TestingSource } from "@weir/testing"

export interface Order { readonly user: string; readonly amount: number }

export const orders = (): TestingSource<Order> =>
  new TestingSource<Order>([{ user: "ada", amount: 30 }, { user: "bob", amount: 5 }, { user: "ada", amount: 12 }])
`,
  "flow.ts": `import { Dataflow, op, StdOutSink } from "@weir/core"
import { type Order, orders } from "./lib/orders.js"

const currency: string = await Promise.resolve("EUR")

export const flow = new Dataflow("spend_per_user")
const byUser = op.keyOn("by_user", op.input("orders", flow, orders()), (order: Order) => order.user)
const totals = op.statefulMap("running_total", byUser, (total: number | undefined, order: Order) => {
  const next = (total ?? 0) + order.amount
  return [next, next] as const
})
op.map("format", totals, ([user, total]) => \`\${user} has spent \${total} \${currency}\`)
  .then(op.output, "print", new StdOutSink())
`,
  "esm.js": `import { Dataflow, op, StdOutSink } from "@weir/core"
import { TestingSource } from "@weir/testing"

export const flow = new Dataflow("esm_js")
op.output("print", op.input("words", flow, new TestingSource(["esm 1", "esm 2"])), new StdOutSink())
`,
  "cjs.js": `const { Dataflow, op, StdOutSink } = require("@weir/core")
const { TestingSource } = require("@weir/testing")

const flow = new Dataflow("cjs_js")
op.output("print", op.input("words", flow, new TestingSource(["cjs 1", "cjs 2"])), new StdOutSink())
module.exports = { flow }
`,
  "flow.cts": `import { Dataflow } from "@weir/core"
export const flow = new Dataflow("cts")
`,
  "required.ts": `const { Dataflow } = require("@weir/core")
export const flow = new Dataflow("required")
`,
  "main.mjs": `import { runMain } from "@weir/core"
import { flow } from "./esm.mjs"

await runMain(flow)
`,
  "main.cjs": `const { runMain } = require("@weir/core")
const { flow } = require("./cjs.cjs")

runMain(flow).catch((e) => { console.error(e); process.exitCode = 1 })
`
}
files["flow.mts"] = files["flow.ts"]!
files["esm.mjs"] = files["esm.js"]!
files["cjs.cjs"] = files["cjs.js"]!

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), "weir-install-"))
  project = join(tmp, "project")
  mkdirSync(project)
  // A node_modules further up would hide a dependency the tarballs fail to bring.
  for (let dir = tmp; dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dirname(dir), "node_modules"))) {
      throw new Error(`${join(dirname(dir), "node_modules")} exists: modules there would resolve in the test project; ` +
        "remove it or point TMPDIR elsewhere")
    }
  }

  const packed = (await succeed("bash", [join(repo, "scripts/pack.sh"), join(tmp, "packs")], repo)).trim().split("\n")
  expect(packed.map((t) => basename(t)).sort()).toEqual([
    "weir-0.1.0.tgz",
    "weir-connectors-files-0.1.0.tgz",
    "weir-connectors-kafka-0.1.0.tgz",
    "weir-core-0.1.0.tgz",
    "weir-recovery-0.1.0.tgz",
    "weir-testing-0.1.0.tgz",
    "weir-tracing-0.1.0.tgz",
    "weir-windowing-0.1.0.tgz"
  ])

  await succeed("npm", ["init", "-y"], project)
  // Not the Kafka connector: its client compiles librdkafka on install (about 3 minutes
  // here, with CKJS_LINKING=dynamic), and nothing else needs it. --ignore-scripts skips
  // better-sqlite3's native build (about a minute): only the embedded recovery store
  // needs it, and these runs don't recover. --prefer-offline: npm's cache has the rest.
  await succeed("npm", [
    "install",
    "--no-audit",
    "--no-fund",
    "--prefer-offline",
    "--ignore-scripts",
    ...packed.filter((t) => !t.includes("connectors-kafka"))
  ], project)
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(project, name)), { recursive: true })
    writeFileSync(join(project, name), text)
  }
}, 600_000)

afterAll(() => {
  if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true })
})

describe("the packed packages, installed into a new project", () => {
  it("depend on each other's tarballs, not on the registry or the repository", () => {
    const lock = JSON.parse(readFileSync(join(project, "package-lock.json"), "utf8")) as {
      packages: Record<string, { resolved?: string; version?: string }>
    }
    const weirPackages = Object.entries(lock.packages).filter(([path]) => /node_modules\/(@weir\/[^/]+|weir)$/.test(path))
    expect(weirPackages.map(([path]) => path.replace(/^node_modules\//, "")).sort()).toEqual([
      "@weir/connectors-files",
      "@weir/core",
      "@weir/recovery",
      "@weir/testing",
      "@weir/tracing",
      "@weir/windowing",
      "weir"
    ])
    for (const [path, entry] of weirPackages) {
      expect(entry.resolved, path).toMatch(/^file:.*\.tgz$/)
    }
    // One copy of @weir/core, the one weir uses, or flows would not be Dataflows to it.
    expect(Object.keys(lock.packages).filter((path) => path.endsWith("node_modules/@weir/core"))).toEqual([
      "node_modules/@weir/core"
    ])
  })

  it("ship type declarations a strict tsc accepts, without the repository or @types/node", async () => {
    setType("module")
    writeFileSync(
      join(project, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: { strict: true, module: "nodenext", target: "es2022", noEmit: true, types: [] },
        include: ["flow.ts", "lib"]
      })
    )
    try {
      const result = await node(tsc, "-p", ".")
      expect(result.stdout + result.stderr).toBe("")
      expect(result.code).toBe(0)
    } finally {
      rmSync(join(project, "tsconfig.json"))
    }
  }, 120_000)
})

const variants = [
  { name: "without a \"type\" field", type: undefined },
  { name: "with \"type\": \"commonjs\" (npm init's default)", type: "commonjs" },
  { name: "with \"type\": \"module\"", type: "module" }
] as const

for (const variant of variants) {
  describe(`a project ${variant.name}`, () => {
    beforeAll(() => setType(variant.type))

    it("runs a TypeScript flow as an ES module: `npx weir run flow.ts`", async () => {
      const result = await weir("run", "flow.ts")
      expect(result.stderr).not.toMatch(/error|warning/i)
      expect(result.stdout).toBe(ORDERS_OUTPUT)
      expect(result.code).toBe(0)
    })

    it("runs flow.mts the same", async () => {
      const result = await weir("run", "flow.mts")
      expect(result.stdout).toBe(ORDERS_OUTPUT)
      expect(result.code).toBe(0)
    })

    it("runs flow.ts on two worker threads", async () => {
      const result = await weir("run", "-w", "2", "flow.ts")
      expect(result.stderr).not.toMatch(/error/i)
      // Each user is on one worker: its lines keep their order, the two users' interleave.
      const lines = result.stdout.trimEnd().split("\n")
      expect([...lines].sort()).toEqual(ORDERS_OUTPUT.trimEnd().split("\n").sort())
      expect(lines.filter((l) => l.startsWith("ada"))).toEqual(["ada has spent 30 EUR", "ada has spent 42 EUR"])
      expect(result.code).toBe(0)
    })

    if (variant.type === "module") {
      it("runs a .js flow written as an ES module", async () => {
        const result = await weir("run", "esm.js")
        expect(result.stdout).toBe("esm 1\nesm 2\n")
        expect(result.code).toBe(0)
      })

      it("refuses a .js flow written with require(), as Node does, saying to rename it to .cjs", async () => {
        const result = await weir("run", "cjs.js")
        expect(result.stdout).toBe("")
        expect(result.stderr).toContain("weir: error loading 'cjs.js': require is not defined in ES module scope")
        expect(result.stderr).toContain("rename it to use the '.cjs' file extension")
        expect(result.code).toBe(1)
      })
    } else {
      it("runs a .js flow written with require()", async () => {
        const result = await weir("run", "cjs.js")
        expect(result.stdout).toBe("cjs 1\ncjs 2\n")
        expect(result.code).toBe(0)
      })

      if (variant.type === undefined) {
        it("runs a .js flow written as an ES module (Node detects the syntax, and warns)", async () => {
          const result = await weir("run", "esm.js")
          expect(result.stdout).toBe("esm 1\nesm 2\n")
          expect(result.stderr).toContain("add \"type\": \"module\"")
          expect(result.code).toBe(0)
        })
      } else {
        it("refuses a .js flow written as an ES module, saying what to change", async () => {
          const result = await weir("run", "esm.js")
          expect(result.stdout).toBe("")
          expect(result.stderr).toContain(
            "weir: error loading 'esm.js': Cannot use import statement outside a module. The file uses ES module " +
              "syntax (import/export) but Node loads it as CommonJS, because the nearest package.json does not say " +
              "\"type\": \"module\": add \"type\": \"module\" there, rename the file to .mjs"
          )
          expect(result.code).toBe(1)
        })
      }
    }

    it("runs flows with plain node: main.mjs imports the packages, main.cjs requires them", async () => {
      const esm = await node("main.mjs")
      expect(esm.stdout).toBe("esm 1\nesm 2\n")
      expect(esm.code).toBe(0)
      const cjs = await node("main.cjs")
      expect(cjs.stdout).toBe("cjs 1\ncjs 2\n")
      expect(cjs.code).toBe(0)
    })
  })
}

describe("flow files weir does not run", () => {
  beforeAll(() => setType("commonjs"))

  it("refuses a .cts file, saying to rename it", async () => {
    const result = await weir("run", "flow.cts")
    expect(result.stderr).toBe(
      "weir: 'flow.cts' is CommonJS TypeScript (.cts), which weir does not load: rename it to .ts or .mts (weir " +
        "loads TypeScript flow files as ES modules, with or without \"type\": \"module\" in package.json), or " +
        "compile it to a .js or .cjs file\n"
    )
    expect(result.code).toBe(1)
  })

  it("says a .ts file is an ES module when it uses require()", async () => {
    const result = await weir("run", "required.ts")
    expect(result.stderr).toContain(
      "weir: error loading 'required.ts': require is not defined in ES module scope, you can use import instead. " +
        "weir loads TypeScript flow files as ES modules (whatever package.json's \"type\" says): use `import` instead " +
        "of require() and module.exports"
    )
    expect(result.code).toBe(1)
  })
})
