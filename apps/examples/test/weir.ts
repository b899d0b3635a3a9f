/**
 * Running the examples as a user would: `node packages/cli/bin/weir.js …`
 * spawned from apps/examples, with stdout and stderr collected.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

/** apps/examples: the directory the examples are run from. */
export const examplesDir = fileURLToPath(new URL("../", import.meta.url))
const bin = fileURLToPath(new URL("../../../packages/cli/bin/weir.js", import.meta.url))

/** How long one `weir` process may take before the test gives up on it (a loaded 2-core machine). */
export const RUN_TIMEOUT_MS = 60_000

export interface Finished {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

/** A running `weir` process, and a promise of how it ended (killed with SIGKILL after `RUN_TIMEOUT_MS`). */
export interface Running {
  readonly child: ChildProcess
  readonly finished: Promise<Finished>
  /** What it printed to stdout and stderr so far. */
  readonly output: () => { readonly stdout: string; readonly stderr: string }
}

/**
 * Start `weir <args>` in apps/examples with extra environment variables; it is killed with
 * SIGKILL after `timeoutMs` (default `RUN_TIMEOUT_MS`).
 */
export const start = (args: ReadonlyArray<string>, env: Record<string, string> = {}, timeoutMs = RUN_TIMEOUT_MS): Running => {
  const child = spawn(process.execPath, [bin, ...args], {
    cwd: examplesDir,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let stdout = ""
  let stderr = ""
  child.stdout!.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs)
  const finished = new Promise<Finished>((resolve, reject) => {
    child.on("error", reject)
    child.on("close", (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr })
    })
  })
  return { child, finished, output: () => ({ stdout, stderr }) }
}

/** Run `weir <args>` to its end. */
export const weir = (args: ReadonlyArray<string>, env: Record<string, string> = {}): Promise<Finished> => start(args, env).finished

/** stderr without the `epoch N: …` lines `weir run` prints at the default log level. */
export const withoutEpochLines = (stderr: string): string =>
  stderr.split("\n").filter((line) => !/^epoch \d+: /.test(line)).join("\n")

/** A new empty directory under the system's temporary directory. */
export const tempDir = (prefix: string): string => mkdtempSync(join(tmpdir(), `weir-examples-${prefix}-`))

export const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
