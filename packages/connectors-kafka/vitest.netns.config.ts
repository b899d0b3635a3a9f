import { defineConfig } from "vitest/config"
import shared from "../../vitest.shared.js"

// The scale-out tests (`weir run --cluster`, one process per emulated host) and the harness's own test:
// test/netns-setup.ts brings up network namespaces with a broker and PostgreSQL of their own (needs root),
// so files run one at a time. (Not merged with mergeConfig: that would add these globs to shared's include.)
export default defineConfig({
  ...shared,
  test: {
    ...shared.test,
    include: ["test/scale-out/**/*.test.ts", "test/netns.test.ts"],
    globalSetup: ["test/netns-setup.ts"],
    fileParallelism: false,
    testTimeout: 180_000,
    hookTimeout: 300_000
  }
})
