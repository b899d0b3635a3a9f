// The Kafka client was built with every compression codec Kafka producers use: the system's
// libraries (scripts/kafka-deps.sh) were there when librdkafka was compiled.
import { createRequire } from "node:module"
import { describe, expect, it } from "vitest"

const { features } = createRequire(import.meta.url)("@confluentinc/kafka-javascript") as { features: ReadonlyArray<string> }

describe("the Kafka client build", () => {
  it("supports gzip, snappy, lz4 and zstd compression, and TLS", () => {
    for (const f of ["gzip", "snappy", "lz4", "zstd", "ssl"]) expect(features).toContain(f)
  })
})
