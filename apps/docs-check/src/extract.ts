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
  /** The fence's info string after the language (`nocheck` opts a block out of checking, `norun <reason>` out of running). */
  readonly meta: string
  /** The workspace the documentation belongs to (`packages/core`, `apps/examples`), or `""` for the root README. */
  readonly workspace: string
  /**
   * What the block prints, as the README states it: the ```text fence after a `Prints:` line
   * that follows the block (Markdown only). Absent when the README states no output.
   */
  readonly prints?: PrintedOutput
}

/**
 * The output a README states for the block before it: the lines of a ```text fence introduced
 * by a line `Prints:` right after the block.
 *
 * @since 0.1.0
 */
export interface PrintedOutput {
  /** The 1-based line of the `Prints:` line in the file. */
  readonly printsLine: number
  /** The 1-based line of the `text` fence's first line of output in the file. */
  readonly line: number
  /** The output, one entry per line, without the fence or its indentation. */
  readonly lines: ReadonlyArray<string>
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

/**
 * The reason given by a block that opts out of running with `norun` in its info string
 * (```ts norun needs a Kafka broker): everything after the word, `""` when none is given,
 * `undefined` when the block does not opt out.
 *
 * @example
 * ```ts
 * norunReason({ meta: "norun reads in.txt" }) // "reads in.txt"
 * norunReason({ meta: "" }) // undefined
 * ```
 * @since 0.1.0
 */
export const norunReason = (block: Pick<DocBlock, "meta">): string | undefined => {
  const match = /(?:^|\s)norun(?:\s+(.*))?$/.exec(block.meta)
  return match === null ? undefined : (match[1] ?? "").trim()
}

interface Fence {
  readonly startLine: number
  /** The 0-based index (in the lines given to `fencesOf`) of the closing fence line. */
  readonly endIndex: number
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
    const body: Array<string> = []
    let j = i + 1
    for (; j < lines.length; j++) {
      const trimmed = lines[j].trim()
      if (trimmed.startsWith(marker[0].repeat(marker.length)) && trimmed.replaceAll(marker[0], "") === "") break
      body.push(stripIndent(lines[j], indent.length))
    }
    fences.push({ startLine: lineOffset + i + 2, endIndex: j, lang: lang.toLowerCase(), meta: meta.trim(), lines: body })
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
 * A line introducing, with the ```text fence after it, the output of the ```ts block above it.
 *
 * @since 0.1.0
 */
export const PRINTS_LINE: RegExp = /^\s*Prints( \([^)]*\))?:\s*$/

/**
 * The ```text fence introduced by a `Prints:` line after the fence ending at `endIndex`
 * (blank lines allowed around the `Prints:` line), or `undefined`.
 */
const printedAfter = (lines: ReadonlyArray<string>, endIndex: number, fences: ReadonlyArray<Fence>): PrintedOutput | undefined => {
  let i = endIndex + 1
  while (i < lines.length && lines[i].trim() === "") i++
  if (i >= lines.length || !PRINTS_LINE.test(lines[i])) return undefined
  const printsLine = i + 1
  i++
  while (i < lines.length && lines[i].trim() === "") i++
  const output = fences.find((fence) => fence.startLine === i + 2)
  if (output === undefined || output.lang !== "text") return undefined
  return { printsLine, line: output.startLine, lines: output.lines }
}

/**
 * The checked code blocks of a Markdown file's text, each with the output the file states for
 * it (a ```text fence after a `Prints:` line), if any.
 *
 * @example
 * ```ts
 * markdownBlocks("README.md", "", "# x\n```ts\nconst a = 1\n```\n")[0].line // 3
 * ```
 * @since 0.1.0
 */
export const markdownBlocks = (file: string, workspace: string, text: string): Array<DocBlock> => {
  const lines = text.split(/\r?\n/)
  const fences = fencesOf(lines, 0)
  return fences
    .filter((fence) => CHECKED_LANGUAGES.has(fence.lang))
    .map((fence): DocBlock => {
      const prints = printedAfter(lines, fence.endIndex, fences)
      const block = { file, line: fence.startLine, kind: "markdown" as const, lines: fence.lines, meta: fence.meta, workspace }
      return prints === undefined ? block : { ...block, prints }
    })
}

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
