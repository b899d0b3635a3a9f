/**
 * The Kafka operators in the pipeable form and through `.then`: types flow
 * from the messages into the deserializers and on to the sink with no
 * annotation (checked by `tsc` in this package's `typecheck` target), and
 * both forms build the same graph. No broker needed: nothing runs.
 */
import { Dataflow, op, type Stream } from "@weir/core"
import { TestingSource } from "@weir/testing"
import { describe, expect, expectTypeOf, it } from "vitest"
import { type KafkaSinkMessage, KafkaSourceMessage, kop } from "../src/index.js"

const message = (value: string) =>
  new KafkaSourceMessage<Buffer | null, Buffer | null>({
    key: null,
    value: Buffer.from(value),
    topic: "in",
    partition: 0,
    offset: 0,
    timestamp: new Date(0)
  })

describe("Kafka operators, pipeable", () => {
  it("infer message types through deserialize, map and serialize", () => {
    const flow = new Dataflow("kafka_pipe")
    const decoded = op
      .input("inp", flow, new TestingSource([message('{"n":1}')]))
      .pipe(kop.deserializeValue("json", (v) => JSON.parse(v?.toString() ?? "null") as { n: number }))
    expectTypeOf(decoded.oks).toEqualTypeOf<Stream<KafkaSourceMessage<Buffer | null, { n: number }>>>()
    const doubled = decoded.oks.pipe(
      op.map("double", (m) => ({ key: null, value: String(m.value.n * 2) }) satisfies KafkaSinkMessage<null, string>)
    )
    doubled.pipe(kop.output("out", { brokers: ["127.0.0.1:9"], topic: "out" }))
    // @ts-expect-error — `value.m` is not a field of the decoded value
    decoded.oks.pipe(op.map("typo", (m) => m.value.m))
    expect(flow.substeps.map((s) => s.stepName)).toEqual(["inp", "json", "double", "out", "typo"])
  })

  it("type .then callbacks from the messages", () => {
    const flow = new Dataflow("kafka_then")
    const decoded = op
      .input("inp", flow, new TestingSource([message("x")]))
      .then(kop.deserializeValue, "utf8", (v) => v?.toString() ?? "")
    expectTypeOf(decoded.oks).toEqualTypeOf<Stream<KafkaSourceMessage<Buffer | null, string>>>()
    const upper = decoded.oks.then(op.map, "upper", (m) => ({ key: null, value: m.value.toUpperCase() }))
    upper.then(kop.output, "out", { brokers: ["127.0.0.1:9"], topic: "out" })
    expect(flow.substeps.map((s) => s.stepName)).toEqual(["inp", "utf8", "upper", "out"])
  })
})
