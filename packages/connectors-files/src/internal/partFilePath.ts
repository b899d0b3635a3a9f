/**
 * Where a `DirSink` part file goes: its name resolved against the sink's
 * directory, refused unless it stays inside. A name comes from the user's
 * `fileNamer`, so `../x`, an absolute path, or a name whose parent directory
 * is a symbolic link leading elsewhere would otherwise write (and, at the
 * first write, empty) a file anywhere. The final component is not resolved
 * here: the writer opens it without following a symbolic link.
 *
 * Runs once per partition open (two `realpath` calls), never per write.
 */
import * as fsp from "node:fs/promises"
import * as path from "node:path"
import { FileConnectorError } from "../FileConnectorError.js"
import { fileError } from "./paths.js"

/** What names a refused file: the step, and the partition with its index among the sink's files. */
export interface PartFileContext {
  readonly stepId: string
  /** The partition name, which is the file name. */
  readonly name: string
  /** Its index among the sink's file names (`fileNamer(index, count)`), or -1 when it is not one of them. */
  readonly index: number
  readonly count: number
}

const codeOf = (e: unknown): unknown => (typeof e === "object" && e !== null ? (e as { code?: unknown }).code : undefined)

/** `true` when `child` (absolute, normalized) is `parent` or below it. */
const isWithin = (parent: string, child: string): boolean => {
  const rel = path.relative(parent, child)
  return rel === "" || (rel !== ".." && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel))
}

const refuse = (ctx: PartFileContext, dir: string, p: string, why: string): FileConnectorError => {
  const origin = ctx.index >= 0 ? `from fileNamer(${ctx.index}, ${ctx.count})` : "not one of the sink's file names"
  return new FileConnectorError({
    message: `DirSink of step '${ctx.stepId}' refuses the file name \`${ctx.name}\` of partition '${ctx.name}' ` +
      `(${origin}): ${why}; a file name must be a relative path that stays inside the output directory ` +
      `\`${dir}\` (such as \`part_${Math.max(ctx.index, 0)}\`): change fileNamer`,
    path: p
  })
}

/**
 * The path of part file `ctx.name` in `dir`, after checking that it stays
 * inside `dir`: refuses an empty name, a NUL character, an absolute path, a
 * name that leaves `dir` through `..` or names `dir` itself, and a name whose
 * parent directory resolves (through symbolic links) outside `dir`. Subdirectories
 * must exist, as `dir` must.
 */
export const partFilePath = async (dir: string, ctx: PartFileContext): Promise<string> => {
  const name = ctx.name
  if (typeof name !== "string" || name === "") throw refuse(ctx, dir, dir, "it is empty")
  if (name.includes("\0")) throw refuse(ctx, dir, dir, "it contains a NUL character")
  if (path.isAbsolute(name)) throw refuse(ctx, dir, name, "it is an absolute path")
  const file = path.join(dir, name)
  const absDir = path.resolve(dir)
  const absFile = path.resolve(file)
  if (absFile === absDir) throw refuse(ctx, dir, file, "it names the output directory itself")
  if (!isWithin(absDir, absFile)) throw refuse(ctx, dir, file, `it resolves to \`${absFile}\`, outside the output directory`)

  const parent = path.dirname(absFile)
  let realDir: string
  let realParent: string
  try {
    realDir = await fsp.realpath(absDir)
    realParent = parent === absDir ? realDir : await fsp.realpath(parent)
  } catch (e) {
    if (codeOf(e) === "ENOENT") {
      const missing = path.dirname(file)
      throw new FileConnectorError({ message: `output directory \`${missing}\` does not exist; create it first`, path: missing, cause: e })
    }
    throw fileError("use output directory", path.dirname(file), e)
  }
  if (!isWithin(realDir, realParent)) {
    throw refuse(
      ctx,
      dir,
      file,
      `its directory \`${path.dirname(file)}\` leads through a symbolic link to \`${realParent}\`, outside the output directory`
    )
  }
  return file
}
