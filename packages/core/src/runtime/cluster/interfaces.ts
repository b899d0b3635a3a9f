/**
 * What a scale-out run (`runCluster` with `cluster`, `weir run --cluster`)
 * needs from outside core: a {@link ClusterLink} (membership, and the
 * exchange between processes; `@weir/connectors-kafka` implements it on a
 * Kafka consumer group and one exchange topic) and a {@link ClusterStore}
 * every process reaches (`@weir/recovery`'s PostgreSQL store implements it).
 *
 * The unit of work is the *key group*: a store has P of them, fixed for its
 * life. Key `k` belongs to group `stableHash(k) mod P`; a source or sink
 * partition to group `sortedIndex mod P`. The exchange topic has P
 * partitions, partition g carrying what is bound for key group g, and the
 * group's assignment of those partitions decides which process runs which
 * key groups.
 *
 * @since 0.3.0
 */
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { WeirRecoveryError, WeirRuntimeError } from "../../errors.js"
import type { StepSnapshots } from "../recovery.js"

/**
 * A key group's progress in the store. An upstream key group's frames of an
 * epoch are applied here exactly once: `applied` says how far.
 *
 * @since 0.3.0
 */
export interface KeyGroupRow {
  readonly keyGroup: number
  /**
   * Raised by every {@link ClusterStore.acquire}: the fencing token of the
   * current holder (a commit under an older one is refused), and the
   * incarnation its frames carry.
   */
  readonly incarnation: number
  /** The last committed epoch (0: none yet). */
  readonly epoch: number
  /** The incarnation that committed `epoch` (0: none yet). */
  readonly epochIncarnation: number
  /** Where to read the key group's partition of the exchange topic from (0 at first). */
  readonly exchangeOffset: number
  /** Per upstream key group: the last (incarnation, epoch) of its frames applied here. */
  readonly applied: ReadonlyArray<readonly [from: number, incarnation: number, epoch: number]>
}

/**
 * What one key group commits at an epoch close.
 *
 * @since 0.3.0
 */
export interface KeyGroupCommit {
  readonly keyGroup: number
  /** The incarnation the committer holds (from its acquire). */
  readonly incarnation: number
  readonly epoch: number
  readonly exchangeOffset: number
  readonly applied: ReadonlyArray<readonly [from: number, incarnation: number, epoch: number]>
  /**
   * Per step, the rows of this key group that changed. `full: true`: the
   * step's rows in this key group are exactly `keys` (others are deleted).
   * States are `DISCARDED` for a key to delete.
   */
  readonly steps: ReadonlyArray<StepSnapshots>
}

/**
 * A store shared by every process of a scale-out run.
 *
 * @since 0.3.0
 */
export interface ClusterStore {
  /** P: the number of key groups, fixed when the store was created. */
  readonly keyGroups: number
  /**
   * Take over these key groups for `owner` (a description for operators: host
   * and pid): raise each one's incarnation, fencing out any earlier holder,
   * and return their rows (a key group never committed has a row of zeros).
   */
  acquire(keyGroups: ReadonlyArray<number>, owner: string): Effect.Effect<ReadonlyArray<KeyGroupRow>, WeirRecoveryError>
  /**
   * Start a new incarnation of key groups this process still holds: raise
   * each one's incarnation only if it is still `incarnations[i]` (nobody took
   * it over), and return the rows of those renewed (the others are missing).
   * Used after a generation ended without its last commit, so that frames it
   * sent are never mistaken for the next generation's.
   */
  renew(
    keyGroups: ReadonlyArray<number>,
    incarnations: ReadonlyArray<number>
  ): Effect.Effect<ReadonlyArray<KeyGroupRow>, WeirRecoveryError>
  /** The rows of these key groups as they are (no takeover). */
  rows(keyGroups: ReadonlyArray<number>): Effect.Effect<ReadonlyArray<KeyGroupRow>, WeirRecoveryError>
  /** Every row of step `stepId` in these key groups: `[key, state]` (a partitioned source's or sink's key is its partition name). */
  loadStates(
    stepId: string,
    keyGroups: ReadonlyArray<number>
  ): Effect.Effect<ReadonlyArray<readonly [key: string, state: unknown]>, WeirRecoveryError>
  /**
   * Write these commits in one transaction — all or nothing. If any key
   * group's incarnation in the store is no longer the commit's, nothing is
   * written and those key groups are returned (they were taken over);
   * otherwise the result is empty.
   */
  commit(commits: ReadonlyArray<KeyGroupCommit>): Effect.Effect<ReadonlyArray<number>, WeirRecoveryError>
}

/**
 * A configuration that can open a {@link ClusterStore} (the PostgreSQL
 * recovery config does). `keyGroups` is used when the store has none yet.
 *
 * @since 0.3.0
 */
export interface ClusterStoreConfigLike {
  openCluster(context: {
    readonly flowId: string
    readonly keyGroups?: number | undefined
  }): Effect.Effect<ClusterStore, WeirRecoveryError, Scope.Scope>
}

/**
 * One record read from the exchange topic.
 *
 * @since 0.3.0
 */
export interface ExchangeRecord {
  /** The partition: the key group it is bound for. */
  readonly keyGroup: number
  readonly offset: number
  readonly value: Uint8Array
}

/**
 * What a {@link ClusterLink} tells the run about its membership. Calls never
 * overlap: the link waits for each promise before the next call, and before
 * it completes the rebalance.
 *
 * @since 0.3.0
 */
export interface ClusterLinkHandler {
  /** The group gave this process these key groups: the offset to read each one's partition from. */
  assigned(keyGroups: ReadonlyArray<number>): Promise<ReadonlyMap<number, number>>
  /**
   * The group takes these key groups away: finish with them (commit) before
   * the promise settles. `lost`: they were already given to another process
   * (this one was too slow or cut off), so nothing may be committed for them.
   */
  revoked(keyGroups: ReadonlyArray<number>, lost: boolean): Promise<void>
}

/**
 * Membership of a scale-out run and the exchange between its processes.
 *
 * @since 0.3.0
 */
export interface ClusterLink {
  /** P: the exchange topic's partitions. */
  readonly keyGroups: number
  /** Join the group; from now on `handler` hears of assignments and revocations. */
  join(handler: ClusterLinkHandler): Promise<void>
  /** Records of the assigned partitions, at most `max`, waiting at most a few tens of milliseconds; `[]` when none came. */
  receive(max: number): Promise<ReadonlyArray<ExchangeRecord>>
  /** Read key group `keyGroup`'s partition (one this process holds) from `offset` on. */
  seek(keyGroup: number, offset: number): Promise<void>
  /** Send `value` to key group `keyGroup`'s partition. Records to one partition keep their order. */
  send(keyGroup: number, value: Uint8Array): void
  /** Wait until everything sent so far is acknowledged; rejects if anything could not be delivered. */
  flush(): Promise<void>
  /** Leave the group: the last revocation goes through the handler first. */
  leave(): Promise<void>
}

/**
 * A configuration that can open a {@link ClusterLink} (`kafkaCluster` in
 * `@weir/connectors-kafka`).
 *
 * @since 0.3.0
 */
export interface ClusterLinkConfigLike {
  /** For messages: `kafka://127.0.0.1:9092`. */
  readonly description: string
  openLink(context: {
    readonly flowId: string
    /** The consumer group: `weir.<flow id>` unless the run names another. */
    readonly groupId: string
    readonly keyGroups: number
  }): Effect.Effect<ClusterLink, WeirRuntimeError, Scope.Scope>
}
