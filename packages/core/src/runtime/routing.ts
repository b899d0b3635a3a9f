/**
 * Routing: which worker owns what. Every decision of ownership goes through
 * this module — live routing of keyed items, restoring keyed state after a
 * restart (perhaps with another worker count), and assigning source and sink
 * partitions — so the three can never disagree.
 */
import { stableHash } from "../internal/hash.js"

/**
 * The worker owning `key` among `workers`: a stable hash of the key, so the
 * same key goes to the same worker in every thread, process and run with
 * that many workers.
 */
export const ownerOf = (key: string, workers: number): number => (workers === 1 ? 0 : stableHash(key) % workers)

/**
 * The worker reading (or writing) a source's (or sink's) partition, given its
 * place in the partition names sorted naturally: partitions are dealt out in
 * turn, so every worker gets as many as any other, give or take one.
 */
export const partitionOwner = (sortedIndex: number, workers: number): number => sortedIndex % workers

/**
 * The key routing reads from an item. Items that are not `[string, value]`
 * pairs go to worker 0, whose step then reports the bad shape.
 */
export const routingKey = (item: unknown): string =>
  Array.isArray(item) && typeof item[0] === "string" ? item[0] : ""
