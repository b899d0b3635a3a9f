/**
 * Which snapshots survive a store. Every recovery store saves states in the
 * structured-clone model (V8's serializer, or `structuredClone` in memory),
 * which keeps plain data — objects, arrays, `Map`, `Set`, `Date`, `RegExp`,
 * `bigint`, typed arrays, boxed primitives, errors, cycles — but drops a
 * class instance's prototype: it would come back as a plain object and fail
 * later, inside user code, on the first method call. So each snapshot is
 * checked when it is taken, and one that would not round-trip fails the
 * epoch close with an error naming the step, the key and the type, before
 * anything of the epoch is written.
 *
 * The same walk checks items before they are copied to another worker thread
 * (`codec.ts`), where functions and symbols are refused too.
 */
import { WeirRuntimeError } from "../errors.js"

/** Where in the value a class instance sits (`state.a[2]`) and its class name (or `function`, `symbol`: see {@link findUnsendable}). */
export interface Uncloneable {
  readonly path: string
  readonly type: string
}

const plainPrototypes = new Set<unknown>([
  Object.prototype,
  null,
  Array.prototype,
  Map.prototype,
  Set.prototype,
  Date.prototype,
  RegExp.prototype,
  ArrayBuffer.prototype,
  DataView.prototype,
  Number.prototype,
  String.prototype,
  Boolean.prototype,
  BigInt.prototype,
  Error.prototype,
  EvalError.prototype,
  RangeError.prototype,
  ReferenceError.prototype,
  SyntaxError.prototype,
  TypeError.prototype,
  URIError.prototype
])
/** Every typed array class: their instances survive a store (and a thread hop) whole. */
export const typedArrays = [
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array
] as const
for (const T of typedArrays) plainPrototypes.add(T.prototype)
if (typeof SharedArrayBuffer !== "undefined") plainPrototypes.add(SharedArrayBuffer.prototype)
// Node's serializer writes a Buffer as a host object and reads it back as a Buffer.
if (typeof Buffer !== "undefined") plainPrototypes.add(Buffer.prototype)

const className = (proto: object): string => {
  const ctor = (proto as { constructor?: unknown }).constructor
  return typeof ctor === "function" && ctor.name !== "" ? ctor.name : "an object with a custom prototype"
}

/**
 * The first part of `value` that would lose its prototype in a store, or
 * `undefined` when all of it round-trips. Functions and symbols are left to
 * the store, which refuses them with its own error.
 */
export const findUncloneable = (value: unknown): Uncloneable | undefined =>
  typeof value !== "object" || value === null ? undefined : find(value, "state", false)

/**
 * The first part of `value` that can't be copied to another thread as it is:
 * a class instance (as {@link findUncloneable} finds them), or a function or
 * a symbol (`type` is then `"function"` or `"symbol"`), which a copy can't
 * hold at all. Paths start at `root` (`item[1].a`).
 */
export const findUnsendable = (value: unknown, root: string): Uncloneable | undefined => find(value, root, true)

const find = (value: unknown, root: string, refuseFunctions: boolean): Uncloneable | undefined => {
  const seen = new Set<object>()
  const walk = (v: unknown, path: string): Uncloneable | undefined => {
    if (refuseFunctions && (typeof v === "function" || typeof v === "symbol")) return { path, type: typeof v }
    if (typeof v !== "object" || v === null || seen.has(v)) return undefined
    seen.add(v)
    const proto = Object.getPrototypeOf(v) as object | null
    if (!plainPrototypes.has(proto)) return { path, type: className(proto!) }
    if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer) return undefined
    if (v instanceof Map) {
      let i = 0
      for (const [k, x] of v) {
        const found = walk(k, `${path}.keys()[${i}]`) ?? walk(x, `${path}.get(${describeKey(k)})`)
        if (found !== undefined) return found
        i++
      }
      return undefined
    }
    if (v instanceof Set) {
      let i = 0
      for (const x of v) {
        const found = walk(x, `${path}.values()[${i++}]`)
        if (found !== undefined) return found
      }
      return undefined
    }
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const found = walk(v[i], `${path}[${i}]`)
        if (found !== undefined) return found
      }
      return undefined
    }
    for (const k of Object.keys(v)) {
      const found = walk((v as Record<string, unknown>)[k], /^[A-Za-z_$][\w$]*$/.test(k) ? `${path}.${k}` : `${path}[${JSON.stringify(k)}]`)
      if (found !== undefined) return found
    }
    return undefined
  }
  return walk(value, root)
}

const describeKey = (k: unknown): string => (typeof k === "string" ? JSON.stringify(k) : typeof k === "object" ? "…" : String(k))

/** Refuse a snapshot that a store would bring back without its prototype (see snapshotCheck.ts). */
export const checkSnapshot = (stepId: string, of: string, state: unknown): void => {
  const found = findUncloneable(state)
  if (found === undefined) return
  throw new WeirRuntimeError({
    message: `can't snapshot the state of ${of} in step '${stepId}': it holds a \`${found.type}\` instance at \`${found.path}\`, ` +
      "and a recovery store keeps only plain data (objects, arrays, Map, Set, Date, bigint, typed arrays), so it would come back " +
      "without its class and methods. Keep plain data in the state (rebuild the instance from it when the step resumes), " +
      "or convert it in the logic's `snapshot()`",
    stepId
  })
}
