/**
 * Frames: a batch of items encoded into one fresh ArrayBuffer, so that it can
 * cross to a worker on another thread by `postMessage` with the buffer in the
 * transfer list (moved, not copied). Decoding gives back what V8's serializer
 * (the recovery stores' format) would: plain data — objects, arrays, `Map`,
 * `Set`, `Date`, `RegExp`, `bigint`, typed arrays, `Buffer` — with the same
 * prototypes. A class instance would arrive as a plain object, and a function
 * or a symbol can't be copied at all, so batches holding one are refused
 * before anything is encoded, with an error naming the step, the type and
 * where in the item it sits.
 *
 * Layout: a 16-byte header, then the body of the frame's kind.
 *
 *   header          u8 version (1) | u8 kind | 2 bytes zero | u32 item count n
 *                   | u32 key characters c (keyed kinds, else 0) | 4 bytes zero
 *   KEYED_NUMBERS   every item is `[string, number]`:
 *                   f64[n] values | u32[n] key lengths | the keys end to end, c UTF-16LE code units
 *   KEYED           every item is `[string, anything]`:
 *                   u32[n] key lengths | the keys as above | msgpack of the n values
 *   ANY             msgpack of the items array
 *   V8_SERIALIZED   V8's serializer of the items array
 *
 * Why columns: keyed items (`[key, value]`, what every stateful step takes)
 * are most of what crosses threads, and `[string, number]` pairs (counts,
 * sums) the commonest of those. Written as two columns they cost about half
 * of msgpack's time (apps/bench/src/cases/codec.ts) and keep every float
 * exactly (-0, NaN, Infinity). The header and the columns are aligned for typed-array views;
 * the columns are in the platform's byte order, as frames never leave the
 * process.
 *
 * Why V8 at all: msgpack is three times faster than V8's serializer on
 * objects, but changes a few things V8 keeps — -0 becomes 0, strings with a
 * lone surrogate get U+FFFD, holes in arrays become `undefined`, boxed
 * primitives become objects, errors lose their stack, an own `__proto__`
 * key is renamed, and cycles overflow the stack. A cheap walk over the values
 * ({@link packsExactly}) sends a batch holding any of these as V8_SERIALIZED
 * instead.
 * What no kind keeps: object identity (a value referenced twice in a batch
 * arrives as two equal copies, except in V8_SERIALIZED frames) and extra
 * properties on arrays (likewise).
 */
import { Packr } from "msgpackr"
import * as v8 from "node:v8"
import { WeirRuntimeError } from "../errors.js"
import { findUnsendable, typedArrays } from "./snapshotCheck.js"

const VERSION = 1
const HEADER = 16

const ANY = 0
const KEYED_NUMBERS = 1
const KEYED = 2
const V8_SERIALIZED = 3

/**
 * One encoder for the thread. Its frames are self-contained (records are
 * defined in each message, not shared between them), so any thread's
 * `Packr` decodes them.
 */
const packr = new Packr({
  // Plain objects travel as records and come back as objects, so msgpack maps can mean `Map`:
  useRecords: true,
  // …and come back as `Map` (with keys of any type), not as objects.
  mapsAsObjects: false,
  // `Set`, `RegExp`, `Error`, `ArrayBuffer`, `DataView` and typed arrays (with their own type tag).
  moreTypes: true,
  // bigints beyond 64 bits, of any sign and size (`moreTypes` turns this on too; said here as it is relied on).
  useBigIntExtension: true,
  // A decoded `Buffer` is a copy, not a view that keeps the whole frame alive.
  copyBuffers: true
})

/**
 * Encode a batch of items into a fresh ArrayBuffer, owned by the caller (it
 * is no view into a shared one, so it can be transferred with `postMessage`).
 * Fails with a `WeirRuntimeError` naming `stepId` when an item holds
 * something that can't cross a thread as it is: a class instance, a
 * function or a symbol.
 *
 * @example
 * ```ts
 * const { port1: port } = new MessageChannel()
 * const frame = encodeBatch("flow.count", [["ada", 1], ["bob", 2]])
 * port.postMessage({ items: frame }, [frame])
 * // on the other thread:
 * decodeBatch(frame) // [["ada", 1], ["bob", 2]]
 * ```
 * @since 0.2.0
 */
export const encodeBatch = (stepId: string, items: ReadonlyArray<unknown>): ArrayBuffer => {
  const kind = layoutOf(items)
  if (kind === KEYED_NUMBERS) return encodeKeyedNumbers(items as ReadonlyArray<readonly [string, number]>)
  if (!valuesPackExactly(kind, items)) return encodeV8(stepId, items)
  return kind === KEYED ? encodeKeyed(items as ReadonlyArray<readonly [string, unknown]>) : encodeAny(items)
}

/**
 * The items of a frame made by {@link encodeBatch}, in their order. Decoded
 * values hold no reference to the frame.
 *
 * @since 0.2.0
 */
export const decodeBatch = (frame: ArrayBuffer): Array<unknown> => {
  if (frame.byteLength < HEADER) throw badFrame(`it is ${frame.byteLength} bytes long, shorter than a header`)
  const header = new DataView(frame, 0, HEADER)
  const version = header.getUint8(0)
  if (version !== VERSION) throw badFrame(`its version is ${version}, this one reads version ${VERSION}`)
  const kind = header.getUint8(1)
  const n = header.getUint32(4, true)
  const chars = header.getUint32(8, true)
  const bytes = Buffer.from(frame)
  switch (kind) {
    case KEYED_NUMBERS: {
      const values = new Float64Array(frame, HEADER, n)
      const out = decodeKeys(bytes, HEADER + 8 * n, n, chars)
      for (let i = 0; i < n; i++) out[i] = [out[i], values[i]]
      return out
    }
    case KEYED: {
      const keys = decodeKeys(bytes, HEADER, n, chars)
      const out = packr.unpack(bytes.subarray(HEADER + 4 * n + 2 * chars)) as Array<unknown>
      for (let i = 0; i < n; i++) out[i] = [keys[i], out[i]]
      return out
    }
    case ANY:
      return packr.unpack(bytes.subarray(HEADER)) as Array<unknown>
    case V8_SERIALIZED:
      return v8.deserialize(bytes.subarray(HEADER)) as Array<unknown>
    default:
      throw badFrame(`its kind is ${kind}`)
  }
}

/** The most compact kind every item fits. */
const layoutOf = (items: ReadonlyArray<unknown>): number => {
  let kind = KEYED_NUMBERS
  for (let i = 0; i < items.length; i++) {
    const item = items[i]
    if (!isKeyedPair(item)) return ANY
    if (typeof item[1] !== "number") kind = KEYED
  }
  return kind
}

/** A plain `[string, value]` array, without holes (a subclass of Array or a hole would not survive the columns). */
const isKeyedPair = (item: unknown): item is readonly [string, unknown] =>
  Array.isArray(item) && item.length === 2 && typeof item[0] === "string" && Object.getPrototypeOf(item) === Array.prototype &&
  (item[1] !== undefined || 1 in item)

/** Whether msgpack keeps every value of the batch (in KEYED frames: every item's value) as V8 would. */
const valuesPackExactly = (kind: number, items: ReadonlyArray<unknown>): boolean => {
  if (kind === KEYED) {
    for (let i = 0; i < items.length; i++) if (!packsExactly((items[i] as readonly [string, unknown])[1], 1)) return false
  } else {
    for (let i = 0; i < items.length; i++) if (!packsExactly(items[i], 0)) return false
  }
  return true
}

/** Deeper than this, a value may be a cycle: it goes as V8_SERIALIZED, which keeps cycles. */
const MAX_DEPTH = 64

/** Prototypes of values msgpack (with the options above) writes and reads back whole, as V8 does. */
const exactLeafPrototypes = new Set<unknown>([Date.prototype, RegExp.prototype, ArrayBuffer.prototype, DataView.prototype, Buffer.prototype])
for (const T of typedArrays) exactLeafPrototypes.add(T.prototype)

const isWellFormed = (s: string): boolean => (s as unknown as { isWellFormed(): boolean }).isWellFormed()

/**
 * Whether msgpack round-trips `v` as V8's serializer does. `false` for
 * what it would change (see the header), and for what can't be sent at all
 * (functions, symbols, class instances): those batches take the slow path,
 * where {@link findUnsendable} tells the two apart. No allocation, no paths,
 * no call for a primitive inside an object.
 */
const packsExactly = (v: unknown, depth: number): boolean =>
  typeof v === "object" && v !== null ? objectPacksExactly(v, depth) : primitivePacksExactly(v)

const primitivePacksExactly = (v: unknown): boolean =>
  typeof v === "string"
    ? isWellFormed(v)
    : typeof v === "number"
    ? v !== 0 || 1 / v > 0
    : typeof v !== "function" && typeof v !== "symbol"

const objectPacksExactly = (v: object, depth: number): boolean => {
  if (depth > MAX_DEPTH) return false
  const proto = Object.getPrototypeOf(v) as unknown
  if (proto === Object.prototype || proto === null) {
    const o = v as Record<string, unknown>
    for (const k in o) {
      if (k === "__proto__" || !isWellFormed(k)) return false
      const x = o[k]
      if (typeof x === "object" && x !== null ? !objectPacksExactly(x, depth + 1) : !primitivePacksExactly(x)) return false
    }
    return true
  }
  if (proto === Array.prototype) {
    const a = v as ReadonlyArray<unknown>
    for (let i = 0; i < a.length; i++) {
      const x = a[i]
      if (
        typeof x === "object" && x !== null
          ? !objectPacksExactly(x, depth + 1)
          : x === undefined
          ? !(i in a)
          : !primitivePacksExactly(x)
      ) return false
    }
    return true
  }
  if (proto === Map.prototype) {
    for (const [k, x] of v as Map<unknown, unknown>) if (!packsExactly(k, depth + 1) || !packsExactly(x, depth + 1)) return false
    return true
  }
  if (proto === Set.prototype) {
    for (const x of v as Set<unknown>) if (!packsExactly(x, depth + 1)) return false
    return true
  }
  return exactLeafPrototypes.has(proto)
}

const newFrame = (kind: number, n: number, chars: number, byteLength: number): ArrayBuffer => {
  const frame = new ArrayBuffer(byteLength)
  const header = new DataView(frame, 0, HEADER)
  header.setUint8(0, VERSION)
  header.setUint8(1, kind)
  header.setUint32(4, n, true)
  header.setUint32(8, chars, true)
  return frame
}

const encodeKeyedNumbers = (items: ReadonlyArray<readonly [string, number]>): ArrayBuffer => {
  const n = items.length
  // One string of all keys, written by one call: much cheaper than a write per key.
  let keys = ""
  for (let i = 0; i < n; i++) keys += items[i]![0]
  const lengthsAt = HEADER + 8 * n
  const keysAt = lengthsAt + 4 * n
  const frame = newFrame(KEYED_NUMBERS, n, keys.length, keysAt + 2 * keys.length)
  const values = new Float64Array(frame, HEADER, n)
  const lengths = new Uint32Array(frame, lengthsAt, n)
  for (let i = 0; i < n; i++) {
    const item = items[i]!
    values[i] = item[1]
    lengths[i] = item[0].length
  }
  Buffer.from(frame).write(keys, keysAt, "utf16le")
  return frame
}

const encodeKeyed = (items: ReadonlyArray<readonly [string, unknown]>): ArrayBuffer => {
  const n = items.length
  let keys = ""
  const values: Array<unknown> = new Array(n)
  for (let i = 0; i < n; i++) {
    const item = items[i]!
    keys += item[0]
    values[i] = item[1]
  }
  // `pack` returns a view into the Packr's own, reused buffer: copied into the frame below.
  const packed = packr.pack(values)
  const keysAt = HEADER + 4 * n
  const valuesAt = keysAt + 2 * keys.length
  const frame = newFrame(KEYED, n, keys.length, valuesAt + packed.length)
  const lengths = new Uint32Array(frame, HEADER, n)
  for (let i = 0; i < n; i++) lengths[i] = items[i]![0].length
  const bytes = Buffer.from(frame)
  bytes.write(keys, keysAt, "utf16le")
  bytes.set(packed, valuesAt)
  return frame
}

const encodeAny = (items: ReadonlyArray<unknown>): ArrayBuffer => {
  const packed = packr.pack(items)
  const frame = newFrame(ANY, items.length, 0, HEADER + packed.length)
  new Uint8Array(frame).set(packed, HEADER)
  return frame
}

/** The slow path, for a batch msgpack would change: refuse what can't be sent, else encode with V8. */
const encodeV8 = (stepId: string, items: ReadonlyArray<unknown>): ArrayBuffer => {
  for (let i = 0; i < items.length; i++) {
    const found = findUnsendable(items[i], "item")
    if (found !== undefined) throw unsendable(stepId, found.type, found.path)
  }
  let serialized: Buffer
  try {
    serialized = v8.serialize(items)
  } catch (cause) {
    throw new WeirRuntimeError({
      message: `can't send an item to another worker thread in step '${stepId}': ${cause instanceof Error ? cause.message : String(cause)} ` +
        "Send plain data (objects, arrays, Map, Set, Date, bigint, typed arrays), or run the workers interleaved in one thread " +
        "by passing the Dataflow object to clusterMain",
      stepId,
      cause
    })
  }
  const frame = newFrame(V8_SERIALIZED, items.length, 0, HEADER + serialized.length)
  new Uint8Array(frame).set(serialized, HEADER)
  return frame
}

/** V8 makes a substring of this many characters or more a view into its parent string (a "sliced string"). */
const SLICED_STRING_MIN = 13

/**
 * The keys column as an array of `n` keys (which the caller turns into the
 * items). Short keys are cut out of one string of all keys; longer ones are
 * copied out of the frame, as a substring would keep that whole string alive.
 */
const decodeKeys = (bytes: Buffer, lengthsAt: number, n: number, chars: number): Array<unknown> => {
  const lengths = new Uint32Array(bytes.buffer, lengthsAt, n)
  const keysAt = lengthsAt + 4 * n
  const all = bytes.toString("utf16le", keysAt, keysAt + 2 * chars)
  const keys: Array<unknown> = new Array(n)
  let at = 0
  for (let i = 0; i < n; i++) {
    const length = lengths[i]!
    keys[i] = length < SLICED_STRING_MIN
      ? all.substring(at, at + length)
      : bytes.toString("utf16le", keysAt + 2 * at, keysAt + 2 * (at + length))
    at += length
  }
  return keys
}

const unsendable = (stepId: string, type: string, path: string): WeirRuntimeError => {
  const head = `can't send an item to another worker thread in step '${stepId}': it holds `
  const plain = "items crossing threads are copied as plain data (objects, arrays, Map, Set, Date, bigint, typed arrays)"
  const orInterleaved = "or run the workers interleaved in one thread by passing the Dataflow object to clusterMain"
  const message = type === "function"
    ? `${head}a function at \`${path}\`; ${plain}, and a function can't be copied. ` +
      `Send data that says which function to call (a name, a tag) and look it up after the exchange, ${orInterleaved}`
    : type === "symbol"
    ? `${head}a symbol at \`${path}\`; ${plain}, and a symbol can't be copied (it is unique to its thread). ` +
      `Send a string instead, ${orInterleaved}`
    : `${head}a \`${type}\` instance at \`${path}\`; ${plain}, so a class instance would arrive without its methods. ` +
      `Send plain data (and rebuild the instance after the exchange), ${orInterleaved}`
  return new WeirRuntimeError({ message, stepId })
}

const badFrame = (why: string): WeirRuntimeError =>
  new WeirRuntimeError({ message: `can't decode a frame from another worker thread: ${why} (a bug in Weir: please report it)` })
