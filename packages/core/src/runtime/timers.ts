/**
 * The timer heap: one per execution. Stateful steps schedule `notifyAt`
 * wake-ups here; entries are invalidated lazily (an entry is live only while
 * its target still wants that exact time), so rescheduling is one push.
 */

/** Something that can be woken: a key's state inside a stateful step. */
export interface TimerTarget {
  /** The time this target currently wants to be woken at, or NaN. */
  notifyAt: number
}

interface Entry<T extends TimerTarget> {
  readonly at: number
  readonly target: T
}

/** A binary min-heap of wake-up times. */
export class TimerHeap<T extends TimerTarget> {
  private readonly heap: Array<Entry<T>> = []

  get size(): number {
    return this.heap.length
  }

  schedule(target: T, at: number): void {
    target.notifyAt = at
    const heap = this.heap
    heap.push({ at, target })
    let i = heap.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (heap[parent]!.at <= heap[i]!.at) break
      const tmp = heap[parent]!
      heap[parent] = heap[i]!
      heap[i] = tmp
      i = parent
    }
  }

  /** The earliest live wake-up time, or `Infinity`. Drops stale entries on the way. */
  nextAt(): number {
    while (this.heap.length > 0) {
      const top = this.heap[0]!
      if (top.target.notifyAt === top.at) return top.at
      this.pop()
    }
    return Infinity
  }

  /** Remove and return every live target due at or before `now` (each once). */
  takeDue(now: number): Array<T> {
    const due: Array<T> = []
    while (this.heap.length > 0) {
      const top = this.heap[0]!
      if (top.target.notifyAt !== top.at) {
        this.pop()
        continue
      }
      if (top.at > now) break
      this.pop()
      top.target.notifyAt = NaN
      due.push(top.target)
    }
    return due
  }

  private pop(): void {
    const heap = this.heap
    const last = heap.pop()!
    if (heap.length === 0) return
    heap[0] = last
    let i = 0
    const n = heap.length
    for (;;) {
      const l = 2 * i + 1
      const r = l + 1
      let m = i
      if (l < n && heap[l]!.at < heap[m]!.at) m = l
      if (r < n && heap[r]!.at < heap[m]!.at) m = r
      if (m === i) break
      const tmp = heap[m]!
      heap[m] = heap[i]!
      heap[i] = tmp
      i = m
    }
  }
}
