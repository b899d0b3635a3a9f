import { defineConfig, mergeConfig } from "vitest/config"
import shared from "../../vitest.shared.js"

// The Kafka examples need a broker: reuse @weir/connectors-kafka's setup, which starts (or
// reuses) the test broker of scripts/kafka.sh unless WEIR_KAFKA_BROKERS names one. The scale-out
// example also needs PostgreSQL: @weir/recovery's setup starts (or reuses) the server of
// scripts/postgres.sh unless WEIR_PG_URL names one.
export default mergeConfig(shared, defineConfig({
  test: { globalSetup: ["../../packages/connectors-kafka/test/global-setup.ts", "../../packages/recovery/test/global-setup.ts"] }
}))
