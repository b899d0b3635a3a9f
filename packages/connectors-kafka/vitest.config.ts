import { defineConfig, mergeConfig } from "vitest/config"
import shared from "../../vitest.shared.js"

// The exactly-once tests also run on PostgreSQL: @weir/recovery's setup starts (or reuses) its test server.
export default mergeConfig(shared, defineConfig({ test: { globalSetup: ["test/global-setup.ts", "../recovery/test/global-setup.ts"] } }))
