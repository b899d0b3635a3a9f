/**
 * The records of the exchange topic. Two kinds, each a small fixed header:
 *
 * - a *frame*: items (`codec.ts`) from key group `from`, in its incarnation
 *   `incarnation` and epoch `epoch`, for input `port` of step `step` on the
 *   key group whose partition carries it;
 * - *marks*: "key group `from` committed epoch `epoch` of incarnation
 *   `incarnation`": its frames up to there may be applied. One record
 *   carries the marks of every key group of the sending process.
 *
 * Numbers are big-endian; incarnations and epochs are float64 (exact
 * integers up to 2^53).
 */

const MAGIC = 0x57 // "W"
const VERSION = 1
const FRAME = 1
const MARKS = 2
const FRAME_HEADER = 32
const MARK_BYTES = 20

/** Where a frame comes from and goes to. */
export interface FrameHeader {
  readonly from: number
  readonly incarnation: number
  readonly epoch: number
  readonly step: number
  readonly port: number
}

/** A key group's committed progress: `[from, incarnation, epoch]`. */
export type Mark = readonly [from: number, incarnation: number, epoch: number]

/** A record as read back. */
export type WireRecord =
  | { readonly t: "frame"; readonly header: FrameHeader; readonly payload: ArrayBuffer }
  | { readonly t: "marks"; readonly marks: ReadonlyArray<Mark> }

export const encodeFrame = (h: FrameHeader, payload: ArrayBuffer): Uint8Array => {
  const out = new Uint8Array(FRAME_HEADER + payload.byteLength)
  const v = new DataView(out.buffer)
  v.setUint8(0, MAGIC)
  v.setUint8(1, VERSION)
  v.setUint8(2, FRAME)
  v.setUint8(3, h.port)
  v.setUint32(4, h.from)
  v.setUint32(8, h.step)
  v.setFloat64(12, h.incarnation)
  v.setFloat64(20, h.epoch)
  out.set(new Uint8Array(payload), FRAME_HEADER)
  return out
}

export const encodeMarks = (marks: ReadonlyArray<Mark>): Uint8Array => {
  const out = new Uint8Array(8 + marks.length * MARK_BYTES)
  const v = new DataView(out.buffer)
  v.setUint8(0, MAGIC)
  v.setUint8(1, VERSION)
  v.setUint8(2, MARKS)
  v.setUint32(4, marks.length)
  let at = 8
  for (const [from, incarnation, epoch] of marks) {
    v.setUint32(at, from)
    v.setFloat64(at + 4, incarnation)
    v.setFloat64(at + 12, epoch)
    at += MARK_BYTES
  }
  return out
}

/** Read a record; `undefined` for one that is not Weir's (or of another version). */
export const decodeRecord = (value: Uint8Array): WireRecord | undefined => {
  if (value.byteLength < 8) return undefined
  const v = new DataView(value.buffer, value.byteOffset, value.byteLength)
  if (v.getUint8(0) !== MAGIC || v.getUint8(1) !== VERSION) return undefined
  switch (v.getUint8(2)) {
    case FRAME: {
      if (value.byteLength < FRAME_HEADER) return undefined
      const header: FrameHeader = {
        port: v.getUint8(3),
        from: v.getUint32(4),
        step: v.getUint32(8),
        incarnation: v.getFloat64(12),
        epoch: v.getFloat64(20)
      }
      const start = value.byteOffset + FRAME_HEADER
      const payload = value.buffer.slice(start, value.byteOffset + value.byteLength) as ArrayBuffer
      return { t: "frame", header, payload }
    }
    case MARKS: {
      const n = v.getUint32(4)
      if (value.byteLength < 8 + n * MARK_BYTES) return undefined
      const marks: Array<Mark> = []
      let at = 8
      for (let i = 0; i < n; i++) {
        marks.push([v.getUint32(at), v.getFloat64(at + 4), v.getFloat64(at + 12)])
        at += MARK_BYTES
      }
      return { t: "marks", marks }
    }
    default:
      return undefined
  }
}

/** `(i1, e1)` is at or before `(i2, e2)`: incarnations first, then epochs. */
export const notAfter = (i1: number, e1: number, i2: number, e2: number): boolean => i1 < i2 || (i1 === i2 && e1 <= e2)
