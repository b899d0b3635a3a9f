// src/exactly-once.ts, the README's exactly-once walkthrough, against the real test broker:
// payments on a 3-partition topic → a running balance per account → one message per payment
// with the exactly-once sink. The run is SIGKILLed once its output has started, the same
// command is run again to the end, and a read_committed read of the balances topic then has
// every payment exactly once, each account's balances the running sums in input order.
import { mkdirSync } from "node:fs"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { brokers, createTopic, deleteTopic, highWatermarks, produce, readTopic, uniqueTopic } from "./kafka.js"
import { delay, RUN_TIMEOUT_MS, start, tempDir, weir, withoutEpochLines } from "./weir.js"
import { expectedBalances as balancesOf, payment as paymentOf } from "./payments.js"

const paymentsTopic = uniqueTopic("payments")
const balancesTopic = uniqueTopic("balances")
afterAll(async () => {
  await deleteTopic(paymentsTopic)
  await deleteTopic(balancesTopic)
})

const PARTITIONS = 3
const PAYMENTS = 3_000
const ACCOUNTS = 20

const payment = (i: number) => paymentOf(i, ACCOUNTS)
const expectedBalances = () => balancesOf(PAYMENTS, ACCOUNTS)

/** The items the inputs read, summed over the `epoch N: X items in` lines of a run's stderr. */
const itemsRead = (stderr: string): number =>
  Array.from(stderr.matchAll(/^epoch \d+: ([\d,]+) items in/gm), (m) => Number(m[1]!.replace(/,/g, ""))).reduce((a, b) => a + b, 0)

describe("exactly-once", () => {
  it("writes every payment's balance exactly once (read_committed) after a SIGKILL partway and a resume", async () => {
    await createTopic(paymentsTopic, PARTITIONS)
    await createTopic(balancesTopic, PARTITIONS)
    // Keyed by account, the producer puts each account in one partition: its payments stay in order.
    await produce(
      paymentsTopic,
      [...Array.from({ length: PAYMENTS }, (_, i) => {
        const p = payment(i)
        return [p.account, JSON.stringify(p)] as const
      }), ["a1", "not a payment"]], // skipped, reported on stdout
      null
    )

    // 1. Create the recovery store.
    const recovery = join(tempDir("exactly-once"), "recovery")
    mkdirSync(recovery)
    const init = await weir(["recovery", "init", recovery, "1"])
    expect(init.stderr).toBe(`created 1 recovery partition(s) in ${recovery}\n`)
    expect(init.code).toBe(0)

    // 2. A slow run, SIGKILLed once it has written a tenth of its output (open transactions included).
    const args = ["run", "src/exactly-once.ts", "-r", recovery, "-s", "0.2", "-b", "0"]
    const env = { WEIR_KAFKA_BROKERS: brokers(), PAYMENTS_TOPIC: paymentsTopic, BALANCES_TOPIC: balancesTopic }
    const slow = start(args, { ...env, SLOW_MS: "2" })
    let ended = false
    void slow.finished.then(() => (ended = true))
    while (!ended && (await highWatermarks(balancesTopic, PARTITIONS)) < PAYMENTS / 10) await delay(20)
    slow.child.kill("SIGKILL")
    const killed = await slow.finished
    expect(killed.signal, `the run ended before it was killed; stderr:\n${killed.stderr}`).toBe("SIGKILL")
    const committedAtCrash = await readTopic(balancesTopic, { partitions: PARTITIONS })
    expect(committedAtCrash.length).toBeLessThan(PAYMENTS)

    // 3. The same command again: it resumes from the last committed epoch and finishes.
    const resumed = await weir(args, env)
    expect(withoutEpochLines(resumed.stderr)).toBe("")
    expect(resumed.code).toBe(0)
    // It read only the payments after the last snapshot, not the whole topic again.
    const reread = itemsRead(resumed.stderr)
    expect(reread).toBeGreaterThan(0)
    expect(reread).toBeLessThan(PAYMENTS + 1)
    // stdout is not transactional: the bad message is reported at least once over the two runs.
    expect(killed.stdout + resumed.stdout).toMatch(
      new RegExp(`^skipped ${paymentsTopic}\\[\\d\\] offset \\d+: ERR__VALUE_DESERIALIZATION$`, "m")
    )

    // 4. read_committed: every payment exactly once, each account's balances its running sums in order.
    const committed = await readTopic(balancesTopic, { partitions: PARTITIONS })
    expect(committed).toHaveLength(PAYMENTS)
    const expected = expectedBalances()
    expect(expected.size).toBe(ACCOUNTS)
    for (const [account, balances] of expected) {
      expect(committed.filter(([key]) => key === account).map(([, value]) => value), account).toEqual(balances)
    }
    // read_uncommitted also sees what the killed run's aborted transaction had written, if anything.
    const everything = await readTopic(balancesTopic, { partitions: PARTITIONS, isolation: "read_uncommitted" })
    expect(everything.length).toBeGreaterThanOrEqual(committed.length)
  }, 3 * RUN_TIMEOUT_MS)
})
