/**
 * Stateless operators, each a few lines over the kernel's `flatMapBatch` (or
 * `inspectDebug`). Per-item work is declared as an {@link ItemStage} so the
 * runtime can fuse a chain of such steps into one loop; the batch form is a
 * plain indexed loop over the batch.
 *
 * @since 0.1.0
 */
import { currentStepId, dataLast, defineOperator, type KeyedStream, type Stream, typeName, type Tagged } from "../Dataflow.js"
import type { ItemStage } from "../internal/kernel.js"
import { isIterable, isPair, mustBeFunction, notIterable, notKeyed, upPort as up0 } from "./checks.js"
import { flatMapBatch, flatMapBatchStage, inspectDebug, repr } from "./kernel.js"

/** The batch form of a per-item stage: one plain loop over the batch. */
const batchOf = (stage: ItemStage): ((xs: Array<unknown>) => Array<unknown>) => {
  const f = stage.fn
  switch (stage.kind) {
    case "map":
      return (xs) => {
        const out: Array<unknown> = new Array(xs.length)
        for (let i = 0; i < xs.length; i++) out[i] = f(xs[i])
        return out
      }
    // Filters write into an array of the batch's length and cut it to size: `push` growing it costs several times more.
    case "filter":
      return (xs) => {
        const out: Array<unknown> = new Array(xs.length)
        let n = 0
        for (let i = 0; i < xs.length; i++) if (f(xs[i]) === true) out[n++] = xs[i]
        out.length = n
        return out
      }
    case "filterMap":
      return (xs) => {
        const out: Array<unknown> = new Array(xs.length)
        let n = 0
        for (let i = 0; i < xs.length; i++) {
          const y = f(xs[i])
          if (y !== undefined && y !== null) out[n++] = y
        }
        out.length = n
        return out
      }
  }
}

/** A `flatMapBatch` step doing `stage` per item (fusable with its neighbours by the runtime). */
const itemStep = <X, Y>(up: Stream<X>, kind: ItemStage["kind"], fn: (x: X) => unknown): Stream<Y> => {
  const stage: ItemStage = { kind, fn: fn as (x: unknown) => unknown }
  return flatMapBatchStage("flatMapBatch", up, batchOf(stage) as (xs: Array<X>) => Array<Y>, stage)
}

/**
 * Transform every item one to one.
 *
 * @example
 * ```ts
 * const plusOne = op.map("add_one", nums, (x: number) => x + 1)   // [0, 1, 2] → [1, 2, 3]
 * const plusOne2 = nums.pipe(op.map("add_one2", (x) => x + 1))
 * ```
 * @since 0.1.0
 */
export const map: {
  <X, Y>(stepId: string, mapper: (item: X) => Y): (up: Stream<X>) => Stream<Y>
  <X, Y>(stepId: string, up: Stream<X>, mapper: (item: X) => Y): Stream<Y>
} & Tagged<"map"> = dataLast(2, defineOperator(
  "map",
  up0,
  <X, Y>(up: Stream<X>, mapper: (item: X) => Y): Stream<Y> => {
    mustBeFunction("map", "mapper", mapper)
    return itemStep(up, "map", mapper)
  }
))

/**
 * Transform the value of every `[key, value]` item; the key is kept.
 *
 * @example
 * ```ts
 * const doubled = op.mapValue("double", keyed, (v: number) => v * 2)   // ["a", 1] → ["a", 2]
 * const doubled2 = keyed.pipe(op.mapValue("double2", (v) => v * 2))
 * ```
 * @since 0.1.0
 */
export const mapValue: {
  <V, W>(stepId: string, mapper: (value: V) => W): (up: KeyedStream<V>) => KeyedStream<W>
  <V, W>(stepId: string, up: KeyedStream<V>, mapper: (value: V) => W): KeyedStream<W>
} & Tagged<"mapValue"> = dataLast(2, defineOperator("mapValue", up0, <V, W>(up: KeyedStream<V>, mapper: (value: V) => W): KeyedStream<W> => {
    mustBeFunction("mapValue", "mapper", mapper)
    const stepId = currentStepId()
    return itemStep(up, "map", (item: readonly [string, V]) => {
      if (!isPair(item)) throw notKeyed(stepId, item)
      return [item[0], mapper(item[1])]
    })
  }))

const notBoolean = (stepId: string, r: unknown): TypeError =>
  new TypeError(
    `return value of \`predicate\` in step '${stepId}' must be a \`boolean\`; got a \`${typeName(r)}\` instead; ` +
      "return `true` to keep the item and `false` to drop it"
  )

/**
 * Keep the items for which `predicate` returns `true` (it must return a
 * boolean). With a type guard the result is narrowed.
 *
 * @example
 * ```ts
 * const odds = op.filter("odds", nums, (x: number) => x % 2 === 1)   // [1, 2, 3] → [1, 3]
 * const odds2 = nums.pipe(op.filter("odds2", (x) => x % 2 === 1))
 * ```
 * @since 0.1.0
 */
export const filter: {
  <X, Y extends X>(stepId: string, predicate: (item: X) => item is Y): (up: Stream<X>) => Stream<Y>
  <X>(stepId: string, predicate: (item: X) => boolean): (up: Stream<X>) => Stream<X>
  <X, Y extends X>(stepId: string, up: Stream<X>, predicate: (item: X) => item is Y): Stream<Y>
  <X>(stepId: string, up: Stream<X>, predicate: (item: X) => boolean): Stream<X>
} & Tagged<"filter"> = dataLast(2, defineOperator("filter", up0, <X>(up: Stream<X>, predicate: (item: X) => boolean): Stream<X> => {
  mustBeFunction("filter", "predicate", predicate)
  const stepId = currentStepId()
  return itemStep(up, "filter", (x: X) => {
    const r: unknown = predicate(x)
    if (r !== true && r !== false) throw notBoolean(stepId, r)
    return r
  })
}))

/**
 * Keep the `[key, value]` items whose value passes `predicate`.
 *
 * @example
 * ```ts
 * const big = op.filterValue("big", keyed, (v: number) => v > 100)
 * const big2 = keyed.pipe(op.filterValue("big2", (v) => v > 100))
 * ```
 * @since 0.1.0
 */
export const filterValue: {
  <V>(stepId: string, predicate: (value: V) => boolean): (up: KeyedStream<V>) => KeyedStream<V>
  <V>(stepId: string, up: KeyedStream<V>, predicate: (value: V) => boolean): KeyedStream<V>
} & Tagged<"filterValue"> = dataLast(2, defineOperator("filterValue", up0, <V>(up: KeyedStream<V>, predicate: (value: V) => boolean): KeyedStream<V> => {
    mustBeFunction("filterValue", "predicate", predicate)
    const stepId = currentStepId()
    return itemStep(up, "filter", (item: readonly [string, V]) => {
      if (!isPair(item)) throw notKeyed(stepId, item)
      const r: unknown = predicate(item[1])
      if (r !== true && r !== false) throw notBoolean(stepId, r)
      return r
    })
  }))

/**
 * Map every item and drop the results that are `undefined` or `null`.
 *
 * @example
 * ```ts
 * const parsed = op.filterMap("parse", lines, (s: string) => (s === "" ? undefined : Number(s)))
 * const parsed2 = lines.pipe(op.filterMap("parse2", (s) => (s === "" ? undefined : Number(s))))
 * ```
 * @since 0.1.0
 */
export const filterMap: {
  <X, Y>(stepId: string, mapper: (item: X) => Y | undefined | null): (up: Stream<X>) => Stream<Y>
  <X, Y>(stepId: string, up: Stream<X>, mapper: (item: X) => Y | undefined | null): Stream<Y>
} & Tagged<"filterMap"> = dataLast(2, defineOperator("filterMap", up0, <X, Y>(up: Stream<X>, mapper: (item: X) => Y | undefined | null): Stream<Y> => {
    mustBeFunction("filterMap", "mapper", mapper)
    return itemStep(up, "filterMap", mapper)
  }))

/**
 * Map every value and drop the items whose result is `undefined` or `null`.
 *
 * @example
 * ```ts
 * const evensPlusOne = op.filterMapValue("f", keyed, (v: number) => (v % 2 ? undefined : v + 1))
 * const evensPlusOne2 = keyed.pipe(op.filterMapValue("f2", (v) => (v % 2 ? undefined : v + 1)))
 * ```
 * @since 0.1.0
 */
export const filterMapValue: {
  <V, W>(stepId: string, mapper: (value: V) => W | undefined | null): (up: KeyedStream<V>) => KeyedStream<W>
  <V, W>(stepId: string, up: KeyedStream<V>, mapper: (value: V) => W | undefined | null): KeyedStream<W>
} & Tagged<"filterMapValue"> = dataLast(2, defineOperator(
  "filterMapValue",
  up0,
  <V, W>(up: KeyedStream<V>, mapper: (value: V) => W | undefined | null): KeyedStream<W> => {
    mustBeFunction("filterMapValue", "mapper", mapper)
    const stepId = currentStepId()
    return itemStep(up, "filterMap", (item: readonly [string, V]) => {
      if (!isPair(item)) throw notKeyed(stepId, item)
      const w = mapper(item[1])
      return w === undefined || w === null ? undefined : [item[0], w]
    })
  }
))

/**
 * Map every item to any number of items (an array, a generator, any iterable).
 *
 * @example
 * ```ts
 * const words = op.flatMap("split", lines, (line: string) => line.split(" "))
 * const words2 = lines.pipe(op.flatMap("split2", (line) => line.split(" ")))
 * ```
 * @since 0.1.0
 */
export const flatMap: {
  <X, Y>(stepId: string, mapper: (item: X) => Iterable<Y>): (up: Stream<X>) => Stream<Y>
  <X, Y>(stepId: string, up: Stream<X>, mapper: (item: X) => Iterable<Y>): Stream<Y>
} & Tagged<"flatMap"> = dataLast(2, defineOperator("flatMap", up0, <X, Y>(up: Stream<X>, mapper: (item: X) => Iterable<Y>): Stream<Y> => {
    mustBeFunction("flatMap", "mapper", mapper)
    const stepId = currentStepId()
    return flatMapBatch("flatMapBatch", up, (xs: Array<X>) => {
      const out: Array<Y> = []
      for (let i = 0; i < xs.length; i++) {
        const ys = mapper(xs[i]!)
        if (Array.isArray(ys)) for (let j = 0; j < ys.length; j++) out.push(ys[j])
        else if (isIterable(ys)) for (const y of ys) out.push(y)
        else throw notIterable(stepId, "return value of `mapper`", ys)
      }
      return out
    })
  }))

/**
 * Map every value to any number of values, each emitted with the item's key.
 *
 * @example
 * ```ts
 * declare const names: KeyedStream<string>   // keyed by user
 * const letters = op.flatMapValue("letters", names, (name: string) => name.split(""))   // ["u1", "ada"] → ["u1", "a"], ["u1", "d"], ["u1", "a"]
 * const letters2 = names.pipe(op.flatMapValue("letters2", (name) => name.split("")))
 * ```
 * @since 0.1.0
 */
export const flatMapValue: {
  <V, W>(stepId: string, mapper: (value: V) => Iterable<W>): (up: KeyedStream<V>) => KeyedStream<W>
  <V, W>(stepId: string, up: KeyedStream<V>, mapper: (value: V) => Iterable<W>): KeyedStream<W>
} & Tagged<"flatMapValue"> = dataLast(2, defineOperator("flatMapValue", up0, <V, W>(up: KeyedStream<V>, mapper: (value: V) => Iterable<W>): KeyedStream<W> => {
    mustBeFunction("flatMapValue", "mapper", mapper)
    const stepId = currentStepId()
    return flatMapBatch("flatMapBatch", up, (xs: Array<readonly [string, V]>) => {
      const out: Array<readonly [string, W]> = []
      for (let i = 0; i < xs.length; i++) {
        const item = xs[i]!
        if (!isPair(item)) throw notKeyed(stepId, item)
        const key = item[0]
        const ws = mapper(item[1])
        if (Array.isArray(ws)) for (let j = 0; j < ws.length; j++) out.push([key, ws[j]])
        else if (isIterable(ws)) for (const w of ws) out.push([key, w])
        else throw notIterable(stepId, "return value of `mapper`", ws)
      }
      return out
    })
  }))

/**
 * Emit the elements of every item, which must be iterable (strings give characters).
 *
 * @example
 * ```ts
 * declare const lists: Stream<Array<number>>
 * const flat = op.flatten("flatten", lists)   // [[1, 2], [], [3]] → [1, 2, 3]
 * const flat2 = lists.pipe(op.flatten("flatten2"))
 * ```
 * @since 0.1.0
 */
export const flatten: {
  (stepId: string): <X>(up: Stream<Iterable<X>>) => Stream<X>
  <X>(stepId: string, up: Stream<Iterable<X>>): Stream<X>
} & Tagged<"flatten"> = dataLast(1, defineOperator(
  "flatten",
  up0,
  <X>(up: Stream<Iterable<X>>): Stream<X> => {
    const stepId = currentStepId()
    return flatMapBatch("flatMapBatch", up, (xs: Array<Iterable<X>>) => {
      const out: Array<X> = []
      for (let i = 0; i < xs.length; i++) {
        const it = xs[i]
        if (Array.isArray(it)) for (let j = 0; j < it.length; j++) out.push(it[j])
        else if (isIterable(it)) for (const x of it) out.push(x)
        else {
          throw new TypeError(
            `step '${stepId}' requires upstream items to be iterables; got a \`${typeName(it)}\` instead; ` +
              "use `op.flatMap` to turn each item into an array first"
          )
        }
      }
      return out
    })
  }
))

/**
 * Key every item: emit `[key(item), item]`. Keys must be strings.
 *
 * @example
 * ```ts
 * interface Click { readonly userId: string; readonly page: string }
 * declare const clicks: Stream<Click>
 * const byUser = op.keyOn("by_user", clicks, (c: Click) => c.userId)
 * const byUser2 = clicks.pipe(op.keyOn("by_user2", (c) => c.userId))
 * ```
 * @since 0.1.0
 */
export const keyOn: {
  <X>(stepId: string, key: (item: X) => string): (up: Stream<X>) => KeyedStream<X>
  <X>(stepId: string, up: Stream<X>, key: (item: X) => string): KeyedStream<X>
} & Tagged<"keyOn"> = dataLast(2, defineOperator(
  "keyOn",
  up0,
  <X>(up: Stream<X>, key: (item: X) => string): KeyedStream<X> => {
    mustBeFunction("keyOn", "key", key)
    const stepId = currentStepId()
    return itemStep(up, "map", (x: X) => {
      const k = key(x)
      if (typeof k !== "string") {
        throw new TypeError(
          `return value of \`key\` in step '${stepId}' must be a \`string\`; got a \`${typeName(k)}\` instead; ` +
            "convert it, e.g. with `String(...)`"
        )
      }
      return [k, x]
    })
  }
))

/**
 * Drop the keys: `[key, value]` → `value`.
 *
 * @example
 * ```ts
 * const values = op.keyRm("unkey", keyed)
 * const values2 = keyed.pipe(op.keyRm("unkey2"))
 * ```
 * @since 0.1.0
 */
export const keyRm: {
  (stepId: string): <V>(up: KeyedStream<V>) => Stream<V>
  <V>(stepId: string, up: KeyedStream<V>): Stream<V>
} & Tagged<"keyRm"> = dataLast(1, defineOperator(
  "keyRm",
  up0,
  <V>(up: KeyedStream<V>): Stream<V> => {
    const stepId = currentStepId()
    return itemStep(up, "map", (item: readonly [string, V]) => {
      if (!isPair(item)) throw notKeyed(stepId, item)
      return item[1]
    })
  }
))

const defaultInspector = (stepId: string, item: unknown): void => {
  process.stdout.write(`${stepId}: ${repr(item)}\n`)
}

/**
 * Call `inspector(stepId, item)` for every item and pass items on unchanged.
 * The default prints `flow.step: item`. Counts as an output.
 *
 * @example
 * ```ts
 * nums.then(op.inspect, "show")   // prints: flow.show: 1
 * nums.pipe(op.inspect("show2"))   // prints: flow.show2: 1
 * ```
 * @since 0.1.0
 */
export const inspect: {
  <X>(stepId: string, inspector?: (stepId: string, item: X) => void): (up: Stream<X>) => Stream<X>
  <X>(stepId: string, up: Stream<X>, inspector?: (stepId: string, item: X) => void): Stream<X>
} & Tagged<"inspect"> = dataLast(2, defineOperator(
    "inspect",
    up0,
    <X>(up: Stream<X>, inspector: (stepId: string, item: X) => void = defaultInspector): Stream<X> => {
      mustBeFunction("inspect", "inspector", inspector)
      const stepId = currentStepId()
      return inspectDebug("inspectDebug", up, (_inner: string, item: X) => inspector(stepId, item))
    }
  ))

/**
 * A sink that fails the run on the first item it gets: mark streams that
 * must stay empty (e.g. errors you handle elsewhere).
 *
 * @example
 * ```ts
 * declare const errors: Stream<Error>   // errors handled elsewhere; none must reach here
 * op.raises("no_errors", errors)
 * errors.pipe(op.raises("no_errors2"))
 * ```
 * @since 0.1.0
 */
export const raises: {
  (stepId: string): <X>(up: Stream<X>) => void
  <X>(stepId: string, up: Stream<X>): void
} & Tagged<"raises"> = dataLast(1, defineOperator("raises", up0, <X>(up: Stream<X>): void => {
  const stepId = currentStepId()
  inspectDebug("inspectDebug", up, (_inner: string, item: X) => {
    throw new Error(`\`raises\` step '${stepId}' got an item: ${repr(item)}`)
  })
}))

/**
 * A helper for `map` over objects: returns a function that replaces
 * `obj[key]` with `mapper(obj[key])`, in place, and returns the object.
 *
 * @example
 * ```ts
 * declare const rows: Stream<{ a: number; b: number }>
 * const bumped = op.map("bump", rows, op.mapDictValue("a", (a: number) => a + 1))
 * // { a: 0, b: 0 } → { a: 1, b: 0 }
 * const bumped2 = rows.pipe(op.map("bump2", op.mapDictValue("a", (a: number) => a + 1)))
 * ```
 * @since 0.1.0
 */
export const mapDictValue = <K extends PropertyKey, A>(
  key: K,
  mapper: (value: A) => A
): (<T extends { [P in K]: A }>(obj: T) => T) =>
<T extends { [P in K]: A }>(obj: T): T => {
  obj[key] = mapper(obj[key]) as T[K]
  return obj
}
