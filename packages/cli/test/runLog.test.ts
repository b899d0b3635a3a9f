import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { main } from "../src/main.js"
import { epochLine, RunLog } from "../src/observability/runLog.js"

const fixtures = fileURLToPath(new URL("./fixtures/", import.meta.url))
// paced.ts reads these when this file's runs first import it: a short pause keeps the runs short.
process.env.PAUSE_MS = "700"
process.env.PACED_QUIET = "1"

describe("epoch lines", () => {
  it("give the epoch, the items in with thousands separators, and the commit time when there was one", () => {
    expect(epochLine({ epoch: 12, itemsIn: 20480, commitMs: 3.14 })).toBe("epoch 12: 20,480 items in, commit 3.1 ms")
    expect(epochLine({ epoch: 3, itemsIn: 1234567, commitMs: undefined })).toBe("epoch 3: 1,234,567 items in")
    expect(epochLine({ epoch: 1, itemsIn: 1, commitMs: 0 })).toBe("epoch 1: 1 item in, commit 0.0 ms")
  })
})

describe("the progress line", () => {
  it("stays below the lines written while it shows, and is cleared at the end", () => {
    let out = ""
    const log = new RunLog((text) => (out += text))
    log.lines("before\n")
    log.status("10 items read")
    log.lines("epoch 1: 10 items in\n")
    log.clearStatus()
    log.clearStatus()
    expect(out).toBe("before\n\r10 items read\u001b[K\r\u001b[Kepoch 1: 10 items in\n10 items read\r\u001b[K")
  })

  it("is drawn on a terminal only, and not at --log-level warn", async () => {
    const runPaced = async (stderrIsTTY: boolean, level: string) => {
      let stderr = ""
      const code = await main(["run", "paced.ts", "-s", "0.5", "--log-level", level], {
        cwd: fixtures,
        env: {},
        stdout: () => {},
        stderr: (text) => (stderr += text),
        stderrIsTTY,
        importModule: (url) => import(url)
      })
      expect(code).toBe(0)
      return stderr
    }
    const tty = await runPaced(true, "info")
    expect(tty).toMatch(/\r40 items read, [\d,]+ items\/s\u001b\[K/)
    expect(tty).toContain("\r\u001b[Kepoch 1: 40 items in\n")
    expect(tty.endsWith("\r\u001b[K")).toBe(true)
    const piped = await runPaced(false, "info")
    const quiet = await runPaced(true, "warn")
    expect(piped).not.toContain("\r")
    expect(piped).toMatch(/^(epoch \d+: [\d,]+ items? in\n)+$/)
    expect(quiet).toBe("")
  })
})
