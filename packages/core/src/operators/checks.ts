/**
 * Argument and item-shape checks shared by the operators. `upPort` and
 * `mustBeFunction` are public (for operator authors, from `@weir/core`); the
 * rest is internal: not part of `op`.
 *
 * Definition-time checks throw at once; run-time checks build a `TypeError`
 * naming the operator's fully-qualified step id, the callback, the offending
 * value's type and what to do. The runtime wraps it in a `WeirRuntimeError`
 * naming the kernel step, with this error as `cause`.
 */
import { type OperatorPorts, typeName } from "../Dataflow.js"
import type { defineOperator } from "../Dataflow.js"

/**
 * The ports of an operator whose only stream argument is its first one, `up`:
 * what most operators pass to {@link defineOperator}.
 *
 * @example
 * ```ts
 * const double = defineOperator("double", upPort, (up: Stream<number>) => op.map("map", up, (x) => x * 2))
 * ```
 * @since 0.2.0
 */
export const upPort: OperatorPorts = { ups: [{ name: "up", index: 0, kind: "one" }] }

/**
 * Throws at definition time, with the operator and argument named, when a
 * callback argument is not a function: the check every operator makes.
 *
 * @example
 * ```ts
 * mustBeFunction("myOperator", "mapper", 42)
 * // TypeError: operator 'myOperator': 'mapper' must be a function; got a `number` instead
 * ```
 * @since 0.2.0
 */
export const mustBeFunction = (opType: string, name: string, f: unknown): void => {
  if (typeof f !== "function") {
    throw new TypeError(`operator '${opType}': '${name}' must be a function; got a \`${typeName(f)}\` instead`)
  }
}

/** Like {@link typeName}, but shows an array's length, which is what shape errors are about. */
export const shapeName = (u: unknown): string => (Array.isArray(u) ? `Array(${u.length})` : typeName(u))

/** `true` for a `[key, value]` item (the key's type is checked by the stateful kernel step). */
export const isPair = (item: unknown): item is readonly [string, unknown] => Array.isArray(item) && item.length === 2

/** The error for an item of a keyed stream that is not a `[key, value]` pair. */
export const notKeyed = (stepId: string, item: unknown): TypeError =>
  new TypeError(
    `step '${stepId}' requires \`[key, value]\` 2-element arrays from upstream; got a \`${shapeName(item)}\` instead; ` +
      "key the stream first, e.g. with `op.keyOn`"
  )

/** `true` when `u` can be iterated with `for … of`. */
export const isIterable = (u: unknown): u is Iterable<unknown> =>
  u != null && typeof (u as { [Symbol.iterator]?: unknown })[Symbol.iterator] === "function"

/** The error for a callback result that had to be iterable and is not. */
export const notIterable = (stepId: string, what: string, got: unknown): TypeError =>
  new TypeError(
    `${what} in step '${stepId}' must be an iterable; got a \`${typeName(got)}\` instead; ` +
      "return an array (e.g. `[y]`, or `[]` for nothing) or a generator"
  )
