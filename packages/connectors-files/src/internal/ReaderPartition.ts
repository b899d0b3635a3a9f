/**
 * A source partition over a reader that decodes a file in chunks.
 *
 * Batches are only ever handed over synchronously, taken from what is
 * already decoded; when more must be read, `nextBatch` returns a Promise of
 * an empty batch that settles once it has been, and asks (through
 * `nextAwake`) to be polled again right away. This keeps `snapshot()` exact:
 * the offset moves only when the runtime receives the items, never while a
 * batch sits in a settled Promise the runtime has not picked up yet (an epoch
 * may close, and be committed, in between). The next chunk is read ahead
 * while the current batch flows downstream, so the empty round trip is rare.
 */
import { EOF, type StatefulSourcePartition } from "@weir/core"
import type { FileConnectorError } from "../FileConnectorError.js"
import { OffsetQueue } from "./OffsetQueue.js"
import type { ReadProgress } from "./progress.js"

/** What {@link ReaderPartition} needs of a reader. */
export interface ChunkReader<X> {
  /** Decoded items and the offset after the last one taken. */
  readonly queue: OffsetQueue<X>
  /** Every item of the file is in the queue. */
  readonly eof: boolean
  /** Reads and decodes one more chunk (or waits for the read under way); never rejects. */
  fill(): Promise<void>
  /** Throws the error of a failed read or parse, if there was one. */
  throwIfFailed(): void
  close(): Promise<void>
}

/**
 * What the chunk readers share: the queue, the file offset of the next read,
 * and `fill`, which runs one `readChunk` at a time (a second call while one
 * is under way waits for it) and none once the file is read or a read failed.
 */
export abstract class ChunkReaderBase<X> implements ChunkReader<X> {
  readonly queue: OffsetQueue<X>
  /** The file offset of the next read. */
  protected readAt: number
  /** The read under way, if any. */
  protected reading: Promise<void> | undefined = undefined
  /** The error of a failed read or parse; no more reads once it is set. */
  protected failure: FileConnectorError | undefined = undefined
  eof = false

  constructor(start: number) {
    this.queue = new OffsetQueue<X>(start)
    this.readAt = start
  }

  fill(): Promise<void> {
    if (this.reading !== undefined) return this.reading
    if (this.eof || this.failure !== undefined) return Promise.resolve()
    const reading = this.readChunk().finally(() => {
      this.reading = undefined
    })
    this.reading = reading
    return reading
  }

  /** Reads and decodes the chunk at `readAt`; sets `eof` at the end of the file and `failure` instead of rejecting. */
  protected abstract readChunk(): Promise<void>
  abstract throwIfFailed(): void
  abstract close(): Promise<void>
}

/**
 * A batch never waits for more than this much data: with very long lines or
 * records, a batch holds fewer than `batchSize` items rather than gigabytes.
 */
export const MAX_BATCH_BYTES = 8 << 20

const NO_BATCH: Array<never> = []
/** A time in the past: "poll again at once", also after an empty batch. */
const RIGHT_AWAY = new Date(0)

export class ReaderPartition<X> implements StatefulSourcePartition<X, number> {
  /** Reports the offset after each batch (the bytes-read gauge). */
  private progress: ReadProgress | undefined = undefined

  constructor(
    private readonly reader: ChunkReader<X>,
    private readonly batchSize: number
  ) {}

  /** Report progress to `progress` from now on. */
  track(progress: ReadProgress): this {
    this.progress = progress
    progress.at(this.reader.queue.offset)
    return this
  }

  private enough(): boolean {
    const q = this.reader.queue
    const ready = q.ready
    return ready >= this.batchSize || (ready > 0 && (this.reader.eof || q.readyBytes >= MAX_BATCH_BYTES))
  }

  nextBatch(): Array<X> | EOF | Promise<Array<X>> {
    this.reader.throwIfFailed()
    if (this.enough()) {
      const batch = this.reader.queue.take(this.batchSize)
      this.progress?.at(this.reader.queue.offset)
      // Read ahead while this batch is processed, when the next one will need it.
      if (!this.enough() && !this.reader.eof) void this.reader.fill()
      return batch
    }
    if (this.reader.eof) return EOF
    return this.read()
  }

  /** Reads until a batch is ready (or the end); the batch itself is taken by the next `nextBatch`. */
  private async read(): Promise<Array<X>> {
    const r = this.reader
    while (!this.enough() && !r.eof) {
      await r.fill()
      r.throwIfFailed()
    }
    return NO_BATCH
  }

  nextAwake(): Date {
    return RIGHT_AWAY
  }

  snapshot(): number {
    return this.reader.queue.offset
  }

  close(): Promise<void> {
    return this.reader.close()
  }
}
