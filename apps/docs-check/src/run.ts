/**
 * Running the README blocks that are complete modules: each one as its own
 * module, with tsx, in a child process, and its output compared with what
 * the README says it prints. The rules are described in `test/docs.test.ts`.
 *
 * @since 0.1.0
 */
import { spawn } from "node:child_process"
import { mkdirSync, mkdtempSync, rmdirSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import { isModuleBlock, packageDir, where } from "./check.js"
import { type DocBlock, isOptedOut, norunReason } from "./extract.js"

/**
 * Which README blocks run, and which opt out (```ts norun <reason>) with their reason.
 * TSDoc examples, fragments and `nocheck` blocks are in neither list.
 *
 * @since 0.1.0
 */
export interface RunPlan {
  readonly run: ReadonlyArray<DocBlock>
  readonly norun: ReadonlyArray<{ readonly block: DocBlock; readonly reason: string }>
}

/**
 * Splits the Markdown blocks that are complete modules (and not `nocheck`)
 * into those to run and those that opt out with `norun`.
 *
 * @example
 * ```ts
 * const { run, norun } = planRuns(collectBlocks(repositoryRoot))
 * ```
 * @since 0.1.0
 */
export const planRuns = (blocks: ReadonlyArray<DocBlock>): RunPlan => {
  const run: Array<DocBlock> = []
  const norun: Array<{ block: DocBlock; reason: string }> = []
  for (const block of blocks) {
    if (block.kind !== "markdown" || isOptedOut(block) || !isModuleBlock(block)) continue
    const reason = norunReason(block)
    if (reason === undefined) run.push(block)
    else norun.push({ block, reason })
  }
  return { run, norun }
}

/**
 * How one run of a block went.
 *
 * @since 0.1.0
 */
export interface RunResult {
  readonly block: DocBlock
  /** `null` when the process was killed (see `signal`) or could not be started. */
  readonly exitCode: number | null
  readonly signal: NodeJS.Signals | null
  /** `true` when the process was killed for running longer than `timeoutMs`. */
  readonly timedOut: boolean
  readonly timeoutMs: number
  readonly stdout: string
  /** Standard error, with the temporary file's path replaced by the README's (stack lines are README lines). */
  readonly stderr: string
  readonly durationMs: number
}

/**
 * Options of {@link runBlock} and {@link runBlocks}.
 *
 * @since 0.1.0
 */
export interface RunOptions {
  /** The directory the blocks' files are written in: inside an ESM package of the workspace (see {@link createRunDir}). */
  readonly dir: string
  /** How long a block may run before it is killed and reported (default 60 000 ms). */
  readonly timeoutMs?: number
}

/** The text the README states a block prints, as the block's standard output must be. */
const expectedStdout = (block: DocBlock): string | undefined =>
  block.prints === undefined ? undefined : block.prints.lines.map((line) => `${line}\n`).join("")

const blockName = (block: DocBlock): string => `${block.file.replace(/[^\w]/g, "_")}_L${block.line}`

/**
 * Runs one block as its own module: the block is written to `<dir>/<name>/block.ts` (preceded
 * by blank lines, so that its line numbers are the README's), then run with
 * `node --conditions=@weir/source --import tsx block.ts` in that directory, so `@weir/*`
 * resolve to their sources and relative paths the block writes stay in it. The directory is
 * removed afterwards. A block that has not exited after `timeoutMs` is killed.
 *
 * @example
 * ```ts
 * const result = await runBlock(block, { dir: createRunDir() })
 * runFailure(result) // undefined when it exited with 0 and printed what its README says
 * ```
 * @since 0.1.0
 */
export const runBlock = (block: DocBlock, options: RunOptions): Promise<RunResult> => {
  const timeoutMs = options.timeoutMs ?? 60_000
  const cwd = join(options.dir, blockName(block))
  const file = join(cwd, "block.ts")
  mkdirSync(cwd, { recursive: true })
  writeFileSync(file, `${"\n".repeat(block.line - 1)}${block.lines.join("\n")}\n`)
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1" }
  delete env.FORCE_COLOR
  const started = Date.now()
  return new Promise((resolve) => {
    const stdout: Array<Buffer> = []
    const stderr: Array<Buffer> = []
    let timedOut = false
    let settled = false
    const finish = (exitCode: number | null, signal: NodeJS.Signals | null, extra = "") => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      rmSync(cwd, { recursive: true, force: true })
      const fileUrl = pathToFileURL(file).href
      resolve({
        block,
        exitCode,
        signal,
        timedOut,
        timeoutMs,
        stdout: Buffer.concat(stdout).toString("utf8"),
        stderr: (Buffer.concat(stderr).toString("utf8") + extra).replaceAll(fileUrl, block.file).replaceAll(file, block.file),
        durationMs: Date.now() - started
      })
    }
    const child = spawn(process.execPath, ["--conditions=@weir/source", "--import", "tsx", file], {
      cwd,
      env,
      stdio: ["ignore", "pipe", "pipe"]
    })
    const timer = setTimeout(() => {
      timedOut = true
      child.kill("SIGKILL")
    }, timeoutMs)
    child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk))
    child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk))
    child.on("error", (error) => finish(null, null, `could not start ${process.execPath}: ${error.message}`))
    child.on("close", (code, signal) => finish(code, signal))
  })
}

/**
 * Runs `blocks`, at most `concurrency` at a time, in order; the promises are in the order of
 * `blocks`.
 *
 * @example
 * ```ts
 * const results = await Promise.all(runBlocks(planRuns(blocks).run, { dir, concurrency: 2 }))
 * ```
 * @since 0.1.0
 */
export const runBlocks = (
  blocks: ReadonlyArray<DocBlock>,
  options: RunOptions & { readonly concurrency?: number }
): Array<Promise<RunResult>> => {
  const concurrency = Math.max(1, options.concurrency ?? 2)
  let active = 0
  const queue: Array<() => void> = []
  const slot = (): Promise<void> => {
    if (active < concurrency) {
      active++
      return Promise.resolve()
    }
    return new Promise((resolve) => queue.push(resolve))
  }
  const release = () => {
    const next = queue.shift()
    if (next === undefined) active--
    else next()
  }
  return blocks.map((block) => slot().then(() => runBlock(block, options)).finally(release))
}

/**
 * Why a run failed — timed out, exited with a status other than 0, or printed something other
 * than the README's `Prints:` block — with its standard error; `undefined` when it passed.
 *
 * @example
 * ```ts
 * const failure = runFailure(await runBlock(block, { dir }))
 * if (failure !== undefined) console.log(failure)
 * ```
 * @since 0.1.0
 */
export const runFailure = (result: RunResult): string | undefined => {
  const { block } = result
  const stderr = result.stderr.trim() === "" ? "" : `\nstderr:\n${indent(result.stderr)}`
  if (result.timedOut) {
    return `${where(block)}: still running after ${result.timeoutMs} ms, so it was killed; a README block must end on its own ` +
      `(or be marked \`\`\`ts norun <reason>)${stderr}`
  }
  if (result.exitCode !== 0) {
    const status = result.exitCode === null ? `was killed by ${result.signal ?? "an unknown signal"}` : `exited with ${result.exitCode}`
    return `${where(block)}: ${status}; it must exit with 0 (the stack's line numbers are ${block.file}'s)${stderr}`
  }
  const expected = expectedStdout(block)
  if (expected !== undefined && result.stdout !== expected) {
    return `${block.file}:${block.prints?.line}: the block at line ${block.line} does not print what this \`Prints:\` block says.\n` +
      `expected:\n${indent(expected)}\nactual:\n${indent(result.stdout)}${stderr}`
  }
  return undefined
}

const indent = (text: string): string =>
  text === "" ? "  (nothing)" : text.replace(/\n$/, "").split("\n").map((line) => `  | ${line}`).join("\n")

/**
 * Creates a fresh directory for the blocks' files under `apps/docs-check/.run/` (git-ignored):
 * inside the workspace, so `@weir/*` and `effect` resolve, and in an ESM package, so top-level
 * `await` works as in a user's module.
 *
 * @example
 * ```ts
 * const dir = createRunDir()
 * try { await Promise.all(runBlocks(blocks, { dir })) } finally { removeRunDir(dir) }
 * ```
 * @since 0.1.0
 */
export const createRunDir = (base: string = join(packageDir, ".run")): string => {
  mkdirSync(base, { recursive: true })
  return mkdtempSync(join(base, "run-"))
}

/**
 * Removes a directory made by {@link createRunDir}, and its parent when nothing else is in it.
 *
 * @since 0.1.0
 */
export const removeRunDir = (dir: string): void => {
  rmSync(dir, { recursive: true, force: true })
  try {
    rmdirSync(join(dir, ".."))
  } catch {
    // another run's directory is still there
  }
}
