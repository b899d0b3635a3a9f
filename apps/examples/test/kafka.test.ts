// src/kafka.ts: orders from a Kafka topic → per user, per minute (event time) → totals to
// another topic, against the real test broker. The test creates both topics, produces the
// orders, runs the example with the CLI until it ends (`tail: false` stops at the end of the
// topic), then reads the totals topic back.
import { afterAll, describe, expect, it } from "vitest"
import { brokers, createTopic, deleteTopic, produce, readTopic, uniqueTopic } from "./kafka.js"
import { RUN_TIMEOUT_MS, weir, withoutEpochLines } from "./weir.js"

const ordersTopic = uniqueTopic("orders")
const totalsTopic = uniqueTopic("totals")
afterAll(async () => {
  await deleteTopic(ordersTopic)
  await deleteTopic(totalsTopic)
})

const order = (at: string, user: string, amount: number) =>
  [user, JSON.stringify({ at: `2024-06-01T${at}Z`, user, amount })] as const

describe("kafka", () => {
  it("writes each user's orders per minute from one topic to another, and reports bad messages", async () => {
    await createTopic(ordersTopic, 1)
    await createTopic(totalsTopic, 1)
    await produce(ordersTopic, [
      order("09:00:05", "ada", 12.5),
      order("09:00:40", "bob", 3),
      order("09:00:59", "ada", 7.25),
      order("09:01:02", "ada", 1),
      ["ada", "not json"], // offset 4: skipped, reported on stdout
      order("09:00:58", "ada", 0.25), // 4 s behind ada's newest order: still on time for 09:00
      order("09:01:30", "bob", 10),
      order("09:02:10", "bob", 2.5),
      ["bob", JSON.stringify({ at: "2024-06-01T09:02:30Z", user: "bob" })], // offset 8: no amount, skipped
      order("09:03:00", "ada", 100)
    ])

    const result = await weir(["run", "src/kafka.ts"], {
      WEIR_KAFKA_BROKERS: brokers(),
      ORDERS_TOPIC: ordersTopic,
      TOTALS_TOPIC: totalsTopic
    })
    expect(withoutEpochLines(result.stderr)).toBe("")
    expect(result.code).toBe(0)
    expect(result.stdout).toBe(
      `skipped ${ordersTopic}[0] offset 4: ERR__VALUE_DESERIALIZATION\n` +
        `skipped ${ordersTopic}[0] offset 8: ERR__VALUE_DESERIALIZATION\n`
    )

    const total = (user: string, minute: string, next: string, orders: number, sum: number) =>
      [user, JSON.stringify({ user, start: `2024-06-01T09:${minute}:00.000Z`, end: `2024-06-01T09:${next}:00.000Z`, orders, total: sum })]
    const written = await readTopic(totalsTopic)
    // Each user's windows in the order they closed; users interleave as their windows close.
    const ofUser = (user: string) => written.filter(([key]) => key === user)
    expect(ofUser("ada")).toEqual([
      total("ada", "00", "01", 3, 20),
      total("ada", "01", "02", 1, 1),
      total("ada", "03", "04", 1, 100)
    ])
    expect(ofUser("bob")).toEqual([
      total("bob", "00", "01", 1, 3),
      total("bob", "01", "02", 1, 10),
      total("bob", "02", "03", 1, 2.5)
    ])
    expect(written).toHaveLength(6)
  }, RUN_TIMEOUT_MS)
})
