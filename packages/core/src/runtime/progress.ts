/**
 * Progress between worker threads, after timely dataflow: every item carries
 * the epoch it was read in, and every step of a worker has a *frontier*, the
 * oldest epoch whose items may still reach it.
 *
 * - An input step's frontier is its worker's input epoch (which advances on
 *   the worker's own timer), or infinity once its partitions here ended.
 * - Any other step's frontier is the smallest of its upstream steps'; for a
 *   step fed through an exchange, also of the frontiers its peers announced
 *   for it: when a worker's upstream of the step has passed epoch e, it sends
 *   a marker on every channel, behind the frames it sent before.
 * - Items of an epoch past a step's frontier are buffered at the step (not
 *   blocked on); when the frontier passes e, the step's snapshot of e is
 *   taken and the buffered items of e + 1 go in. So a snapshot of epoch e
 *   holds exactly the items of epochs up to e, however far apart the workers'
 *   clocks are.
 * - Once every input everywhere has ended, frontiers step up to the last
 *   epoch any worker entered (the run's final epoch, the same on every
 *   worker), and each step gets its end of input.
 */
import type { Plan } from "./plan.js"

/** A batch waiting at a step for its epoch. */
interface Held {
  readonly port: number
  readonly batch: Array<unknown>
  /** The worker it came from (for credit), or -1 from this one. */
  readonly from: number
}

/** What progress asks of the execution it tracks. */
export interface ProgressHost {
  /** Push a batch into a step, as items of `epoch`. */
  deliver(step: number, port: number, batch: Array<unknown>, epoch: number): void
  /** May step `step` close epoch `epoch` now (its snapshot can be taken)? */
  canClose(step: number, epoch: number): boolean
  /** Step `step` passed epoch `epoch`: take its snapshot of it. */
  closed(step: number, epoch: number): void
  /** Every upstream of `step` has ended, through the final epoch: its end of input. */
  ended(step: number, epoch: number): void
  /** A held batch from `from` went in: credit the sender. */
  released(from: number): void
}

export class Progress {
  /** Per step: its frontier. */
  readonly front: Array<number>
  /** Per exchange step: per peer, the frontier it announced. */
  private readonly peerFront: Array<Array<number> | undefined>
  /** Per exchange step: the frontier of this worker's upstream, as last announced. */
  private readonly announced: Array<number>
  private readonly held: Array<Map<number, Array<Held>>>
  /** Per step: the steps feeding it. */
  private readonly upstream: Array<Array<number>>
  /** Items held at steps, for back-pressure. */
  heldItems = 0
  /** Each peer's last input epoch, once its inputs have all ended. */
  private readonly peerFinal: Array<number | undefined>
  /** The newest input epoch any peer announced. */
  private peerEpoch = 0

  constructor(
    private readonly plan: Plan,
    private readonly self: number,
    private readonly workers: number,
    start: number,
    private readonly host: ProgressHost
  ) {
    const producer: Array<number> = []
    for (const s of plan.steps) for (const o of s.outputs) producer[o.stream] = s.index
    this.upstream = plan.steps.map((s) => s.inputs.flat().map((stream) => producer[stream]!))
    this.front = plan.steps.map(() => start)
    this.announced = plan.steps.map(() => start)
    this.peerFront = plan.steps.map((s) => (this.exchanged(s.index) ? Array.from({ length: workers }, () => start) : undefined))
    this.held = plan.steps.map(() => new Map())
    this.peerFinal = Array.from({ length: workers }, () => undefined)
    this.peerEpoch = start
  }

  /** Items reach the step through an exchange with the other workers. */
  exchanged(step: number): boolean {
    return this.workers > 1 && this.plan.steps[step]!.exchange !== "none"
  }

  /** A batch for `step` arrived (from worker `from`, -1 for this one): in now if its epoch is open, else held. */
  arrive(step: number, port: number, batch: Array<unknown>, epoch: number, from: number): void {
    if (epoch <= this.front[step]!) {
      this.host.deliver(step, port, batch, epoch)
      if (from >= 0) this.host.released(from)
      return
    }
    let list = this.held[step]!.get(epoch)
    if (list === undefined) this.held[step]!.set(epoch, (list = []))
    list.push({ port, batch, from })
    this.heldItems += batch.length
  }

  /** Peer `peer` announced frontier `frontier` for `step`. */
  announce(peer: number, step: number, frontier: number): void {
    const fronts = this.peerFront[step]
    if (fronts !== undefined && frontier > fronts[peer]!) fronts[peer] = frontier
  }

  /** Peer `peer` entered input epoch `epoch` (or ended its inputs there, when `final`). */
  peerAt(peer: number, epoch: number, final: boolean): void {
    if (epoch > this.peerEpoch) this.peerEpoch = epoch
    if (final) this.peerFinal[peer] = epoch
  }

  /**
   * The run's final epoch, once known: the last input epoch of every worker
   * (`own` is this one's, or undefined while its inputs run).
   */
  finalEpoch(own: number | undefined): number | undefined {
    if (own === undefined) return undefined
    let fin = own
    for (let p = 0; p < this.workers; p++) {
      if (p === this.self) continue
      const f = this.peerFinal[p]
      if (f === undefined) return undefined
      if (f > fin) fin = f
    }
    return fin
  }

  /**
   * Move every frontier as far as it can go, in topological order, closing
   * epochs and letting held items in on the way. `inputFront(step)` gives an
   * input step's frontier. Returns the exchange steps whose frontier here
   * changed, with the new value, for the peers.
   */
  advance(inputFront: (step: number) => number, ownFinal: number | undefined): Array<readonly [number, number]> {
    const changed: Array<readonly [number, number]> = []
    const fin = this.finalEpoch(ownFinal)
    // While the final epoch is unknown, ended inputs still follow the epochs the peers reach.
    const limit = fin ?? Math.max(this.peerEpoch, ownFinal ?? 0)
    for (const s of this.plan.steps) {
      const i = s.index
      let local = Infinity
      if (s.kernel.kind === "input") local = inputFront(i)
      else for (const u of this.upstream[i]!) if (this.front[u]! < local) local = this.front[u]!
      let target = local
      const fronts = this.peerFront[i]
      if (fronts !== undefined) {
        if (local !== this.announced[i]) {
          this.announced[i] = local
          changed.push([i, local])
        }
        for (let p = 0; p < fronts.length; p++) if (p !== this.self && fronts[p]! < target) target = fronts[p]!
      }
      let e = this.front[i]!
      while (e < target) {
        if (target === Infinity) {
          if (fin !== undefined && e >= fin) {
            this.host.ended(i, e)
            e = Infinity
            this.front[i] = e
            break
          }
          if (e >= limit) break
        }
        if (!this.host.canClose(i, e)) break
        this.host.closed(i, e)
        e++
        this.front[i] = e
        this.release(i, e)
      }
    }
    return changed
  }

  private release(step: number, epoch: number): void {
    const list = this.held[step]!.get(epoch)
    if (list === undefined) return
    this.held[step]!.delete(epoch)
    for (const h of list) {
      this.heldItems -= h.batch.length
      this.host.deliver(step, h.port, h.batch, epoch)
      if (h.from >= 0) this.host.released(h.from)
    }
  }

  /** The oldest frontier of any step: every epoch before it is closed everywhere on this worker. */
  get workerFront(): number {
    let min = Infinity
    for (const f of this.front) if (f < min) min = f
    return min
  }
}
