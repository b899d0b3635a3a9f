/**
 * Output steps: hand batches to sink partitions. Writes to one partition
 * happen in order; an asynchronous write (Promise or Effect) is tracked so the
 * worker can bound what is in flight and wait for everything before an epoch
 * closes (a batch counts as written only when its write has settled).
 */
import type { WeirRuntimeError } from "../errors.js"
import type { FixedPartitionedSink, StatefulSinkPartition, StatelessSinkPartition, TransactionalSinkPartition } from "../outputs.js"
import { isAsync, stepError, toPromise } from "./async.js"
import { checkSnapshot } from "./snapshotCheck.js"
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

/** A prepared epoch of a transactional sink partition, not yet published. */
export interface Unpublished {
  readonly epoch: number
  readonly prepared: unknown
}

/** The snapshot key of what worker `writer` prepared in `epoch`. */
export const outboxKey = (writer: number, epoch: number): string => `${writer}:${epoch}`

/**
 * The worker that recovers the outbox of `writer`, a worker of an earlier
 * execution (which may have had more workers than the `workers` of this one).
 */
export const outboxOwner = (writer: number, workers: number): number => writer % workers

/** The writer and epoch of an outbox snapshot key, or `undefined` for another key. */
export const parseOutboxKey = (key: string): { readonly writer: number; readonly epoch: number } | undefined => {
  const m = /^(\d+):(\d+)$/.exec(key)
  return m === null ? undefined : { writer: Number(m[1]), epoch: Number(m[2]) }
}

/**
 * One worker's partition of a transactional sink. Writes are staged by the
 * partition, tagged with the epoch being processed; when an epoch closes here
 * its staged output is prepared and kept, until published, in every snapshot
 * of the step (a full snapshot: the keys are `writer:epoch`, so the store
 * holds exactly the prepared epochs not yet known to be published); once the
 * epoch is committed by every worker it is published, in epoch order, as a
 * tracked write (an epoch close waits for it, and a failure fails the run).
 */
export class TransactionalOutputStep implements RuntimeStep {
  private readonly writer: SerialWriter
  private readonly publisher: SerialWriter
  /** Prepared epochs not yet published, oldest first. */
  readonly unpublished: Array<Unpublished> = []
  /** Epochs up to this one are published or being published. */
  private scheduled = 0
  /** Something was prepared or published since the last snapshot. */
  changed = false

  constructor(
    readonly stepId: string,
    /** The worker writing. */
    readonly worker: number,
    private readonly part: TransactionalSinkPartition<unknown, unknown>,
    pending: PendingWrites,
    /** The epoch items pushed now belong to. */
    private readonly epochOf: () => number
  ) {
    this.writer = new SerialWriter(pending)
    this.publisher = new SerialWriter(pending)
  }

  push(_port: number, batch: Array<unknown>): void {
    const part = this.part
    const epoch = this.epochOf()
    this.writer.run(() => part.writeBatch(batch, epoch), (e) => stepError("TransactionalSinkPartition.writeBatch", this.stepId, e))
  }

  eof(): void {}

  /** Epoch `epoch` closed on this worker (every write of it staged): take its output. */
  prepare(epoch: number): void {
    let prepared: unknown
    try {
      prepared = this.part.prepare(epoch)
    } catch (e) {
      throw stepError("TransactionalSinkPartition.prepare", this.stepId, e)
    }
    if (prepared === undefined) return
    checkSnapshot(this.stepId, `the output of epoch ${epoch}`, prepared)
    this.unpublished.push({ epoch, prepared })
    this.changed = true
  }

  /** This worker's snapshot of the step: every prepared epoch not yet published. */
  snapshot(keys: Array<string>, states: Array<unknown>): void {
    for (const u of this.unpublished) {
      keys.push(outboxKey(this.worker, u.epoch))
      states.push(u.prepared)
    }
    this.changed = false
  }

  /** Every worker committed every epoch up to `epoch`: publish what was prepared in them, in order. */
  committed(epoch: number): void {
    for (const u of this.unpublished) {
      if (u.epoch > epoch) break
      if (u.epoch <= this.scheduled) continue
      this.scheduled = u.epoch
      this.publisher.run(
        () => {
          const r = this.part.publish(u.epoch, u.prepared)
          return isAsync(r) ? toPromise<void>(r).then(() => this.published(u)) : this.published(u)
        },
        (e) => stepError("TransactionalSinkPartition.publish", this.stepId, e, ` (epoch ${u.epoch})`)
      )
    }
  }

  private published(u: Unpublished): void {
    const at = this.unpublished.indexOf(u)
    if (at >= 0) this.unpublished.splice(at, 1)
    this.changed = true
  }
}
