import type * as Duration from "effect/Duration"
import type { WeirClock } from "./clock.js"
import type { RunObserver } from "./observability.js"
import type { ClusterLinkConfigLike } from "./cluster/interfaces.js"
import type { RecoveryConfigLike } from "./recovery.js"

/**
 * How to run a dataflow.
 *
 * @since 0.1.0
 */
export interface RunOptions {
  /** How often epochs close (and state is snapshotted). Default 10 seconds. */
  readonly epochInterval?: Duration.Input | undefined
  /** Where to snapshot state and resume from; without it nothing is persisted. */
  readonly recovery?: RecoveryConfigLike | undefined
  /** The clock for the run; default: Effect's `Clock` (virtual under `TestClock`). */
  readonly clock?: WeirClock | undefined
  /** Hooks to watch the run by (its start, each closed epoch). */
  readonly observe?: RunObserver | undefined
}

/**
 * How to run a dataflow on several workers.
 *
 * @since 0.1.0
 */
export interface ClusterOptions extends RunOptions {
  /** Addresses of all processes (`host:port`): static clusters of several are refused — scale out with `cluster`. */
  readonly addresses?: ReadonlyArray<string> | undefined
  /** This process's index in `addresses`. */
  readonly processId?: number | undefined
  /** Workers in this process. Default 1. */
  readonly workersPerProcess?: number | undefined
  /**
   * Scale out: run this process's share of the flow with the other processes
   * of this cluster (`kafkaCluster(…)` from `@weir/connectors-kafka`). The
   * processes join one group, which deals the store's key groups out among
   * them; processes may join and leave while the flow runs. Needs a
   * `recovery` store every process reaches (PostgreSQL). The run ends only
   * when interrupted.
   */
  readonly cluster?: ClusterLinkConfigLike | undefined
  /** The cluster's group id. Default `weir.<flow id>`. */
  readonly group?: string | undefined
  /** P, for a store that has no key groups yet (default: its recovery partitions, else 16). */
  readonly keyGroups?: number | undefined
}
