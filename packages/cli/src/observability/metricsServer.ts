/**
 * `weir run --metrics-port`: a small HTTP server on 127.0.0.1 for the length
 * of the run, on `node:http` (Effect's `HttpRouter` would need a platform
 * server package). It is a resource of the run's scope, so it closes however
 * the run ends: done, failed or interrupted.
 *
 * - `GET /metrics`: the run's metric registry in Prometheus text format.
 * - `GET /dataflow`: the dataflow as `weir visualize --json` renders it, plus
 *   `counts`: per kernel step id, `{ itemsIn, itemsOut, stateKeys }` over all
 *   workers. 503 until the run has started.
 *
 * @since 0.2.0
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as PrometheusMetrics from "effect/observability/PrometheusMetrics"
import type * as Scope from "effect/Scope"
import type { RenderedDataflow } from "@weir/core"
import { CliError } from "../io.js"
import { countsByKernelStep, readLiveCounts } from "./liveCounts.js"

/** The host the server listens on: metrics are for this machine unless a proxy says otherwise. */
export const METRICS_HOST = "127.0.0.1"

/** What the server reads from. */
export interface MetricsSource {
  /** The run's context: its metric registry. */
  readonly context: Context.Context<never>
  /** The dataflow the run reported starting, once it has. */
  readonly dataflow: () => RenderedDataflow | undefined
}

const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

const send = (res: ServerResponse, status: number, contentType: string, body: string): void => {
  res.writeHead(status, { "content-type": contentType, "content-length": Buffer.byteLength(body) })
  res.end(body)
}

const sendJson = (res: ServerResponse, status: number, value: unknown): void =>
  send(res, status, "application/json; charset=utf-8", `${JSON.stringify(value)}\n`)

const handle = (source: MetricsSource, req: IncomingMessage, res: ServerResponse): void => {
  const path = (req.url ?? "/").split("?")[0]
  if (path !== "/metrics" && path !== "/dataflow") {
    send(res, 404, "text/plain; charset=utf-8", "not found: try /metrics or /dataflow\n")
    return
  }
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.setHeader("allow", "GET, HEAD")
    send(res, 405, "text/plain; charset=utf-8", "method not allowed\n")
    return
  }
  if (path === "/metrics") {
    send(res, 200, PROMETHEUS_CONTENT_TYPE, PrometheusMetrics.formatUnsafe(source.context))
    return
  }
  const graph = source.dataflow()
  if (graph === undefined) {
    sendJson(res, 503, { error: "the run has not started yet" })
    return
  }
  sendJson(res, 200, { ...graph, counts: countsByKernelStep(graph, readLiveCounts(source.context)) })
}

const listen = (port: number, source: MetricsSource): Effect.Effect<Server, CliError> =>
  Effect.callback<Server, CliError>((resume) => {
    const server = createServer((req, res) => {
      try {
        handle(source, req, res)
      } catch (e) {
        // A scrape must never take the run down.
        if (!res.headersSent) send(res, 500, "text/plain; charset=utf-8", `${e instanceof Error ? e.message : String(e)}\n`)
        else res.destroy()
      }
    })
    const onError = (e: Error) =>
      resume(Effect.fail(new CliError(`cannot serve metrics on ${METRICS_HOST}:${port}: ${e.message}`, { cause: e })))
    server.once("error", onError)
    server.listen(port, METRICS_HOST, () => {
      server.off("error", onError)
      // Later socket errors (a client hanging up) are the client's problem, not the run's.
      server.on("error", () => {})
      resume(Effect.succeed(server))
    })
    return Effect.sync(() => server.close())
  })

const close = (server: Server): Effect.Effect<void> =>
  Effect.callback<void>((resume) => {
    // Scrapers keep connections alive; close them, or `close` would wait for them.
    server.close(() => resume(Effect.void))
    server.closeAllConnections()
  })

/**
 * Serve `/metrics` and `/dataflow` on `127.0.0.1:port` until the scope closes;
 * succeeds with the port listened on (the one picked when `port` is 0).
 *
 * @example
 * ```ts
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const context = yield* Effect.context<never>()
 *   const port = yield* serveMetrics(0, { context, dataflow: () => undefined })
 *   console.error(`metrics: http://127.0.0.1:${port}/metrics`)
 *   yield* run(flow)
 * }))
 * ```
 * @since 0.2.0
 */
export const serveMetrics = (port: number, source: MetricsSource): Effect.Effect<number, CliError, Scope.Scope> =>
  Effect.map(Effect.acquireRelease(listen(port, source), close), (server) => (server.address() as AddressInfo).port)
