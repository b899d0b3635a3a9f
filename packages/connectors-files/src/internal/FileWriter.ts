/**
 * One output file as a sink partition: cut back to the snapshotted length
 * when opened, then each batch appended in one write and fsynced, so the file
 * never holds more than the snapshots account for after a resume.
 */
import type { StatefulSinkPartition } from "@weir/core"
import * as fs from "node:fs"
import type { FileHandle } from "node:fs/promises"
import * as fsp from "node:fs/promises"
import * as path from "node:path"
import { FileConnectorError } from "../FileConnectorError.js"
import { fileError } from "./paths.js"

/** How a file sink writes; set from the sink's options. */
export interface WriterSettings {
  /** Written after every value. */
  readonly end: string
  /** fsync after every batch. */
  readonly fsync: boolean
  /**
   * `false`: refuse a symbolic link in place of the file (`O_NOFOLLOW`), so
   * the truncation at open — to 0 on a fresh run, to the snapshot on resume —
   * can't reach a file elsewhere. `DirSink` sets it; `FileSink` follows the
   * path its caller named.
   */
  readonly followSymlinks: boolean
}

const { O_APPEND, O_CREAT, O_WRONLY } = fs.constants
/** `"a"`, as flags. */
const APPEND = O_WRONLY | O_CREAT | O_APPEND
/** `"a"` without following a symbolic link as the last component (no such flag on Windows). */
const APPEND_NOFOLLOW = APPEND | (fs.constants.O_NOFOLLOW ?? 0)

const codeOf = (e: unknown): unknown => (typeof e === "object" && e !== null ? (e as { code?: unknown }).code : undefined)

export class FileWriter implements StatefulSinkPartition<string, number> {
  private constructor(
    private readonly fh: FileHandle,
    readonly path: string,
    private offset: number,
    private readonly settings: WriterSettings
  ) {}

  /**
   * Opens `file` for appending (creating it) and truncates it to `offset`:
   * 0 for a fresh run, the snapshot on resume — what was written after the
   * snapshot goes. Refuses a missing directory, a directory as the file, a
   * file shorter than its snapshot (changed outside the flow), and, unless
   * `settings.followSymlinks`, a symbolic link as the file. The truncation
   * is on the open handle, so it affects exactly the file that was opened.
   */
  static async open(stepId: string, file: string, offset: number, settings: WriterSettings): Promise<FileWriter> {
    let fh: FileHandle
    try {
      fh = await fsp.open(file, settings.followSymlinks ? APPEND : APPEND_NOFOLLOW)
    } catch (e) {
      const code = codeOf(e)
      if (code === "ELOOP" && !settings.followSymlinks) {
        throw new FileConnectorError({
          message: `step '${stepId}' found a symbolic link at \`${file}\`, where its part file should be; ` +
            "the sink does not write through a symbolic link there (it could empty a file outside its directory): " +
            "remove the link, or write to a directory nobody else can write to",
          path: file,
          cause: e
        })
      }
      if (code === "ENOENT") {
        const dir = path.dirname(file)
        throw new FileConnectorError({ message: `output directory \`${dir}\` does not exist; create it first`, path: dir, cause: e })
      }
      if (code === "EISDIR") {
        throw new FileConnectorError({ message: `output file \`${file}\` is a directory`, path: file, cause: e })
      }
      throw fileError("open output file", file, e)
    }
    try {
      const { size } = await fh.stat()
      if (size < offset) {
        throw new FileConnectorError({
          message: `output file \`${file}\` has ${size} bytes, fewer than the ${offset} its snapshot recorded: ` +
            "it was truncated or replaced outside the flow, so resuming would leave a gap",
          path: file
        })
      }
      if (size > offset) await fh.truncate(offset)
    } catch (e) {
      await fh.close()
      throw e instanceof FileConnectorError ? e : fileError("truncate output file", file, e)
    }
    return new FileWriter(fh, file, offset, settings)
  }

  /** Appends every value followed by `end` in one write, then fsyncs. */
  async writeBatch(values: Array<string>): Promise<void> {
    if (values.length === 0) return
    const end = this.settings.end
    let text = ""
    for (let i = 0; i < values.length; i++) {
      const v = values[i]
      if (typeof v !== "string") {
        throw new TypeError(
          `file sinks write strings, and the value of item ${i} of this batch for \`${this.path}\` is a ` +
            `\`${v === null ? "null" : typeof v}\`; map values to strings first`
        )
      }
      text += v
      text += end
    }
    const bytes = Buffer.from(text, "utf8")
    try {
      let written = 0
      while (written < bytes.length) {
        written += (await this.fh.write(bytes, written, bytes.length - written)).bytesWritten
      }
      if (this.settings.fsync) await this.fh.sync()
    } catch (e) {
      throw fileError("write output file", this.path, e)
    }
    this.offset += bytes.length
  }

  /** The file's length: everything written so far. */
  snapshot(): number {
    return this.offset
  }

  close(): Promise<void> {
    return this.fh.close()
  }
}
