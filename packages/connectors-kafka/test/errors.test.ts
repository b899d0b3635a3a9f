/**
 * What a user sees when Kafka is not where the flow says: a wrong broker
 * address, a topic that does not exist, a bad setting. Every failure names the
 * brokers and the topic, says what to check, is a tagged error, and reads
 * without "[object Object]" however its causes are printed.
 */
import { Dataflow, op, run, runMain, WeirRuntimeError } from "@weir/core"
import { pollNextBatch, TestingSink, TestingSource } from "@weir/testing"
import { Effect } from "effect"
import * as net from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  KafkaConfigError,
  KafkaConnectionError,
  KafkaConnectorError,
  KafkaConsumeError,
  KafkaError,
  KafkaProduceError,
  KafkaSink,
  KafkaSource,
  KafkaSourceMessage,
  KafkaTopicNotFoundError,
  kop
} from "../src/index.js"
import { brokers, createTopics, fileTopics, produce } from "./kafka.js"

/** An address where nothing listens: connecting is refused at once. */
const NOWHERE = "127.0.0.1:1"

const topic = fileTopics()

/** The error and its chain of causes as a terminal prints them (the way `weir run` does). */
const printed = (error: unknown): string => {
  const lines: Array<string> = []
  let e: unknown = error
  for (let depth = 0; e !== undefined && depth < 8; depth++) {
    lines.push(e instanceof Error ? `${e.name}: ${e.message}` : String(e))
    e = e instanceof Error ? e.cause : undefined
  }
  return lines.join("\nCaused by: ")
}

/** Run a flow that must fail; logs how long it took to fail and returns the connector error behind the run's error. */
const failureOf = async (what: string, flow: Dataflow): Promise<KafkaConnectorError> => {
  const started = performance.now()
  const error = await runMain(flow).then(() => undefined, (e: unknown) => e)
  console.log(`${what}: the run failed after ${Math.round(performance.now() - started)} ms`)
  expect(error).toBeInstanceOf(WeirRuntimeError)
  const text = printed(error)
  expect(text).not.toContain("[object Object]")
  const cause = (error as WeirRuntimeError).cause
  expect(cause).toBeInstanceOf(KafkaConnectorError)
  const connectorError = cause as KafkaConnectorError
  expect(connectorError._tag).toBe(connectorError.constructor.name)
  expect(connectorError.name).toBe(connectorError.constructor.name)
  // The run's own message carries the connector's, so the first line a user reads says it all.
  expect((error as WeirRuntimeError).message).toContain(connectorError.message)
  return connectorError
}

const readFlow = (source: KafkaSource) => {
  const flow = new Dataflow("read")
  op.output("out", op.input("in", flow, source), new TestingSink())
  return flow
}

const writeFlow = (sink: KafkaSink, items: ReadonlyArray<{ value: string; topic?: string }> = [{ value: "v" }]) => {
  const flow = new Dataflow("write")
  op.output("out", op.input("in", flow, new TestingSource(items)), sink)
  return flow
}

const expectUnreachable = (e: KafkaConnectorError, address: string, topicName: string) => {
  expect(e).toBeInstanceOf(KafkaConnectionError)
  expect(e._tag).toBe("KafkaConnectionError")
  expect(e.brokers).toEqual([address])
  expect(e.topic).toBe(topicName)
  expect(e.message).toContain(address)
  expect(e.message).toContain(`'${topicName}'`)
  expect(e.message).toContain("Check that the broker addresses are right")
  expect(e.message).toContain("socket.connection.setup.timeout.ms = 5000 ms")
}

describe("a wrong broker address", () => {
  it("fails a KafkaSource naming the address and the topic", async () => {
    const e = await failureOf("KafkaSource, nothing listening", readFlow(new KafkaSource([NOWHERE], ["orders"], { tail: false })))
    expectUnreachable(e, NOWHERE, "orders")
    expect(e.message).toMatch(/^error listing partitions for Kafka topic 'orders': no answer from broker 127\.0\.0\.1:1 within 6000 ms/)
  })

  it("fails kop.input naming the address and the topic", async () => {
    const flow = new Dataflow("kop_read")
    const { oks, errs } = kop.input("in", flow, { brokers: [NOWHERE], topics: ["clicks"], tail: false })
    op.output("oks", oks, new TestingSink())
    op.output("errs", errs, new TestingSink())
    expectUnreachable(await failureOf("kop.input, nothing listening", flow), NOWHERE, "clicks")
  })

  it("fails a KafkaSink naming the address and the topic", async () => {
    const e = await failureOf("KafkaSink, nothing listening", writeFlow(new KafkaSink([NOWHERE], "totals")))
    expectUnreachable(e, NOWHERE, "totals")
    expect(e.message).toMatch(/^error connecting to Kafka broker 127\.0\.0\.1:1 to write topic 'totals': no answer within 6000 ms/)
  })

  it("fails kop.output naming the address and the topic", async () => {
    const flow = new Dataflow("kop_write")
    kop.output("out", op.input("in", flow, new TestingSource([{ value: "v" }])), { brokers: [NOWHERE], topic: "alerts" })
    expectUnreachable(await failureOf("kop.output, nothing listening", flow), NOWHERE, "alerts")
  })

  it("waits as long as addConfig's socket.connection.setup.timeout.ms says, and says so", async () => {
    const source = new KafkaSource([NOWHERE], ["orders"], { tail: false, addConfig: { "socket.connection.setup.timeout.ms": 1000 } })
    const e = await failureOf("KafkaSource, setup timeout 1000 ms", readFlow(source))
    expect(e).toBeInstanceOf(KafkaConnectionError)
    expect(e.message).toContain("within 2000 ms")
    expect(e.message).toContain("socket.connection.setup.timeout.ms = 1000 ms")
  })
})

describe("a broker address where something listens but never answers", () => {
  // A TCP server that accepts connections and says nothing: a hung broker, or a port that is not Kafka's.
  const sockets = new Set<net.Socket>()
  const server = net.createServer((socket) => {
    sockets.add(socket)
    socket.on("close", () => sockets.delete(socket))
  })
  let address = ""
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    address = `127.0.0.1:${(server.address() as net.AddressInfo).port}`
  })
  afterAll(async () => {
    for (const s of sockets) s.destroy()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })

  it("fails a KafkaSource within the connection timeout, naming the address", async () => {
    const e = await failureOf("KafkaSource, silent listener", readFlow(new KafkaSource([address], ["orders"], { tail: false })))
    expectUnreachable(e, address, "orders")
  })

  it("fails a KafkaSink within the connection timeout, naming the address", async () => {
    const e = await failureOf("KafkaSink, silent listener", writeFlow(new KafkaSink([address], "totals")))
    expectUnreachable(e, address, "totals")
  })
})

describe("a topic that does not exist", () => {
  const missing = `weir-test-missing-${process.pid}-${Date.now().toString(36)}`
  const existing = topic("errors-existing")
  beforeAll(() => createTopics(brokers(), [existing], 1))

  const expectMissing = (e: KafkaConnectorError, name: string) => {
    expect(e).toBeInstanceOf(KafkaTopicNotFoundError)
    expect(e._tag).toBe("KafkaTopicNotFoundError")
    expect(e.topic).toBe(name)
    expect(e.brokers).toEqual(brokers())
    expect(e.info?.name).toBe("ERR_UNKNOWN_TOPIC_OR_PART")
    expect(e.message).toContain(`'${name}'`)
    for (const b of brokers()) expect(e.message).toContain(b)
    expect(e.message).toContain(`create topic '${name}', or check the topic name`)
  }

  it("fails a KafkaSource naming the topic and the brokers", async () => {
    const e = await failureOf("KafkaSource, missing topic", readFlow(new KafkaSource(brokers(), [existing, missing], { tail: false })))
    expectMissing(e, missing)
    expect(e.message).toMatch(new RegExp(`^error listing partitions for Kafka topic '${missing}': Broker: Unknown topic or partition`))
  })

  it("fails kop.input naming the topic and the brokers", async () => {
    const flow = new Dataflow("kop_read_missing")
    const { oks } = kop.input("in", flow, { brokers: brokers(), topics: [missing], tail: false })
    op.output("oks", oks, new TestingSink())
    expectMissing(await failureOf("kop.input, missing topic", flow), missing)
  })

  it("fails a KafkaSink naming the topic and the brokers, and does not create the topic", async () => {
    const e = await failureOf("KafkaSink, missing topic", writeFlow(new KafkaSink(brokers(), missing)))
    expectMissing(e, missing)
    expect(e.message).toMatch(new RegExp(`^error producing to Kafka topic '${missing}': Broker: Unknown topic or partition`))
    const listed = await Effect.runPromise(
      Effect.tryPromise({ try: () => new KafkaSource(brokers(), [missing]).listParts(), catch: (e) => e as KafkaConnectorError }).pipe(
        Effect.catchTag("KafkaTopicNotFoundError", () => Effect.succeed("still missing"))
      )
    )
    expect(listed).toBe("still missing")
  })

  it("fails a KafkaSink on a message's own topic that does not exist", async () => {
    const e = await failureOf("KafkaSink, missing per-message topic", writeFlow(new KafkaSink(brokers()), [{ value: "v", topic: missing }]))
    expectMissing(e, missing)
  })

  it("fails kop.output naming the topic and the brokers", async () => {
    const flow = new Dataflow("kop_write_missing")
    kop.output("out", op.input("in", flow, new TestingSource([{ value: "v" }])), { brokers: brokers(), topic: missing })
    expectMissing(await failureOf("kop.output, missing topic", flow), missing)
  })
})

describe("errors while reading and writing", () => {
  const t = topic("errors-consume")
  beforeAll(async () => {
    await createTopics(brokers(), [t], 1)
    await produce(brokers(), [{ topic: t, partition: 0, key: "k", value: "v" }])
  })

  it("a consumer error is a KafkaConsumeError naming the topic, partition and brokers", async () => {
    // Offset 1000 is past the end and auto.offset.reset=error forbids jumping: librdkafka reports an error.
    const source = new KafkaSource(brokers(), [t], { addConfig: { "auto.offset.reset": "error" } })
    const part = await source.buildPart("read.in", `0-${t}`, 1000)
    const error = await pollNextBatch(part, "10 seconds").then(() => undefined, (e: unknown) => e)
    await part.close?.()
    expect(error).toBeInstanceOf(KafkaConsumeError)
    const e = error as KafkaConsumeError
    expect(e._tag).toBe("KafkaConsumeError")
    expect([e.topic, e.partition, e.info?.name]).toEqual([t, 0, "ERR__AUTO_OFFSET_RESET"])
    expect(e.message).toMatch(new RegExp(`^error consuming from Kafka topic '${t}' partition 0: .*ERR__AUTO_OFFSET_RESET`))
    for (const b of brokers()) expect(e.message).toContain(b)
    expect(printed(e)).not.toContain("[object Object]")
  })

  it("a message with no topic to go to is a KafkaProduceError", async () => {
    const e = await failureOf("KafkaSink, no topic", writeFlow(new KafkaSink(brokers())))
    expect(e).toBeInstanceOf(KafkaProduceError)
    expect(e._tag).toBe("KafkaProduceError")
    expect(e.message).toContain("give the message a topic or the sink a default topic")
  })

  it("a setting librdkafka does not know is a KafkaConfigError naming it", async () => {
    const e = await failureOf(
      "KafkaSink, unknown setting",
      writeFlow(new KafkaSink(brokers(), t, { addConfig: { "no.such.setting": 1 } }))
    )
    expect(e).toBeInstanceOf(KafkaConfigError)
    expect(e._tag).toBe("KafkaConfigError")
    expect(e.message).toContain(`No such configuration property: "no.such.setting"`)
    expect(e.message).toContain("check addConfig")
  })
})

describe("tags", () => {
  it("Effect.catchTag picks a connector error out of a failed run's cause", async () => {
    const flow = readFlow(new KafkaSource(brokers(), [`weir-test-absent-${Date.now()}`], { tail: false }))
    const handled = await Effect.runPromise(
      run(flow).pipe(
        Effect.map(() => "ran"),
        Effect.catchTag("WeirRuntimeError", (e) =>
          Effect.fail(e.cause as KafkaConnectorError).pipe(
            Effect.catchTag("KafkaTopicNotFoundError", (missing) => Effect.succeed(`create ${missing.topic}`))
          ))
      )
    )
    expect(handled).toMatch(/^create weir-test-absent-/)
  })

  it("KafkaError items keep their { err, msg } shape and carry _tag 'KafkaError'", async () => {
    const msg = new KafkaSourceMessage({ key: null, value: Buffer.from("x"), topic: "t", partition: 0, offset: 7, timestamp: new Date(0) })
    const item = new KafkaError({ code: -159, name: "ERR__VALUE_DESERIALIZATION", message: "bad", fatal: false, retriable: false }, msg)
    expect(item._tag).toBe("KafkaError")
    expect(item.err.name).toBe("ERR__VALUE_DESERIALIZATION")
    expect(item.msg).toBe(msg)
    const caught = await Effect.runPromise(
      Effect.fail(item).pipe(Effect.catchTag("KafkaError", (e) => Effect.succeed(e.msg.offset)))
    )
    expect(caught).toBe(7)
  })
})
