// src/exactly-once.ts on several processes, the README's scale-out walkthrough, against the real
// test broker and PostgreSQL: a store of 6 key groups, two `weir run --cluster` processes,
// 3,000 payments, a third process joining, one of the first two killed with SIGKILL, the others
// stopped with SIGTERM; then a read_committed read of the balances topic has every payment's
// balance exactly once, each account's balances the running sums of its payments in order.
//
// The flow id is `FLOW_ID` (the README's runs use the default, `balances`): this test's own, so
// its PostgreSQL schema `weir_<flow id>`, its consumer group `weir.<flow id>`, exchange topic
// `weir.<flow id>.exchange` and transactional ids `weir.<flow id>.out.kafka_output.<key group>`
// are nobody else's (not test/exactly-once.test.ts's, not a walkthrough's on the same servers).
import { afterAll, describe, expect, it } from "vitest"
import { brokers, createTopic, deleteTopic, produce, readTopic, uniqueTopic } from "./kafka.js"
import { delay, type Running, start, weir } from "./weir.js"
import { expectedBalances as balancesOf, payment as paymentOf } from "./payments.js"

const flowId = `balances_t${process.pid}_${Date.now().toString(36)}`
const paymentsTopic = uniqueTopic("scale-payments")
const balancesTopic = uniqueTopic("scale-balances")
const exchangeTopic = `weir.${flowId}.exchange`

const KEY_GROUPS = 6
const BALANCE_PARTITIONS = 3
const PAYMENTS = 3_000
const ACCOUNTS = 20
/** The pause per payment: 30 s of work over the processes, so the kill comes while there is some left. */
const SLOW_MS = 10
/** The longest one `weir run --cluster` process may live (it never ends by itself); afterAll kills it anyway. */
const PROCESS_TIMEOUT_MS = 150_000

const processes: Array<Running> = []
afterAll(async () => {
  // Even when the test failed partway: no process outlives it.
  for (const p of processes) p.child.kill("SIGKILL")
  await Promise.all(processes.map((p) => p.finished.catch(() => undefined)))
  for (const topic of [paymentsTopic, balancesTopic, exchangeTopic]) await deleteTopic(topic)
})

const pgUrl = (): string => {
  const url = process.env.WEIR_PG_URL
  if (!url) throw new Error("WEIR_PG_URL is not set (@weir/recovery's test/global-setup.ts starts a server)")
  return url
}

const payment = (i: number) => paymentOf(i, ACCOUNTS)
const expectedBalances = () => balancesOf(PAYMENTS, ACCOUNTS)

/** Everything a process printed (its log lines go to stdout, the epoch lines to stderr). */
const logOf = (p: Running): string => {
  const { stdout, stderr } = p.output()
  return stdout + stderr
}

/**
 * The key groups a process runs now, from its log: those of its last `running key groups …`
 * line, or none while a change it logged after that (`key groups revoked|lost|assigned`) has not
 * yet given way to a new `running` line.
 */
const runningOf = (p: Running): ReadonlyArray<number> => {
  const events = Array.from(
    logOf(p).matchAll(/(running key groups ([\d, ]+) from epoch|key groups (?:revoked|lost|assigned):)/g),
    (m) => m[2]
  )
  const last = events.at(-1)
  return last === undefined ? [] : last.split(", ").map(Number)
}

/** Whether every process in `ps` runs some key groups, and together they run each of the 6 once. */
const shareAll = (ps: ReadonlyArray<Running>): boolean => {
  const shares = ps.map(runningOf)
  return shares.every((s) => s.length > 0) && shares.flat().sort((a, b) => a - b).join() === "0,1,2,3,4,5"
}

const logs = (ps: ReadonlyArray<Running>): string => ps.map((p, i) => `--- process ${i + 1}\n${logOf(p).slice(-3000)}`).join("\n")

/** Wait until `condition()` holds, or fail after `timeoutMs` with `what` and the processes' logs. */
const until = async (what: string, condition: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`${what}: not so after ${timeoutMs} ms\n${logs(processes)}`)
    const exited = processes.find((p) => p.child.exitCode !== null && p.child.signalCode === null)
    if (exited !== undefined) throw new Error(`a weir process exited (${exited.child.exitCode}) while waiting: ${what}\n${logs(processes)}`)
    await delay(200)
  }
}

describe("scale-out", () => {
  it("runs on 2, then 3 processes, survives a SIGKILL of one, and writes every balance exactly once", async () => {
    await createTopic(paymentsTopic, KEY_GROUPS)
    await createTopic(balancesTopic, BALANCE_PARTITIONS)

    // 1. The store: 6 key groups, in the schema `weir_<flow id>` that `weir run -r <url>` uses.
    const init = await weir(["recovery", "init", "--postgres", pgUrl(), String(KEY_GROUPS), "--flow", flowId])
    expect(init.stderr).toMatch(new RegExp(`^created ${KEY_GROUPS} recovery partition\\(s\\) in the schema of flow '${flowId}' of `))
    expect(init.code).toBe(0)

    // 2. Two processes, which join the group `weir.<flow id>` and split the key groups.
    const args = [
      "run", "src/exactly-once.ts",
      "--cluster", `kafka://${brokers()}?session.timeout.ms=6000`,
      "-r", pgUrl(), "-s", "1", "-b", "0"
    ]
    const env = {
      WEIR_KAFKA_BROKERS: brokers(),
      PAYMENTS_TOPIC: paymentsTopic,
      BALANCES_TOPIC: balancesTopic,
      FLOW_ID: flowId,
      TAIL: "1",
      SLOW_MS: String(SLOW_MS)
    }
    const launch = (): Running => {
      const p = start(args, env, PROCESS_TIMEOUT_MS)
      processes.push(p)
      return p
    }
    const p1 = launch()
    const p2 = launch()
    await until("two processes share the 6 key groups", () => shareAll([p1, p2]), 60_000)
    for (const p of [p1, p2]) expect(logOf(p)).toContain(`flow '${flowId}' joined group 'weir.${flowId}'`)

    // 3. The payments, keyed by account: each account's stay in order in one partition.
    await produce(
      paymentsTopic,
      Array.from({ length: PAYMENTS }, (_, i) => {
        const p = payment(i)
        return [p.account, JSON.stringify(p)] as const
      }),
      null
    )

    // 4. A third process joins: the key groups are dealt again, some of them move to it.
    const p3 = launch()
    await until("three processes share the 6 key groups", () => shareAll([p1, p2, p3]), 60_000)
    expect(logOf(p3)).toMatch(/key groups assigned: \d/)

    // 5. SIGKILL one of the first two while balances are still being written; its key groups
    // move to the others once the group misses it (session.timeout.ms, 6 s).
    const lost = runningOf(p2)
    p2.child.kill("SIGKILL")
    const killed = await p2.finished
    expect(killed.signal).toBe("SIGKILL")
    const committedAtKill = (await readTopic(balancesTopic, { partitions: BALANCE_PARTITIONS })).length
    expect(committedAtKill, "the kill came after every balance was written: make SLOW_MS larger").toBeLessThan(PAYMENTS)
    await until(`the killed process's key groups ${lost.join(", ")} move to the others`, () => shareAll([p1, p3]), 60_000)

    // 6. The survivors finish the work: read_committed, a balance for every payment.
    await until(
      "the balances topic holds a balance for every payment",
      async () => (await readTopic(balancesTopic, { partitions: BALANCE_PARTITIONS })).length >= PAYMENTS,
      60_000
    )

    // 7. SIGTERM: each commits its last epoch, gives up its key groups, leaves the group and exits with 143.
    const revocations = (p: Running) => logOf(p).match(/key groups revoked: \d/g)?.length ?? 0
    const before = [p1, p3].map(revocations)
    for (const p of [p1, p3]) p.child.kill("SIGTERM")
    for (const [i, p] of [p1, p3].entries()) {
      const stopped = await p.finished
      expect(stopped.code, logOf(p)).toBe(143)
      expect(stopped.stderr).toMatch(/^interrupted$/m)
      expect(revocations(p), logOf(p)).toBe(before[i]! + 1)
    }

    // 8. read_committed: every payment exactly once, each account's balances its running sums in order.
    const committed = await readTopic(balancesTopic, { partitions: BALANCE_PARTITIONS })
    expect(committed).toHaveLength(PAYMENTS)
    const expected = expectedBalances()
    expect(expected.size).toBe(ACCOUNTS)
    for (const [account, balances] of expected) {
      expect(committed.filter(([key]) => key === account).map(([, value]) => value), account).toEqual(balances)
    }
  }, 150_000)
})
