import { defineConfig, mergeConfig } from "vitest/config"
import shared from "../../vitest.shared.js"

// The crash test also runs against PostgreSQL: reuse @weir/recovery's setup, which starts
// (or reuses) the test server and sets WEIR_PG_URL.
export default mergeConfig(shared, defineConfig({ test: { globalSetup: ["../recovery/test/global-setup.ts"] } }))
