/**
 * Exactly-once Kafka → Kafka: payments arrive as JSON messages
 * (`{"account":"a1","amount":12.5}`, keyed by account) on one topic; each
 * account's running balance is kept with `statefulMap`, and every payment
 * becomes one message `{"account":"a1","amount":12.5,"balance":40.25}` on
 * another topic, written with `exactlyOnce: true`. Run it with a recovery
 * store, kill it (even with `kill -9`) partway, run the same command again,
 * and a `read_committed` reader of the balances topic sees every payment
 * exactly once, with the balances of a run that never crashed.
 *
 *   weir recovery init /tmp/weir-eos 1
 *   WEIR_KAFKA_BROKERS=127.0.0.1:9092 PAYMENTS_TOPIC=payments BALANCES_TOPIC=balances \
 *     weir run apps/examples/src/exactly-once.ts -r /tmp/weir-eos -s 0.2 -b 0
 *
 * Environment: `WEIR_KAFKA_BROKERS` (comma-separated, default `127.0.0.1:9092`),
 * `PAYMENTS_TOPIC` (default `payments`), `BALANCES_TOPIC` (default `balances`),
 * both of which must exist. By default the run reads what the topic holds and
 * ends (`tail: false`); `TAIL=1` keeps reading new payments until interrupted.
 * `SLOW_MS`: a pause per payment (default 0) standing in for expensive work,
 * so there is time to kill the run. `FLOW_ID` (default `balances`) names the
 * flow, and so its PostgreSQL schema (`weir_<flow id>`), scale-out group and
 * transactional ids: the tests give each run its own. Without a recovery
 * store (`-r`) the run fails before reading anything: the exactly-once sink
 * needs one. See the README for the whole walkthrough, and for running it on
 * several processes (`TAIL=1 weir run … --cluster kafka://…`).
 */
import { kop, serde } from "@weir/connectors-kafka"
import { Dataflow, op, StdOutSink } from "@weir/core"
import { Schema } from "effect"

const brokers = (process.env.WEIR_KAFKA_BROKERS ?? "127.0.0.1:9092").split(",")
const paymentsTopic = process.env.PAYMENTS_TOPIC ?? "payments"
const balancesTopic = process.env.BALANCES_TOPIC ?? "balances"
const tail = process.env.TAIL === "1"
const slowMs = Number(process.env.SLOW_MS ?? 0)
const flowId = process.env.FLOW_ID ?? "balances"

/** A payment message: `amount` in the account's currency, negative for a refund. */
export const Payment = Schema.Struct({ account: Schema.String, amount: Schema.Number })

/** What is written per payment: the payment and the account's balance after it. */
export const Balance = Schema.Struct({ account: Schema.String, amount: Schema.Number, balance: Schema.Number })

const pause = new Int32Array(new SharedArrayBuffer(4))
/** Block for `ms` milliseconds: the "expensive work" of this example. */
const work = (ms: number): void => {
  if (ms > 0) Atomics.wait(pause, 0, 0, ms)
}

export const flow = new Dataflow(flowId)
// Small batches (the default is 1000 messages per poll), so that an epoch can close every few
// payments: each epoch's output is one Kafka transaction.
const { oks, errs } = kop.input("in", flow, { brokers, topics: [paymentsTopic], tail, batchSize: 10 })
const payments = oks.pipe(kop.deserializeValue("decode", serde.jsonDeserializer(Payment)))

payments.oks.pipe(
  op.map("payment", (m) => m.value),
  op.keyOn("by_account", (p) => p.account),
  // The state, an account's balance in cents, is snapshotted into the recovery store at every
  // epoch close, in the same commit as the topic offsets and the epoch's output.
  op.statefulMap("balance", (cents: number | undefined, p) => {
    work(slowMs)
    const next = (cents ?? 0) + Math.round(p.amount * 100)
    return [next, { account: p.account, amount: p.amount, balance: next / 100 }] as const
  }),
  op.map("to_message", ([account, value]) => ({ key: account, value })),
  kop.serializeValue("encode", serde.jsonSerializer(Balance)),
  // One Kafka transaction per epoch, committed after the epoch's store commit; on resume, what a
  // crash left open is aborted and the epochs not yet in Kafka are written again.
  kop.output("out", { brokers, topic: balancesTopic, exactlyOnce: true })
)

// Consumer errors and messages that are not payments: one line each on standard output. This
// sink is not transactional: after a crash, a line may be printed again.
op.merge("errors", errs, payments.errs).pipe(
  op.map("describe", (e) => `skipped ${e.msg.topic}[${e.msg.partition}] offset ${e.msg.offset}: ${e.err.name}`),
  op.output("errors_out", new StdOutSink())
)
