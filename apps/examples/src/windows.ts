/**
 * Event-time windows over a CSV file: orders (`timestamp,user,amount`) are
 * read with `CSVSource`, keyed by user, and summed per user in 15-minute
 * tumbling windows of the orders' own timestamps. Each closed window becomes
 * one readable line in a file written by `FileSink`; orders that arrive after
 * their window has closed are printed to standard output instead of being
 * dropped silently.
 *
 *   weir run apps/examples/src/windows.ts                    # writes apps/examples/out/order-windows.txt
 *   OUT=/tmp/windows.txt weir run apps/examples/src/windows.ts
 *   ORDERS_CSV=my-orders.csv OUT=/tmp/windows.txt weir run apps/examples/src/windows.ts
 *
 * The clock waits 5 minutes for stragglers: an order up to 5 minutes older
 * than the newest one of its user still counts; an older one is late.
 */
import { mkdirSync } from "node:fs"
import { dirname, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { CSVSource, FileSink } from "@weir/connectors-files"
import { Dataflow, op, StdOutSink } from "@weir/core"
import { EventClock, TumblingWindower, win } from "@weir/windowing"

const defaultInput = fileURLToPath(new URL("../data/orders.csv", import.meta.url))
const defaultOutput = fileURLToPath(new URL("../out/order-windows.txt", import.meta.url))
const input = process.env.ORDERS_CSV ? resolve(process.env.ORDERS_CSV) : defaultInput
const output = process.env.OUT ? resolve(process.env.OUT) : defaultOutput
mkdirSync(dirname(output), { recursive: true }) // FileSink needs the directory to exist

/** One order, parsed from a CSV row. Amounts are kept in cents, so sums are exact. */
export interface Order {
  readonly at: Date
  readonly user: string
  readonly cents: number
}

/** A window's running summary. */
export interface Totals {
  readonly orders: number
  readonly cents: number
}

/** `2024-06-01T09:15:00.000Z` → `2024-06-01 09:15` (UTC). */
const minute = (d: Date): string => d.toISOString().slice(0, 16).replace("T", " ")
const dollars = (cents: number): string => `$${(cents / 100).toFixed(2)}`

export const windower = new TumblingWindower("15 minutes", new Date("2024-06-01T00:00:00Z"))
const clock = new EventClock((o: Order) => o.at, "5 minutes")

export const flow = new Dataflow("order_windows")
const totals = op.input("orders", flow, new CSVSource(input)).pipe(
  op.map("parse", (row): Order => ({ at: new Date(row.timestamp), user: row.user, cents: Math.round(Number(row.amount) * 100) })),
  op.keyOn("by_user", (o) => o.user),
  win.foldWindow(
    "totals",
    clock,
    windower,
    (): Totals => ({ orders: 0, cents: 0 }),
    (t, o) => ({ orders: t.orders + 1, cents: t.cents + o.cents }),
    (a, b) => ({ orders: a.orders + b.orders, cents: a.cents + b.cents })
  )
)

// [user, [windowId, totals]] → [user, "2024-06-01 09:00 – 09:15  ada   3 orders  $49.50"] (FileSink takes [key, line])
totals.down.pipe(
  op.map("format", ([user, [id, t]]) => {
    const { openTime, closeTime } = windower.bounds(id)
    const orders = `${t.orders} order${t.orders === 1 ? " " : "s"}`
    return [user, `${minute(openTime)} – ${minute(closeTime).slice(11)}  ${user.padEnd(4)}  ${orders}  ${dollars(t.cents)}`] as const
  }),
  op.output("out", new FileSink(output))
)

// Late orders: [user, [windowId, order]], printed with the window they missed.
totals.late.pipe(
  op.map("describe_late", ([user, [id, o]]) => {
    const { openTime, closeTime } = windower.bounds(id)
    return `late: ${user} ${dollars(o.cents)} at ${minute(o.at)}, window ${minute(openTime)} – ${minute(closeTime).slice(11)} already closed`
  }),
  op.output("late_out", new StdOutSink())
)
