// The metrics server is a resource of the run: it closes however the run ends. Checked in this
// process, where the port outliving the run would show (a spawned `weir` exits and frees it anyway).
import { connect, createServer } from "node:net"
import { fileURLToPath } from "node:url"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { describe, expect, it } from "vitest"
import { main } from "../src/main.js"
import { serveMetrics } from "../src/observability/metricsServer.js"

const fixtures = fileURLToPath(new URL("./fixtures/", import.meta.url))
// paced.ts reads these when this file's run first imports it: a short pause keeps the run short, quietly.
process.env.PAUSE_MS = "700"
process.env.PACED_QUIET = "1"

/** Whether something accepts connections on 127.0.0.1:port. */
const accepts = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1")
    socket.once("connect", () => {
      socket.destroy()
      resolve(true)
    })
    socket.once("error", () => resolve(false))
  })

/** `weir <argv>` in this process; resolves to the exit status, stderr and the metrics port it logged. */
const weirInProcess = async (argv: ReadonlyArray<string>) => {
  let stderr = ""
  let accepting: Promise<boolean> | undefined
  const code = await main(argv, {
    cwd: fixtures,
    env: {},
    stdout: () => {},
    stderr: (text) => {
      stderr += text
      const m = /metrics: http:\/\/127\.0\.0\.1:(\d+)\/metrics/.exec(text)
      // Probe right away, while the run is on.
      if (m !== null) accepting = accepts(Number(m[1]))
    },
    importModule: (url) => import(url)
  })
  const port = /metrics: http:\/\/127\.0\.0\.1:(\d+)\/metrics/.exec(stderr)?.[1]
  return { code, stderr, port: port === undefined ? undefined : Number(port), acceptedWhileRunning: await accepting }
}

describe("the metrics server", () => {
  it("serves /metrics and answers /dataflow with 503 before the run has started, until its scope closes", async () => {
    const port = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const context = yield* Effect.context<never>()
      const port = yield* serveMetrics(0, { context, dataflow: () => undefined })
      const metrics = yield* Effect.promise(() => fetch(`http://127.0.0.1:${port}/metrics`))
      expect(metrics.status).toBe(200)
      const dataflow = yield* Effect.promise(() => fetch(`http://127.0.0.1:${port}/dataflow`))
      expect(dataflow.status).toBe(503)
      expect(yield* Effect.promise(() => dataflow.json())).toEqual({ error: "the run has not started yet" })
      return port
    })))
    expect(await accepts(port)).toBe(false)
  })

  it("closes when the fiber holding it is interrupted (Ctrl-C)", async () => {
    let listening!: (port: number) => void
    const port = new Promise<number>((resolve) => (listening = resolve))
    const fiber = Effect.runFork(Effect.scoped(Effect.gen(function*() {
      const context = yield* Effect.context<never>()
      listening(yield* serveMetrics(0, { context, dataflow: () => undefined }))
      return yield* Effect.never
    })))
    const p = await port
    expect(await accepts(p)).toBe(true)
    // A kept-alive scrape connection must not hold the close up.
    expect((await fetch(`http://127.0.0.1:${p}/metrics`)).status).toBe(200)
    await Effect.runPromise(Fiber.interrupt(fiber))
    expect(await accepts(p)).toBe(false)
  })

  it("weir run closes it when the run is done, and when it fails", async () => {
    const ok = await weirInProcess(["run", "paced.ts", "--metrics-port", "0", "--log-level", "warn"])
    expect(ok.code).toBe(0)
    expect(ok.acceptedWhileRunning).toBe(true)
    expect(await accepts(ok.port!)).toBe(false)
    const failed = await weirInProcess(["run", "flows.ts:failing", "--metrics-port", "0"])
    expect(failed.code).toBe(1)
    expect(failed.stderr).toContain("boom at 2")
    // It was listening (the address was logged); the failure comes too soon to probe it in between.
    expect(failed.port).toBeGreaterThan(0)
    expect(await accepts(failed.port!)).toBe(false)
  })

  it("weir run fails with status 1 and says so when the port is taken", async () => {
    const taken = createServer()
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve))
    const port = (taken.address() as { port: number }).port
    try {
      const result = await weirInProcess(["run", "flows.ts", "--metrics-port", String(port)])
      expect(result.code).toBe(1)
      expect(result.stderr).toContain(`weir run: cannot serve metrics on 127.0.0.1:${port}: listen EADDRINUSE`)
    } finally {
      taken.close()
    }
  })
})
