// The payments of the exactly-once and scale-out tests, and the balances src/exactly-once.ts must write for them.

/** Payment `i` of `accounts` accounts: accounts in turn, amounts from -20.00 to 79.99 (a few refunds). */
export const payment = (i: number, accounts: number) => {
  const account = `a${1 + ((i * 7) % accounts)}`
  return { account, amount: (((i * 7919) % 10_000) - 2_000) / 100 }
}

/** Per account, the balance messages the flow must write for payments 0 … count-1, in order: the running sums of its payments. */
export const expectedBalances = (count: number, accounts: number): Map<string, Array<string>> => {
  const cents = new Map<string, number>()
  const expected = new Map<string, Array<string>>()
  for (let i = 0; i < count; i++) {
    const { account, amount } = payment(i, accounts)
    const balance = (cents.get(account) ?? 0) + Math.round(amount * 100)
    cents.set(account, balance)
    if (!expected.has(account)) expected.set(account, [])
    expected.get(account)!.push(JSON.stringify({ account, amount, balance: balance / 100 }))
  }
  return expected
}
