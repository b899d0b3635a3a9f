import { Dataflow, op, runMain } from "@weir/core"
import { TestingSink, TestingSource } from "@weir/testing"
import { Schema } from "effect"
import { describe, expect, it } from "vitest"
import { type KafkaError, type KafkaSourceMessage, kop, serde } from "../src/index.js"
import { brokers, createTopics, fileTopics, produce } from "./kafka.js"

const topic = fileTopics()

const Order = Schema.Struct({ id: Schema.String, amount: Schema.Number })
type Order = typeof Order.Type
const orderAvro: serde.AvroSchema = {
  type: "record",
  name: "Order",
  fields: [{ name: "id", type: "string" }, { name: "amount", type: "double" }]
}

describe("serde helpers", () => {
  it("JSON: encodes and decodes through the schema, and throws on bad data", () => {
    const ser = serde.jsonSerializer(Order)
    const de = serde.jsonDeserializer(Order)
    const bytes = ser({ id: "o1", amount: 2.5 })
    expect(bytes.toString()).toBe("{\"id\":\"o1\",\"amount\":2.5}")
    expect(de(bytes)).toEqual({ id: "o1", amount: 2.5 })
    expect(de("{\"id\":\"o2\",\"amount\":1}")).toEqual({ id: "o2", amount: 1 })
    expect(() => de(Buffer.from("{\"id\":\"o3\"}"))).toThrow(/amount/)
    expect(() => de(Buffer.from("not json"))).toThrow(SyntaxError)
    expect(() => de(null)).toThrow("Can't deserialize null data")
  })

  it("Avro: round-trips raw binary, resolves an older writer schema, and throws on bad data", () => {
    const ser = serde.avroSerializer<Order>(orderAvro)
    const de = serde.avroDeserializer<Order>(orderAvro)
    expect(de(ser({ id: "o1", amount: 2.5 }))).toEqual({ id: "o1", amount: 2.5 })
    expect(() => ser({ id: "o1" } as Order)).toThrow()
    expect(() => de(null)).toThrow("Can't deserialize null data")
    const v1: serde.AvroSchema = { type: "record", name: "Order", fields: [{ name: "id", type: "string" }] }
    const v2: serde.AvroSchema = {
      type: "record",
      name: "Order",
      fields: [{ name: "id", type: "string" }, { name: "amount", type: "double", default: 0 }]
    }
    const old = serde.avroSerializer(v1)({ id: "legacy" })
    expect(serde.avroDeserializer(v2, { writerSchema: v1 })(old)).toEqual({ id: "legacy", amount: 0 })
  })
})

describe("kop (de)serialization against the broker", () => {
  it("JSON values that fail to decode land in errs with the original message", async () => {
    const t = topic("json")
    await createTopics(brokers(), [t], 2)
    await produce(brokers(), [
      { topic: t, partition: 0, key: "1", value: "{\"id\":\"a\",\"amount\":1}" },
      { topic: t, partition: 1, key: "2", value: "{\"id\":\"b\"}" },
      { topic: t, partition: 0, key: "3", value: "oops" },
      { topic: t, partition: 1, key: "4", value: "{\"id\":\"d\",\"amount\":4}" },
      { topic: t, partition: 0, key: "", value: "{\"id\":\"e\",\"amount\":5}" }
    ])
    const oks: Array<KafkaSourceMessage<number, Order>> = []
    const errs: Array<KafkaError<unknown, unknown>> = []
    const flow = new Dataflow("json")
    const read = kop.input("in", flow, { brokers: brokers(), topics: [t], tail: false })
    const keyed = kop.deserializeKey("key", read.oks, (k: Buffer | null) => {
      const n = Number(k?.toString())
      if (!k || k.length === 0 || !Number.isInteger(n)) throw new Error("key must be a number")
      return n
    })
    const decoded = kop.deserializeValue("value", keyed.oks, serde.jsonDeserializer(Order))
    op.output("oks", decoded.oks, new TestingSink(oks))
    op.output("key_errs", keyed.errs, new TestingSink(errs))
    op.output("value_errs", decoded.errs, new TestingSink(errs))
    await runMain(flow, { epochInterval: 5 })

    expect(oks.map((m) => [m.key, m.value]).sort()).toEqual([[1, { id: "a", amount: 1 }], [4, { id: "d", amount: 4 }]])
    const byKey = new Map(errs.map((e) => [String(e.msg.key), e]))
    expect([...byKey.keys()].sort()).toEqual(["", "2", "3"])
    expect(byKey.get("")!.err.name).toBe("ERR__KEY_DESERIALIZATION")
    expect(byKey.get("")!.err.message).toBe("key must be a number")
    expect(byKey.get("2")!.err.name).toBe("ERR__VALUE_DESERIALIZATION")
    expect(byKey.get("3")!.err.name).toBe("ERR__VALUE_DESERIALIZATION")
    // The original bytes travel with the error.
    expect(String(byKey.get("3")!.msg.value)).toBe("oops")
    expect(byKey.get("3")!.msg.topic).toBe(t)
  })

  it("round-trips Avro values and string keys through Kafka with kop.serialize and kop.deserialize", async () => {
    const t = topic("avro")
    await createTopics(brokers(), [t], 3)
    const orders: Array<Order> = Array.from({ length: 25 }, (_, i) => ({ id: `o${i}`, amount: i * 1.5 }))

    const write = new Dataflow("avro_write")
    const msgs = op.map("msg", op.input("in", write, new TestingSource(orders, 4)), (o: Order) => ({ key: o.id, value: o }))
    const ser = kop.serialize("ser", msgs, { keySerializer: (k: string) => k, valSerializer: serde.avroSerializer<Order>(orderAvro) })
    kop.output("out", ser, { brokers: brokers(), topic: t })
    await runMain(write, { epochInterval: 5 })

    const got: Array<KafkaSourceMessage<string, Order>> = []
    const read = new Dataflow("avro_read")
    const { oks } = kop.input("in", read, { brokers: brokers(), topics: [t], tail: false })
    const de = kop.deserialize("de", oks, {
      keyDeserializer: (k: Buffer | null) => k!.toString(),
      valDeserializer: serde.avroDeserializer<Order>(orderAvro)
    })
    op.output("out", de.oks, new TestingSink(got))
    await runMain(read, { epochInterval: 5 })
    expect(got.map((m) => m.value).sort((a, b) => a.amount - b.amount)).toEqual(orders)
    for (const m of got) expect(m.key).toBe(m.value.id)
  })

  it("a serializer that throws fails the run", async () => {
    const flow = new Dataflow("bad_ser")
    const msgs = op.input("in", flow, new TestingSource([{ key: "k", value: { id: "x" } as unknown as Order }]))
    const ser = kop.serializeValue("ser", msgs, serde.avroSerializer<Order>(orderAvro))
    kop.output("out", ser, { brokers: brokers(), topic: "never-written" })
    await expect(runMain(flow)).rejects.toThrow(/ser/)
  })
})
