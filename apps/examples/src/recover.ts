/**
 * Crash and resume: a running total per user over `data/orders.csv`, one
 * output line per order, written with `FileSink`. Run it with a recovery
 * store, kill it (even with `kill -9`) partway, run the same command again,
 * and the output file ends up exactly as if it had never crashed: the
 * CSV source resumes at the byte offset of the next row, each user's total
 * comes back from the last snapshot, and the sink cuts its file back to what
 * that snapshot had written.
 *
 *   weir recovery init /tmp/weir-recovery 1
 *   SLOW_MS=200 weir run apps/examples/src/recover.ts -r /tmp/weir-recovery -s 0.5 -b 0
 *
 * Environment: `OUT` (default `apps/examples/out/running-totals.txt`),
 * `ORDERS_CSV` (default `apps/examples/data/orders.csv`), and `SLOW_MS`: a
 * pause per order (default 0) standing in for expensive work, so there is
 * time to kill the run. See the README for the whole walkthrough.
 */
import { mkdirSync } from "node:fs"
import { dirname, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { CSVSource, FileSink } from "@weir/connectors-files"
import { Dataflow, op } from "@weir/core"

const defaultInput = fileURLToPath(new URL("../data/orders.csv", import.meta.url))
const defaultOutput = fileURLToPath(new URL("../out/running-totals.txt", import.meta.url))
const input = process.env.ORDERS_CSV ? resolve(process.env.ORDERS_CSV) : defaultInput
const output = process.env.OUT ? resolve(process.env.OUT) : defaultOutput
mkdirSync(dirname(output), { recursive: true }) // FileSink needs the directory to exist
const slowMs = Number(process.env.SLOW_MS ?? 0)

/** A user's state: kept in the recovery store at every epoch close. Plain data, as stored state must be. */
export interface Running {
  readonly orders: number
  readonly cents: number
}

const pause = new Int32Array(new SharedArrayBuffer(4))
/** Block for `ms` milliseconds: the "expensive work" of this example. */
const work = (ms: number): void => {
  if (ms > 0) Atomics.wait(pause, 0, 0, ms)
}
const dollars = (cents: number): string => (cents / 100).toFixed(2)

export const flow = new Dataflow("running_totals")
// One row per batch, so the output grows order by order and an epoch can close between any two.
op.input("orders", flow, new CSVSource(input, { batchSize: 1 })).pipe(
  op.keyOn("by_user", (row) => row.user),
  op.mapValue("parse", (row) => {
    work(slowMs)
    return { at: row.timestamp, cents: Math.round(Number(row.amount) * 100) }
  }),
  op.statefulMap("running", (state: Running | undefined, order) => {
    const next = { orders: (state?.orders ?? 0) + 1, cents: (state?.cents ?? 0) + order.cents }
    return [next, { at: order.at, cents: order.cents, orders: next.orders, total: next.cents }] as const
  }),
  // FileSink takes [key, line]: "2024-06-01T09:04:05Z ada +30.00 → 42.50 (2 orders)"
  op.map("format", ([user, o]) =>
    [user, `${o.at} ${user.padEnd(3)} +${dollars(o.cents)} → ${dollars(o.total)} (${o.orders} order${o.orders === 1 ? "" : "s"})`] as const),
  op.output("out", new FileSink(output))
)
