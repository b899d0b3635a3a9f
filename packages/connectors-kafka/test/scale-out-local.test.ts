/**
 * Scale-out runs driven through the API, several members in this process
 * (each with its own consumer and producer) on the real broker and
 * PostgreSQL: a source that is not Kafka has its partitions dealt through
 * the same group, state moves when a member joins, and the run refuses what
 * it can't work with. The multi-host scenarios are in test/scale-out/.
 */
import { Dataflow, EOF, FixedPartitionedSource, runCluster, type StatefulSourcePartition } from "@weir/core"
import { op } from "@weir/core"
import { initPostgres, PostgresRecoveryConfig, RecoveryConfig } from "@weir/recovery"
import { TestingSink } from "@weir/testing"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { kafkaCluster } from "../src/index.js"
import { brokers, deleteTopics } from "./kafka.js"

const bs = brokers()
const pgUrl = () => {
  const url = process.env.WEIR_PG_URL
  if (!url) throw new Error("WEIR_PG_URL is not set: the global setup should have started PostgreSQL")
  return url
}
const FAST = { "session.timeout.ms": "6000", "heartbeat.interval.ms": "1000" }
const exchangeTopics: Array<string> = []
afterAll(() => deleteTopics(bs, exchangeTopics))

let counter = 0
const flowName = (name: string) => `so_${name}_${process.pid}_${Date.now().toString(36)}_${counter++}`

/** `parts` partitions of `perPart` numbered items each, a batch of 20 every 50 ms, then EOF. */
class NumberedSource extends FixedPartitionedSource<readonly [part: number, n: number], number> {
  constructor(private readonly parts: number, private readonly perPart: number) {
    super()
  }
  listParts(): Array<string> {
    return Array.from({ length: this.parts }, (_, p) => `p${p}`)
  }
  buildPart(_stepId: string, name: string, resume: number | undefined): StatefulSourcePartition<readonly [number, number], number> {
    const part = Number(name.slice(1))
    const perPart = this.perPart
    let next = resume ?? 0
    let due = 0
    return {
      nextBatch() {
        if (next >= perPart) return EOF
        due = Date.now() + 50
        const out: Array<readonly [number, number]> = []
        for (let i = 0; i < 20 && next < perPart; i++) out.push([part, next++])
        return out
      },
      nextAwake: () => new Date(due),
      snapshot: () => next
    }
  }
}

interface Totals {
  readonly count: number
  readonly sum: number
}

/** Items `[p, n]` keyed by `n mod 10`: a running count and sum per key into `out`. */
const totalsFlow = (id: string, parts: number, perPart: number, out: Array<readonly [string, string]>) => {
  const flow = new Dataflow(id)
  op.input("in", flow, new NumberedSource(parts, perPart))
    .pipe(op.keyOn("key", ([, n]) => `k${n % 10}`))
    .pipe(op.statefulMap("totals", (t: Totals | undefined, [p, n]: readonly [number, number]) => {
      const next = { count: (t?.count ?? 0) + 1, sum: (t?.sum ?? 0) + p * 100_000 + n }
      return [next, `${next.count}:${next.sum}`] as const
    }))
    .pipe(op.output("out", new TestingSink(out)))
  return flow
}

const member = (flow: Dataflow, schema: string) => {
  exchangeTopics.push(`weir.${flow.id}.exchange`)
  return Effect.runFork(runCluster(flow, {
    cluster: kafkaCluster(bs, { addConfig: FAST }),
    recovery: new PostgresRecoveryConfig(pgUrl(), { schema }),
    epochInterval: 200
  }))
}

const until = async (what: string, f: () => boolean, ms = 60_000) => {
  const deadline = Date.now() + ms
  while (!f()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

describe("scale-out runs in one process", () => {
  it("deals a partitioned source's partitions through the group and moves state when a member joins", async () => {
    const id = flowName("join")
    const schema = `weir_${id}`
    await initPostgres(pgUrl(), 4, { schema })
    const parts = 4
    const perPart = 3000
    const outFirst: Array<readonly [string, string]> = []
    const outSecond: Array<readonly [string, string]> = []
    const first = member(totalsFlow(id, parts, perPart, outFirst), schema)
    await until("the first member's output", () => outFirst.length > 1000)
    const second = member(totalsFlow(id, parts, perPart, outSecond), schema)
    const out = {
      *[Symbol.iterator]() {
        yield* outFirst
        yield* outSecond
      }
    }
    try {
      // Every key gets parts * perPart / 10 items.
      const perKey = (parts * perPart) / 10
      const last = () => {
        const max = new Map<string, number>()
        for (const [k, v] of out) max.set(k, Math.max(max.get(k) ?? 0, Number(v.split(":")[0])))
        return max
      }
      await until("every key's last count", () => {
        const m = last()
        return m.size === 10 && [...m.values()].every((c) => c === perKey)
      })
      // For each key and count, one sum only: the state was neither lost nor applied twice when it moved.
      const sums = new Map<string, Set<string>>()
      for (const [k, v] of out) {
        const [c, s] = v.split(":")
        const at = `${k}#${c}`
        if (!sums.has(at)) sums.set(at, new Set())
        sums.get(at)!.add(s!)
      }
      expect(sums.size).toBe(parts * perPart)
      // Both members did part of the work: the second took key groups (and their state) over.
      expect(outSecond.length).toBeGreaterThan(1000)
      expect(outFirst.length).toBeGreaterThan(1000)
      expect([...sums.values()].filter((s) => s.size !== 1)).toEqual([])
      // The final sums are the sums of exactly those items.
      for (let k = 0; k < 10; k++) {
        let sum = 0
        for (let p = 0; p < parts; p++) for (let n = k; n < perPart; n += 10) sum += p * 100_000 + n
        expect(sums.get(`k${k}#${perKey}`), `k${k}`).toEqual(new Set([String(sum)]))
      }
    } finally {
      await Effect.runPromise(Fiber.interrupt(second))
      await Effect.runPromise(Fiber.interrupt(first))
    }
  }, 120_000)

  it("needs a store every process reaches", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "weir-so-local-"))
    const exit = await Effect.runPromiseExit(runCluster(totalsFlow(flowName("sqlite"), 1, 1, []), {
      cluster: kafkaCluster(bs),
      recovery: new RecoveryConfig(dir)
    }))
    expect(String(exit)).toMatch(/needs a recovery store every process reaches.*`RecoveryConfig` is not one.*PostgreSQL/)
    fs.rmSync(dir, { recursive: true, force: true })
  })

  it("refuses static addresses", async () => {
    const withAddresses = await Effect.runPromiseExit(runCluster(totalsFlow(flowName("addr"), 1, 1, []), {
      cluster: kafkaCluster(bs),
      recovery: new PostgresRecoveryConfig(pgUrl()),
      addresses: ["a:1", "b:2"]
    }))
    expect(String(withAddresses)).toMatch(/`addresses` \(-a\/-i\) and `cluster` \(--cluster\) exclude each other/)
  })
})
