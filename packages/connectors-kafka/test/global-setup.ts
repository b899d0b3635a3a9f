import { execFileSync } from "node:child_process"
import * as path from "node:path"

/** Start (or reuse) the test Kafka broker and hand its address to the tests, unless WEIR_KAFKA_BROKERS names one. */
export default function setup(): void {
  if (process.env.WEIR_KAFKA_BROKERS) return
  const script = path.resolve(import.meta.dirname, "../../../scripts/kafka.sh")
  const brokers = execFileSync("bash", [script, "up"], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim()
  process.env.WEIR_KAFKA_BROKERS = brokers
}
