/**
 * `join`: combine keyed streams by key.
 *
 * @since 0.1.0
 */
import { defineOperator, type KeyedStream } from "../Dataflow.js"
import { type LogicResult, StatefulBatchLogic } from "../StatefulLogic.js"
import { statefulBatch } from "./kernel.js"
import { mapValue } from "./stateless.js"
import { merge } from "./kernel.js"

/** How a new value of a side is recorded: keep the `first`, the `last`, or all (`product`). */
export type JoinInsertMode = "first" | "last" | "product"
/** When rows are emitted: once every side has a value (`complete`), on every value (`running`), or at end of input (`final`). */
export type JoinEmitMode = "complete" | "final" | "running"

/** A join row: one slot per side, `undefined` where a side has no value. */
export type JoinRow<Sides extends ReadonlyArray<KeyedStream<unknown>>> = {
  -readonly [I in keyof Sides]: (Sides[I] extends KeyedStream<infer V> ? V : never) | undefined
}

/** The cartesian product of the sides, left-major; an empty side contributes one `undefined`. */
export const joinRows = (seen: ReadonlyArray<ReadonlyArray<unknown>>): Array<Array<unknown>> => {
  let rows: Array<Array<unknown>> = [[]]
  for (const side of seen) {
    const values = side.length === 0 ? [undefined] : side
    const next: Array<Array<unknown>> = []
    for (const row of rows) for (const v of values) next.push([...row, v])
    rows = next
  }
  return rows
}

type Labelled = readonly [side: number, value: unknown]

class JoinLogic extends StatefulBatchLogic<Labelled, Array<unknown>, Array<Array<unknown>>> {
  constructor(
    private seen: Array<Array<unknown>>,
    private readonly insert: JoinInsertMode,
    private readonly emit: JoinEmitMode
  ) {
    super()
  }
  onBatch(values: Array<Labelled>): LogicResult<Array<unknown>> {
    const out: Array<Array<unknown>> = []
    for (const [side, value] of values) {
      const slot = this.seen[side]!
      if (this.insert === "product") slot.push(value)
      else if (this.insert === "last") slot[0] = value
      else if (slot.length === 0) slot.push(value)
      if (this.emit === "running") out.push(...joinRows(this.seen))
      else if (this.emit === "complete" && this.seen.every((s) => s.length > 0)) {
        out.push(...joinRows(this.seen))
        // One-shot: a later value for the key starts over.
        this.seen = this.seen.map(() => [])
      }
    }
    const empty = this.seen.every((s) => s.length === 0)
    return [out, this.emit === "complete" && empty]
  }
  override onEof(): LogicResult<Array<unknown>> {
    return [this.emit === "final" ? joinRows(this.seen) : [], true]
  }
  snapshot(): Array<Array<unknown>> {
    return this.seen.map((s) => s.slice())
  }
}

/**
 * Join keyed streams on their keys. Each side is a keyed stream; rows are
 * emitted as `[key, row]` with one slot per side.
 *
 * - `insertMode` (default `last`): `first` keeps a side's first value, `last` its newest, `product` all.
 * - `emitMode` (default `complete`): `complete` emits once every side has a value, then forgets the
 *   key (inner join, one-shot); `running` emits on every value (missing sides `undefined`) and keeps
 *   state forever; `final` emits at end of input.
 *
 * @example
 * ```ts
 * const joined = op.join("join", [names, emails])          // ["u1", ["Ada", "ada@x"]]
 * const outer = op.join("all", [names, emails], { emitMode: "running" })
 * ```
 * @since 0.1.0
 */
export const join: <const Sides extends ReadonlyArray<KeyedStream<unknown>>>(
  stepId: string,
  sides: Sides,
  options?: { readonly insertMode?: JoinInsertMode | undefined; readonly emitMode?: JoinEmitMode | undefined }
) => KeyedStream<JoinRow<Sides>> = defineOperator(
  "join",
  { ups: [{ name: "sides", index: 0, kind: "array" }] },
  (
    sides: ReadonlyArray<KeyedStream<unknown>>,
    options: { readonly insertMode?: JoinInsertMode | undefined; readonly emitMode?: JoinEmitMode | undefined } = {}
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
    const labelled = sides.map((side, i) => mapValue(`label_${i}`, side, (v: unknown): Labelled => [i, v]))
    const n = sides.length
    return statefulBatch(
      "statefulBatch",
      merge("merge", ...labelled),
      (resume: Array<Array<unknown>> | undefined) =>
        new JoinLogic(resume ?? Array.from({ length: n }, () => []), insert, emit)
    )
  }
) as never
