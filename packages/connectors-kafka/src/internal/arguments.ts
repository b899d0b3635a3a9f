/**
 * Checking what users pass to the sources and sinks, with the reference's
 * messages where it has them.
 */
import type { ClientConfig } from "./client.js"

const describe = (u: unknown): string =>
  u === null ? "null" : Array.isArray(u) ? "array" : typeof u === "object" ? (u.constructor?.name ?? "object") : typeof u

/** A list of non-empty strings; a plain string is refused ("brokers must be an iterable and not a string"). */
export const stringList = (what: "brokers" | "topics", u: unknown): Array<string> => {
  if (typeof u === "string") throw new TypeError(`${what} must be an iterable and not a string`)
  if (u === null || typeof u !== "object" || typeof (u as { [Symbol.iterator]?: unknown })[Symbol.iterator] !== "function") {
    throw new TypeError(`${what} must be an iterable of strings; got a \`${describe(u)}\` instead`)
  }
  const list = Array.from(u as Iterable<unknown>)
  for (const s of list) {
    if (typeof s !== "string" || s.length === 0) {
      throw new TypeError(`${what} must be an iterable of non-empty strings; got a \`${describe(s)}\` in it`)
    }
  }
  if (list.length === 0) throw new TypeError(`${what} must not be empty`)
  return list as Array<string>
}

export const positiveInteger = (what: string, u: unknown): number => {
  if (typeof u !== "number" || !Number.isInteger(u) || u <= 0) {
    throw new TypeError(`${what} must be a positive integer; got ${String(u)}`)
  }
  return u
}

export const clientConfig = (u: unknown): ClientConfig => {
  if (u === undefined) return {}
  if (u === null || typeof u !== "object" || Array.isArray(u)) {
    throw new TypeError(`addConfig must be an object of librdkafka settings; got a \`${describe(u)}\` instead`)
  }
  for (const [k, v] of Object.entries(u)) {
    if (typeof v !== "string" && typeof v !== "number" && typeof v !== "boolean") {
      throw new TypeError(`addConfig['${k}'] must be a string, number or boolean; got a \`${describe(v)}\` instead`)
    }
  }
  return u as ClientConfig
}
