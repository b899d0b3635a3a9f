/**
 * One output file.
 *
 * @since 0.1.0
 */
import { FixedPartitionedSink, type StatefulSinkPartition } from "@weir/core"
import { FileWriter } from "./internal/FileWriter.js"
import { resumeOffsetOf } from "./internal/paths.js"

/**
 * Options of {@link FileSink} (and {@link DirSink}).
 *
 * @since 0.1.0
 */
export interface FileSinkOptions {
  /** Written after every value; default `"\n"`. */
  readonly end?: string | undefined
  /**
   * fsync the file after every batch; default `true`. With `false`, output
   * stays exactly-once across crashes of the process (written data is in the
   * operating system's cache) but a crash of the machine may lose the last
   * batches after their snapshot was committed; in exchange, writing is much
   * faster on disks where fsync is slow.
   */
  readonly fsync?: boolean | undefined
}

/**
 * Writes the values of `[key, string]` items to one file, each followed by
 * `end` (default `"\n"`). Every batch is appended in one write, then fsynced.
 *
 * The file is the sink's only partition, named after its path (keys don't
 * matter). A fresh run empties the file at its first write; a resumed run cuts
 * it back to the length recorded in the snapshot it resumes from, dropping
 * what was written after it. So, for a batch job with a recovery store, the
 * file ends up holding every value exactly once. (Read it when the flow has
 * finished: while it runs, it may hold values a resume will remove.) The
 * directory must exist; a value that is not a string fails the run.
 *
 * @example
 * ```ts
 * import { Dataflow, op, runMain } from "@weir/core"
 * import { FileSink } from "@weir/connectors-files"
 * import { TestingSource } from "@weir/testing"
 *
 * const flow = new Dataflow("out")
 * op.input("inp", flow, new TestingSource(["a", "b"]))
 *   .then(op.map, "keyed", (s: string) => ["", s] as const)
 *   .then(op.output, "out", new FileSink("out.txt"))   // out.txt: "a\nb\n"
 * await runMain(flow)
 * ```
 * @since 0.1.0
 */
export class FileSink extends FixedPartitionedSink<string, number> {
  /** Written after every value. */
  readonly end: string
  /** Whether every batch is fsynced. */
  readonly fsync: boolean

  constructor(
    /** The file to write. */
    readonly path: string,
    options: FileSinkOptions = {}
  ) {
    super()
    this.end = options.end ?? "\n"
    this.fsync = options.fsync ?? true
  }

  /** The one partition, named after the path. */
  listParts(): ReadonlyArray<string> {
    return [this.path]
  }

  /** Every item goes to the one file. */
  override partFn(_itemKey: string): number {
    return 0
  }

  /** Opens the file and truncates it to the snapshot (0 on a fresh run). */
  buildPart(stepId: string, _forPart: string, resumeState: number | undefined): Promise<StatefulSinkPartition<string, number>> {
    const settings = { end: this.end, fsync: this.fsync, followSymlinks: true }
    return FileWriter.open(stepId, this.path, resumeOffsetOf(resumeState, this.path), settings)
  }
}
