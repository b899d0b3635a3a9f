/** Child processes in tests: how one ended, with its stderr (stdout is drained). */
import type { ChildProcess } from "node:child_process"

export interface Exited {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stderr: string
}

/** How `child` ended; its stdout is read and dropped so that it never blocks on a full pipe. */
export const exited = (child: ChildProcess): Promise<Exited> => {
  let stderr = ""
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
  child.stdout!.resume()
  return new Promise((resolve, reject) => {
    child.on("error", reject)
    child.on("close", (code, signal) => resolve({ code, signal, stderr }))
  })
}
