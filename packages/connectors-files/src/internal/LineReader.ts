/**
 * Lines of a file from a byte offset, read asynchronously in chunks into
 * shared, reused buffers (ReadBuffers.ts), with the byte offset after every
 * line so a reader can resume exactly where it stopped.
 *
 * Splitting works on bytes: 0x0A never occurs inside a multi-byte UTF-8
 * sequence, so cutting at it never splits a character, wherever the chunk
 * boundaries fall. Each chunk's complete lines are decoded at once; when the
 * decoded text is as long as the bytes (pure ASCII, the common case) string
 * positions are byte positions and lines are cheap slices of it.
 */
import type { FileHandle } from "node:fs/promises"
import { fileError, openInput } from "./paths.js"
import { buffersOf } from "./ReadBuffers.js"
import { ChunkReaderBase, ReaderPartition } from "./ReaderPartition.js"

const NL = 0x0a
const CR = 0x0d

/** Bytes read per `read` call. */
export const CHUNK_SIZE = 1 << 20

/** A line without its `\n`, and without the `\r` of a `\r\n`. */
const decodeLine = (buf: Buffer, start: number, end: number): string =>
  buf.toString("utf8", start, end > start && buf[end - 1] === CR ? end - 1 : end)

export class LineReader extends ChunkReaderBase<string> {
  /** Copies of the bytes of the unfinished line at the end of what was read. */
  private partial: Array<Buffer> = []
  private partialLength = 0
  private readonly buffers: ReturnType<typeof buffersOf>

  private constructor(
    private readonly fh: FileHandle,
    readonly path: string,
    start: number,
    chunkSize: number
  ) {
    super(start)
    this.buffers = buffersOf(chunkSize)
  }

  /** Opens `path` for reading lines from byte `start`; refuses directories and files shorter than `start`. */
  static async open(path: string, start: number, chunkSize = CHUNK_SIZE): Promise<LineReader> {
    return new LineReader(await openInput(path, start), path, start, chunkSize)
  }

  throwIfFailed(): void {
    const f = this.failure
    if (f !== undefined) {
      this.failure = undefined
      throw f
    }
  }

  protected async readChunk(): Promise<void> {
    const buffer = await this.buffers.acquire()
    try {
      let n: number
      try {
        n = (await this.fh.read(buffer, 0, buffer.length, this.readAt)).bytesRead
      } catch (e) {
        this.failure = fileError("read input file", this.path, e)
        return
      }
      this.decode(buffer, n)
    } finally {
      this.buffers.release(buffer)
    }
  }

  /** Queues the lines of the `n` bytes just read into `buffer`; at the end of the file, the last line. */
  private decode(buffer: Buffer, n: number): void {
    if (n === 0) {
      this.eof = true
      // A last line without a newline still counts.
      if (this.partialLength > 0) {
        const bytes = Buffer.concat(this.partial, this.partialLength)
        this.partial = []
        this.partialLength = 0
        this.queue.push(decodeLine(bytes, 0, bytes.length), this.readAt)
      }
      return
    }
    const at = this.readAt
    this.readAt += n
    this.split(buffer.subarray(0, n), at)
  }

  /** Queues the complete lines of `data` (read at file offset `at`); keeps a copy of the unfinished rest. */
  private split(data: Buffer, at: number): void {
    const first = data.indexOf(NL)
    if (first < 0) {
      this.keep(data, 0)
      return
    }
    this.queue.compact()
    const lines = this.queue.items
    const ends = this.queue.ends
    if (this.partialLength > 0) {
      this.partial.push(data.subarray(0, first))
      const bytes = Buffer.concat(this.partial, this.partialLength + first)
      this.partial = []
      this.partialLength = 0
      lines.push(decodeLine(bytes, 0, bytes.length))
    } else {
      lines.push(decodeLine(data, 0, first))
    }
    ends.push(at + first + 1)
    let start = first + 1
    const last = data.lastIndexOf(NL)
    if (last >= start) {
      const text = data.toString("utf8", start, last + 1)
      if (text.length === last + 1 - start) {
        // Only ASCII: a position in `text` is a byte position.
        const base = at + start
        let s = 0
        for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", s)) {
          lines.push(text.slice(s, i > s && text.charCodeAt(i - 1) === CR ? i - 1 : i))
          ends.push(base + i + 1)
          s = i + 1
        }
      } else {
        let s = start
        while (s <= last) {
          const i = data.indexOf(NL, s)
          lines.push(decodeLine(data, s, i))
          ends.push(at + i + 1)
          s = i + 1
        }
      }
      start = last + 1
    }
    if (start < data.length) this.keep(data, start)
  }

  /** Copies the bytes from `start` on: they begin a line the next chunk finishes (the buffer is reused). */
  private keep(data: Buffer, start: number): void {
    this.partial.push(Buffer.from(data.subarray(start)))
    this.partialLength += data.length - start
  }

  /** Closes the file once any read under way has finished. */
  async close(): Promise<void> {
    await this.reading
    await this.fh.close()
  }
}

/** A source partition of the lines of `path` from byte `start`. */
export const openLinePartition = async (
  path: string,
  start: number,
  batchSize: number,
  chunkSize?: number
): Promise<ReaderPartition<string>> => new ReaderPartition(await LineReader.open(path, start, chunkSize), batchSize)
