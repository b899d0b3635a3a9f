import { canUseNetns, hostsDown, hostsUp, netnsUnavailableReason } from "./netns.js"

/** Hosts the scale-out tests get. */
const HOSTS = 3

/**
 * globalSetup of vitest.netns.config.ts: clear whatever an earlier run left (`scripts/netns.sh down`), bring
 * up {@link HOSTS} emulated hosts with the namespace broker and PostgreSQL, and hand their addresses to the
 * tests in WEIR_NETNS_KAFKA, WEIR_NETNS_PG_URL and WEIR_NETNS_HOSTS; tear everything down afterwards.
 * Without root: fails in CI (`CI` set), and sets nothing up elsewhere (the tests skip).
 */
export default async function setup(): Promise<() => Promise<void>> {
  if (!canUseNetns()) {
    if (process.env.CI) throw new Error(`The scale-out tests need Linux network namespaces, but ${netnsUnavailableReason()}.`)
    console.warn(`netns-setup: skipping the scale-out tests: ${netnsUnavailableReason()}`)
    return async () => {}
  }
  await hostsDown()
  try {
    const env = await hostsUp(HOSTS)
    process.env.WEIR_NETNS_KAFKA = env.kafka
    process.env.WEIR_NETNS_PG_URL = env.pgUrl
    process.env.WEIR_NETNS_HOSTS = String(env.hosts)
  } catch (e) {
    await hostsDown()
    throw e
  }
  return hostsDown
}
