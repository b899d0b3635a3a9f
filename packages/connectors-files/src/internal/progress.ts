/**
 * How far a file partition has read, as two gauges in Effect's metric
 * registry (`weir run --metrics-port` serves them; the CLI's progress line
 * turns them into a percentage): `weir_source_bytes_read` and
 * `weir_source_bytes_total`, by `step_id` and `partition`. Updated once per
 * batch handed to the dataflow.
 */
import * as Context from "effect/Context"
import * as fs from "node:fs"
import * as Metric from "effect/Metric"

const bytesRead = Metric.gauge("weir_source_bytes_read", { description: "Bytes of the file a source partition has read" })
const bytesTotal = Metric.gauge("weir_source_bytes_total", { description: "Size of the file a source partition reads" })

/** The gauges of one partition. */
export class ReadProgress {
  private readonly read: Metric.Gauge<number>
  private last = -1

  constructor(stepId: string, partition: string, totalBytes: number) {
    const attributes = { step_id: stepId, partition }
    this.read = Metric.withAttributes(bytesRead, attributes)
    Metric.withAttributes(bytesTotal, attributes).updateUnsafe(totalBytes, Context.empty())
  }

  /** The partition's offset is now `offset`. */
  at(offset: number): void {
    if (offset === this.last) return
    this.last = offset
    this.read.updateUnsafe(offset, Context.empty())
  }
}

/** A file's size now, or 0 when it can't be read (the partition then reports its errors itself). */
export const sizeOf = (path: string): number => {
  try {
    return fs.statSync(path).size
  } catch {
    return 0
  }
}
