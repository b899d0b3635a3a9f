import { defineConfig } from "vitest/config"

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
