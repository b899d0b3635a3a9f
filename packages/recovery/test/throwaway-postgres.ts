/**
 * A PostgreSQL server of a test's own, in a temporary directory on a free
 * 127.0.0.1 port, that the test may freeze (SIGSTOP) and thaw (SIGCONT)
 * without touching the shared server of test/global-setup.ts. Binaries are
 * found as scripts/postgres.sh finds them; initdb and the server refuse to
 * run as root, so as root they run as the `postgres` user.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"

export interface ThrowawayPostgres {
  /** `postgres://weir@127.0.0.1:<port>/postgres` */
  readonly url: string
  readonly port: number
  /** Stop the postmaster and every backend it forked (each backend is its own process group). */
  freeze(): void
  /** Undo {@link freeze}. Harmless when not frozen. */
  thaw(): void
  /** Thaw, stop the server and remove its directory. Harmless to call twice. */
  stop(): void
}

const binDir = (): string => {
  const root = "/usr/lib/postgresql"
  const versions = fs.existsSync(root)
    ? fs.readdirSync(root).filter((v) => fs.existsSync(path.join(root, v, "bin", "pg_ctl")))
    : []
  versions.sort((a, b) => Number(a) - Number(b))
  const newest = versions.at(-1)
  if (newest === undefined) throw new Error(`no PostgreSQL under ${root}: run 'bash scripts/postgres.sh up' once to install it`)
  return path.join(root, newest, "bin")
}

const asRoot = process.getuid?.() === 0

const run = (bin: string, tool: string, args: ReadonlyArray<string>): void => {
  const exe = path.join(bin, tool)
  const [cmd, argv] = asRoot ? ["runuser", ["-u", "postgres", "--", exe, ...args]] : [exe, [...args]]
  execFileSync(cmd, argv, { stdio: ["ignore", "ignore", "pipe"] })
}

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.on("error", reject)
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port
      srv.close(() => resolve(port))
    })
  })

/** `[ppid, state]` of a process from /proc, or undefined once it is gone. */
const procStat = (pid: number): readonly [number, string] | undefined => {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    // The command name (field 2) may hold spaces and parentheses: fields 3.. follow the last ')'.
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return [Number(rest[1]), rest[0]!]
  } catch {
    return undefined
  }
}

const childrenOf = (parent: number): Array<number> => {
  const out: Array<number> = []
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue
    const pid = Number(entry)
    if (procStat(pid)?.[0] === parent) out.push(pid)
  }
  return out
}

const signal = (pid: number, sig: NodeJS.Signals): void => {
  try {
    process.kill(pid, sig)
  } catch {
    // Already gone.
  }
}

/** Initialise and start a server; the caller must call `stop()` (in `afterAll`). */
export const startThrowawayPostgres = async (): Promise<ThrowawayPostgres> => {
  const bin = binDir()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "weir-throwaway-pg-"))
  const data = path.join(dir, "data")
  const sock = path.join(dir, "sock")
  fs.mkdirSync(sock)
  if (asRoot) execFileSync("chown", ["-R", "postgres:", dir])
  const port = await freePort()
  let postmaster: number | undefined
  let frozen: Array<number> = []
  let stopped = false

  const thaw = () => {
    for (const pid of frozen) signal(pid, "SIGCONT")
    frozen = []
  }
  const stop = () => {
    if (stopped) return
    stopped = true
    thaw()
    try {
      if (postmaster !== undefined) run(bin, "pg_ctl", ["-D", data, "-m", "immediate", "-w", "-t", "20", "stop"])
    } catch {
      if (postmaster !== undefined) signal(postmaster, "SIGKILL")
    }
    fs.rmSync(dir, { recursive: true, force: true })
  }

  try {
    run(bin, "initdb", ["-D", data, "-U", "weir", "--auth=trust", "--no-sync", "-E", "UTF8"])
    run(bin, "pg_ctl", [
      "-D", data, "-l", path.join(dir, "server.log"), "-w", "-t", "30",
      "-o", `-p ${port} -k ${sock} -c listen_addresses=127.0.0.1`,
      "start"
    ])
    postmaster = Number(fs.readFileSync(path.join(data, "postmaster.pid"), "utf8").split("\n")[0])
  } catch (e) {
    stop()
    throw e
  }
  const pm = postmaster

  return {
    url: `postgres://weir@127.0.0.1:${port}/postgres`,
    port,
    freeze() {
      // The postmaster first, so it forks no new backend meanwhile.
      signal(pm, "SIGSTOP")
      frozen.push(pm)
      for (const child of childrenOf(pm)) {
        signal(child, "SIGSTOP")
        frozen.push(child)
      }
      // Signals are delivered asynchronously: wait until every process is stopped ("T"), or a zombie
      // ("Z": a backend that exited and that the stopped postmaster has not reaped).
      const running = (pid: number) => {
        const state = procStat(pid)?.[1]
        return state !== undefined && state !== "T" && state !== "Z"
      }
      const deadline = Date.now() + 5_000
      while (frozen.some(running)) {
        if (Date.now() > deadline) throw new Error("the PostgreSQL processes did not stop")
      }
    },
    thaw,
    stop
  }
}
