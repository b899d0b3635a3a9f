/**
 * Source and sink methods may return a plain value, a Promise or an Effect.
 * These helpers keep the synchronous case synchronous (no allocation, no
 * microtask) and turn the others into Promises the worker can wait on.
 */
import * as Effect from "effect/Effect"
import { WeirRuntimeError } from "../errors.js"
import { typeName } from "../Dataflow.js"

export const isPromiseLike = (u: unknown): u is PromiseLike<unknown> =>
  typeof u === "object" && u !== null && typeof (u as { then?: unknown }).then === "function"

/** `true` when `u` needs waiting for (a Promise or an Effect). */
export const isAsync = (u: unknown): boolean => isPromiseLike(u) || Effect.isEffect(u)

/** A Promise of an async result (Promise or Effect). */
export const toPromise = <A>(u: unknown): Promise<A> =>
  Effect.isEffect(u) ? Effect.runPromise(u as Effect.Effect<A, unknown>) : Promise.resolve(u as PromiseLike<A>)

/** An Effect of a possibly-async result; failures become `WeirRuntimeError`s made by `wrap`. */
export const toEffect = <A>(u: unknown, wrap: (cause: unknown) => WeirRuntimeError): Effect.Effect<A, WeirRuntimeError> => {
  if (Effect.isEffect(u)) return Effect.mapError(u as Effect.Effect<A, unknown>, wrap)
  if (isPromiseLike(u)) return Effect.tryPromise({ try: () => Promise.resolve(u as PromiseLike<A>), catch: wrap })
  return Effect.succeed(u as A)
}

/** The message of an unknown thrown value. */
export const messageOf = (cause: unknown): string =>
  cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause)

/**
 * The error for a user callback that threw (or misbehaved) inside a step:
 * names the call and the fully-qualified step id, keeps the cause.
 */
export const stepError = (what: string, stepId: string, cause: unknown, where = ""): WeirRuntimeError => {
  if (cause instanceof WeirRuntimeError) return cause
  const error = new WeirRuntimeError({
    message: `error calling \`${what}\` in step '${stepId}'${where}: ${messageOf(cause)}`,
    stepId,
    cause
  })
  if (CONNECTOR_CALL.test(what)) connectorErrors.add(error)
  return error
}

/** The calls into sources and sinks (`StatefulSourcePartition.nextBatch`, `DynamicSink.build`, …). */
const CONNECTOR_CALL = /^(Fixed|Dynamic|Stateful|Stateless|Transactional)\w*(Source|Sink)\w*\./

const connectorErrors = new WeakSet<object>()

/**
 * Whether `e` came out of a source or a sink (a broker that went away, a
 * file system that failed) rather than the flow's own functions: a
 * scale-out run builds its generation again for those, from the last
 * commit, instead of failing at once.
 */
export const isConnectorError = (e: unknown): boolean => typeof e === "object" && e !== null && connectorErrors.has(e)

/** A `TypeError` for a value of the wrong type, naming the step and what to do. */
export const wrongType = (what: string, stepId: string, expected: string, got: unknown, hint = ""): TypeError =>
  new TypeError(`${what} in step '${stepId}' must be ${expected}; got a \`${typeName(got)}\` instead${hint}`)

/** Drain an iterable into an array; arrays pass through untouched. */
export const toArray = <A>(it: Iterable<A>, what: string, stepId: string): Array<A> => {
  if (Array.isArray(it)) return it
  if (it == null || typeof (it as { [Symbol.iterator]?: unknown })[Symbol.iterator] !== "function") {
    throw wrongType(what, stepId, "an iterable", it)
  }
  return Array.from(it)
}
