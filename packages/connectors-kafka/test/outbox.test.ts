/** The exactly-once sink's outbox encoding: every field of every message comes back as it went in. */
import { describe, expect, it } from "vitest"
import { decodeOutbox, type OutboxMessage, OutboxWriter } from "../src/internal/outbox.js"

describe("the outbox encoding", () => {
  it("round-trips keys, values, topics, partitions, timestamps and headers, in order", () => {
    const messages: Array<OutboxMessage> = [
      { topic: "t", partition: null, value: Buffer.from("v"), key: "k", timestamp: null, headers: undefined },
      { topic: "tøpic-ü", partition: 2, value: null, key: null, timestamp: 1_700_000_000_123, headers: undefined },
      { topic: "t", partition: -1, value: Buffer.alloc(0), key: Buffer.from([0, 255, 1]), timestamp: 0, headers: [{ a: "1" }, { b: Buffer.from([9, 8]) }, { a: "2" }] },
      { topic: "t", partition: null, value: Buffer.from("ünïcode ✓"), key: "ключ", timestamp: null, headers: [] }
    ]
    const w = new OutboxWriter()
    for (const m of messages) w.add(m)
    expect(w.count).toBe(4)
    const data = w.take()
    expect(w.count).toBe(0)
    const back = decodeOutbox(data)
    // An empty header list has nothing to keep.
    expect(back).toEqual(messages.map((m) => (m.headers?.length === 0 ? { ...m, headers: undefined } : m)))
    expect(Buffer.isBuffer(back[2]!.key)).toBe(true)
    expect(typeof back[3]!.key).toBe("string")
  })

  it("grows past its first buffer, and decodes from a view into a larger buffer", () => {
    const w = new OutboxWriter()
    const big = Buffer.alloc(200_000, 7)
    for (let i = 0; i < 10; i++) w.add({ topic: "t", partition: i, value: big, key: `k${i}`, timestamp: i, headers: undefined })
    const data = w.take()
    const padded = new Uint8Array(data.length + 10)
    padded.set(data, 5)
    const back = decodeOutbox(padded.subarray(5, 5 + data.length))
    expect(back).toHaveLength(10)
    expect(back.map((m) => m.key)).toEqual(Array.from({ length: 10 }, (_, i) => `k${i}`))
    expect(back.every((m) => m.value!.equals(big))).toBe(true)
  })
})
