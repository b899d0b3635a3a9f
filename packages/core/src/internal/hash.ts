/**
 * A stable 32-bit hash of a string (FNV-1a over UTF-16 code units): the same on
 * every process and every run, so keys route to the same worker and partition
 * after a restart. Not cryptographic.
 */
export const stableHash = (s: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}
