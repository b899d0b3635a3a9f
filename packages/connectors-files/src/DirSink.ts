/**
 * A fixed number of output files in a directory, chosen by key.
 *
 * @since 0.1.0
 */
import { FixedPartitionedSink, stableHash, type StatefulSinkPartition } from "@weir/core"
import type { FileSinkOptions } from "./FileSink.js"
import { FileWriter } from "./internal/FileWriter.js"
import { partFilePath } from "./internal/partFilePath.js"
import { checkDirectory, resumeOffsetOf } from "./internal/paths.js"

/**
 * Options of {@link DirSink}.
 *
 * @since 0.1.0
 */
export interface DirSinkOptions extends FileSinkOptions {
  /**
   * The name of file `i` of `n`; default `` (i) => `part_${i}` ``. Names must
   * be distinct, and relative paths that stay inside the directory (a
   * subdirectory must exist): a name that leaves it — `..`, an absolute
   * path, a subdirectory that is a symbolic link to elsewhere — fails the run.
   */
  readonly fileNamer?: ((i: number, n: number) => string) | undefined
  /**
   * Which file a key goes to: an integer, taken modulo the file count, that
   * indexes the file names sorted in natural order (`part_2` before
   * `part_10`); with the default names, `i` is `part_${i}`. Must give the
   * same answer on every process. Default: a stable hash of the key.
   */
  readonly assignFile?: ((key: string) => number) | undefined
}

/**
 * Writes the values of `[key, string]` items to `fileCount` files in `dir`,
 * every item of a key to the same file (chosen by `assignFile`). Each file is
 * a partition with {@link FileSink}'s behaviour: one write and an fsync per
 * batch, emptied at its first write in a fresh run, cut back to its
 * snapshot on resume — exactly-once output for a batch job. Files nothing was
 * written to are not created.
 *
 * Unlike Bytewax, partition names are sorted naturally, so with more than
 * ten files `assignFile(key) === 10` means `part_10`, not `part_2`. The
 * directory must exist when the run starts (and be the same on every worker).
 * A sink writes only inside it: file names that lead out of it are refused,
 * and so is a symbolic link found where a part file should be.
 *
 * @example
 * ```ts
 * import { Dataflow, op, runMain } from "@weir/core"
 * import { DirSink } from "@weir/connectors-files"
 * import { TestingSource } from "@weir/testing"
 *
 * const flow = new Dataflow("split")
 * op.input("inp", flow, new TestingSource([["0", "zero"], ["1", "one"]] as const))
 *   .then(op.output, "out", new DirSink("out", 2, { assignFile: Number }))   // out/part_0: "zero\n", out/part_1: "one\n"
 * await runMain(flow)
 * ```
 * @since 0.1.0
 */
export class DirSink extends FixedPartitionedSink<string, number> {
  /** The file names, file `i` at index `i`. */
  readonly fileNames: ReadonlyArray<string>
  /** Written after every value. */
  readonly end: string
  /** Whether every batch is fsynced. */
  readonly fsync: boolean
  private readonly assignFile: (key: string) => number

  constructor(
    /** The directory to write in; it must exist. */
    readonly dir: string,
    /** How many files. */
    readonly fileCount: number,
    options: DirSinkOptions = {}
  ) {
    super()
    if (!Number.isSafeInteger(fileCount) || fileCount < 1) {
      throw new TypeError(`fileCount must be a positive integer; got ${String(fileCount)}`)
    }
    const namer = options.fileNamer ?? ((i: number) => `part_${i}`)
    const names: Array<string> = []
    for (let i = 0; i < fileCount; i++) {
      const name = namer(i, fileCount)
      if (typeof name !== "string" || name === "") throw new TypeError(`fileNamer(${i}, ${fileCount}) must return a non-empty string`)
      if (names.includes(name)) throw new TypeError(`fileNamer gives the name \`${name}\` to two files`)
      names.push(name)
    }
    this.fileNames = names
    this.assignFile = options.assignFile ?? stableHash
    this.end = options.end ?? "\n"
    this.fsync = options.fsync ?? true
  }

  /** The file names; fails when the directory does not exist. */
  listParts(): ReadonlyArray<string> {
    checkDirectory(this.dir, "output")
    return this.fileNames
  }

  /** `assignFile(key)`. */
  override partFn(itemKey: string): number {
    return this.assignFile(itemKey)
  }

  /**
   * Opens one file and truncates it to its snapshot (0 on a fresh run).
   * Refuses, before opening anything, a name that leaves the directory, and
   * a symbolic link in place of the file.
   */
  async buildPart(stepId: string, forPart: string, resumeState: number | undefined): Promise<StatefulSinkPartition<string, number>> {
    const context = { stepId, name: forPart, index: this.fileNames.indexOf(forPart), count: this.fileCount }
    const file = await partFilePath(this.dir, context)
    const settings = { end: this.end, fsync: this.fsync, followSymlinks: false }
    return FileWriter.open(stepId, file, resumeOffsetOf(resumeState, file), settings)
  }
}
