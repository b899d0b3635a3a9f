// The emulated-hosts harness itself (scripts/netns.sh through test/netns.ts), run by vitest.netns.config.ts:
// processes in two host namespaces produce to and consume from the namespace broker and reach PostgreSQL;
// a cut host cannot reach PostgreSQL while the others still can, and reaches it again once healed.
import type { ChildProcess } from "node:child_process"
import { execFileSync } from "node:child_process"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { canUseNetns, cut, heal, hostAddress, hostNamespace, netnsEnv, netnsNet, spawnIn } from "./netns.js"

const fixture = path.resolve(import.meta.dirname, "fixtures/netns-client.ts")
const packageDir = path.resolve(import.meta.dirname, "..")

const children = new Set<ChildProcess>()
afterEach(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL")
  children.clear()
})

interface Run {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

/** Run fixtures/netns-client.ts with `args` in host `host`; resolves when it exits. */
const client = (host: number, ...args: ReadonlyArray<string>): Promise<Run> => {
  const child = spawnIn(host, process.execPath, ["--import", "tsx", fixture, ...args], {
    cwd: packageDir,
    env: process.env,
    stdio: ["ignore", "pipe", "pipe"]
  })
  children.add(child)
  let stdout = ""
  let stderr = ""
  child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()))
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()))
  return new Promise((resolve, reject) => {
    child.on("error", reject)
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }))
  })
}

/** Run the client and parse its JSON line; fails with its stderr when it did not succeed. */
const ok = async <A>(host: number, ...args: ReadonlyArray<string>): Promise<A> => {
  const r = await client(host, ...args)
  if (r.code !== 0) throw new Error(`netns-client ${args.join(" ")} in host ${host} exited ${r.code ?? r.signal}: ${r.stderr}`)
  return JSON.parse(r.stdout) as A
}

// Locally without root the setup brings nothing up and these skip; in CI the setup fails instead.
describe.skipIf(!canUseNetns() && !process.env.CI)("emulated hosts (scripts/netns.sh)", () => {
  it("the setup brought up 3 hosts and handed their addresses to the tests", () => {
    const env = netnsEnv()
    const net = netnsNet()
    expect(env).toEqual({ kafka: `${net}.2:9092`, pgUrl: `postgres://weir@${net}.2:5432/weir`, hosts: 3 })
    expect(process.env.WEIR_NETNS_KAFKA).toBe(env.kafka)
    expect(process.env.WEIR_NETNS_PG_URL).toBe(env.pgUrl)
  })

  it("spawnIn's child is the process in the host's namespace: its pid is there, and SIGKILL ends it", async () => {
    const child = spawnIn(1, "bash", ["-c", "echo ready; exec sleep 600"], { stdio: ["ignore", "pipe", "inherit"] })
    children.add(child)
    const closed = new Promise<NodeJS.Signals | null>((resolve) => child.on("close", (_code, signal) => resolve(signal)))
    await new Promise<void>((resolve) => child.stdout!.once("data", () => resolve()))
    const ns = execFileSync("ip", ["netns", "identify", String(child.pid)], { encoding: "utf8" }).trim()
    expect(ns).toBe(hostNamespace(1))
    process.kill(child.pid!, "SIGKILL")
    expect(await closed).toBe("SIGKILL")
  })

  it("hosts 1 and 2 produce to the namespace broker (the topic created automatically), and host 2 reads both hosts' messages", async () => {
    const topic = `netns-smoke-${process.pid}-${Date.now().toString(36)}`
    const n = 50
    expect(await ok(1, "produce", topic, String(n))).toEqual({ from: hostAddress(1), produced: n })
    expect(await ok(2, "produce", topic, String(n))).toEqual({ from: hostAddress(2), produced: n })
    const read = await ok<{ consumedBy: string; values: Array<string> }>(2, "consume", topic, String(2 * n))
    expect(read.consumedBy).toBe(hostAddress(2))
    const expected = [1, 2].flatMap((h) => Array.from({ length: n }, (_, i) => `${hostAddress(h)}#${i}`))
    expect([...read.values].sort()).toEqual(expected.sort())
  })

  it("a cut host cannot reach PostgreSQL while another still can, and reaches it again once healed", async () => {
    expect(await ok(1, "pg")).toEqual({ client: hostAddress(1) })
    expect(await ok(2, "pg")).toEqual({ client: hostAddress(2) })
    await cut(2)
    try {
      const cutOff = await client(2, "pg")
      expect(cutOff.code).toBe(1)
      expect(cutOff.stderr).toMatch(/^pg connect failed: /)
      expect(await ok(1, "pg")).toEqual({ client: hostAddress(1) })
    } finally {
      await heal(2)
    }
    expect(await ok(2, "pg")).toEqual({ client: hostAddress(2) })
  })
})
