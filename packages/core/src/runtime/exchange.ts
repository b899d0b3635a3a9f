/**
 * Exchange: moving items to the worker that must process them. Keyed steps
 * get each item on the worker owning its key, `redistribute` spreads items
 * evenly, partitioned sinks get items on the worker writing their partition
 * (see `routing.ts` for who owns what).
 *
 * Between workers of one thread (the interleaved mode) a hop is a function
 * call. Between threads, items cross in *frames*: one batch for one step's
 * input on one worker, of one epoch, encoded into an ArrayBuffer that is
 * transferred, not copied (`codec.ts`). Each channel to a peer has a credit
 * window: at most {@link CREDIT_WINDOW} frames are unacknowledged, so a slow
 * worker holds back its senders instead of letting their frames pile up in
 * its memory. Progress markers travel on the same channel, behind the frames
 * they follow (see `progress.ts`).
 */
import { encodeBatch } from "./codec.js"
import type { Exchange } from "./plan.js"
import { ownerOf, routingKey } from "./routing.js"
import type { PartitionedOutputStep } from "./sinks.js"

/** Items per frame: a frame is sent once it holds this many. */
export const FRAME_ITEMS = 1024

/** Frames a sender may have unacknowledged on one channel. */
export const CREDIT_WINDOW = 16

/** Picks the destination worker of each item. */
export type Router = (item: unknown) => number

/** The router of exchange `exchange` into step `sink` (when it is a partitioned sink) among `workers`. */
export const routerFor = (
  exchange: Exchange,
  workers: number,
  sink: PartitionedOutputStep | undefined,
  spreadFrom: number
): Router => {
  switch (exchange) {
    case "key":
      return (item) => ownerOf(routingKey(item), workers)
    case "spread": {
      let next = spreadFrom
      return () => next++ % workers
    }
    case "partition": {
      const owners = sink!.slots.map((s) => s.owner)
      return (item) =>
        // Items with a bad shape stay here, where the sink reports them.
        Array.isArray(item) && typeof item[0] === "string" ? owners[sink!.partitionOf(item[0])]! : spreadFrom
    }
    case "none":
      return () => spreadFrom
  }
}

/** Split a batch by destination: `parts[w]` holds the items for worker `w` (in order), or is undefined. */
export const splitBatch = (batch: Array<unknown>, workers: number, route: Router): Array<Array<unknown> | undefined> => {
  const parts: Array<Array<unknown> | undefined> = new Array(workers)
  for (let i = 0; i < batch.length; i++) {
    const item = batch[i]
    ;(parts[route(item)] ??= []).push(item)
  }
  return parts
}

/** A message between two worker threads. */
export type PeerMessage =
  /** A frame: `items` (encoded) for input `port` of step `step`, of epoch `epoch`. */
  | { readonly t: "frame"; readonly step: number; readonly port: number; readonly epoch: number; readonly items: ArrayBuffer }
  /**
   * Progress: per exchange step, the sender's new frontier for it (no item
   * of an earlier epoch will follow); `epoch` is the input epoch the sender
   * entered, `final` says its inputs have all ended there.
   */
  | {
    readonly t: "progress"
    readonly fronts: ReadonlyArray<readonly [step: number, frontier: number]>
    readonly epoch?: number | undefined
    readonly final?: boolean | undefined
  }
  /** `n` frames of the receiver's were processed: that much more credit. */
  | { readonly t: "credit"; readonly n: number }

/** The port a channel sends on (a `MessagePort`, or anything with its `postMessage`). */
export interface PortLike {
  postMessage(message: unknown, transfer?: ReadonlyArray<ArrayBuffer>): void
}

/** Items for one destination, being gathered into a frame. */
interface Building {
  readonly step: number
  readonly port: number
  readonly epoch: number
  stepId: string
  items: Array<unknown>
}

/** The sending side of the channel to one peer. */
export class Channel {
  private credits = CREDIT_WINDOW
  /** Frames and progress, in order, waiting for credit. */
  private readonly queue: Array<PeerMessage> = []
  private readonly building = new Map<string, Building>()
  /** Items buffered here (gathered or queued), for back-pressure. */
  queuedFrames = 0

  constructor(readonly peer: number, private readonly port: PortLike) {}

  /**
   * Add items for `step`/`port` at `epoch` (the channel may keep the array);
   * a full frame is queued at once.
   */
  add(step: number, port: number, epoch: number, stepId: string, items: Array<unknown>): void {
    const id = `${step}/${port}/${epoch}`
    let b = this.building.get(id)
    if (b === undefined) {
      b = { step, port, epoch, stepId, items }
      this.building.set(id, b)
    } else {
      const into = b.items
      for (let i = 0; i < items.length; i++) into.push(items[i])
    }
    const into = b.items
    if (into.length >= FRAME_ITEMS) {
      this.building.delete(id)
      this.enqueueFrame(b)
    }
  }

  private enqueueFrame(b: Building): void {
    this.queue.push({ t: "frame", step: b.step, port: b.port, epoch: b.epoch, items: encodeBatch(b.stepId, b.items) })
    this.queuedFrames++
  }

  /** Queue every partial frame, then `message` (a marker must follow the items it covers). */
  seal(message?: PeerMessage): void {
    if (this.building.size > 0) {
      for (const b of this.building.values()) this.enqueueFrame(b)
      this.building.clear()
    }
    if (message !== undefined) this.queue.push(message)
  }

  /** The peer processed `n` frames. */
  credit(n: number): void {
    this.credits += n
  }

  /** Send what credit allows, in order. */
  flush(): void {
    let sent = 0
    while (sent < this.queue.length) {
      const m = this.queue[sent]!
      if (m.t === "frame") {
        if (this.credits === 0) break
        this.credits--
        this.queuedFrames--
        this.port.postMessage(m, [m.items])
      } else {
        this.port.postMessage(m)
      }
      sent++
    }
    if (sent > 0) this.queue.splice(0, sent)
  }

  /** Frames are waiting for credit: the peer is behind. */
  get blocked(): boolean {
    return this.queuedFrames > 0 && this.credits === 0
  }

  /** Send a message that needs no credit and no ordering (credit returns). */
  direct(message: PeerMessage): void {
    this.port.postMessage(message)
  }
}
