/**
 * Lines of every matching file in a directory, one partition per file.
 *
 * @since 0.1.0
 */
import { FixedPartitionedSource, type StatefulSourcePartition } from "@weir/core"
import * as path from "node:path"
import type { FileSourceOptions } from "./FileSource.js"
import { compileGlob, type Glob, matchFiles } from "./internal/glob.js"
import { openLinePartition } from "./internal/LineReader.js"
import { ReadProgress, sizeOf } from "./internal/progress.js"
import { batchSizeOf, checkDirectory, fsIdOf, partitionKey, pathOfKey, resumeOffsetOf } from "./internal/paths.js"

/**
 * Options of {@link DirSource}.
 *
 * @since 0.1.0
 */
export interface DirSourceOptions extends FileSourceOptions {
  /**
   * Which files to read, as a path pattern relative to the directory; default
   * `"*"` (every file directly in it). `*` matches within a name, `?` one
   * character, `[a-z]`/`[!a-z]` one character of a set, and a `**` segment any
   * number of directories: `"**\/*.log"` is every `.log` file at any depth.
   * Only regular files match (and symbolic links to them).
   */
  readonly glob?: string | undefined
}

/**
 * Reads every file in a directory that matches `glob`, line by line, with
 * {@link FileSource}'s line rules. Each file is a partition, keyed
 * `"<fsId>::<path relative to the directory>"`: files are the unit of
 * parallelism, spread over the workers, and their lines interleave. Each file
 * resumes from its own byte offset, so with a recovery store every line is
 * read exactly once. The files are listed when the run starts.
 *
 * Construction fails when the directory does not exist or is not a
 * directory (`input directory \`p\` does not exist` / `... is not a directory`).
 *
 * @example
 * ```ts
 * import { Dataflow, op, runMain, StdOutSink } from "@weir/core"
 * import { DirSource } from "@weir/connectors-files"
 *
 * const flow = new Dataflow("logs")
 * op.input("lines", flow, new DirSource("logs", { glob: "**\/*.log" }))
 *   .then(op.output, "print", new StdOutSink())
 * await runMain(flow)
 * ```
 * @since 0.1.0
 */
export class DirSource extends FixedPartitionedSource<string, number> {
  /** Lines per batch. */
  readonly batchSize: number
  /** The file pattern, relative to the directory. */
  readonly glob: string
  private readonly compiled: Glob
  private readonly getFsId: ((dir: string) => string) | undefined

  constructor(
    /** The directory to read. */
    readonly dir: string,
    options: DirSourceOptions = {}
  ) {
    super()
    checkDirectory(dir, "input")
    this.batchSize = batchSizeOf(options.batchSize)
    this.glob = options.glob ?? "*"
    this.compiled = compileGlob(this.glob)
    this.getFsId = options.getFsId
  }

  /** One partition per matching file, in path order. */
  listParts(): ReadonlyArray<string> {
    checkDirectory(this.dir, "input")
    const fsId = fsIdOf(this.getFsId, path.resolve(this.dir))
    return matchFiles(this.dir, this.compiled).map((rel) => partitionKey(fsId, rel))
  }

  /** Opens one file at its resume offset (the start when there is none). */
  async buildPart(stepId: string, forPart: string, resumeState: number | undefined): Promise<StatefulSourcePartition<string, number>> {
    const file = path.join(this.dir, pathOfKey(forPart))
    const part = await openLinePartition(file, resumeOffsetOf(resumeState, file), this.batchSize)
    return part.track(new ReadProgress(stepId, forPart, sizeOf(file)))
  }
}
