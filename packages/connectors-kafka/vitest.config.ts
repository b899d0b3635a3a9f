import { configDefaults, defineConfig, mergeConfig } from "vitest/config"
import shared from "../../vitest.shared.js"

// The exactly-once tests also run on PostgreSQL: @weir/recovery's setup starts (or reuses) its test server.
// The emulated-hosts tests have their own config and setup (vitest.netns.config.ts).
export default mergeConfig(shared, defineConfig({
  test: {
    globalSetup: ["test/global-setup.ts", "../recovery/test/global-setup.ts"],
    exclude: [...configDefaults.exclude, "test/scale-out/**", "test/netns.test.ts"]
  }
}))
