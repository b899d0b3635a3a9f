/**
 * Kafka → windowed aggregate → Kafka: orders arrive as JSON messages
 * (`{"at":"2024-06-01T09:00:05Z","user":"ada","amount":12.5}`) on one topic;
 * per user and per minute of the orders' own timestamps, the number of
 * orders and their total are written as JSON to another topic, keyed by
 * user. Messages that are not valid orders are skipped and reported on
 * standard output.
 *
 *   WEIR_KAFKA_BROKERS=127.0.0.1:9092 ORDERS_TOPIC=orders TOTALS_TOPIC=order-totals \
 *     weir run apps/examples/src/kafka.ts
 *
 * Environment: `WEIR_KAFKA_BROKERS` (comma-separated, default `127.0.0.1:9092`),
 * `ORDERS_TOPIC` (default `orders`), `TOTALS_TOPIC` (default `order-totals`),
 * both of which must exist. By default the run reads what the topic holds and
 * ends (`tail: false`); `TAIL=1` keeps reading new orders until interrupted,
 * and windows then close as time passes.
 */
import { kop, serde } from "@weir/connectors-kafka"
import { Dataflow, op, StdOutSink } from "@weir/core"
import { EventClock, TumblingWindower, win } from "@weir/windowing"
import { Schema } from "effect"

const brokers = (process.env.WEIR_KAFKA_BROKERS ?? "127.0.0.1:9092").split(",")
const ordersTopic = process.env.ORDERS_TOPIC ?? "orders"
const totalsTopic = process.env.TOTALS_TOPIC ?? "order-totals"
const tail = process.env.TAIL === "1"

/** An order message; `at` is an ISO 8601 string on the wire, a `Date` here. */
export const Order = Schema.Struct({ at: Schema.DateFromString, user: Schema.String, amount: Schema.Number })

/** What is written per user and minute. */
export const WindowTotal = Schema.Struct({
  user: Schema.String,
  start: Schema.String,
  end: Schema.String,
  orders: Schema.Number,
  total: Schema.Number
})

const windower = new TumblingWindower("1 minute", new Date("2024-01-01T00:00:00Z"))

export const flow = new Dataflow("kafka_totals")
const { oks, errs } = kop.input("in", flow, { brokers, topics: [ordersTopic], tail })
const orders = oks.pipe(kop.deserializeValue("decode", serde.jsonDeserializer(Order)))

const totals = orders.oks.pipe(
  op.map("order", (m) => m.value),
  op.keyOn("by_user", (o) => o.user),
  win.foldWindow(
    "per_minute",
    new EventClock((o) => o.at, "10 seconds"), // wait up to 10 s for out-of-order orders
    windower,
    () => ({ orders: 0, cents: 0 }),
    (t, o) => ({ orders: t.orders + 1, cents: t.cents + Math.round(o.amount * 100) }),
    (a, b) => ({ orders: a.orders + b.orders, cents: a.cents + b.cents })
  )
)

// [user, [windowId, totals]] → a message keyed by user with the window's bounds.
totals.down.pipe(
  op.map("to_message", ([user, [id, t]]) => {
    const { openTime, closeTime } = windower.bounds(id)
    const value = { user, start: openTime.toISOString(), end: closeTime.toISOString(), orders: t.orders, total: t.cents / 100 }
    return { key: user, value }
  }),
  kop.serializeValue("encode", serde.jsonSerializer(WindowTotal)),
  kop.output("out", { brokers, topic: totalsTopic })
)

// Consumer errors and messages that are not orders: one line each on standard output.
op.merge("errors", errs, orders.errs).pipe(
  op.map("describe", (e) => `skipped ${e.msg.topic}[${e.msg.partition}] offset ${e.msg.offset}: ${e.err.name}`),
  op.output("errors_out", new StdOutSink())
)
