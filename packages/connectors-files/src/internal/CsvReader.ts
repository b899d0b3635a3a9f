/**
 * CSV records of a file from a byte offset, parsed by `csv-parse` from
 * chunks read asynchronously. `csv-parse` reports, with each record, how many
 * bytes it has consumed up to the end of that record's delimiter: the file
 * offset after the record, which is where a resumed reader starts.
 */
import { type Options as CsvParseOptions, parse, type Parser } from "csv-parse"
import type { FileHandle } from "node:fs/promises"
import { finished } from "node:stream/promises"
import { FileConnectorError } from "../FileConnectorError.js"
import { fileError } from "./paths.js"
import { ChunkReaderBase } from "./ReaderPartition.js"

/** Bytes read per `read` call. */
const CHUNK_SIZE = 1 << 20

interface ParsedRecord<R> {
  readonly record: R
  readonly info: { readonly bytes: number }
}

export class CsvReader<R> extends ChunkReaderBase<R> {
  private readonly parser: Parser

  constructor(
    private readonly fh: FileHandle,
    readonly path: string,
    start: number,
    options: CsvParseOptions
  ) {
    super(start)
    const queue = this.queue
    this.parser = parse({ ...options, info: true })
    this.parser.on("data", (r: ParsedRecord<R>) => queue.push(r.record, start + r.info.bytes))
    this.parser.on("error", (e: unknown) => this.fail(e))
  }

  private fail(e: unknown): void {
    if (this.failure !== undefined) return
    this.failure = new FileConnectorError({
      message: `can't parse CSV file \`${this.path}\` after byte ${this.queue.ends.at(-1) ?? this.queue.offset}: ` +
        (e instanceof Error ? e.message : String(e)),
      path: this.path,
      cause: e
    })
  }

  throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure
  }

  protected async readChunk(): Promise<void> {
    // A fresh buffer per chunk: the parser keeps slices of an unfinished record.
    const buffer = Buffer.allocUnsafe(CHUNK_SIZE)
    let n: number
    try {
      n = (await this.fh.read(buffer, 0, CHUNK_SIZE, this.readAt)).bytesRead
    } catch (e) {
      this.failure = fileError("read CSV file", this.path, e)
      return
    }
    this.queue.compact()
    if (n === 0) {
      this.parser.end()
      try {
        await finished(this.parser)
      } catch (e) {
        this.fail(e)
        return
      }
      this.eof = true
      return
    }
    this.readAt += n
    await new Promise<void>((resolve) => this.parser.write(buffer.subarray(0, n), () => resolve()))
  }

  /** Stops parsing; the file stays open (its owner closes it). */
  stop(): void {
    this.parser.destroy()
  }

  async close(): Promise<void> {
    await this.reading
    this.parser.destroy()
    await this.fh.close()
  }
}
