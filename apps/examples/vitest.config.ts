import { defineConfig, mergeConfig } from "vitest/config"
import shared from "../../vitest.shared.js"

// The Kafka example needs a broker: reuse @weir/connectors-kafka's setup, which starts (or
// reuses) the test broker of scripts/kafka.sh unless WEIR_KAFKA_BROKERS names one.
export default mergeConfig(shared, defineConfig({ test: { globalSetup: ["../../packages/connectors-kafka/test/global-setup.ts"] } }))
