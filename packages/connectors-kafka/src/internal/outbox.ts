/**
 * The outbox of the exactly-once sink: an epoch's messages, as the producer
 * takes them, encoded into one buffer that the recovery store keeps with the
 * epoch's state until the epoch is published.
 *
 * Layout, per message, in order (little-endian):
 *
 *   u8 flags   bit 0 key, 1 key is a string, 2 value, 3 partition, 4 timestamp, 5 headers
 *   u16 + utf8 topic
 *   i32        partition                         (if bit 3)
 *   f64        timestamp (ms since the epoch)    (if bit 4)
 *   u32 + data key                               (if bit 0; utf8 when bit 1)
 *   u32 + data value                             (if bit 2)
 *   u16 count, then per header: u16 + utf8 name, u8 1 if the value is a string, u32 + data value   (if bit 5)
 */
import type { MessageHeader } from "@confluentinc/kafka-javascript"

/** A message as the producer takes it: every field resolved. */
export interface OutboxMessage {
  readonly topic: string
  readonly partition: number | null
  readonly value: Buffer | null
  readonly key: Buffer | string | null
  readonly timestamp: number | null
  readonly headers: Array<MessageHeader> | undefined
}

const KEY = 1
const KEY_STRING = 2
const VALUE = 4
const PARTITION = 8
const TIMESTAMP = 16
const HEADERS = 32

/** Appends messages to a growing buffer. */
export class OutboxWriter {
  private buf = Buffer.allocUnsafe(64 * 1024)
  private at = 0
  count = 0

  add(m: OutboxMessage): void {
    const topicBytes = Buffer.byteLength(m.topic)
    const keyBytes = m.key === null ? 0 : typeof m.key === "string" ? Buffer.byteLength(m.key) : m.key.length
    const valueBytes = m.value === null ? 0 : m.value.length
    this.reserve(1 + 2 + topicBytes + 4 + 8 + 4 + keyBytes + 4 + valueBytes + 2)
    let flags = 0
    if (m.key !== null) flags |= typeof m.key === "string" ? KEY | KEY_STRING : KEY
    if (m.value !== null) flags |= VALUE
    if (m.partition !== null) flags |= PARTITION
    if (m.timestamp !== null) flags |= TIMESTAMP
    if (m.headers !== undefined && m.headers.length > 0) flags |= HEADERS
    const b = this.buf
    b[this.at++] = flags
    this.string16(m.topic, topicBytes)
    if (m.partition !== null) this.at = b.writeInt32LE(m.partition, this.at)
    if (m.timestamp !== null) this.at = b.writeDoubleLE(m.timestamp, this.at)
    if (m.key !== null) this.bytes32(m.key, keyBytes)
    if (m.value !== null) this.bytes32(m.value, valueBytes)
    if ((flags & HEADERS) !== 0) {
      const headers = m.headers!
      this.at = this.buf.writeUInt16LE(headers.length, this.at)
      for (const h of headers) {
        for (const name in h) {
          const v = h[name] as string | Buffer
          const nameBytes = Buffer.byteLength(name)
          const valueLength = typeof v === "string" ? Buffer.byteLength(v) : v.length
          this.reserve(2 + nameBytes + 1 + 4 + valueLength)
          this.string16(name, nameBytes)
          this.buf[this.at++] = typeof v === "string" ? 1 : 0
          this.bytes32(v, valueLength)
        }
      }
    }
    this.count++
  }

  /** The encoded messages (a copy sized to fit); the writer is empty again. */
  take(): Uint8Array {
    const out = new Uint8Array(this.at)
    out.set(this.buf.subarray(0, this.at))
    this.at = 0
    this.count = 0
    return out
  }

  private reserve(n: number): void {
    if (this.at + n <= this.buf.length) return
    let size = this.buf.length * 2
    while (size < this.at + n) size *= 2
    const next = Buffer.allocUnsafe(size)
    this.buf.copy(next, 0, 0, this.at)
    this.buf = next
  }

  private string16(s: string, bytes: number): void {
    if (bytes > 0xffff) throw new RangeError(`a topic or header name of ${bytes} bytes is longer than Kafka allows`)
    this.at = this.buf.writeUInt16LE(bytes, this.at)
    this.at += this.buf.write(s, this.at, "utf8")
  }

  private bytes32(v: string | Buffer, bytes: number): void {
    this.at = this.buf.writeUInt32LE(bytes, this.at)
    if (typeof v === "string") this.at += this.buf.write(v, this.at, "utf8")
    else {
      v.copy(this.buf, this.at)
      this.at += bytes
    }
  }
}

/** The messages of an outbox, in the order they were added. */
export const decodeOutbox = (data: Uint8Array): Array<OutboxMessage> => {
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength)
  const out: Array<OutboxMessage> = []
  let at = 0
  const string16 = (): string => {
    const n = b.readUInt16LE(at)
    at += 2
    const s = b.toString("utf8", at, at + n)
    at += n
    return s
  }
  const bytes32 = (): Buffer => {
    const n = b.readUInt32LE(at)
    at += 4
    // A copy: the producer may keep it after the outbox buffer is gone.
    const v = Buffer.from(b.subarray(at, at + n))
    at += n
    return v
  }
  while (at < b.length) {
    const flags = b[at++]!
    const topic = string16()
    let partition: number | null = null
    let timestamp: number | null = null
    if ((flags & PARTITION) !== 0) {
      partition = b.readInt32LE(at)
      at += 4
    }
    if ((flags & TIMESTAMP) !== 0) {
      timestamp = b.readDoubleLE(at)
      at += 8
    }
    let key: Buffer | string | null = null
    if ((flags & KEY) !== 0) {
      const k = bytes32()
      key = (flags & KEY_STRING) !== 0 ? k.toString("utf8") : k
    }
    const value = (flags & VALUE) !== 0 ? bytes32() : null
    let headers: Array<MessageHeader> | undefined
    if ((flags & HEADERS) !== 0) {
      const n = b.readUInt16LE(at)
      at += 2
      headers = []
      for (let i = 0; i < n; i++) {
        const name = string16()
        const isString = b[at++] === 1
        const v = bytes32()
        headers.push({ [name]: isString ? v.toString("utf8") : v })
      }
    }
    out.push({ topic, partition, value, key, timestamp, headers })
  }
  return out
}
