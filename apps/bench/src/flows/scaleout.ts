/**
 * The flow of the `scale-out` bench case (../cases/scaleout.ts), run by
 * `weir run scaleout.ts:flow [--cluster …]` in child processes of the bench:
 * Kafka → a running count and sum per key → Kafka. Each output message is
 * `<count>:<sum>` under the input's key, so the case can check that every
 * key's last count is the number of inputs it was fed.
 *
 * Adapted from packages/connectors-kafka/test/fixtures/scale-flow.ts.
 * Environment: BROKERS (comma-separated), IN, OUT (topics), FLOW (the flow
 * id: a fresh one per run gives a fresh store schema, consumer group and
 * exchange topic), WORK_US (busy work per message, in µs; default 0).
 */
import { KafkaSink, type KafkaSinkMessage, KafkaSource, type KafkaSourceMessage } from "@weir/connectors-kafka"
import { Dataflow, op } from "@weir/core"

interface Totals {
  readonly count: number
  readonly sum: number
}

const required = (name: string): string => {
  const value = process.env[name]
  if (value === undefined || value === "") {
    throw new Error(`the scale-out bench flow needs the environment variable ${name} (the bench sets BROKERS, IN, OUT and FLOW)`)
  }
  return value
}

export const flow = (): Dataflow => {
  const brokers = required("BROKERS").split(",")
  const workUs = Number(process.env.WORK_US ?? "0")
  if (!Number.isFinite(workUs) || workUs < 0) throw new Error(`WORK_US must be a number of µs ≥ 0; got '${process.env.WORK_US}'`)
  const f = new Dataflow(required("FLOW"))
  op.input("in", f, new KafkaSource(brokers, [required("IN")], { tail: true, batchSize: 500 }))
    .pipe(op.map("parse", (m: KafkaSourceMessage) => {
      if (workUs > 0) {
        const until = performance.now() + workUs / 1000
        while (performance.now() < until);
      }
      return [String(m.key), Number(String(m.value))] as const
    }))
    .pipe(op.statefulMap("totals", (t: Totals | undefined, amount: number) => {
      const next = { count: (t?.count ?? 0) + 1, sum: (t?.sum ?? 0) + amount }
      return [next, `${next.count}:${next.sum}`] as const
    }))
    .pipe(op.map("message", ([key, value]): KafkaSinkMessage => ({ key, value })))
    .pipe(op.output("out", new KafkaSink(brokers, required("OUT"))))
  return f
}
