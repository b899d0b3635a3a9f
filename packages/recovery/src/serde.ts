/**
 * State serialization: V8's structured-clone format, so `Map`, `Set`, `Date`,
 * `bigint`, typed arrays, nested objects and cycles round-trip exactly.
 * Functions, class instances' prototypes and symbols do not survive; a value
 * that cannot be serialized fails with an error naming the step and the key.
 *
 * Numbers, strings, booleans, `null` and `undefined` — most keyed states, such
 * as running sums and counters — are written and read here, in that same
 * format, without `v8.serialize`: it costs about a microsecond per call even
 * for a number, and an epoch commit serializes every key that changed. The
 * bytes are ones `v8.deserialize` reads back to the same value (`-0`, `NaN`
 * and lone surrogates included), so stored states are the same whichever
 * path wrote them.
 */
import * as os from "node:os"
import * as v8 from "node:v8"
import { StateSerializationError } from "./errors.js"

/** V8's serialization tags (v8/src/objects/value-serializer.cc) for the values written here. */
const Tag = {
  version: 0xff,
  padding: 0x00,
  int32: 0x49, // 'I', zigzag varint
  double: 0x4e, // 'N', 8 bytes in host byte order
  oneByteString: 0x22, // '"', varint length, Latin-1 bytes
  twoByteString: 0x63, // 'c', varint byte length, UTF-16 code units in host byte order
  true: 0x54, // 'T'
  false: 0x46, // 'F'
  null: 0x30, // '0'
  undefined: 0x5f // '_'
} as const

/** The format version written (Node 20's V8 writes 15; later versions still read it). */
const VERSION = 15

/** Doubles and UTF-16 go in host byte order; on a big-endian host everything takes `v8.serialize`. */
const FAST = os.endianness() === "LE"

/** Any code unit above 0xFF: the string needs the two-byte form. */
const TWO_BYTE = /[^\u0000-\u00ff]/

const varintLength = (n: number): number => (n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5)

const writeVarint = (b: Buffer, at: number, n: number): number => {
  while (n >= 0x80) {
    b[at++] = (n & 0x7f) | 0x80
    n >>>= 7
  }
  b[at++] = n
  return at
}

/** A buffer of `size` bytes that starts with the header and `tag`. */
const begin = (size: number, tag: number): Buffer => {
  const b = Buffer.allocUnsafe(size)
  b[0] = Tag.version
  b[1] = VERSION
  b[2] = tag
  return b
}

const encodeNumber = (n: number): Buffer => {
  if ((n | 0) === n && !Object.is(n, -0)) {
    const zigzag = ((n << 1) ^ (n >> 31)) >>> 0
    const b = begin(3 + varintLength(zigzag), Tag.int32)
    writeVarint(b, 3, zigzag)
    return b
  }
  const b = begin(11, Tag.double)
  b.writeDoubleLE(n, 3)
  return b
}

const encodeString = (s: string): Buffer => {
  if (!TWO_BYTE.test(s)) {
    const b = begin(3 + varintLength(s.length) + s.length, Tag.oneByteString)
    b.write(s, writeVarint(b, 3, s.length), "latin1")
    return b
  }
  // As V8 does: a padding tag first when needed, so that the code units start at an even offset.
  const bytes = s.length * 2
  const pad = (3 + varintLength(bytes)) & 1
  const b = Buffer.allocUnsafe(3 + pad + varintLength(bytes) + bytes)
  b[0] = Tag.version
  b[1] = VERSION
  if (pad === 1) b[2] = Tag.padding
  b[2 + pad] = Tag.twoByteString
  b.write(s, writeVarint(b, 3 + pad, bytes), "utf16le")
  return b
}

const single = (tag: number): Buffer => begin(3, tag)

const viaV8 = (stepId: string, key: string, state: unknown): Buffer => {
  try {
    return v8.serialize(state)
  } catch (e) {
    throw new StateSerializationError(
      `can't serialize the state of key '${key}' in step '${stepId}': ${e instanceof Error ? e.message : String(e)}; ` +
        "states must be structured-cloneable (plain objects, arrays, Map, Set, Date, bigint, typed arrays) — " +
        "return such a value from `snapshot()`",
      { cause: e }
    )
  }
}

/** The bytes stored for `state` of `key` in `stepId`. */
export const serialize = (stepId: string, key: string, state: unknown): Buffer => {
  if (!FAST) return viaV8(stepId, key, state)
  switch (typeof state) {
    case "number":
      return encodeNumber(state)
    case "string":
      return encodeString(state)
    case "boolean":
      return single(state ? Tag.true : Tag.false)
    case "undefined":
      return single(Tag.undefined)
    default:
      return state === null ? single(Tag.null) : viaV8(stepId, key, state)
  }
}

/** What {@link serializeInto} writes into: a segment being built (segments.ts). */
export interface ByteSink {
  at: number
  ensure(n: number): Buffer
  varint(n: number): void
}

/**
 * Append `state` to `out` as its serialized length plus one (a varint) and
 * the same bytes {@link serialize} makes, without a buffer per state for the
 * common kinds (integers, doubles, Latin-1 strings, booleans, null).
 */
export const serializeInto = (out: ByteSink, stepId: string, key: string, state: unknown): void => {
  if (FAST) {
    if (typeof state === "number") {
      if ((state | 0) === state && !Object.is(state, -0)) {
        const zigzag = ((state << 1) ^ (state >> 31)) >>> 0
        const length = 3 + varintLength(zigzag)
        const b = out.ensure(1 + length)
        b[out.at] = length + 1
        b[out.at + 1] = Tag.version
        b[out.at + 2] = VERSION
        b[out.at + 3] = Tag.int32
        out.at = writeVarint(b, out.at + 4, zigzag)
        return
      }
      const b = out.ensure(12)
      b[out.at] = 12
      b[out.at + 1] = Tag.version
      b[out.at + 2] = VERSION
      b[out.at + 3] = Tag.double
      b.writeDoubleLE(state, out.at + 4)
      out.at += 12
      return
    }
    if (typeof state === "string" && !TWO_BYTE.test(state)) {
      const length = 3 + varintLength(state.length) + state.length
      out.varint(length + 1)
      const b = out.ensure(length)
      b[out.at] = Tag.version
      b[out.at + 1] = VERSION
      b[out.at + 2] = Tag.oneByteString
      const at = writeVarint(b, out.at + 3, state.length)
      b.write(state, at, "latin1")
      out.at = at + state.length
      return
    }
  }
  const bytes = serialize(stepId, key, state)
  out.varint(bytes.length + 1)
  bytes.copy(out.ensure(bytes.length), out.at)
  out.at += bytes.length
}

/** Not decoded here: left to `v8.deserialize`. */
const OTHER = Symbol("other")

/** The value of `b` if it is one `serialize` writes itself (whoever wrote it), else {@link OTHER}. */
const decodeSimple = (b: Buffer): unknown => {
  if (b.length < 3 || b[0] !== Tag.version || b[1] !== VERSION) return OTHER
  let at = 2
  while (at < b.length && b[at] === Tag.padding) at++
  const tag = b[at++]
  const varint = (): number => {
    let n = 0
    for (let shift = 0; shift < 35 && at < b.length; shift += 7) {
      const byte = b[at++]!
      n += (byte & 0x7f) * 2 ** shift
      if (byte < 0x80) return n
    }
    return -1
  }
  switch (tag) {
    case Tag.int32: {
      const zigzag = varint()
      return zigzag < 0 || zigzag > 0xffffffff ? OTHER : (zigzag >>> 1) ^ -(zigzag & 1)
    }
    case Tag.double:
      return at + 8 <= b.length ? b.readDoubleLE(at) : OTHER
    case Tag.oneByteString: {
      const length = varint()
      return length < 0 || at + length > b.length ? OTHER : b.toString("latin1", at, at + length)
    }
    case Tag.twoByteString: {
      const length = varint()
      return length < 0 || length % 2 !== 0 || at + length > b.length ? OTHER : b.toString("utf16le", at, at + length)
    }
    case Tag.true:
      return true
    case Tag.false:
      return false
    case Tag.null:
      return null
    case Tag.undefined:
      return undefined
    default:
      return OTHER
  }
}

/** The state stored as `bytes` for `key` in `stepId`. */
export const deserialize = (stepId: string, key: string, bytes: Uint8Array): unknown => {
  const b = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (FAST) {
    const simple = decodeSimple(b)
    if (simple !== OTHER) return simple
  }
  try {
    return v8.deserialize(b)
  } catch (e) {
    throw new StateSerializationError(
      `can't deserialize the stored state of key '${key}' in step '${stepId}': ${e instanceof Error ? e.message : String(e)}`,
      { cause: e }
    )
  }
}
