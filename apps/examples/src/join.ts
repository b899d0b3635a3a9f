/**
 * Joining two streams by key: purchases are enriched with the name of the
 * user who made them. Both streams are keyed by user id; `op.join` keeps the
 * latest user record and the latest purchase per user and, in "running" mode,
 * emits a row every time either side changes. Rows without a known user yet
 * are dropped.
 *
 *   weir run apps/examples/src/join.ts
 */
import { Dataflow, op, StdOutSink } from "@weir/core"
import { TestingSource } from "@weir/testing"

export interface User {
  readonly id: string
  readonly name: string
}

export interface Purchase {
  readonly userId: string
  readonly item: string
  readonly amount: number
}

const users: ReadonlyArray<User> = [
  { id: "u1", name: "Ada" },
  { id: "u2", name: "Grace" },
  { id: "u3", name: "Linus" }
]

const purchases: ReadonlyArray<Purchase> = [
  { userId: "u1", item: "notebook", amount: 4.5 },
  { userId: "u2", item: "keyboard", amount: 89 },
  { userId: "u1", item: "fountain pen", amount: 32 },
  { userId: "u4", item: "umbrella", amount: 15 }, // no such user: never joined
  { userId: "u3", item: "penguin plush", amount: 12 }
]

export const flow = new Dataflow("join")
const userStream = op.input("users", flow, new TestingSource(users)).pipe(op.keyOn("key_users", (u) => u.id))
const purchaseStream = op.input("purchases", flow, new TestingSource(purchases)).pipe(op.keyOn("key_purchases", (p) => p.userId))

op.join("join", [userStream, purchaseStream], { emitMode: "running" }).pipe(
  op.filterMap("describe", ([, [user, purchase]]) =>
    user === undefined || purchase === undefined
      ? undefined
      : `${user.name} bought a ${purchase.item} for $${purchase.amount.toFixed(2)}`),
  op.output("out", new StdOutSink())
)
