/**
 * Lines of one text file.
 *
 * @since 0.1.0
 */
import { FixedPartitionedSource, type StatefulSourcePartition } from "@weir/core"
import * as path from "node:path"
import { FileConnectorError } from "./FileConnectorError.js"
import { openLinePartition } from "./internal/LineReader.js"
import { ReadProgress, sizeOf } from "./internal/progress.js"
import { batchSizeOf, checkInputFile, fsIdOf, partitionKey, pathOfKey, resumeOffsetOf } from "./internal/paths.js"

/**
 * Options of {@link FileSource}.
 *
 * @since 0.1.0
 */
export interface FileSourceOptions {
  /** Lines per batch; default 1000. Batches are smaller at the end of the file and when lines are megabytes long. */
  readonly batchSize?: number | undefined
  /**
   * Names the filesystem a directory is on, so that a file several workers
   * can see is read once per filesystem. Called with the directory holding
   * the file. Default: the directory's device number in hex (`"0x803"`). Use
   * `() => "SHARED"` when every worker sees the same files (a network
   * filesystem). Must not contain `"::"`.
   */
  readonly getFsId?: ((dir: string) => string) | undefined
}

/**
 * Reads a text file line by line. Each line comes without its `\n` (and
 * without the `\r` of a `\r\n`); blank lines come as `""`; a last line
 * without a newline still comes. Text is UTF-8.
 *
 * One partition, keyed `"<fsId>::<path>"`. Its snapshot is the byte offset
 * after the last line emitted, so a resumed run continues with the next line:
 * with a recovery store, every line is read exactly once, and a re-run after
 * the end reads only lines appended since ("continuation").
 *
 * Reading is asynchronous, in 1 MiB chunks; the next chunk is read while the
 * current batch flows on. A missing file, a directory, or a file shorter than
 * the offset being resumed from fails the run with an error naming the step
 * and the path.
 *
 * @example
 * ```ts
 * import { Dataflow, op, runMain } from "@weir/core"
 * import { FileSink, FileSource } from "@weir/connectors-files"
 *
 * const flow = new Dataflow("shout")
 * op.input("lines", flow, new FileSource("in.txt"))
 *   .then(op.map, "upper", (line: string) => ["", line.toUpperCase()] as const)
 *   .then(op.output, "out", new FileSink("out.txt"))
 * await runMain(flow)
 * ```
 * @since 0.1.0
 */
export class FileSource extends FixedPartitionedSource<string, number> {
  /** Lines per batch. */
  readonly batchSize: number
  private readonly getFsId: ((dir: string) => string) | undefined

  constructor(
    /** The file to read. */
    readonly path: string,
    options: FileSourceOptions = {}
  ) {
    super()
    this.batchSize = batchSizeOf(options.batchSize)
    this.getFsId = options.getFsId
  }

  /** The one partition, `"<fsId>::<path>"`; fails when the file does not exist or is a directory. */
  listParts(): ReadonlyArray<string> {
    checkInputFile(this.path)
    return [partitionKey(fsIdOf(this.getFsId, path.dirname(path.resolve(this.path))), this.path)]
  }

  /** Opens the file at the resume offset (the start when there is none). */
  async buildPart(stepId: string, forPart: string, resumeState: number | undefined): Promise<StatefulSourcePartition<string, number>> {
    const p = pathOfKey(forPart)
    if (p !== this.path) {
      throw new FileConnectorError({
        message: `partition \`${forPart}\` belongs to another file than this FileSource's \`${this.path}\`; ` +
          "a resumed flow must read the same path",
        path: this.path
      })
    }
    const part = await openLinePartition(this.path, resumeOffsetOf(resumeState, this.path), this.batchSize)
    return part.track(new ReadProgress(stepId, forPart, sizeOf(this.path)))
  }
}
