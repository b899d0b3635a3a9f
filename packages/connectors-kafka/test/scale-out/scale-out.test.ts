/**
 * Scale-out on real components: `weir run --cluster` processes, each in its
 * own network namespace (an emulated host), with the broker and PostgreSQL
 * in another (test/netns-setup.ts). Inputs keep coming the whole time; each
 * scenario changes the cluster under load, then checks the output: every
 * key's running count and sum, for every count, exactly right (the state
 * was exactly-once and in order through the change) and no count missing
 * (no output lost).
 */
import { afterEach, describe, expect, it } from "vitest"
import { cut, heal, kafka, netnsEnv, spawnIn } from "../netns.js"
import { Feeder, makeFlow, Member, settle, sleep, type Spawner } from "./harness.js"

const enabled = process.env.WEIR_NETNS_KAFKA !== undefined
const spawner: Spawner = (host, args, env) => spawnIn(host, process.execPath, args, { env, stdio: ["ignore", "pipe", "pipe"] })

/** Key groups of the tests' stores, and partitions of their input topics. */
const KEY_GROUPS = 6
const KEYS = 40
const RATE = 300

const members: Array<Member> = []
const start = (host: number, flow: Awaited<ReturnType<typeof makeFlow>>, exactlyOnce = false): Member => {
  const m = new Member(spawner, host, flow, { exactlyOnce })
  members.push(m)
  return m
}

afterEach(async () => {
  await Promise.all(members.splice(0).map((m) => m.stop("SIGKILL")))
})

const newFlow = (name: string) => {
  const env = netnsEnv()
  return makeFlow({ name, brokers: [env.kafka], pgUrl: env.pgUrl, inPartitions: KEY_GROUPS, keyGroups: KEY_GROUPS })
}

/** The key groups a member's log says it runs now (its last "running key groups" line). */
const runningOf = (m: Member): ReadonlyArray<number> => {
  const line = [...m.output].reverse().find((l) => /running key groups/.test(l))
  return line === undefined ? [] : /running key groups ([\d, ]+) from/.exec(line)![1]!.split(", ").map(Number)
}

/** Wait until `ms` between them run every key group (those of a process gone have moved to them). */
const untilTheyRunAll = async (ms: ReadonlyArray<Member>, timeoutMs: number, what: string): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  while (ms.map(runningOf).flat().length < KEY_GROUPS) {
    if (Date.now() > deadline) throw new Error(what)
    await sleep(500)
  }
}

const expectExact = (outcome: Awaited<ReturnType<typeof settle>>, ms: ReadonlyArray<Member>) => {
  const logs = ms.map((m) => `--- host ${m.host}\n${m.tail(25)}`).join("\n")
  expect(outcome.problems, logs).toEqual([])
}

describe.runIf(enabled)("weir run --cluster across emulated hosts", () => {
  it("scales 1 → 2 → 3 → 2 processes while the flow runs, state moving with its key groups", async () => {
    const flow = await newFlow("grow")
    const feeder = new Feeder(flow.brokers, flow.inTopic, KEYS)
    const m1 = start(1, flow)
    await m1.waitFor(/running key groups 0, 1, 2, 3, 4, 5 from/, 60_000)
    await feeder.start(RATE)
    await sleep(5000)
    const m2 = start(2, flow)
    await m2.waitFor(/running key groups/, 60_000)
    await sleep(5000)
    const m3 = start(3, flow)
    await m3.waitFor(/running key groups/, 60_000)
    await sleep(5000)
    // All three share the work: each runs some, none twice.
    const shares = [m1, m2, m3].map(runningOf)
    expect(shares.every((s) => s.length > 0), shares.join(" | ")).toBe(true)
    expect(shares.flat().sort()).toEqual([0, 1, 2, 3, 4, 5])
    // Scale in: host 3 leaves (SIGTERM: it commits its last epoch and leaves the group).
    expect(await m3.stop("SIGTERM")).toBe(143)
    await sleep(6000)
    expect([m1, m2].map(runningOf).flat().sort()).toEqual([0, 1, 2, 3, 4, 5])
    await feeder.stop()
    const outcome = await settle(flow, feeder.fed, 60_000)
    expectExact(outcome, [m1, m2, m3])
    expect(feeder.produced).toBeGreaterThan(RATE * 15)
  })

  it("moves a killed process's key groups to the others (kill -9)", async () => {
    const flow = await newFlow("kill")
    const feeder = new Feeder(flow.brokers, flow.inTopic, KEYS)
    const ms = [start(1, flow), start(2, flow), start(3, flow)]
    await Promise.all(ms.map((m) => m.waitFor(/running key groups/, 60_000)))
    await sleep(3000)
    await feeder.start(RATE)
    await sleep(5000)
    const victim = ms[1]!
    const lost = runningOf(victim)
    await victim.stop("SIGKILL")
    // The group notices after session.timeout.ms (6 s) and deals the victim's key groups to the others.
    await untilTheyRunAll([ms[0]!, ms[2]!], 40_000, `the victim's key groups ${lost.join(", ")} did not move`)
    await sleep(4000)
    await feeder.stop()
    expectExact(await settle(flow, feeder.fed, 60_000), ms)
  })

  it("with the exactly-once sink, a kill -9 leaves every output once in what read_committed consumers see", async () => {
    const flow = await newFlow("eos")
    const feeder = new Feeder(flow.brokers, flow.inTopic, KEYS)
    const ms = [start(1, flow, true), start(2, flow, true), start(3, flow, true)]
    await Promise.all(ms.map((m) => m.waitFor(/running key groups/, 60_000)))
    await sleep(3000)
    await feeder.start(RATE)
    await sleep(5000)
    await ms[0]!.stop("SIGKILL")
    await untilTheyRunAll([ms[1]!, ms[2]!], 40_000, "the killed process's key groups did not move")
    await sleep(4000)
    await feeder.stop()
    const outcome = await settle(flow, feeder.fed, 60_000, "read_committed")
    expectExact(outcome, ms)
    expect(outcome.duplicates).toBe(0)
  })

  it("survives a process cut off the network and brought back", async () => {
    const flow = await newFlow("cut")
    const feeder = new Feeder(flow.brokers, flow.inTopic, KEYS)
    const ms = [start(1, flow), start(2, flow), start(3, flow)]
    await Promise.all(ms.map((m) => m.waitFor(/running key groups/, 60_000)))
    await sleep(3000)
    await feeder.start(RATE)
    await sleep(4000)
    await cut(3, "bridge")
    try {
      await untilTheyRunAll([ms[0]!, ms[1]!], 60_000, "host 3's key groups did not move while it was cut off")
      await sleep(3000)
    } finally {
      await heal(3)
    }
    // Back on the network, host 3 finds its key groups gone (nothing it did while cut off counts) and rejoins.
    await ms[2]!.waitFor(/key groups (lost|revoked)/, 90_000)
    await sleep(8000)
    await feeder.stop()
    // While cut off it went on with an epoch; back, its commit was refused: the others had its key groups.
    await ms[2]!.waitFor(/were taken over by another process: this epoch was not committed|key groups lost/, 10_000)
    expectExact(await settle(flow, feeder.fed, 90_000), ms)
  })

  it("goes on through a broker restart", async () => {
    const flow = await newFlow("broker")
    const feeder = new Feeder(flow.brokers, flow.inTopic, KEYS)
    const ms = [start(1, flow), start(2, flow)]
    await Promise.all(ms.map((m) => m.waitFor(/running key groups/, 60_000)))
    await sleep(3000)
    await feeder.start(RATE)
    await sleep(4000)
    await kafka("restart")
    await sleep(6000)
    await feeder.stop()
    expectExact(await settle(flow, feeder.fed, 90_000), ms)
    for (const m of ms) expect(m.child.exitCode, m.tail()).toBe(null)
  })
})
