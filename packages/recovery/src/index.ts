/**
 * `@weir/recovery`: snapshot stores that let a Weir dataflow resume exactly
 * where it stopped. `RecoveryConfig` is the embedded default (SQLite files in
 * a directory); `PostgresRecoveryConfig` shares one PostgreSQL database
 * between hosts.
 *
 * @since 0.1.0
 */
export {
  InconsistentPartitionsError,
  KeyGroupsMismatchError,
  MissingPartitionsError,
  NoPartitionsError,
  RecoveryStoreError,
  StateSerializationError,
  StoreAlreadyInitializedError,
  StoreInUseError,
  WrongFlowError
} from "./errors.js"
export { defaultSchemaFor, initPostgres, PostgresRecoveryConfig, type PostgresRecoveryOptions } from "./postgres.js"
export { initDbDir, RecoveryConfig, type RecoveryOptions } from "./sqlite.js"
export { type CollectStats, commitLag, type CommitStats, type StoreObserver } from "./store.js"
