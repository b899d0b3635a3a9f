/**
 * The timer heap: one per execution. Stateful steps schedule `notifyAt`
 * wake-ups here. Each target is in the heap at most once (an indexed binary
 * heap): rescheduling moves its entry, so a key whose wake-up changes on
 * every batch costs one O(log n) move, not a growing pile of stale entries.
 */

/** Something that can be woken: a key's state inside a stateful step. */
export interface TimerTarget {
  /** The time this target wants to be woken at, or NaN. Maintained by the heap. */
  notifyAt: number
  /** Position in the heap, or -1. Maintained by the heap. */
  heapIndex: number
}

/** An indexed binary min-heap of targets by `notifyAt`. */
export class TimerHeap<T extends TimerTarget> {
  private readonly heap: Array<T> = []

  get size(): number {
    return this.heap.length
  }

  /** Wake `target` at `at` (ms), replacing any earlier request. */
  schedule(target: T, at: number): void {
    const i = target.heapIndex
    target.notifyAt = at
    if (i >= 0 && this.heap[i] === target) {
      this.siftUp(i)
      this.siftDown(target.heapIndex)
      return
    }
    target.heapIndex = this.heap.length
    this.heap.push(target)
    this.siftUp(target.heapIndex)
  }

  /** Forget `target`'s wake-up. */
  cancel(target: T): void {
    const i = target.heapIndex
    target.notifyAt = NaN
    if (i < 0 || this.heap[i] !== target) return
    this.removeAt(i)
  }

  /** The earliest wake-up time, or `Infinity`. */
  nextAt(): number {
    return this.heap.length > 0 ? this.heap[0]!.notifyAt : Infinity
  }

  /** Remove and return every target due at or before `now` (each once). */
  takeDue(now: number): Array<T> {
    const due: Array<T> = []
    while (this.heap.length > 0 && this.heap[0]!.notifyAt <= now) {
      const top = this.heap[0]!
      this.removeAt(0)
      top.notifyAt = NaN
      due.push(top)
    }
    return due
  }

  private removeAt(i: number): void {
    const heap = this.heap
    const removed = heap[i]!
    removed.heapIndex = -1
    const last = heap.pop()!
    if (i === heap.length) return
    heap[i] = last
    last.heapIndex = i
    this.siftUp(i)
    this.siftDown(last.heapIndex)
  }

  private siftUp(i: number): void {
    const heap = this.heap
    const t = heap[i]!
    while (i > 0) {
      const parent = (i - 1) >> 1
      const p = heap[parent]!
      if (p.notifyAt <= t.notifyAt) break
      heap[i] = p
      p.heapIndex = i
      i = parent
    }
    heap[i] = t
    t.heapIndex = i
  }

  private siftDown(i: number): void {
    const heap = this.heap
    const n = heap.length
    const t = heap[i]!
    for (;;) {
      const l = 2 * i + 1
      if (l >= n) break
      const r = l + 1
      const c = r < n && heap[r]!.notifyAt < heap[l]!.notifyAt ? r : l
      if (heap[c]!.notifyAt >= t.notifyAt) break
      heap[i] = heap[c]!
      heap[i]!.heapIndex = i
      i = c
    }
    heap[i] = t
    t.heapIndex = i
  }
}
