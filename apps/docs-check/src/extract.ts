/**
 * Finding the TypeScript code blocks of the documentation: ```ts fences of
 * Markdown files, and ```ts fences under an `@example` tag of TSDoc comments.
 *
 * @since 0.1.0
 */
import { readdirSync, readFileSync, statSync } from "node:fs"
import { join, relative } from "node:path"

/**
 * One code block of the documentation.
 *
 * @since 0.1.0
 */
export interface DocBlock {
  /** The file holding the block, relative to the repository root, with `/` separators. */
  readonly file: string
  /** The 1-based line of the block's first code line in `file`. */
  readonly line: number
  /** Where it was found: a Markdown fence, or a fence under `@example` in a TSDoc comment. */
  readonly kind: "markdown" | "tsdoc"
  /** The code, one entry per line, without the fence, indentation or comment stars. */
  readonly lines: ReadonlyArray<string>
  /** The fence's info string after the language (`nocheck` opts a block out). */
  readonly meta: string
  /** The workspace the documentation belongs to (`packages/core`, `apps/examples`), or `""` for the root README. */
  readonly workspace: string
}

/** Fence languages that are type-checked. */
const CHECKED_LANGUAGES = new Set(["ts", "typescript", "mts"])

/**
 * `true` when a block opts out of checking with `nocheck` in its info string
 * (```ts nocheck): reserved for code that is wrong on purpose.
 *
 * @example
 * ```ts
 * isOptedOut({ meta: "nocheck" }) // true
 * ```
 * @since 0.1.0
 */
export const isOptedOut = (block: Pick<DocBlock, "meta">): boolean => /(^|\s)nocheck(\s|$)/.test(block.meta)

interface Fence {
  readonly startLine: number
  readonly lang: string
  readonly meta: string
  readonly lines: Array<string>
}

const FENCE_OPEN = /^(\s*)(`{3,}|~{3,})\s*([^\s`]*)(.*)$/

/**
 * The fenced code blocks of Markdown text, given as lines (`lineOffset` is
 * the 0-based index of the first line in its file). Fences nested in list
 * items lose their indentation; an unclosed fence runs to the end.
 */
const fencesOf = (lines: ReadonlyArray<string>, lineOffset: number): Array<Fence> => {
  const fences: Array<Fence> = []
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE_OPEN.exec(lines[i])
    if (open === null) continue
    const [, indent, marker, lang, meta] = open
    const fence: Fence = { startLine: lineOffset + i + 2, lang: lang.toLowerCase(), meta: meta.trim(), lines: [] }
    let j = i + 1
    for (; j < lines.length; j++) {
      const trimmed = lines[j].trim()
      if (trimmed.startsWith(marker[0].repeat(marker.length)) && trimmed.replaceAll(marker[0], "") === "") break
      fence.lines.push(stripIndent(lines[j], indent.length))
    }
    fences.push(fence)
    i = j
  }
  return fences
}

/** Removes up to `n` leading spaces (the fence's own indentation). */
const stripIndent = (line: string, n: number): string => {
  let k = 0
  while (k < n && line[k] === " ") k++
  return line.slice(k)
}

/**
 * The checked code blocks of a Markdown file's text.
 *
 * @example
 * ```ts
 * markdownBlocks("README.md", "", "# x\n```ts\nconst a = 1\n```\n")[0].line // 3
 * ```
 * @since 0.1.0
 */
export const markdownBlocks = (file: string, workspace: string, text: string): Array<DocBlock> =>
  fencesOf(text.split(/\r?\n/), 0)
    .filter((fence) => CHECKED_LANGUAGES.has(fence.lang))
    .map((fence) => ({ file, line: fence.startLine, kind: "markdown", lines: fence.lines, meta: fence.meta, workspace }))

const DOC_COMMENT = /\/\*\*[\s\S]*?\*\//g

/**
 * The checked code blocks under `@example` tags of the TSDoc comments of a
 * TypeScript file's text. Comment stars are removed, and `*\/` (the escape
 * for `*` + `/` inside a comment) reads as `*` + `/`.
 *
 * @example
 * ```ts
 * const blocks = tsdocBlocks("packages/core/src/batching.ts", "packages/core", readFileSync(path, "utf8"))
 * ```
 * @since 0.1.0
 */
export const tsdocBlocks = (file: string, workspace: string, text: string): Array<DocBlock> => {
  const blocks: Array<DocBlock> = []
  for (const match of text.matchAll(DOC_COMMENT)) {
    const firstLine = text.slice(0, match.index).split("\n").length - 1
    const lines = match[0].split("\n").map((line, i) => {
      let body = i === 0 ? line.replace(/^\/\*\*\s?/, "") : line.replace(/^\s*\*(?!\/)\s?/, "")
      if (i === 0 || body.trimEnd().endsWith("*/")) body = body.replace(/\s*\*\/\s*$/, "")
      return body.replaceAll("*\\/", "*/")
    })
    // The lines of each `@example` section: from the tag to the next tag outside a fence.
    let section: Array<string> | undefined
    let sectionStart = 0
    let inFence = false
    const flush = () => {
      if (section === undefined) return
      for (const fence of fencesOf(section, firstLine + sectionStart)) {
        if (!CHECKED_LANGUAGES.has(fence.lang)) continue
        blocks.push({ file, line: fence.startLine, kind: "tsdoc", lines: fence.lines, meta: fence.meta, workspace })
      }
      section = undefined
    }
    lines.forEach((line, i) => {
      if (/^\s*(`{3,}|~{3,})/.test(line)) inFence = !inFence
      if (inFence) {
        section?.push(line)
        return
      }
      const tag = /^\s*@(\w+)/.exec(line)
      if (tag !== null) {
        flush()
        if (tag[1] === "example") {
          section = [line.replace(/^\s*@example\s*/, "")]
          sectionStart = i
        }
        return
      }
      section?.push(line)
    })
    flush()
  }
  return blocks
}

const sourceFilesUnder = (dir: string): Array<string> => {
  const out: Array<string> = []
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) out.push(...sourceFilesUnder(path))
    else if (name.endsWith(".ts") && !name.endsWith(".d.ts")) out.push(path)
  }
  return out
}

const dirsIn = (dir: string): Array<string> => {
  try {
    return readdirSync(dir)
      .sort()
      .filter((name) => statSync(join(dir, name)).isDirectory())
  } catch {
    return []
  }
}

const exists = (path: string): boolean => {
  try {
    statSync(path)
    return true
  } catch {
    return false
  }
}

/**
 * Every checked block of the repository at `root`: the ```ts fences of
 * `README.md`, `packages/*\/README.md` and `apps/*\/README.md`, and the
 * `@example` fences of `packages/*\/src/**\/*.ts`, in file order.
 *
 * @example
 * ```ts
 * const blocks = collectBlocks("/work/main")
 * blocks.filter((b) => b.kind === "tsdoc").length
 * ```
 * @since 0.1.0
 */
export const collectBlocks = (root: string): Array<DocBlock> => {
  const rel = (path: string) => relative(root, path).split("\\").join("/")
  const blocks: Array<DocBlock> = []
  const readme = (workspace: string) => {
    const path = join(root, workspace, "README.md")
    if (exists(path)) blocks.push(...markdownBlocks(rel(path), workspace, readFileSync(path, "utf8")))
  }
  readme("")
  for (const group of ["packages", "apps"]) {
    for (const name of dirsIn(join(root, group))) readme(`${group}/${name}`)
  }
  for (const name of dirsIn(join(root, "packages"))) {
    const src = join(root, "packages", name, "src")
    if (!exists(src)) continue
    for (const path of sourceFilesUnder(src)) {
      blocks.push(...tsdocBlocks(rel(path), `packages/${name}`, readFileSync(path, "utf8")))
    }
  }
  return blocks
}
