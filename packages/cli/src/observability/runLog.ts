/**
 * What `weir run` writes to stderr while a flow runs: one plain line per
 * closed epoch (at `--log-level info` and `debug`), and on a terminal a
 * progress line below them, rewritten in place a few times a second and
 * cleared when the run ends. Without a terminal there is no progress line,
 * so captured stderr holds plain lines only.
 *
 * @since 0.2.0
 */
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { EpochClosed, RenderedDataflow } from "@weir/core"
import type { LogLevel } from "../args.js"
import { inputStepIds, itemsRead, readLiveCounts } from "./liveCounts.js"

/** Erase from the cursor to the end of the line. */
const CLEAR_TO_END = "\u001b[K"

/** How often the progress line is redrawn. */
const PROGRESS_EVERY_MS = 250

/** The rate is measured over this much recent time, so it does not jump with each publication of the counts. */
const RATE_WINDOW_MS = 2000

/** Whether a level logs each closed epoch (and allows the progress line). */
export const logsEpochs = (level: LogLevel): boolean => level === "info" || level === "debug"

/** `20480` → `"20,480"`. */
export const formatCount = (n: number): string => String(Math.round(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ",")

const items = (n: number): string => `${formatCount(n)} ${n === 1 ? "item" : "items"}`

/**
 * The line for a closed epoch: `epoch 12: 20,480 items in, commit 3.1 ms`
 * (no commit part when the epoch committed nothing).
 */
export const epochLine = (e: EpochClosed): string =>
  `epoch ${e.epoch}: ${items(e.itemsIn)} in` + (e.commitMs === undefined ? "" : `, commit ${e.commitMs.toFixed(1)} ms`)

/**
 * stderr during a run: lines, and at most one status line kept below them
 * (on a terminal only; {@link RunLog.status} is never called otherwise).
 */
export class RunLog {
  /** What the status line shows; `""` when none is drawn. */
  private shown = ""

  constructor(private readonly write: (text: string) => void) {}

  /** Write `text` (whole lines) above the status line. */
  lines(text: string): void {
    if (this.shown === "") this.write(text)
    else this.write(`\r${CLEAR_TO_END}${text}${this.shown}`)
  }

  /** Show `text` in the status line. */
  status(text: string): void {
    this.shown = text
    this.write(`\r${text}${CLEAR_TO_END}`)
  }

  /** Remove the status line, leaving the cursor at the start of an empty line. */
  clearStatus(): void {
    if (this.shown === "") return
    this.shown = ""
    this.write(`\r${CLEAR_TO_END}`)
  }
}

/** The progress line's text from the recent readings, oldest first. */
const progressText = (
  samples: ReadonlyArray<{ readonly at: number; readonly read: number }>,
  bytes: { readonly read: number; readonly total: number } | undefined
): string => {
  const first = samples[0]!
  const last = samples[samples.length - 1]!
  const seconds = (last.at - first.at) / 1000
  const rate = seconds > 0 ? (last.read - first.read) / seconds : 0
  let text = `${items(last.read)} read, ${formatCount(rate)} items/s`
  if (bytes !== undefined && bytes.total > 0) text += `, ${Math.min(100, (100 * bytes.read) / bytes.total).toFixed(1)}% of input`
  return text
}

/**
 * Keep a progress line on `log` until the scope closes: items per second
 * read by the inputs (from `weir_items_out_total` of the input steps) and,
 * when the sources publish `weir_source_bytes_read`/`weir_source_bytes_total`,
 * how much of the input is read.
 */
export const progressLine = (
  log: RunLog,
  context: Context.Context<never>,
  dataflow: () => RenderedDataflow | undefined
): Effect.Effect<void, never, Scope.Scope> => {
  let inputsOf: RenderedDataflow | undefined
  let inputs: ReadonlyArray<string> = []
  const samples: Array<{ at: number; read: number }> = []
  const tick = () => {
    const graph = dataflow()
    if (graph === undefined) return
    if (graph !== inputsOf) {
      inputsOf = graph
      inputs = inputStepIds(graph)
    }
    const live = readLiveCounts(context)
    const at = Date.now()
    samples.push({ at, read: itemsRead(inputs, live) })
    while (samples.length > 2 && at - samples[1]!.at >= RATE_WINDOW_MS) samples.shift()
    log.status(progressText(samples, live.bytes))
  }
  return Effect.asVoid(Effect.acquireRelease(
    Effect.sync(() => {
      const timer = setInterval(() => {
        try {
          tick()
        } catch {
          // The progress line is a nicety; a failed reading skips one redraw.
        }
      }, PROGRESS_EVERY_MS)
      timer.unref()
      return timer
    }),
    (timer) =>
      Effect.sync(() => {
        clearInterval(timer)
        log.clearStatus()
      })
  ))
}
