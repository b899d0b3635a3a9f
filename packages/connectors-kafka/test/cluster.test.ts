/**
 * The scale-out link (`kafkaCluster`) against the real broker: the exchange
 * topic it creates (and refuses when its partition count is not the store's),
 * assignment through the handler at the offsets it gives, seek, big frames,
 * and how key groups move between two links of one group (revoked from the
 * one before the other is given them, never held by both) and back on leave.
 */
import { RdKafka } from "@confluentinc/kafka-javascript"
import type { ClusterLink, ClusterLinkHandler, ExchangeRecord } from "@weir/core"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import { randomBytes } from "node:crypto"
import { afterAll, describe, expect, it } from "vitest"
import { exchangeTopicOf, kafkaCluster } from "../src/index.js"
import { brokers, createTopics, deleteTopics, uniqueTopic } from "./kafka.js"

/** Quick failure detection, as the scale-out tests run it. */
const addConfig = { "session.timeout.ms": 6000, "heartbeat.interval.ms": 1000 }

const topics: Array<string> = []
const scopes: Array<Scope.Closeable> = []
afterAll(async () => {
  for (const scope of scopes) await Effect.runPromise(Scope.close(scope, Exit.void))
  await deleteTopics(brokers(), topics)
})

/** A flow id no other test uses; its exchange topic is deleted after the file. */
const flowId = (name: string): string => {
  const id = uniqueTopic(`cluster/${name}`)
  topics.push(exchangeTopicOf(id))
  return id
}

interface Opened {
  readonly link: ClusterLink
  close(): Promise<void>
}

const open = async (id: string, keyGroups: number, groupId = `${id}.group`): Promise<Opened> => {
  const scope = Effect.runSync(Scope.make())
  scopes.push(scope)
  const link = await Effect.runPromise(Scope.provide(scope)(kafkaCluster(brokers(), { addConfig }).openLink({ flowId: id, groupId, keyGroups })))
  return { link, close: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
}

const partitionsOf = async (topic: string): Promise<number> => {
  const admin = RdKafka.AdminClient.create({ "bootstrap.servers": brokers().join(",") })
  try {
    return await new Promise<number>((resolve, reject) =>
      admin.describeTopics([topic], { timeout: 10_000 }, (e, r) => (e ? reject(e) : resolve(r[0]!.partitions.length)))
    )
  } finally {
    admin.disconnect()
  }
}

let clock = 0
interface HandlerEvent {
  readonly kind: "assigned" | "revoked"
  readonly keyGroups: ReadonlyArray<number>
  readonly lost?: boolean | undefined
  /** When the call started and when its promise settled, on one counter shared by every handler. */
  readonly startedAt: number
  endedAt: number
}

/**
 * A handler that records its calls, and who holds which key group: a key
 * group is held from `assigned` until its `revoked` settles (after
 * `revokeMs`, standing in for a commit). `owners` is shared between the
 * links of a test, so that a key group given to one while another holds it
 * shows in `overlaps`.
 */
class Recorder implements ClusterLinkHandler {
  readonly events: Array<HandlerEvent> = []
  readonly held = new Set<number>()
  /** Calls that started while another call of this handler was pending. */
  overlappingCalls = 0
  private busy = false

  constructor(
    readonly name: string,
    private readonly owners: Map<number, string>,
    readonly overlaps: Array<string>,
    private readonly offsets: (keyGroup: number) => number = () => 0,
    private readonly revokeMs = 0
  ) {}

  async assigned(keyGroups: ReadonlyArray<number>): Promise<ReadonlyMap<number, number>> {
    const event = this.enter("assigned", keyGroups)
    for (const kg of keyGroups) {
      const owner = this.owners.get(kg)
      if (owner !== undefined) this.overlaps.push(`key group ${kg} given to ${this.name} while ${owner} holds it`)
      this.owners.set(kg, this.name)
      this.held.add(kg)
    }
    this.leave(event)
    return new Map(keyGroups.map((kg) => [kg, this.offsets(kg)]))
  }

  async revoked(keyGroups: ReadonlyArray<number>, lost: boolean): Promise<void> {
    const event = this.enter("revoked", keyGroups, lost)
    if (this.revokeMs > 0) await new Promise((resolve) => setTimeout(resolve, this.revokeMs))
    for (const kg of keyGroups) {
      if (this.owners.get(kg) === this.name) this.owners.delete(kg)
      this.held.delete(kg)
    }
    this.leave(event)
  }

  private enter(kind: "assigned" | "revoked", keyGroups: ReadonlyArray<number>, lost?: boolean): HandlerEvent {
    if (this.busy) this.overlappingCalls++
    this.busy = true
    const event: HandlerEvent = { kind, keyGroups: [...keyGroups].sort((a, b) => a - b), lost, startedAt: ++clock, endedAt: -1 }
    this.events.push(event)
    return event
  }

  private leave(event: HandlerEvent): void {
    event.endedAt = ++clock
    this.busy = false
  }
}

/** Keep calling `receive` (as a run does), collecting what comes, until stopped. */
class Pump {
  readonly records: Array<ExchangeRecord> = []
  private stopped = false
  private readonly done: Promise<void>

  constructor(private readonly link: ClusterLink) {
    this.done = (async () => {
      while (!this.stopped) {
        const got = await this.link.receive(500)
        for (const r of got) this.records.push(r)
      }
    })()
  }

  stop(): Promise<void> {
    this.stopped = true
    return this.done
  }
}

/** Wait until `ready()` holds; fails the test past `ms`. */
const until = async (what: string, ready: () => boolean, ms = 30_000): Promise<void> => {
  const deadline = Date.now() + ms
  while (!ready()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

const text = (r: ExchangeRecord) => Buffer.from(r.value).toString()
const sorted = (xs: Iterable<number>) => [...xs].sort((a, b) => a - b)

describe("kafkaCluster", () => {
  it("describes itself by its brokers and refuses settings that are the link's own", () => {
    expect(kafkaCluster("127.0.0.1:1,127.0.0.1:2").description).toBe("kafka://127.0.0.1:1,127.0.0.1:2")
    expect(kafkaCluster(["127.0.0.1:1"]).description).toBe("kafka://127.0.0.1:1")
    expect(() => kafkaCluster("127.0.0.1:1", { addConfig: { "group.id": "mine" } })).toThrow(/sets group.id itself/)
    expect(() => kafkaCluster("127.0.0.1:1", { topic: "a/b" })).toThrow(/must be a Kafka topic name/)
    expect(exchangeTopicOf("orders/eu 2")).toBe("weir.orders_eu_2.exchange")
    expect(exchangeTopicOf("x".repeat(400)).length).toBeLessThanOrEqual(249)
  })

  it("creates the exchange topic with one partition per key group, and refuses one with another count", async () => {
    const id = flowId("create")
    const topic = exchangeTopicOf(id)
    expect(topic).toMatch(/^weir\.weir-test-cluster_create-[a-z0-9-]+\.exchange$/)
    const first = await open(id, 3)
    expect(first.link.keyGroups).toBe(3)
    await first.close()
    expect(await partitionsOf(topic)).toBe(3)
    // Opening again with the same count uses the topic as it is.
    const again = await open(id, 3)
    await again.close()

    const error = await Effect.runPromise(Effect.flip(Effect.scoped(
      kafkaCluster(brokers()).openLink({ flowId: id, groupId: `${id}.group`, keyGroups: 5 })
    )))
    expect(error._tag).toBe("WeirRuntimeError")
    expect(error.message).toContain(`the store has 5 key groups but the exchange topic '${topic}' has 3 partitions`)
    expect(error.message).toMatch(/Delete the topic .* or run with a store of 3 key groups/)

    // A topic named in the options, made beforehand with another count.
    const named = uniqueTopic("cluster-named")
    topics.push(named)
    await createTopics(brokers(), [named], 2)
    const refused = await Effect.runPromise(Effect.flip(Effect.scoped(
      kafkaCluster(brokers(), { topic: named }).openLink({ flowId: id, groupId: `${id}.group`, keyGroups: 4 })
    )))
    expect(refused.message).toContain(`the store has 4 key groups but the exchange topic '${named}' has 2 partitions`)
  })

  it("gives the handler every key group and reads each from the offset it returned; seek re-reads", async () => {
    const id = flowId("offsets")
    const { link, close } = await open(id, 3)
    try {
      for (let kg = 0; kg < 3; kg++) for (let i = 0; i < 5; i++) link.send(kg, Buffer.from(`kg${kg}-${i}`))
      await link.flush()

      const owners = new Map<number, string>()
      const overlaps: Array<string> = []
      const from = new Map([[0, 0], [1, 2], [2, 5]])
      const handler = new Recorder("a", owners, overlaps, (kg) => from.get(kg)!)
      await link.join(handler)
      const pump = new Pump(link)
      try {
        await until("key group 0 and 1 are read to their end", () => pump.records.filter((r) => r.keyGroup !== 2).length >= 8)
        expect(handler.events.filter((e) => e.kind === "assigned").flatMap((e) => e.keyGroups).sort()).toEqual([0, 1, 2])
        const of = (kg: number) => pump.records.filter((r) => r.keyGroup === kg)
        expect(of(0).map((r) => [r.offset, text(r)])).toEqual([0, 1, 2, 3, 4].map((i) => [i, `kg0-${i}`]))
        expect(of(1).map((r) => [r.offset, text(r)])).toEqual([2, 3, 4].map((i) => [i, `kg1-${i}`]))
        expect(of(2)).toEqual([])

        // What is sent now arrives; key group 2 starts at offset 5, where its handler said.
        link.send(2, Buffer.from("kg2-5"))
        await link.flush()
        await until("the new record of key group 2 arrives", () => of(2).length === 1)
        expect(of(2).map((r) => [r.offset, text(r)])).toEqual([[5, "kg2-5"]])

        await link.seek(0, 3)
        await until("key group 0 is read again from offset 3", () => of(0).length === 7)
        expect(of(0).slice(5).map((r) => [r.offset, text(r)])).toEqual([[3, "kg0-3"], [4, "kg0-4"]])
      } finally {
        await pump.stop()
      }
      await link.leave()
      expect(handler.events.at(-1)).toMatchObject({ kind: "revoked", keyGroups: [0, 1, 2], lost: false })
      expect(handler.overlappingCalls).toBe(0)
      // leave() again is a no-op.
      await link.leave()
    } finally {
      await close()
    }
  })

  it("carries frames of about 1 MB each way, in order per key group", async () => {
    const id = flowId("frames")
    const { link, close } = await open(id, 2)
    try {
      const owners = new Map<number, string>()
      const handler = new Recorder("a", owners, [])
      await link.join(handler)
      // Nothing calls receive yet: the link polls by itself, which is how the assignment comes.
      await until("both key groups are assigned", () => handler.held.size === 2)
      const pump = new Pump(link)
      try {
        const frames: Array<Buffer> = []
        const arena = randomBytes(12 * 1_000_000 + 7)
        for (let i = 0; i < 12; i++) {
          // Views into one big buffer, not Buffers of their own: sent as they are.
          const view = new Uint8Array(arena.buffer, arena.byteOffset + 7 + i * 1_000_000, 1_000_000)
          frames.push(Buffer.from(view))
          link.send(i % 2, view)
        }
        await link.flush()
        await until("all 12 frames arrive", () => pump.records.length >= 12)
        expect(pump.records.length).toBe(12)
        for (const kg of [0, 1]) {
          const got = pump.records.filter((r) => r.keyGroup === kg)
          expect(got.map((r) => r.offset)).toEqual([0, 1, 2, 3, 4, 5])
          got.forEach((r, j) => expect(Buffer.from(r.value).equals(frames[j * 2 + kg]!)).toBe(true))
        }

        // A frame over the limit: the next flush says so, naming the key group; the one after it is clean again.
        link.send(1, Buffer.alloc(17 * 1024 * 1024))
        const error = await link.flush().then(() => undefined, (e: unknown) => e)
        expect(error).toMatchObject({ _tag: "KafkaProduceError", partition: 1 })
        expect((error as Error).message).toMatch(/^error sending to key group 1 \(partition 1 of the exchange topic '.*'\): .*message\.max\.bytes/)
        link.send(0, Buffer.from("after"))
        await link.flush()
        await until("the frame after it arrives", () => pump.records.length === 13)
        expect(text(pump.records[12]!)).toBe("after")
      } finally {
        await pump.stop()
      }
    } finally {
      await close()
    }
  })

  it("fails receive with the handler's error when the handler fails, and still closes", async () => {
    const id = flowId("handler-fails")
    const { link, close } = await open(id, 2)
    try {
      const storeDown = new Error("the store is down")
      const calls: Array<string> = []
      await link.join({
        assigned: async (keyGroups) => {
          calls.push(`assigned ${keyGroups.join(",")}`)
          throw storeDown
        },
        revoked: async (keyGroups) => {
          calls.push(`revoked ${keyGroups.join(",")}`)
        }
      })
      let failure: unknown
      const deadline = Date.now() + 30_000
      while (failure === undefined && Date.now() < deadline) {
        failure = await link.receive(10).then(() => undefined, (e: unknown) => e)
      }
      expect(failure).toBe(storeDown)
      await link.leave()
      // The key groups it could not take were never its own: nothing to revoke.
      expect(calls).toEqual(["assigned 0,1"])
    } finally {
      await close()
    }
  })

  it("moves key groups to a second link only after the first gave them up, and back when it leaves", async () => {
    const id = flowId("rebalance")
    const P = 4
    const owners = new Map<number, string>()
    const overlaps: Array<string> = []
    const first = await open(id, P)
    const second = await open(id, P)
    const a = new Recorder("a", owners, overlaps, () => 0, 1_500)
    const b = new Recorder("b", owners, overlaps, () => 0, 1_500)
    const pumps: Array<Pump> = []
    try {
      await first.link.join(a)
      pumps.push(new Pump(first.link))
      await until("the first link holds every key group", () => a.held.size === P)

      await second.link.join(b)
      pumps.push(new Pump(second.link))
      await until("the second link holds some key groups, and the two all", () => b.held.size > 0 && a.held.size + b.held.size === P)
      const moved = sorted(b.held)
      const revokedFromA = a.events.filter((e) => e.kind === "revoked")
      expect(sorted(revokedFromA.flatMap((e) => e.keyGroups))).toEqual(moved)
      expect(revokedFromA.every((e) => e.lost === false)).toBe(true)
      const givenToB = b.events.filter((e) => e.kind === "assigned")
      expect(sorted(givenToB.flatMap((e) => e.keyGroups))).toEqual(moved)
      // The first had finished giving them up before the second was given any.
      expect(Math.max(...revokedFromA.map((e) => e.endedAt))).toBeLessThan(Math.min(...givenToB.map((e) => e.startedAt)))
      expect(sorted([...a.held, ...b.held])).toEqual([0, 1, 2, 3])

      // Each link reads only what is sent to the key groups it holds.
      for (let kg = 0; kg < P; kg++) first.link.send(kg, Buffer.from(`to ${kg}`))
      await first.link.flush()
      await until("every key group's record arrives", () => pumps[0]!.records.length + pumps[1]!.records.length >= P)
      expect(sorted(pumps[1]!.records.map((r) => r.keyGroup))).toEqual(moved)
      expect(sorted(pumps[0]!.records.map((r) => r.keyGroup))).toEqual(sorted(a.held))

      // The second leaves: its last revocation goes through its handler, then the first gets them back.
      await pumps[1]!.stop()
      await second.link.leave()
      expect(sorted(b.held)).toEqual([])
      expect(b.events.at(-1)).toMatchObject({ kind: "revoked", keyGroups: moved, lost: false })
      await until("the first link holds every key group again", () => a.held.size === P)
      const back = a.events.filter((e) => e.kind === "assigned" && e.startedAt > b.events.at(-1)!.startedAt)
      expect(sorted(back.flatMap((e) => e.keyGroups))).toEqual(moved)
      expect(Math.min(...back.map((e) => e.startedAt))).toBeGreaterThan(b.events.at(-1)!.endedAt)

      expect(overlaps).toEqual([])
      expect(a.overlappingCalls + b.overlappingCalls).toBe(0)
    } finally {
      for (const p of pumps) await p.stop()
      await second.close()
      await first.close()
    }
  }, 40_000)
})
