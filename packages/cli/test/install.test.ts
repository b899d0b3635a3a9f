// "Use Weir in your own project", for real: pack every publishable package with
// scripts/pack.sh, install the tarballs into fresh npm projects outside the repository,
// and run flows there with `npx weir run` and plain `node`.
//
// Two projects share the one pack:
// - The light one installs every package but the Kafka connector with --ignore-scripts,
//   and runs flows in a package.json without a "type" field, with "type": "commonjs"
//   (what `npm init -y` writes) and with "type": "module": only the "type" field changes
//   between them.
// - The full one installs every tarball, dependencies and all, with their install scripts:
//   better-sqlite3 (the embedded recovery store) and the Kafka client compile from source
//   (the client with CKJS_LINKING=dynamic, against the system libraries
//   scripts/kafka-deps.sh installs). There a flow resumes from a recovery store, flows
//   write to and read from the test broker (WEIR_KAFKA_BROKERS; started with
//   scripts/kafka.sh when unset), and a CSV file is windowed into a file.
//
// What it costs here (two busy cores): packing builds every package with tsc (35–70 s);
// the light install takes a few seconds from npm's cache, each run about a second. The
// full install takes about 4 minutes, nearly all of it compiling (librdkafka most of
// that): it starts right after packing, niced, and builds while the light project's tests
// run; its own runs take seconds. About 5–6 minutes in all (5 min 12 s at a load of 5).
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

const exec = (
  command: string,
  args: ReadonlyArray<string>,
  cwd: string,
  extraEnv: NodeJS.ProcessEnv = {}
): Promise<Finished> =>
  new Promise((resolve, reject) => {
    execFile(command, args, { cwd, env: { ...env, ...extraEnv }, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : undefined
      if (code === undefined) reject(error)
      else resolve({ code, stdout, stderr })
    })
  })

/** Run and expect success; the failure message carries the output. */
const succeed = async (
  command: string,
  args: ReadonlyArray<string>,
  cwd: string,
  extraEnv: NodeJS.ProcessEnv = {}
): Promise<string> => {
  const result = await exec(command, args, cwd, extraEnv)
  if (result.code !== 0) {
    throw new Error(`\`${command} ${args.join(" ")}\` exited with ${result.code}:\n${result.stderr}\n${result.stdout}`)
  }
  return result.stdout
}

let tmp: string
let project: string
/** The full project's install (see "a project with every package, built"): started once the tarballs are packed. */
let fullInstall: Promise<FullInstall> | undefined

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

  fullInstall = installFull(packed)
  // Not left unhandled while the light project is set up and tested: its tests await it.
  fullInstall.catch(() => undefined)

  await succeed("npm", ["init", "-y"], project)
  // Not the Kafka connector: its client compiles librdkafka on install, and nothing else
  // needs it. --ignore-scripts skips better-sqlite3's native build: only the embedded
  // recovery store needs it, and these runs don't recover. (The full project builds both.)
  // --prefer-offline: npm's cache has the rest.
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

afterAll(async () => {
  // Not under an install still building into it.
  await fullInstall?.catch(() => undefined)
  if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true })
}, 600_000)

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

// The full project: every tarball, with install scripts.

interface FullInstall {
  readonly dir: string
  /** How long `npm install` took, native builds included. */
  readonly seconds: number
}

const ORDERS = ["ada:30", "bob:5", "ada:12", "cy:7", "bob:1"]

const fullFiles: Record<string, string> = {
  // Keyed state that a resumed run must get back: each user's running total.
  "totals.ts": `import { FileSource } from "@weir/connectors-files"
import { Dataflow, op, StdOutSink } from "@weir/core"

export const flow = new Dataflow("resumed_totals")
op.input("orders", flow, new FileSource("orders.txt")).pipe(
  op.keyOn("by_user", (line: string) => line.split(" ")[0]!),
  op.statefulMap("running_total", (total: number | undefined, line: string) => {
    const next = (total ?? 0) + Number(line.split(" ")[1])
    return [next, next] as const
  }),
  op.map("format", ([user, total]) => \`\${user} has spent \${total}\`),
  op.output("print", new StdOutSink())
)
`,
  "orders.txt": "ada 30\nbob 5\n",
  "kafka.ts": `import { KafkaSink, type KafkaSinkMessage, KafkaSource, type KafkaSourceMessage } from "@weir/connectors-kafka"
import { Dataflow, op, StdOutSink } from "@weir/core"
import { TestingSource } from "@weir/testing"

export const produce = (brokers: string, topic: string): Dataflow => {
  const flow = new Dataflow("kafka_produce")
  op.input("orders", flow, new TestingSource(${JSON.stringify(ORDERS)})).pipe(
    op.map("to_message", (order: string): KafkaSinkMessage => ({ key: order.split(":")[0]!, value: order })),
    op.output("kafka", new KafkaSink(brokers.split(","), topic))
  )
  return flow
}

export const consume = (brokers: string, topic: string): Dataflow => {
  const flow = new Dataflow("kafka_consume")
  op.input("kafka", flow, new KafkaSource(brokers.split(","), [topic], { tail: false })).pipe(
    op.map("format", (m: KafkaSourceMessage) => \`\${m.key?.toString()} \${m.value?.toString()} \${m.partition} \${m.offset}\`),
    op.output("print", new StdOutSink())
  )
  return flow
}
`,
  // The Kafka client's admin API, as the connector's own tests use it: the test broker
  // creates no topic by itself.
  "topics.mjs": `import { RdKafka } from "@confluentinc/kafka-javascript"

const [command, brokers, topic] = process.argv.slice(2)
const admin = RdKafka.AdminClient.create({ "bootstrap.servers": brokers })
try {
  await new Promise((resolve, reject) => {
    const done = (e) => (e ? reject(e) : resolve())
    if (command === "create") admin.createTopic({ topic, num_partitions: 3, replication_factor: 1 }, 15_000, done)
    else admin.deleteTopic(topic, 15_000, done)
  })
} finally {
  admin.disconnect()
}
`,
  "windows.ts": `import { CSVSource, FileSink } from "@weir/connectors-files"
import { Dataflow, op } from "@weir/core"
import { EventClock, TumblingWindower, win } from "@weir/windowing"

export const flow = new Dataflow("hottest_per_minute")
const windower = new TumblingWindower("1 minute", new Date("2024-01-01T00:00:00Z"))
const max = op.input("readings", flow, new CSVSource("readings.csv")).pipe(
  op.keyOn("by_sensor", (row) => row.sensor!),
  win.maxWindow("max", new EventClock((row) => new Date(row.at!), "10 seconds"), windower, (row) => Number(row.celsius))
)
max.down.pipe(
  op.map("format", ([sensor, [id, row]]) =>
    [sensor, \`\${sensor} \${windower.bounds(id).openTime.toISOString()} max \${row.celsius} at \${row.at}\`] as const),
  op.output("out", new FileSink("hottest.txt"))
)
max.late.pipe(
  op.map("format_late", ([sensor, [id, row]]) => [sensor, \`\${sensor} late for window \${id}: \${row.celsius} at \${row.at}\`] as const),
  op.output("late", new FileSink("late.txt"))
)
`,
  // b's 00:00:20 comes after its 00:01:50, later than the clock's 10 s wait: late.
  "readings.csv": `sensor,at,celsius
a,2024-01-01T00:00:05Z,20
b,2024-01-01T00:00:10Z,11
a,2024-01-01T00:00:40Z,23
a,2024-01-01T00:01:10Z,19
b,2024-01-01T00:01:30Z,14
b,2024-01-01T00:01:50Z,12
b,2024-01-01T00:00:20Z,30
a,2024-01-01T00:02:01Z,25
`
}

const installFull = async (packed: ReadonlyArray<string>): Promise<FullInstall> => {
  const dir = join(tmp, "full")
  mkdirSync(dir)
  await succeed("npm", ["init", "-y"], dir)
  const file = join(dir, "package.json")
  const pkg = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>
  // What the Kafka connector's README tells users: npm 11 runs the install scripts of the
  // packages the project's package.json allows (others only with a warning).
  pkg.allowScripts = { "better-sqlite3": true, "@confluentinc/kafka-javascript": true }
  writeFileSync(file, `${JSON.stringify(pkg, null, 2)}\n`)
  const started = performance.now()
  // Niced: it builds while the light project's tests run, which should not wait for it.
  await succeed(
    "nice",
    ["-n", "10", "npm", "install", "--no-audit", "--no-fund", "--prefer-offline", ...packed],
    dir,
    { CKJS_LINKING: "dynamic" }
  )
  const seconds = (performance.now() - started) / 1000
  for (const [name, text] of Object.entries(fullFiles)) writeFileSync(join(dir, name), text)
  return { dir, seconds }
}

describe("a project with every package, installed with their install scripts", () => {
  let dir: string
  let brokers: string
  const topic = `weir-install-test-${process.pid}-${Date.now().toString(36)}`
  let topicCreated = false

  const weirIn = (...args: ReadonlyArray<string>): Promise<Finished> => exec("npx", ["--no", "weir", ...args], dir)

  beforeAll(async () => {
    if (fullInstall === undefined) throw new Error("the tarballs were not packed: see the first failure of this file")
    const installed = await fullInstall
    dir = installed.dir
    console.log(`install.test.ts: the full project's npm install (native builds included) took ${installed.seconds.toFixed(0)} s`)
    brokers = process.env.WEIR_KAFKA_BROKERS || (await succeed("bash", [join(repo, "scripts/kafka.sh"), "up"], repo)).trim()
  }, 600_000)

  afterAll(async () => {
    if (topicCreated) await exec(process.execPath, ["topics.mjs", "delete", brokers, topic], dir)
  }, 60_000)

  it("has every package from its tarball, the Kafka connector too, and their native modules built", () => {
    const lock = JSON.parse(readFileSync(join(dir, "package-lock.json"), "utf8")) as {
      packages: Record<string, { resolved?: string }>
    }
    const weirPackages = Object.entries(lock.packages).filter(([path]) => /node_modules\/(@weir\/[^/]+|weir)$/.test(path))
    expect(weirPackages.map(([path]) => path.replace(/^node_modules\//, "")).sort()).toEqual([
      "@weir/connectors-files",
      "@weir/connectors-kafka",
      "@weir/core",
      "@weir/recovery",
      "@weir/testing",
      "@weir/tracing",
      "@weir/windowing",
      "weir"
    ])
    for (const [path, entry] of weirPackages) expect(entry.resolved, path).toMatch(/^file:.*\.tgz$/)
    expect(existsSync(join(dir, "node_modules/better-sqlite3/build/Release/better_sqlite3.node"))).toBe(true)
    expect(existsSync(join(dir, "node_modules/@confluentinc/kafka-javascript/build/Release/confluent-kafka-javascript.node")))
      .toBe(true)
  })

  it("resumes keyed state from the embedded store: `weir recovery init`, then `weir run -r` twice", async () => {
    mkdirSync(join(dir, "rec"))
    const init = await weirIn("recovery", "init", "rec", "1")
    expect(init.stderr).toBe("created 1 recovery partition(s) in rec\n")
    expect(init.code).toBe(0)

    const first = await weirIn("run", "totals.ts", "-r", "rec", "-s", "1", "-b", "0")
    expect(first.stderr).not.toMatch(/error|warning/i)
    expect(first.stdout).toBe("ada has spent 30\nbob has spent 5\n")
    expect(first.code).toBe(0)

    // The second run reads only the appended lines, and adds them to the stored totals.
    writeFileSync(join(dir, "orders.txt"), "ada 12\nbob 1\n", { flag: "a" })
    const second = await weirIn("run", "totals.ts", "-r", "rec", "-s", "1", "-b", "0")
    expect(second.stderr).not.toMatch(/error|warning/i)
    expect(second.stdout).toBe("ada has spent 42\nbob has spent 6\n")
    expect(second.code).toBe(0)
  }, 120_000)

  it("writes to Kafka with a KafkaSink and reads it back with a KafkaSource (tail: false)", async () => {
    await succeed(process.execPath, ["topics.mjs", "create", brokers, topic], dir)
    topicCreated = true

    const produced = await weirIn("run", `kafka.ts:produce('${brokers}', '${topic}')`)
    expect(produced.stderr).not.toMatch(/error|warning/i)
    expect(produced.stdout).toBe("")
    expect(produced.code).toBe(0)

    const consumed = await weirIn("run", `kafka.ts:consume('${brokers}', '${topic}')`)
    expect(consumed.stderr).not.toMatch(/error|warning/i)
    expect(consumed.code).toBe(0)
    // "<key> <value> <partition> <offset>" per message; partitions interleave in any order.
    const read = consumed.stdout.trimEnd().split("\n").map((line) => {
      const [key, value, partition, offset] = line.split(" ") as [string, string, string, string]
      return { key, value, partition: Number(partition), offset: Number(offset) }
    })
    expect(read.map((m) => m.value).sort()).toEqual([...ORDERS].sort())
    for (const m of read) expect(m.value.startsWith(`${m.key}:`), m.value).toBe(true)
    // A key's messages share a partition and come back in the order they were written.
    for (const key of ["ada", "bob", "cy"]) {
      const ofKey = read.filter((m) => m.key === key)
      expect(ofKey.map((m) => m.value)).toEqual(ORDERS.filter((o) => o.startsWith(`${key}:`)))
      expect(new Set(ofKey.map((m) => m.partition)).size).toBe(1)
      expect(ofKey.map((m) => m.offset)).toEqual([...ofKey.map((m) => m.offset)].sort((a, b) => a - b))
    }
  }, 120_000)

  it("windows a CSV file by event time into a file: CSVSource → maxWindow → FileSink", async () => {
    const result = await weirIn("run", "windows.ts")
    expect(result.stderr).not.toMatch(/error|warning/i)
    expect(result.stdout).toBe("")
    expect(result.code).toBe(0)
    const lines = readFileSync(join(dir, "hottest.txt"), "utf8").trimEnd().split("\n")
    // The two sensors' windows interleave in any order; each sensor's come in time order.
    expect([...lines].sort()).toEqual([
      "a 2024-01-01T00:00:00.000Z max 23 at 2024-01-01T00:00:40Z",
      "a 2024-01-01T00:01:00.000Z max 19 at 2024-01-01T00:01:10Z",
      "a 2024-01-01T00:02:00.000Z max 25 at 2024-01-01T00:02:01Z",
      "b 2024-01-01T00:00:00.000Z max 11 at 2024-01-01T00:00:10Z",
      "b 2024-01-01T00:01:00.000Z max 14 at 2024-01-01T00:01:30Z"
    ])
    for (const sensor of ["a", "b"]) {
      const ofSensor = lines.filter((l) => l.startsWith(`${sensor} `))
      expect(ofSensor).toEqual([...ofSensor].sort())
    }
    expect(readFileSync(join(dir, "late.txt"), "utf8")).toBe("b late for window 0: 30 at 2024-01-01T00:00:20Z\n")
  }, 120_000)
})
