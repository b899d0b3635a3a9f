/**
 * `join`: combine keyed streams by key.
 *
 * @since 0.1.0
 */
import { defineOperator, type KeyedStream } from "../Dataflow.js"
import { type LogicResult, StatefulBatchLogic } from "../StatefulLogic.js"
import { merge, statefulBatch, ttlMillis } from "./kernel.js"
import type * as Duration from "effect/Duration"
import { mapValue } from "./stateless.js"

/**
 * How a new value of a side is recorded: keep the `first`, the `last`, or all (`product`).
 *
 * @since 0.1.0
 */
export type JoinInsertMode = "first" | "last" | "product"
/**
 * When rows are emitted: once every side has a value (`complete`), on every
 * value (`running`), or at end of input (`final`).
 *
 * @since 0.1.0
 */
export type JoinEmitMode = "complete" | "final" | "running"

/**
 * A join row: one slot per side, `undefined` where a side has no value.
 *
 * @since 0.1.0
 */
export type JoinRow<Sides extends ReadonlyArray<KeyedStream<unknown>>> = {
  -readonly [I in keyof Sides]: (Sides[I] extends KeyedStream<infer V> ? V : never) | undefined
}

/**
 * The rows of a join state: the cartesian product of the sides' values,
 * left-major, where an empty side contributes one `undefined`. Shared with
 * the window joins.
 *
 * @example
 * ```ts
 * op.joinRows([[1, 2], [], [3]])   // [[1, undefined, 3], [2, undefined, 3]]
 * ```
 * @since 0.1.0
 */
export const joinRows = (seen: ReadonlyArray<ReadonlyArray<unknown>>): Array<Array<unknown>> => {
  let rows: Array<Array<unknown>> = [[]]
  for (let s = 0; s < seen.length; s++) {
    const side = seen[s]!
    const values = side.length === 0 ? [undefined] : side
    const next: Array<Array<unknown>> = []
    for (let r = 0; r < rows.length; r++) {
      for (let v = 0; v < values.length; v++) {
        const row = rows[r]!.slice()
        row.push(values[v])
        next.push(row)
      }
    }
    rows = next
  }
  return rows
}

const DISCARD = true

/** A value tagged with the index of the side it came from. */
type Labelled = readonly [side: number, value: unknown]

/** One key's join state: the values seen per side, recorded per the insert mode. */
class JoinLogic extends StatefulBatchLogic<Labelled, Array<unknown>, Array<Array<unknown>>> {
  /** How many sides have at least one value. */
  private filled: number
  constructor(
    private seen: Array<Array<unknown>>,
    private readonly insert: JoinInsertMode,
    private readonly emit: JoinEmitMode
  ) {
    super()
    this.filled = countFilled(seen)
  }
  onBatch(values: Array<Labelled>): LogicResult<Array<unknown>> {
    const out: Array<Array<unknown>> = []
    for (let i = 0; i < values.length; i++) {
      const side = values[i]![0]
      const value = values[i]![1]
      const slot = this.seen[side]!
      if (slot.length === 0) {
        slot.push(value)
        this.filled++
      } else if (this.insert === "product") slot.push(value)
      else if (this.insert === "last") slot[0] = value
      if (this.emit === "running") pushRows(out, this.seen)
      else if (this.emit === "complete" && this.filled === this.seen.length) {
        pushRows(out, this.seen)
        // One-shot: a later value for the key starts over, as with a fresh logic.
        this.seen = this.seen.map(() => [])
        this.filled = 0
      }
    }
    return [out, this.emit === "complete" && this.filled === 0]
  }
  override onEof(): LogicResult<Array<unknown>> {
    return [this.emit === "final" ? joinRows(this.seen) : [], DISCARD]
  }
  snapshot(): Array<Array<unknown>> {
    return this.seen.map((s) => s.slice())
  }
}

const countFilled = (seen: ReadonlyArray<ReadonlyArray<unknown>>): number => {
  let n = 0
  for (let s = 0; s < seen.length; s++) if (seen[s]!.length > 0) n++
  return n
}

const pushRows = (out: Array<Array<unknown>>, seen: ReadonlyArray<ReadonlyArray<unknown>>): void => {
  const rows = joinRows(seen)
  for (let r = 0; r < rows.length; r++) out.push(rows[r]!)
}

/**
 * Options of {@link join}.
 *
 * @since 0.2.0
 */
export interface JoinOptions {
  /** `first` keeps a side's first value, `last` (default) its newest, `product` all of them. */
  readonly insertMode?: JoinInsertMode | undefined
  /** `complete` (default), `running` or `final`: see {@link join}. */
  readonly emitMode?: JoinEmitMode | undefined
  /**
   * Time-to-live of a key's state (see `StatefulOptions`): a key that receives
   * no value on any side for this long is discarded, with its snapshot, and
   * emits nothing (a `final` join then leaves it out at end of input). Bounds
   * the state of a `running` join, or of a `complete` one whose other side
   * never comes. Default: none.
   */
  readonly ttl?: Duration.Input | undefined
}

/**
 * Join keyed streams on their keys. Each side is a keyed stream; rows are
 * emitted as `[key, row]` with one slot per side.
 *
 * - `insertMode` (default `last`): `first` keeps a side's first value, `last` its newest, `product` all.
 * - `emitMode` (default `complete`): `complete` emits once every side has a value, then forgets the
 *   key (inner join, one-shot); `running` emits on every value (missing sides `undefined`) and keeps
 *   state forever; `final` emits at end of input.
 * - `ttl` (default none): forget a key that received no value for that long (see {@link JoinOptions}).
 *
 * @example
 * ```ts
 * declare const names: KeyedStream<string>    // keyed by user id
 * declare const emails: KeyedStream<string>   // keyed by user id
 * const joined = op.join("join", [names, emails])          // ["u1", ["Ada", "ada@x"]]
 * const outer = op.join("all", [names, emails], { emitMode: "running" })
 * ```
 * @example
 * ```ts
 * declare const orders: KeyedStream<{ readonly amount: number }>    // keyed by order id
 * declare const payments: KeyedStream<{ readonly paid: number }>   // keyed by order id
 * // An order whose payment has not come within a day is forgotten (and removed from the recovery store).
 * const paid = op.join("paid", [orders, payments], { ttl: "1 day" })
 * ```
 * @since 0.1.0
 */
export const join: <const Sides extends ReadonlyArray<KeyedStream<unknown>>>(
  stepId: string,
  sides: Sides,
  options?: JoinOptions
) => KeyedStream<JoinRow<Sides>> = defineOperator(
  "join",
  { ups: [{ name: "sides", index: 0, kind: "array" }] },
  (
    sides: ReadonlyArray<KeyedStream<unknown>>,
    options: JoinOptions = {}
  ) => {
    const insert = options.insertMode ?? "last"
    const emit = options.emitMode ?? "complete"
    if (!["first", "last", "product"].includes(insert)) {
      throw new TypeError(`unknown join insert mode '${String(insert)}'; use "first", "last" or "product"`)
    }
    if (!["complete", "final", "running"].includes(emit)) {
      throw new TypeError(`unknown join emit mode '${String(emit)}'; use "complete", "final" or "running"`)
    }
    if (sides.length === 0) throw new TypeError("operator 'join' needs at least one side")
    const ttl = ttlMillis("join", options)
    const labelled = sides.map((side, i) => mapValue(`label_${i}`, side, (v: unknown): Labelled => [i, v]))
    const n = sides.length
    return statefulBatch(
      "statefulBatch",
      merge("merge", ...labelled),
      (resume: Array<Array<unknown>> | undefined) =>
        new JoinLogic(resume ?? Array.from({ length: n }, () => []), insert, emit),
      { ttl }
    )
  }
  // The body works on untyped rows; the signature above gives them their per-side types.
) as never
