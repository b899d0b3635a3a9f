/**
 * Items decoded from a file and not handed out yet, each with the file offset
 * after it: taking a batch moves `offset` to where the next item starts,
 * which is what a source partition snapshots.
 */
export class OffsetQueue<X> {
  /** Queued items; those before `head` were handed out. Readers push here directly on hot paths. */
  items: Array<X> = []
  /** The file offset after each item of `items`. */
  ends: Array<number> = []
  private head = 0
  /** The file offset after the last item handed out. */
  offset: number

  constructor(start: number) {
    this.offset = start
  }

  /** Items not handed out yet. */
  get ready(): number {
    return this.items.length - this.head
  }

  /** Bytes the items not handed out yet span in the file. */
  get readyBytes(): number {
    return this.items.length > this.head ? this.ends[this.ends.length - 1]! - this.offset : 0
  }

  push(item: X, end: number): void {
    this.items.push(item)
    this.ends.push(end)
  }

  /** Up to `n` items, in order. */
  take(n: number): Array<X> {
    const k = n < this.ready ? n : this.ready
    if (k === 0) return []
    if (this.head === 0 && k === this.items.length) {
      const all = this.items
      this.offset = this.ends[k - 1]!
      this.items = []
      this.ends = []
      return all
    }
    const out = this.items.slice(this.head, this.head + k)
    this.head += k
    this.offset = this.ends[this.head - 1]!
    return out
  }

  /** Drops handed-out items from the front; call before pushing into `items` directly. */
  compact(): void {
    if (this.head === 0) return
    this.items = this.items.slice(this.head)
    this.ends = this.ends.slice(this.head)
    this.head = 0
  }
}
