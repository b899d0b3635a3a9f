import { execFileSync } from "node:child_process"
import * as path from "node:path"

/** Start (or reuse) the test PostgreSQL cluster and hand its URL to the tests. */
export default function setup(): void {
  if (process.env.WEIR_PG_URL) return
  const script = path.resolve(import.meta.dirname, "../../../scripts/postgres.sh")
  const url = execFileSync("bash", [script, "up"], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim()
  process.env.WEIR_PG_URL = url
}
