/**
 * What the sources and sinks share about paths: filesystem ids, partition
 * keys, option checks, and turning operating-system errors into messages that
 * name the path.
 */
import * as fs from "node:fs"
import type { FileHandle } from "node:fs/promises"
import * as fsp from "node:fs/promises"
import { FileConnectorError } from "../FileConnectorError.js"

/**
 * The default filesystem id of a directory: its device number in hex, written
 * like Python's `hex()` (`"0x803"`), as Bytewax does.
 */
export const defaultFsId = (dir: string): string => `0x${fs.statSync(dir).dev.toString(16)}`

/** Calls `getFsId` and checks that the id can be part of a partition key. */
export const fsIdOf = (getFsId: ((dir: string) => string) | undefined, dir: string): string => {
  const id = (getFsId ?? defaultFsId)(dir)
  if (typeof id !== "string") throw new TypeError(`getFsId must return a string; got ${typeof id}`)
  if (id.includes("::")) throw new TypeError(`filesystem id \`${id}\` can't contain "::" (it separates the id from the path in partition keys)`)
  return id
}

/** `"<fsId>::<path>"`. */
export const partitionKey = (fsId: string, p: string): string => `${fsId}::${p}`

/** The path part of a partition key: everything after the first `::` (ids never contain one). */
export const pathOfKey = (key: string): string => {
  const at = key.indexOf("::")
  if (at < 0) throw new TypeError(`partition key \`${key}\` is not of the form "<fsId>::<path>"`)
  return key.slice(at + 2)
}

/** Checks a `batchSize` option (default 1000). */
export const batchSizeOf = (n: number | undefined): number => {
  const size = n ?? 1000
  if (!Number.isSafeInteger(size) || size < 1) throw new TypeError(`batchSize must be a positive integer; got ${String(n)}`)
  return size
}

const codeOf = (e: unknown): string | undefined =>
  typeof e === "object" && e !== null && typeof (e as { code?: unknown }).code === "string"
    ? (e as { code: string }).code
    : undefined

/**
 * A clear error for a failed file operation: `doing` says what was tried
 * ("open input file"), and the common error codes get plain words.
 */
export const fileError = (doing: string, p: string, cause: unknown): FileConnectorError => {
  const code = codeOf(cause)
  const why = code === "ENOENT"
    ? "it does not exist"
    : code === "EACCES" || code === "EPERM"
    ? "permission denied"
    : code === "EISDIR"
    ? "it is a directory"
    : code === "ENOTDIR"
    ? "a part of the path is not a directory"
    : cause instanceof Error
    ? cause.message
    : String(cause)
  return new FileConnectorError({ message: `can't ${doing} \`${p}\`: ${why}`, path: p, cause })
}

/**
 * Refuses anything but a regular file that exists (symbolic links are
 * followed), with the reasons a source gives.
 */
export const checkInputFile = (p: string): void => {
  let stat: fs.Stats
  try {
    stat = fs.statSync(p)
  } catch (e) {
    if (codeOf(e) === "ENOENT") {
      throw new FileConnectorError({ message: `input file \`${p}\` does not exist`, path: p, cause: e })
    }
    throw fileError("read input file", p, e)
  }
  if (stat.isDirectory()) {
    throw new FileConnectorError({
      message: `input file \`${p}\` is a directory; use \`DirSource\` to read the files in a directory`,
      path: p
    })
  }
}

/** Refuses a missing directory or a path that is not one (Bytewax's messages for `DirSource`). */
export const checkDirectory = (p: string, role: "input" | "output"): void => {
  let stat: fs.Stats
  try {
    stat = fs.statSync(p)
  } catch (e) {
    if (codeOf(e) === "ENOENT") {
      throw new FileConnectorError({ message: `${role} directory \`${p}\` does not exist`, path: p, cause: e })
    }
    throw fileError(`use ${role} directory`, p, e)
  }
  if (!stat.isDirectory()) throw new FileConnectorError({ message: `${role} directory \`${p}\` is not a directory`, path: p })
}

/** Checks a byte offset loaded from a snapshot (`undefined`: start at 0). */
export const resumeOffsetOf = (resume: unknown, p: string): number => {
  if (resume === undefined) return 0
  if (typeof resume !== "number" || !Number.isSafeInteger(resume) || resume < 0) {
    throw new FileConnectorError({
      message: `the snapshot of \`${p}\` should be a byte offset; got ${typeof resume === "number" ? resume : typeof resume}`,
      path: p
    })
  }
  return resume
}

/**
 * Opens an input file to read from byte `start`: refuses a missing file, a
 * directory, and a file shorter than `start` (truncated or replaced since
 * the snapshot being resumed from).
 */
export const openInput = async (p: string, start: number): Promise<FileHandle> => {
  let fh: FileHandle
  try {
    fh = await fsp.open(p, "r")
  } catch (e) {
    throw codeOf(e) === "ENOENT"
      ? new FileConnectorError({ message: `input file \`${p}\` does not exist (any more)`, path: p, cause: e })
      : fileError("open input file", p, e)
  }
  try {
    const stat = await fh.stat()
    if (stat.isDirectory()) throw new FileConnectorError({ message: `input file \`${p}\` is a directory`, path: p })
    if (stat.isFile() && stat.size < start) {
      throw new FileConnectorError({
        message: `input file \`${p}\` has ${stat.size} bytes, fewer than the ${start} read before the snapshot ` +
          "being resumed from: it was truncated or replaced since",
        path: p
      })
    }
  } catch (e) {
    await fh.close()
    throw e instanceof FileConnectorError ? e : fileError("read input file", p, e)
  }
  return fh
}
