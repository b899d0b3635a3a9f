/**
 * Snapshots as segments: what one worker snapshots of one step at one epoch,
 * packed into a few large byte strings instead of a row per key. A store
 * writes each epoch's segments in one go — sequential bytes, not a B-tree
 * update per key — and reads them back in epoch order, the newest entry of a
 * key winning. A full snapshot of a step (every key it holds) supersedes all
 * its older segments, which is how the log is kept to about twice the live
 * state (see the runtime's `takesFull`).
 *
 * Layout of a segment: a version byte, then per entry the key (its byte
 * length times two, plus one for UTF-16, as a varint; then ASCII or UTF-16LE
 * bytes), and the state's length plus one (varint; 0 for a discarded key) and
 * its bytes in V8's serialization format (serde.ts).
 */
import { DISCARDED, type StepSnapshots } from "@weir/core"
import { deserialize, serializeInto } from "./serde.js"

/** One stored segment of a step's snapshots at an epoch. */
export interface Segment {
  readonly stepId: string
  /** Its place among the worker's segments of the step at the epoch. */
  readonly seq: number
  readonly full: boolean
  /** Entries in it. */
  readonly count: number
  readonly data: Buffer
}

const VERSION = 1

/** A segment is closed once it holds this many bytes (large enough to write fast, small enough for any driver). */
const SEGMENT_BYTES = 4 * 1024 * 1024

/** A byte buffer that grows as entries are appended. */
export class SegmentWriter {
  private buf = Buffer.allocUnsafe(64 * 1024)
  at = 0
  count = 0

  constructor() {
    this.buf[0] = VERSION
    this.at = 1
  }

  /** Room for `n` more bytes. */
  ensure(n: number): Buffer {
    if (this.at + n > this.buf.length) {
      let size = this.buf.length * 2
      while (size < this.at + n) size *= 2
      const next = Buffer.allocUnsafe(size)
      this.buf.copy(next, 0, 0, this.at)
      this.buf = next
    }
    return this.buf
  }

  varint(n: number): void {
    const b = this.ensure(5)
    let at = this.at
    while (n >= 0x80) {
      b[at++] = (n & 0x7f) | 0x80
      n >>>= 7
    }
    b[at++] = n
    this.at = at
  }

  /**
   * A key: its byte length times two (a varint), plus one when the bytes are
   * UTF-16 (any key with a character past ASCII: lossless even for lone
   * surrogates), then the bytes (ASCII, else UTF-16LE).
   */
  key(key: string): void {
    const n = key.length
    const b = this.ensure(5 + n * 2)
    if (n < 0x40) {
      // Short ASCII keys (the common case) byte by byte: cheaper than a call into the encoder.
      let at = this.at + 1
      let i = 0
      for (; i < n; i++) {
        const c = key.charCodeAt(i)
        if (c >= 0x80) break
        b[at++] = c
      }
      if (i === n) {
        b[this.at] = n << 1
        this.at = at
        return
      }
    }
    if (/^[\x00-\x7f]*$/.test(key)) {
      this.varint(n * 2)
      this.at += this.buf.write(key, this.at, "latin1")
    } else {
      this.varint(n * 4 + 1)
      this.at += this.buf.write(key, this.at, "utf16le")
    }
  }

  /** The bytes written so far, copied out (the writer may be reused). */
  take(): Buffer {
    const out = Buffer.from(this.buf.subarray(0, this.at))
    this.at = 1
    this.count = 0
    return out
  }
}

/** Pack one step's snapshots into segments. Throws `StateSerializationError` naming the step and key. */
export const encodeSegments = (snaps: StepSnapshots, writer = new SegmentWriter()): Array<Segment> => {
  const out: Array<Segment> = []
  const { stepId, keys, states, full } = snaps
  const close = () => {
    out.push({ stepId, seq: out.length, full, count: writer.count, data: writer.take() })
  }
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!
    writer.key(key)
    const state = states[i]
    if (state === DISCARDED) {
      writer.varint(0)
    } else {
      serializeInto(writer, stepId, key, state)
    }
    writer.count++
    if (writer.at >= SEGMENT_BYTES) close()
  }
  // A full snapshot is written even when empty: it says the step holds no key here.
  if (writer.count > 0 || (full && out.length === 0)) close()
  return out
}

/** Pack stored rows of the old layout (a row per key, V8 bytes or `null`) into one segment's bytes. */
export const encodeRaw = (rows: ReadonlyArray<readonly [key: string, bytes: Buffer | null]>): Buffer => {
  const w = new SegmentWriter()
  for (const [key, bytes] of rows) {
    w.key(key)
    if (bytes === null) {
      w.varint(0)
    } else {
      w.varint(bytes.length + 1)
      bytes.copy(w.ensure(bytes.length), w.at)
      w.at += bytes.length
    }
    w.count++
  }
  return w.take()
}

const readVarint = (b: Buffer, pos: { at: number }): number => {
  let n = 0
  let shift = 0
  for (;;) {
    const byte = b[pos.at++]!
    n += (byte & 0x7f) * 2 ** shift
    if (byte < 0x80) return n
    shift += 7
  }
}

/** Call `f` for every entry of a segment, in order; a discarded key gets {@link DISCARDED}. */
export const decodeSegment = (stepId: string, data: Buffer, f: (key: string, state: unknown) => void): void => {
  if (data[0] !== VERSION) throw new Error(`unknown snapshot segment version ${data[0]} in step '${stepId}'`)
  const pos = { at: 1 }
  while (pos.at < data.length) {
    const keyHeader = readVarint(data, pos)
    const keyLength = Math.floor(keyHeader / 2)
    const key = data.toString(keyHeader % 2 === 1 ? "utf16le" : "latin1", pos.at, pos.at + keyLength)
    pos.at += keyLength
    const stateLength = readVarint(data, pos)
    if (stateLength === 0) {
      f(key, DISCARDED)
      continue
    }
    const end = pos.at + stateLength - 1
    f(key, deserialize(stepId, key, data.subarray(pos.at, end)))
    pos.at = end
  }
}

/** One stored segment as read back: its epoch and whether it is part of a full snapshot. */
export interface StoredSegment {
  readonly epoch: number
  readonly full: boolean
  readonly data: Buffer
}

/**
 * The states a resume loads from a step's stored segments before the resume
 * epoch: from its newest full snapshot on (older segments are superseded),
 * in epoch order, the newest entry of each key winning; discarded keys are
 * left out.
 */
export const statesFromSegments = (stepId: string, segments: ReadonlyArray<StoredSegment>): Array<readonly [string, unknown]> => {
  let since = -Infinity
  for (const s of segments) if (s.full && s.epoch > since) since = s.epoch
  const kept = segments.filter((s) => s.epoch >= since).sort((a, b) => a.epoch - b.epoch)
  const byKey = new Map<string, unknown>()
  for (const s of kept) {
    decodeSegment(stepId, s.data, (key, state) => {
      if (state === DISCARDED) byKey.delete(key)
      else byKey.set(key, state)
    })
  }
  return Array.from(byKey)
}
