/**
 * Errors of the recovery stores. They surface from a run as they are (not
 * wrapped), and each says what to do.
 *
 * @since 0.1.0
 */
import { WeirRecoveryError } from "@weir/core"

/**
 * The recovery location exists but holds no partitions: initialise it first.
 *
 * @since 0.1.0
 */
export class NoPartitionsError extends WeirRecoveryError {
  declare readonly _tag: "NoPartitionsError"
}

/**
 * Some recovery partitions are missing: restore them (every partition file must be reachable).
 *
 * @since 0.1.0
 */
export class MissingPartitionsError extends WeirRecoveryError {
  declare readonly _tag: "MissingPartitionsError"
}

/**
 * Recovery partitions disagree: different partition counts, or some were
 * restored from a backup too old to resume without losing data.
 *
 * @since 0.1.0
 */
export class InconsistentPartitionsError extends WeirRecoveryError {
  declare readonly _tag: "InconsistentPartitionsError"
}

/**
 * The store could not be reached or written (a database that is down, a
 * directory that does not exist, a disk error).
 *
 * @since 0.1.0
 */
export class RecoveryStoreError extends WeirRecoveryError {
  declare readonly _tag: "RecoveryStoreError"
}

/**
 * A state could not be serialized or deserialized; the message names the step and the key.
 *
 * @since 0.1.0
 */
export class StateSerializationError extends WeirRecoveryError {
  declare readonly _tag: "StateSerializationError"
}

/**
 * The store is held by another run: a store is used by one run at a time.
 * The message names the holder and since when.
 *
 * @since 0.2.0
 */
export class StoreInUseError extends WeirRecoveryError {
  declare readonly _tag: "StoreInUseError"
}

/**
 * The store belongs to another dataflow: a store is bound to the flow id of
 * its first run. The message names both flows.
 *
 * @since 0.2.0
 */
export class WrongFlowError extends WeirRecoveryError {
  declare readonly _tag: "WrongFlowError"
}

/**
 * `initDbDir` / `initPostgres` (`weir recovery init`) refused to initialise a
 * store that already holds data, or one initialised with another partition
 * count: re-initialising would make state go backwards. The message says how
 * to start over.
 *
 * @since 0.2.0
 */
export class StoreAlreadyInitializedError extends WeirRecoveryError {
  declare readonly _tag: "StoreAlreadyInitializedError"
}

/**
 * The shared store of a scale-out run (`weir run --cluster`) has another
 * number of key groups than the run asked for: a store's key groups are
 * fixed when it is created. The message says what the store has and what to
 * do.
 *
 * @since 0.3.0
 */
export class KeyGroupsMismatchError extends WeirRecoveryError {
  declare readonly _tag: "KeyGroupsMismatchError"
}
