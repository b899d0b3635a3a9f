/**
 * Read buffers shared by every line reader in the process. A `DirSource`
 * over thousands of files builds thousands of partitions at once; with a
 * buffer each, memory would grow with the file count. Here at most
 * `MAX_BUFFERS` buffers of a size exist: a reader holds one only while a read
 * is under way (its bytes are decoded or copied before it is given back), and
 * waits for one when all are in use.
 */
const MAX_BUFFERS = 4

class BufferPool {
  private readonly free: Array<Buffer> = []
  private made = 0
  private readonly waiting: Array<(b: Buffer) => void> = []

  constructor(private readonly size: number) {}

  acquire(): Promise<Buffer> {
    const b = this.free.pop()
    if (b !== undefined) return Promise.resolve(b)
    if (this.made < MAX_BUFFERS) {
      this.made++
      return Promise.resolve(Buffer.allocUnsafe(this.size))
    }
    return new Promise((resolve) => this.waiting.push(resolve))
  }

  release(b: Buffer): void {
    const next = this.waiting.shift()
    if (next !== undefined) next(b)
    else this.free.push(b)
  }
}

const pools = new Map<number, BufferPool>()

/** The pool of buffers of `size` bytes. */
export const buffersOf = (size: number): BufferPool => {
  let pool = pools.get(size)
  if (pool === undefined) {
    pool = new BufferPool(size)
    pools.set(size, pool)
  }
  return pool
}
