import { defineConfig } from "vitest/config"

// vitest 5 uses a few ES2024 built-ins that Node 20 lacks (its reporter calls Map.groupBy
// when printing failures). Provide them here: this file is loaded in vitest's main process.
const groupBy = <T, K>(items: Iterable<T>, key: (item: T, index: number) => K) => {
  const groups = new Map<K, Array<T>>()
  let i = 0
  for (const item of items) {
    const k = key(item, i++)
    const list = groups.get(k)
    if (list === undefined) groups.set(k, [item])
    else list.push(item)
  }
  return groups
}
const MapWithGroupBy = Map as unknown as { groupBy?: typeof groupBy }
MapWithGroupBy.groupBy ??= groupBy
const ObjectWithGroupBy = Object as unknown as { groupBy?: unknown }
ObjectWithGroupBy.groupBy ??= <T>(items: Iterable<T>, key: (item: T, index: number) => PropertyKey) =>
  Object.fromEntries(groupBy(items, key))
const PromiseWithResolvers = Promise as unknown as { withResolvers?: unknown }
PromiseWithResolvers.withResolvers ??= <T>() => {
  let resolve!: (value: T) => void
  let reject!: (reason: unknown) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

/**
 * Shared vitest settings: tests resolve workspace packages to their TypeScript
 * sources (the "@weir/source" export condition), so `npm test` needs no build.
 */
export default defineConfig({
  resolve: { conditions: ["@weir/source"] },
  ssr: { resolve: { conditions: ["@weir/source"] } },
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000
  }
})
