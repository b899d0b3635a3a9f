/**
 * Emulated hosts for the scale-out tests: each "host" is a Linux network namespace on one bridge, and a
 * private Kafka broker and PostgreSQL run in a namespace of their own (scripts/netns.sh). Processes run
 * in a host with {@link spawnIn}; {@link cut} and {@link heal} take a host off the network and back.
 * test/netns-setup.ts (the globalSetup of vitest.netns.config.ts) brings up 3 hosts for a run.
 */
import { type ChildProcess, execFile, execFileSync, spawn, type SpawnOptions } from "node:child_process"
import * as path from "node:path"

/** scripts/netns.sh of this clone. */
export const netnsScript = path.resolve(import.meta.dirname, "../../../scripts/netns.sh")

/** The name prefix of the namespaces and links (`WEIR_NETNS_PREFIX`, as scripts/netns.sh reads it). */
export const netnsPrefix = (): string => process.env.WEIR_NETNS_PREFIX ?? "weir"

/** The first three octets of the emulated network's /24 (`WEIR_NETNS_NET`, as scripts/netns.sh reads it). */
export const netnsNet = (): string => process.env.WEIR_NETNS_NET ?? "10.77.0"

/** The address of host `host` (1..N) on the emulated network: `<net>.(10 + host)`. */
export const hostAddress = (host: number): string => `${netnsNet()}.${10 + host}`

/** The network namespace of host `host` (1..N). */
export const hostNamespace = (host: number): string => `${netnsPrefix()}-h${host}`

/** How {@link cut} takes a host off the network; see scripts/netns.sh. */
export type CutMode = "bridge" | "ns" | "silent"

/** What {@link kafka} does to the namespace broker: `down` is SIGTERM, `kill` SIGKILL (a crash). */
export type KafkaAction = "up" | "down" | "restart" | "kill"

/** Addresses of the emulated network, as `scripts/netns.sh env` prints them. */
export interface NetnsEnv {
  /** Bootstrap address of the namespace broker (`WEIR_NETNS_KAFKA`), e.g. `10.77.0.2:9092`. */
  readonly kafka: string
  /** URL of the namespace PostgreSQL (`WEIR_NETNS_PG_URL`). */
  readonly pgUrl: string
  /** How many hosts are up (`WEIR_NETNS_HOSTS`). */
  readonly hosts: number
}

const run = (args: ReadonlyArray<string>): Promise<string> =>
  new Promise((resolve, reject) => {
    execFile("bash", [netnsScript, ...args], { encoding: "utf8", maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) =>
      err
        ? reject(new Error(`scripts/netns.sh ${args.join(" ")} failed (${err.message.split("\n")[0]}): ${stderr.trim()}`))
        : resolve(stdout))
  })

/**
 * Whether this process can create network namespaces: it runs as root and `ip` (iproute2) is on the PATH.
 * In CI (`CI` set) the scale-out tests must fail rather than skip when this is false.
 */
export const canUseNetns = (): boolean => {
  if (process.getuid?.() !== 0) return false
  try {
    execFileSync("sh", ["-c", "command -v ip"], { stdio: "ignore" })
    return true
  } catch {
    return false
  }
}

/** Why {@link canUseNetns} is false, for the error CI shows. */
export const netnsUnavailableReason = (): string =>
  process.getuid?.() !== 0
    ? `the tests run as uid ${String(process.getuid?.())}, and network namespaces need root: run them as root`
    : "`ip` (iproute2) is not on the PATH: apt-get install iproute2"

/** Parse what `scripts/netns.sh env` prints. */
export const parseNetnsEnv = (text: string): NetnsEnv => {
  const vars = new Map<string, string>()
  for (const line of text.split("\n")) {
    const m = /^(WEIR_NETNS_[A-Z_]+)=(.*)$/.exec(line.trim())
    if (m) vars.set(m[1]!, m[2]!)
  }
  const get = (name: string): string => {
    const v = vars.get(name)
    if (v === undefined) throw new Error(`scripts/netns.sh env printed no ${name} (got: ${JSON.stringify(text)})`)
    return v
  }
  const hosts = Number(get("WEIR_NETNS_HOSTS"))
  if (!Number.isInteger(hosts) || hosts < 0) throw new Error(`WEIR_NETNS_HOSTS is not a count of hosts: ${get("WEIR_NETNS_HOSTS")}`)
  return { kafka: get("WEIR_NETNS_KAFKA"), pgUrl: get("WEIR_NETNS_PG_URL"), hosts }
}

/** The emulated network's addresses (`scripts/netns.sh env`, parsed). */
export const netnsEnv = (): NetnsEnv =>
  parseNetnsEnv(execFileSync("bash", [netnsScript, "env"], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }))

/** Bring up `n` hosts with the broker and PostgreSQL (idempotent: what exists is kept); resolves with the addresses. */
export const hostsUp = async (n: number): Promise<NetnsEnv> => {
  if (!Number.isInteger(n) || n < 1) throw new Error(`hostsUp: n is a number of hosts (1 or more), got ${String(n)}`)
  return parseNetnsEnv(await run(["up", String(n)]))
}

/** Tear everything down: the broker, PostgreSQL, every process in a host, the namespaces and links. */
export const hostsDown = async (): Promise<void> => {
  await run(["down"])
}

/**
 * Spawn `cmd args…` in host `host`'s namespace (`ip netns exec`, which execs the command: the child's pid
 * is the command's own, so `child.kill("SIGKILL")` kills it). `opts` are those of `child_process.spawn`.
 */
export const spawnIn = (host: number, cmd: string, args: ReadonlyArray<string>, opts: SpawnOptions = {}): ChildProcess => {
  if (!Number.isInteger(host) || host < 1) throw new Error(`spawnIn: host is a host number (1..N), got ${String(host)}`)
  return spawn("ip", ["netns", "exec", hostNamespace(host), cmd, ...args], opts)
}

/** Cut host `host` off the network (`scripts/netns.sh cut`); `bridge` by default. */
export const cut = async (host: number, mode: CutMode = "bridge"): Promise<void> => {
  await run(["cut", String(host), mode])
}

/** Undo any {@link cut} of host `host`. */
export const heal = async (host: number): Promise<void> => {
  await run(["heal", String(host)])
}

/** Start, stop, restart or SIGKILL the namespace broker; `up` and `restart` resolve once it answers. */
export const kafka = async (action: KafkaAction): Promise<void> => {
  await run(["kafka", action])
}
