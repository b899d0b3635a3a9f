/**
 * Glob patterns over `/`-separated paths relative to a directory, with the
 * syntax of Python's `pathlib.Path.glob` (which Bytewax's `DirSource` uses):
 * `*` any run of characters within a name, `?` one character, `[abc]`,
 * `[a-z]` and `[!abc]` one character of (or not of) a set, and `**` as a whole
 * segment for any number of directories, none included. Names starting with a
 * dot match like any other. (Node's `path.matchesGlob` is experimental on
 * Node 20, warns when used, and skips dot files.)
 */
import * as fs from "node:fs"
import * as path from "node:path"

const escape = (c: string): string => c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")

/** One path segment's pattern as a regular expression source. */
const segmentSource = (seg: string): string => {
  let re = ""
  for (let i = 0; i < seg.length; i++) {
    const c = seg[i]!
    if (c === "*") {
      re += "[^/]*"
    } else if (c === "?") {
      re += "[^/]"
    } else if (c === "[") {
      // A set ends at the first `]` after its first character (so `[]]` is the set of `]`).
      let j = i + 1
      if (seg[j] === "!") j++
      if (seg[j] === "]") j++
      const close = seg.indexOf("]", j)
      if (close < 0) {
        re += "\\["
        continue
      }
      let body = seg.slice(i + 1, close)
      const negate = body.startsWith("!")
      if (negate) body = body.slice(1)
      re += `[${negate ? "^/" : ""}${body.replace(/[\\\]^]/g, "\\$&")}]`
      i = close
    } else {
      re += escape(c)
    }
  }
  return re
}

/** A compiled glob: `test` a relative `/`-separated path; `maxDepth` how many segments a match can have. */
export interface Glob {
  readonly regexp: RegExp
  readonly maxDepth: number
}

/** Compiles a glob pattern (see the module comment for the syntax). */
export const compileGlob = (pattern: string): Glob => {
  if (pattern === "") throw new TypeError("glob must not be empty")
  if (pattern.startsWith("/")) throw new TypeError(`glob \`${pattern}\` must be relative to the directory`)
  const segs = pattern.split("/").filter((s, i, all) => s !== "" || i === all.length - 1)
  let re = ""
  let recursive = false
  for (let i = 0; i < segs.length; i++) {
    const last = i === segs.length - 1
    if (segs[i] === "**") {
      recursive = true
      re += last ? ".*" : "(?:[^/]+/)*"
    } else {
      re += segmentSource(segs[i]!) + (last ? "" : "/")
    }
  }
  return { regexp: new RegExp(`^${re}$`), maxDepth: recursive ? Infinity : segs.length }
}

/**
 * The regular files under `dir` (symbolic links to files included; linked
 * directories are not entered) whose relative path matches, sorted.
 */
export const matchFiles = (dir: string, glob: Glob): Array<string> => {
  const out: Array<string> = []
  const visit = (rel: string, depth: number): void => {
    for (const entry of fs.readdirSync(rel === "" ? dir : path.join(dir, rel), { withFileTypes: true })) {
      const r = rel === "" ? entry.name : `${rel}/${entry.name}`
      let isFile = entry.isFile()
      if (entry.isSymbolicLink()) {
        try {
          isFile = fs.statSync(path.join(dir, r)).isFile()
        } catch {
          isFile = false // a dangling link
        }
      }
      if (isFile) {
        if (glob.regexp.test(r)) out.push(r)
      } else if (entry.isDirectory() && depth < glob.maxDepth) {
        visit(r, depth + 1)
      }
    }
  }
  visit("", 1)
  return out.sort()
}
