/**
 * State serialization: V8's structured-clone format, so `Map`, `Set`, `Date`,
 * `bigint`, typed arrays, nested objects and cycles round-trip exactly.
 * Functions, class instances' prototypes and symbols do not survive; a value
 * that cannot be serialized fails with an error naming the step and the key.
 */
import * as v8 from "node:v8"
import { StateSerializationError } from "./errors.js"

export const serialize = (stepId: string, key: string, state: unknown): Buffer => {
  try {
    return v8.serialize(state)
  } catch (e) {
    throw new StateSerializationError(
      `can't serialize the state of key '${key}' in step '${stepId}': ${e instanceof Error ? e.message : String(e)}; ` +
        "states must be structured-cloneable (plain objects, arrays, Map, Set, Date, bigint, typed arrays) — " +
        "return such a value from `snapshot()`",
      { cause: e }
    )
  }
}

export const deserialize = (stepId: string, key: string, bytes: Uint8Array): unknown => {
  try {
    return v8.deserialize(bytes)
  } catch (e) {
    throw new StateSerializationError(
      `can't deserialize the stored state of key '${key}' in step '${stepId}': ${e instanceof Error ? e.message : String(e)}`,
      { cause: e }
    )
  }
}
