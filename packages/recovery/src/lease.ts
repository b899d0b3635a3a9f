/**
 * The embedded store's lease: one run at a time holds a store directory.
 *
 * The lock is an exclusive SQLite lock on `weir.lock` in the directory, held
 * for the whole run (`locking_mode = EXCLUSIVE` keeps it after the first
 * write). SQLite takes it with the OS's file locks, so the OS releases it
 * when the holder exits or is killed — no stale lock to clean up after a
 * crash. Who holds it, and since when, is written beside it in
 * `weir.lock.json`, only for the message a second run fails with.
 */
import Database from "better-sqlite3"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { StoreInUseError } from "./errors.js"

/** What a second run is told about the holder. */
export interface LeaseHolder {
  readonly flowId: string
  readonly pid: number
  readonly host: string
  /** ISO-8601 time the lease was taken. */
  readonly since: string
}

/** Says who holds a lease, for an error message. */
export const describeHolder = (holder: Partial<LeaseHolder> | undefined): string =>
  holder === undefined || holder.pid === undefined
    ? "another run (it did not say which)"
    : `flow '${holder.flowId ?? "?"}' (pid ${holder.pid} on ${holder.host ?? "?"}) since ${holder.since ?? "?"}`

/** The lock file of a store directory (not a partition: partitions end in `.sqlite3`). */
export const LOCK_FILE = "weir.lock"
const HOLDER_FILE = "weir.lock.json"

export interface EmbeddedLease {
  release(): void
}

const isBusy = (e: unknown): boolean => {
  const code = (e as { code?: unknown }).code
  return code === "SQLITE_BUSY" || code === "SQLITE_LOCKED"
}

const readHolder = (dir: string): Partial<LeaseHolder> | undefined => {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, HOLDER_FILE), "utf8")) as Partial<LeaseHolder>
  } catch {
    return undefined
  }
}

/**
 * Take the lease of the store in `dir` for `flowId`, or fail at once with a
 * {@link StoreInUseError} naming the holder. `what` says what the lease is
 * for, in that message ("run", "initialise").
 */
export const acquireEmbeddedLease = (dir: string, flowId: string, what = "run"): EmbeddedLease => {
  const db = new Database(path.join(dir, LOCK_FILE), { timeout: 0 })
  try {
    db.pragma("locking_mode = EXCLUSIVE")
    db.exec("BEGIN EXCLUSIVE")
    db.exec("COMMIT")
  } catch (e) {
    db.close()
    if (!isBusy(e)) throw e
    throw new StoreInUseError(
      `can't ${what} with the recovery store in directory '${dir}': it is in use by ${describeHolder(readHolder(dir))}. ` +
        "A store is held by one run at a time: wait for that run to end or stop it; to run this flow alongside it, " +
        "give it a store of its own (`weir recovery init <another dir> <count>`)",
      { cause: e }
    )
  }
  const holder: LeaseHolder = { flowId, pid: process.pid, host: os.hostname(), since: new Date().toISOString() }
  try {
    fs.writeFileSync(path.join(dir, HOLDER_FILE), JSON.stringify(holder) + "\n")
  } catch {
    // Only the message of a competing run needs it.
  }
  return { release: () => db.close() }
}
