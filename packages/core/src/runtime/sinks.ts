/**
 * Output steps: hand batches to sink partitions. Writes to one partition
 * happen in order; an asynchronous write (Promise or Effect) is tracked so the
 * worker can bound what is in flight and wait for everything before an epoch
 * closes (a batch counts as written only when its write has settled).
 */
import type { WeirRuntimeError } from "../errors.js"
import type { FixedPartitionedSink, StatefulSinkPartition, StatelessSinkPartition } from "../outputs.js"
import { isAsync, stepError, toPromise } from "./async.js"
import { checkKeyed, type RuntimeStep } from "./steps.js"

/** Every write still in flight, and the first one that failed. */
export class PendingWrites {
  private readonly inFlight = new Set<Promise<void>>()
  private failure: WeirRuntimeError | undefined

  get size(): number {
    return this.inFlight.size
  }

  add(p: Promise<void>): void {
    const tracked: Promise<void> = p.then(
      () => {
        this.inFlight.delete(tracked)
      },
      (e: WeirRuntimeError) => {
        this.inFlight.delete(tracked)
        if (this.failure === undefined) this.failure = e
      }
    )
    this.inFlight.add(tracked)
  }

  /** Throws the first failed write, if any. */
  check(): void {
    if (this.failure !== undefined) throw this.failure
  }

  /** Settles when every write in flight has; then throws the first failure. */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all(this.inFlight)
    this.check()
  }
}

/** Runs one partition's writes strictly in order, synchronously while they are synchronous. */
export class SerialWriter {
  private tail: Promise<void> | undefined = undefined
  constructor(private readonly pending: PendingWrites) {}

  run(write: () => unknown, wrap: (cause: unknown) => WeirRuntimeError): void {
    if (this.tail === undefined) {
      let r: unknown
      try {
        r = write()
      } catch (e) {
        throw wrap(e)
      }
      if (!isAsync(r)) return
      this.chain(toPromise<void>(r).catch((e) => Promise.reject(wrap(e))))
    } else {
      this.chain(this.tail.then(() => toPromise<void>(write()).catch((e) => Promise.reject(wrap(e)))))
    }
  }

  private chain(p: Promise<void>): void {
    const tail: Promise<void> = p.finally(() => {
      if (this.tail === tail) this.tail = undefined
    })
    // The tracked copy reports failures; later writes on this partition are skipped after one.
    this.tail = tail
    this.pending.add(tail)
  }
}

export class DynamicOutputStep implements RuntimeStep {
  private readonly writer: SerialWriter
  constructor(
    readonly stepId: string,
    private readonly part: StatelessSinkPartition<unknown>,
    pending: PendingWrites
  ) {
    this.writer = new SerialWriter(pending)
  }
  push(_port: number, batch: Array<unknown>): void {
    const part = this.part
    this.writer.run(() => part.writeBatch(batch), (e) => stepError("StatelessSinkPartition.writeBatch", this.stepId, e))
  }
  eof(): void {}
}

/** One partition of a fixed-partitioned sink, built lazily on first write. */
export class SinkPartitionSlot {
  part: StatefulSinkPartition<unknown, unknown> | undefined = undefined
  building: Promise<void> | undefined = undefined
  /** Written since the last snapshot. */
  written = false
  constructor(
    readonly name: string,
    readonly writer: SerialWriter,
    readonly resume: unknown,
    /** The worker writing this partition. */
    readonly owner: number
  ) {}
}

/**
 * Natural order for partition names, so `part_10` sorts after `part_9`
 * (Bytewax sorts lexicographically). Deterministic on every process.
 */
export const naturalCompare = (a: string, b: string): number => {
  const re = /(\d+)|(\D+)/g
  const pa = a.match(re) ?? []
  const pb = b.match(re) ?? []
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const x = pa[i]!
    const y = pb[i]!
    if (x === y) continue
    const nx = /^\d/.test(x)
    const ny = /^\d/.test(y)
    if (nx && ny) {
      const d = Number(x) - Number(y)
      if (d !== 0) return d
      return x.length - y.length
    }
    return x < y ? -1 : 1
  }
  return pa.length - pb.length || (a < b ? -1 : a > b ? 1 : 0)
}

/**
 * A fixed-partitioned sink, shared by the workers of this process: items are
 * `[key, value]`; the key picks the partition; the partition gets values.
 */
export class PartitionedOutputStep implements RuntimeStep {
  constructor(
    readonly stepId: string,
    private readonly sink: FixedPartitionedSink<unknown, unknown>,
    /** Partitions in routing order (naturally sorted names). */
    readonly slots: ReadonlyArray<SinkPartitionSlot>
  ) {}

  /** The index of the partition `key` is written to (the sink's `partFn`, modulo the partitions). */
  partitionOf(key: string): number {
    const n = this.slots.length
    let idx: number
    try {
      idx = this.sink.partFn(key)
    } catch (e) {
      throw stepError("FixedPartitionedSink.partFn", this.stepId, e)
    }
    if (!Number.isInteger(idx)) {
      throw stepError("FixedPartitionedSink.partFn", this.stepId, new TypeError(`partFn must return an integer; got ${String(idx)}`))
    }
    return ((idx % n) + n) % n
  }

  push(_port: number, batch: Array<unknown>): void {
    const n = this.slots.length
    const groups: Array<Array<unknown> | undefined> = new Array(n)
    for (let i = 0; i < batch.length; i++) {
      const item = batch[i] as readonly [string, unknown]
      const idx = this.partitionOf(checkKeyed(this.stepId, item))
      ;(groups[idx] ??= []).push(item[1])
    }
    for (let p = 0; p < n; p++) {
      const values = groups[p]
      if (values !== undefined) this.write(this.slots[p]!, values)
    }
  }

  open(slot: SinkPartitionSlot): void {
    if (slot.part !== undefined || slot.building !== undefined) return
    const wrap = (e: unknown) => stepError("FixedPartitionedSink.buildPart", this.stepId, e, ` for partition '${slot.name}'`)
    slot.writer.run(() => {
      const r = this.sink.buildPart(this.stepId, slot.name, slot.resume)
      if (!isAsync(r)) {
        slot.part = r as StatefulSinkPartition<unknown, unknown>
        return undefined
      }
      const building = toPromise<StatefulSinkPartition<unknown, unknown>>(r).then((part) => {
        slot.part = part
        slot.building = undefined
      })
      slot.building = building
      return building
    }, wrap)
  }

  private write(slot: SinkPartitionSlot, values: Array<unknown>): void {
    this.open(slot)
    slot.written = true
    slot.writer.run(
      () => slot.part!.writeBatch(values),
      (e) => stepError("StatefulSinkPartition.writeBatch", this.stepId, e, ` for partition '${slot.name}'`)
    )
  }

  eof(): void {}
}
